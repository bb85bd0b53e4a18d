"""Speed of the human pose backends on a short real clip, against a plain MediaPipe loop, into results/pose.json.

    python benchmarks/pose.py [--frames 300] [--rounds 3]

The clip: the photos shipped with ultralytics (``bus.jpg``, ``zidane.jpg``) resized to 640x480 and
stitched into 60 frames (30 of each), written as MP4 and decoded back, so the backends see real,
compressed video frames. Decoding is not timed in the steady rates; each backend is warmed up on
4 frames first.

Baseline: MediaPipe's own documented loop, ``mp.solutions.holistic.Holistic()`` (its defaults:
model_complexity=1, video mode) with ``process()`` on each RGB frame, at its best (tracking, the
faster mode on video). In interleaved rounds:

steady (this process, frames decoded beforehand)
    ``ours_mediapipe``: our predictor (batches of 8, the OpenPose layout mapping included);
    ``direct_loop``: ``holistic.process(frame[..., ::-1])`` per frame, landmarks read out.
whole command (a new process each, wall time from launch to exit, over a ``--frames`` clip)
    ``deepbehavior_infer``: ``python -m deepbehavior.cli infer videos=[clip] model.backend=mediapipe``;
    ``mediapipe_script``: a plain script: read the video with OpenCV, run the loop, save the body
    landmarks as a NumPy file.

``--people`` runs only the multi-person section and stores it under ``people`` in the same file (the
rest of the file is kept): per-frame cost (ms) of the people predictor (``max_individuals=4``,
every person found one after another), of the one-person predictor in static and in tracking mode
(today's backend) and of MediaPipe's own ``Holistic(static_image_mode=True)`` loop, in interleaved
rounds; the mean number of people found per frame ``N``; and ``cost_ratio_vs_n_one_person``: the
people predictor's cost over ``N`` × the one-person cost (<= 1: within N× the single-person path).

Keys: ``frames``, ``frame_size`` (width, height), ``steady_fps`` and ``whole_command_s`` (min /
median / max over rounds), ``steady_ratio_vs_direct_loop`` and ``whole_command_ratio`` (> 1: ours
faster), ``mediapipe_holistic_static_cpu_fps`` (every frame on its own),
``mediapipe_holistic_tracking_cpu_fps`` (``static_image_mode=False``), ``yolo11n_pose_cpu_fps`` and,
with a CUDA GPU, ``yolo11n_pose_gpu_fps`` (random weights built from ``yolo11n-pose.yaml``: speed only,
no downloads allowed here; batch 8, imgsz 640), ``notes``, ``versions``, ``machine`` (with the load
average, since a shared machine slows every figure) and ``date``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

from deepbehavior.files import write_atomic
from deepbehavior.offline import offline_ultralytics
from deepbehavior.video import read_frames, write_video

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
SIZE = (640, 480)
FRAMES_EACH = 30
BATCH = 8


from _machine import cpu_model as _cpu_model  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

MEDIAPIPE_SCRIPT = """
import sys
import cv2, numpy as np
import mediapipe as mp
from mediapipe.python import solution_base
from deepbehavior.models.mediapipe_pose import set_scalar_options
# the one change mediapipe 0.10.21 needs to run on protobuf >= 6 (no change to what it computes)
solution_base.SolutionBase._modify_calculator_options = lambda self, config, params: set_scalar_options(config, params)
video, out = sys.argv[1:3]
capture = cv2.VideoCapture(video)
body = []
with mp.solutions.holistic.Holistic() as holistic:
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        result = holistic.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        points = result.pose_landmarks.landmark if result.pose_landmarks else []
        body.append([(p.x, p.y) for p in points] or [(np.nan, np.nan)] * 33)
np.save(out, np.array(body, dtype=np.float32))
"""


def make_clip(folder: Path) -> np.ndarray:
    """The stitched clip's decoded frames ``(60, 480, 640, 3)`` uint8 BGR."""
    photos = [cv2.resize(cv2.imread(str(ASSETS / name)), SIZE) for name in ("bus.jpg", "zidane.jpg")]
    path = write_video(folder / "assets_clip.mp4", [p for p in photos for _ in range(FRAMES_EACH)], fps=30.0)
    return read_frames(path, 0, 2 * FRAMES_EACH)


def frames_per_second(predictor, frames: np.ndarray) -> float:
    predictor({"frames": frames[:4], "frame": np.arange(1000, 1004)})  # warm-up, not timed
    start = time.perf_counter()
    for first in range(0, len(frames), BATCH):
        chunk = frames[first:first + BATCH]
        predictor({"frames": chunk, "frame": np.arange(first, first + len(chunk))})
    return len(frames) / (time.perf_counter() - start)


