"""Speed of the human pose backends on a short real clip, into results/pose.json.

The clip: the photos shipped with ultralytics (``bus.jpg``, ``zidane.jpg``) resized to 640x480 and
stitched into 60 frames (30 of each), written as MP4 and decoded back, so the backends see real,
compressed video frames. Decoding is not timed; each backend is warmed up on 4 frames first.

Keys: ``frames``, ``frame_size`` (width, height), ``mediapipe_holistic_static_cpu_fps`` (every
frame on its own, the default), ``mediapipe_holistic_tracking_cpu_fps`` (``static_image_mode=False``),
``yolo11n_pose_cpu_fps`` and, with a CUDA GPU, ``yolo11n_pose_gpu_fps`` (random weights built from
``yolo11n-pose.yaml``: speed only, no downloads allowed here; batch 8, imgsz 640), ``notes``,
``versions``, ``machine`` (with the load average, since a shared machine slows every figure) and
``date``. Run: ``python benchmarks/pose.py``.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

from deepbehavior.offline import offline_ultralytics
from deepbehavior.files import write_atomic
from deepbehavior.video import read_frames, write_video

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
SIZE = (640, 480)
FRAMES_EACH = 30
BATCH = 8


from _machine import cpu_model as _cpu_model  # noqa: E402


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


def main() -> dict:
    offline_ultralytics()
    import mediapipe
    import torch
    import ultralytics

    from deepbehavior.models.mediapipe_pose import MediaPipeHolisticPredictor
    from deepbehavior.models.yolo_pose import YoloPosePredictor

    with tempfile.TemporaryDirectory() as tmp:
        frames = make_clip(Path(tmp))
    out: dict = {"frames": int(len(frames)), "frame_size": list(SIZE)}
    load_before = os.getloadavg()[0]
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
    path = REPO / "benchmarks" / "results" / "pose.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print(json.dumps(main(), indent=2))