def direct_loop_fps(holistic, frames: np.ndarray) -> float:
    """MediaPipe's own loop over ``frames``: RGB in, body landmarks read out (warm-up not timed)."""
    holistic.process(np.ascontiguousarray(frames[0][..., ::-1]))
    start = time.perf_counter()
    for frame in frames:
        result = holistic.process(np.ascontiguousarray(frame[..., ::-1]))
        if result.pose_landmarks:
            [(p.x, p.y) for p in result.pose_landmarks.landmark]
    return len(frames) / (time.perf_counter() - start)


def against_mediapipe(frames: np.ndarray, folder: Path, n_frames: int, rounds: int) -> dict:
    """Steady rates and whole commands, ours against MediaPipe's plain loop, in interleaved rounds."""
    import mediapipe as mp
    from mediapipe.python import solution_base

    from deepbehavior.models.mediapipe_pose import MediaPipeHolisticPredictor, set_scalar_options

    # as in MEDIAPIPE_SCRIPT: what mediapipe 0.10.21 needs to run on protobuf >= 6, nothing else
    solution_base.SolutionBase._modify_calculator_options = \
        lambda self, config, params: set_scalar_options(config, params)

    repeats = -(-n_frames // len(frames))
    clip = write_video(folder / "whole_clip.mp4", [f for _ in range(repeats) for f in frames][:n_frames], fps=30.0)
    script = folder / "mediapipe_loop.py"
    script.write_text(MEDIAPIPE_SCRIPT)
    ours_model = MediaPipeHolisticPredictor()
    steady = {"ours_mediapipe": [], "direct_loop": []}
    whole = {"deepbehavior_infer": [], "mediapipe_script": []}
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    with mp.solutions.holistic.Holistic() as holistic:
        for i in range(rounds):
            steady["ours_mediapipe"].append(frames_per_second(ours_model, frames))
            steady["direct_loop"].append(direct_loop_fps(holistic, frames))
            whole["deepbehavior_infer"].append(wall([sys.executable, "-m", "deepbehavior.cli", "infer",
                                                     f"videos=[{clip}]", "model.backend=mediapipe", "force=true",
                                                     f"out={folder / f'cli-{i}'}"], env))
            whole["mediapipe_script"].append(wall([sys.executable, str(script), str(clip),
                                                   str(folder / f"plain-{i}.npy")], env))
            print(f"[bench] round {i + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in
                                                                  {**steady, **whole}.items()), flush=True)
    ours_model.close()
    med = {k: statistics.median(v) for k, v in {**steady, **whole}.items()}
    return {
        "steady_fps": {k: spread(v) for k, v in steady.items()},
        "steady_ratio_vs_direct_loop": round(med["ours_mediapipe"] / med["direct_loop"], 3),
        "whole_command_s": {k: spread(v) for k, v in whole.items()},
        "whole_command_ratio": round(med["mediapipe_script"] / med["deepbehavior_infer"], 3),
        "whole_command_frames": n_frames,
        "rounds": rounds,
        "baseline": "mediapipe.solutions.holistic.Holistic() with its defaults (model_complexity=1, video mode, "
                    "face branch included: its API has no way to leave it out) over RGB frames; its option "
                    "setter replaced by one that runs on protobuf >= 6 (mediapipe 0.10.21 reads a field "
                    "protobuf 6 removed), the graph and models unchanged",
    }


def _ms_per_frame(predictor, frames: np.ndarray) -> float:
    return 1000.0 / frames_per_second(predictor, frames)


def people_section(frames: np.ndarray, rounds: int) -> dict:
    """Multi-person cost per frame and per person against the one-person paths, interleaved rounds."""
    import mediapipe as mp
    from mediapipe.python import solution_base

    from deepbehavior.models.mediapipe_pose import (
        MediaPipeHolisticPredictor,
        MediaPipePeoplePredictor,
        set_scalar_options,
    )

    solution_base.SolutionBase._modify_calculator_options = \
        lambda self, config, params: set_scalar_options(config, params)
    people = MediaPipePeoplePredictor(max_individuals=4)
    found = people({"frames": frames, "frame": np.arange(len(frames))})["keypoints"]
    n_people = np.isfinite(found[..., :25, 0]).any(-1).sum(-1)  # (frame,)
    static = MediaPipeHolisticPredictor(static_image_mode=True)
    tracking = MediaPipeHolisticPredictor()
    times = {"people": [], "one_person_static": [], "one_person_tracking": [], "mediapipe_loop_static": []}
    load = [round(os.getloadavg()[0], 2)]
    with mp.solutions.holistic.Holistic(static_image_mode=True) as holistic:
        for i in range(rounds):
            times["people"].append(_ms_per_frame(people, frames))
            times["one_person_static"].append(_ms_per_frame(static, frames))
            times["one_person_tracking"].append(_ms_per_frame(tracking, frames))
            times["mediapipe_loop_static"].append(1000.0 / direct_loop_fps(holistic, frames))
            load.append(round(os.getloadavg()[0], 2))
            print(f"[bench] people round {i + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f} ms" for k, v in
                                                                         times.items()), flush=True)
    for model in (people, static, tracking):
        model.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    n_mean = float(n_people.mean())
    return {
        "ms_per_frame": {k: spread(v) for k, v in times.items()},
        "people_per_frame": {"mean": round(n_mean, 3), "counts": np.bincount(n_people).tolist()},
        "ms_per_person": round(med["people"] / max(n_mean, 1e-9), 2),
        "cost_ratio_vs_n_one_person": {
            "static": round(med["people"] / (n_mean * med["one_person_static"]), 3),
            "tracking": round(med["people"] / (n_mean * med["one_person_tracking"]), 3),
            "mediapipe_loop_static": round(med["people"] / (n_mean * med["mediapipe_loop_static"]), 3)},
        "rounds": rounds,
        "load_average_per_round": load,
        "notes": ("people: MediaPipePeoplePredictor(max_individuals=4): holistic (static mode) runs once per person "
                  "found plus once finding nobody, painting each person over; one_person_*: "
                  "MediaPipeHolisticPredictor (tracking = today's default); mediapipe_loop_static: "
                  "mp.solutions.holistic.Holistic(static_image_mode=True) with its face branch. Counts: frames with "
                  "0, 1, 2... people found. The CPU is shared with other work: see load_average_per_round."),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def main_people(rounds: int = 3) -> dict:
    """Run :func:`people_section` and store it under ``people`` in results/pose.json."""
    path = REPO / "benchmarks" / "results" / "pose.json"
    out = json.loads(path.read_text()) if path.is_file() else {}
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_clip(Path(tmp))
    out["people"] = {"frames": int(len(frames)), "frame_size": list(SIZE), **people_section(frames, rounds)}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(out, indent=2) + "\n")
    return out["people"]


def main(n_frames: int = 300, rounds: int = 3) -> dict:
    offline_ultralytics()
    import mediapipe
    import torch
    import ultralytics

    from deepbehavior.models.mediapipe_pose import MediaPipeHolisticPredictor
    from deepbehavior.models.yolo_pose import YoloPosePredictor

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        frames = make_clip(Path(tmp))
        out: dict = {"frames": int(len(frames)), "frame_size": list(SIZE)}
        out.update(against_mediapipe(frames, Path(tmp), n_frames, rounds))
    for mode, static in (("static", True), ("tracking", False)):
        model = MediaPipeHolisticPredictor(static_image_mode=static)
        out[f"mediapipe_holistic_{mode}_cpu_fps"] = round(frames_per_second(model, frames), 2)
        model.close()
    yolo = YoloPosePredictor("yolo11n-pose.yaml", imgsz=640, conf=0.25, max_individuals=4, device="cpu")
    out["yolo11n_pose_cpu_fps"] = round(frames_per_second(yolo, frames), 2)
    if torch.cuda.is_available():
        yolo = YoloPosePredictor("yolo11n-pose.yaml", imgsz=640, conf=0.25, max_individuals=4, device="cuda:0")
        out["yolo11n_pose_gpu_fps"] = round(frames_per_second(yolo, frames), 2)
    out["notes"] = ("yolo11n-pose has random weights (built from yolo11n-pose.yaml, no downloads): it measures "
                    "speed only. mediapipe holistic runs on CPU only (model_complexity=1, one person), without "
                    "its face branch (the OpenPose layout has no face points; ~15% less CPU per frame). "
                    f"Batches of {BATCH} frames; torch threads: {torch.get_num_threads()}.")
    out["versions"] = {"mediapipe": mediapipe.__version__, "torch": torch.__version__,
                       "ultralytics": ultralytics.__version__}
    out["machine"] = {"cpu": _cpu_model(), "cores": psutil.cpu_count(),
                      "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
                      "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                      "platform": platform.platform(),
                      # Other work on the machine slows every figure down; the 1-minute load before/after.
                      "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    out["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out = {**headline(best=out["steady_ratio_vs_direct_loop"], best_what="steady frames/s of our mediapipe predictor over MediaPipe's own Holistic() loop at its defaults (video mode), same frames",
                      whole=out["whole_command_ratio"], whole_what="a plain MediaPipe script's wall time over `deepbehavior infer model.backend=mediapipe` on the same clip, launch to exit"), **out}
    path = REPO / "benchmarks" / "results" / "pose.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames of the clip the whole commands run on")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--people", action="store_true", help="only the multi-person section (kept under 'people')")
    args = parser.parse_args()
    print(json.dumps(main_people(args.rounds) if args.people else main(args.frames, args.rounds), indent=2))
