"""Inference speed against ultralytics at its best: steady rates and whole commands, interleaved.

    python benchmarks/inference.py [--frames 500] [--steady-frames 240] [--batch 4] [--rounds 3]

The clip is the first ``--frames`` frames of the DeepLabCut open-field video (640×480), written
as MP4; the model is yolo11n with seeded random weights (speed does not depend on the weights).
Both sides use the same batch, the same image size, the same number of torch threads
(``--threads``, default every core) and the same ``max_det``. Each round runs the steady rates, then
the whole commands, each group in an order shuffled every round (seeded), so that a drift of the
machine's speed hits every side alike and none always runs first or right after another:

steady (in this process, model loaded and warm, the first ``--steady-frames`` frames)
    ``ours_pipeline``: the local runner (decode in a thread, predict, write the Zarr store);
    ``ultralytics_video_batch``: ``model.predict(source=video, stream=True, batch=B)``;
    ``ultralytics_stream``: the same at ``batch=1`` (its default);
    ``ours_predictor`` / ``ultralytics_list_batch``: frames decoded beforehand, our predictor on
    batches of B against ``model.predict(list_of_B_frames, batch=B)``: the networks alone;
    ``ours_pipeline_bfloat16`` / ``ours_predictor_bfloat16``: ours with ``model.bfloat16=true``
    (convolutions in bfloat16, head and decoding in float32; ultralytics has no such mode on the
    CPU: its ``half`` is for CUDA only). Its accuracy is measured by ``benchmarks/bfloat16.py``.
whole command (a new process each, wall time from launch to exit, each side with its own defaults)
    ``deepbehavior_infer``: ``python -m deepbehavior.cli infer videos=[clip] ...`` with the
    default runner and threads; ``deepbehavior_infer_ray``: the same with ``runner=ray`` (``--no-ray``
    leaves it out); ``ultralytics_script``: a plain script (import, load, batch predict over the
    video, save the boxes), as a user writes it: ultralytics' first predict sets torch to
    min(8, CPUs - 1) threads on the CPU; ``ultralytics_script_all_threads``: the same script with
    torch set to ``--threads`` after that first predict, ultralytics at its best;
    ``deepbehavior_infer_bfloat16``: ours with ``model.bfloat16=true``.
    ``whole_command_ratio`` is the faster script's time over ours (> 1: ours is faster).

``cost``: each of ``deepbehavior_infer``, ``ultralytics_script`` and ``ultralytics_script_all_threads``
also runs on a shorter clip (``--fit-frames``); from both clips' runs its time is fitted as fixed
seconds (imports, model load, first batch) + ms a frame (``_timing.fit_cost``), so the start-up gain
and the per-frame cost are stated apart (``per_frame_ratio_vs_script_best`` > 1: ours costs less a frame).

Each figure is given as min / median / max over the rounds, and the ratios of medians. Also
``first_frame_s``: from launching a process that runs the local runner to its first predictions.
Writes ``benchmarks/results/inference.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from _machine import cpu_model  # noqa: E402
from _timing import fit_cost, headline, spread, wall  # noqa: E402
from gpu import weights  # noqa: E402  (seeded random yolo11n, nothing downloaded)

VIDEO = ROOT.parent / "shared" / "data" / "dlc-openfield" / "videos" / "m3v1mp4.mp4"

PLAIN_SCRIPT = """
import sys, numpy as np
from ultralytics import YOLO
video, weights, out, batch, imgsz, threads = sys.argv[1:7]
model = YOLO(weights)
if int(threads):  # ultralytics' first predict sets torch to min(8, CPUs - 1) threads on the CPU: set ours after it
    import torch
    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=int(imgsz), device="cpu", verbose=False)
    torch.set_num_threads(int(threads))
boxes = [r.boxes.xyxy.numpy() for r in model.predict(source=video, stream=True, batch=int(batch), imgsz=int(imgsz),
                                                       conf=0.25, max_det=4, device="cpu", verbose=False)]
np.save(out, np.array([len(b) for b in boxes]))
"""

FIRST_FRAME_SCRIPT = """
import sys, time
launched = float(sys.argv[1])
from deepbehavior.cohort import cohort_from_videos
from deepbehavior.runtime.local import infer_local
first = []
def printer(line):
    if not first and not line.startswith("[infer] 0/") and "frames, " in line and "/" in line.split()[1]:
        first.append(time.time() - launched)
infer_local(cohort_from_videos([sys.argv[2]]), sys.argv[3], backend="yolo", chunk=100, frames_per_batch=4,
            backend_kwargs={"weights": sys.argv[4], "imgsz": 640, "conf": 0.25, "max_individuals": 4,
                            "device": "cpu", "threads": int(sys.argv[5])}, force=True, printer=printer,
            progress_every=0)
print(first[0])
"""


def machine() -> dict:
    import torch

    return {"cpu": cpu_model(), "cores": psutil.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def clip(frames: int, path: Path) -> Path:
    from deepbehavior.video import iter_frames, probe, write_video

    return write_video(path, iter_frames(VIDEO, 0, frames), fps=probe(VIDEO).fps)


# ---------------------------------------------------------------------------------------------
# steady rates, in this process


def ours_pipeline(stage, video: Path, work: Path, args) -> float:
    from deepbehavior.cohort import cohort_from_videos
    from deepbehavior.runtime.inference import plan_shards
    from deepbehavior.runtime.local import run_local

    description = stage.predictor.describe()
    shards, _ = plan_shards(cohort_from_videos([video]), work / "stores", description, chunk=args.chunk, force=True)
    start = time.perf_counter()
    report = run_local(shards, stage, kind=description.kind, frames_per_batch=args.batch,
                       printer=lambda m: None)
    assert not report.failures, report.failures
    return report.frames / (time.perf_counter() - start)


def ultralytics_video(model, video: Path, batch: int, args) -> float:
    start, count = time.perf_counter(), 0
    for _ in model.predict(source=str(video), stream=True, batch=batch, imgsz=args.imgsz, conf=0.25, max_det=4,
                           device="cpu", verbose=False):
        count += 1
    return count / (time.perf_counter() - start)


THREADS_SEEN: set[int] = set()


def same_threads(fn, *a, threads: int):
    """``fn(*a)`` with torch at ``threads`` threads before, and the threads it left recorded:
    ultralytics' predict sets torch's thread count itself (to one fewer than the cores)."""
    import torch

    torch.set_num_threads(threads)
    value = fn(*a)
    THREADS_SEEN.add(torch.get_num_threads())
    torch.set_num_threads(threads)
    return value


def ours_predictor(predictor, frames, batch: int) -> float:
    import numpy as np

    start = time.perf_counter()
    for first in range(0, len(frames) - batch + 1, batch):
        predictor({"frames": frames[first:first + batch], "frame": np.arange(first, first + batch)})
    return (len(frames) // batch * batch) / (time.perf_counter() - start)


def ultralytics_list(model, frames, batch: int, args) -> float:
    start = time.perf_counter()
    for first in range(0, len(frames) - batch + 1, batch):
        model.predict(list(frames[first:first + batch]), batch=batch, imgsz=args.imgsz, conf=0.25, max_det=4,
                      device="cpu", verbose=False)
    return (len(frames) // batch * batch) / (time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# whole commands, each a new process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=500, help="frames of the clip the whole commands run on")
    parser.add_argument("--steady-frames", type=int, default=240, help="frames of the steady-rate runs")
    parser.add_argument("--fit-frames", type=int, default=100,
                        help="a second, shorter clip the whole commands also run on: per-frame and fixed cost")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=psutil.cpu_count())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ray", action=argparse.BooleanOptionalAction, default=True,
                        help="also time the whole command with runner=ray")
    parser.add_argument("--out", default=str(HERE / "results" / "inference.json"))
    args = parser.parse_args()
    if not VIDEO.is_file():
        raise SystemExit(f"benchmarks/inference.py: error: Expected the open-field video at {VIDEO}, but it is absent")

    from deepbehavior.runtime.environment import offline_ultralytics

    env = {**os.environ, **offline_ultralytics(), "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    import torch
    from ultralytics import YOLO

    from deepbehavior.runtime.stages import PredictStage
    from deepbehavior.video import read_frames

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-infer-"))
    model_path = weights(work, "yolo11n.yaml")
    video = clip(args.frames, work / "clip.mp4")
    short_video = clip(args.fit_frames, work / "short.mp4")
    steady_video = clip(args.steady_frames, work / "steady.mp4")
    frames = read_frames(steady_video, 0, args.steady_frames)
    kwargs = {"weights": str(model_path), "imgsz": args.imgsz, "conf": 0.25, "max_individuals": 4, "device": "cpu",
              "threads": args.threads}
    stage = PredictStage("yolo", kwargs)
    stage_bf16 = PredictStage("yolo", {**kwargs, "bfloat16": True})
    model = YOLO(str(model_path))
    model.predict(list(frames[:args.batch]), batch=args.batch, imgsz=args.imgsz, device="cpu", verbose=False)
    torch.set_num_threads(args.threads)
    ours_predictor(stage.predictor, frames[:args.batch * 2], args.batch)  # warm-up of both
    ours_predictor(stage_bf16.predictor, frames[:args.batch * 2], args.batch)
    python = sys.executable
    cli = [python, "-m", "deepbehavior.cli", "infer", f"videos=[{video}]", f"model.weights={model_path}",
           "model.max_individuals=4", f"model.batch_size={args.batch}", f"model.imgsz={args.imgsz}", "model.device=cpu",
           "force=true"]  # torch threads: the job's default (model.threads=auto), as a user runs it
    plain = work / "plain.py"
    plain.write_text(textwrap.dedent(PLAIN_SCRIPT))

    def plain_script(i: int, threads: int, clip_path: Path = video) -> float:
        return wall([python, str(plain), str(clip_path), str(model_path), str(work / f"plain-{i}-{threads}.npy"),
                     str(args.batch), str(args.imgsz), str(threads)], env)

    short_cli = [c if not c.startswith("videos=") else f"videos=[{short_video}]" for c in cli]

    steady_runs = {
        "ours_pipeline": lambda i: ours_pipeline(stage, steady_video, work / f"steady-{i}", args),
        "ultralytics_video_batch": lambda i: same_threads(ultralytics_video, model, steady_video, args.batch, args,
                                                          threads=args.threads),
        "ultralytics_stream": lambda i: same_threads(ultralytics_video, model, steady_video, 1, args,
                                                     threads=args.threads),
        "ours_predictor": lambda i: ours_predictor(stage.predictor, frames, args.batch),
        "ultralytics_list_batch": lambda i: same_threads(ultralytics_list, model, frames, args.batch, args,
                                                         threads=args.threads),
        "ours_pipeline_bfloat16": lambda i: ours_pipeline(stage_bf16, steady_video, work / f"bf16-{i}", args),
        "ours_predictor_bfloat16": lambda i: ours_predictor(stage_bf16.predictor, frames, args.batch),
    }
    whole_runs = {
        "deepbehavior_infer": lambda i: wall([*cli, f"out={work / f'cli-{i}'}"], env),
        "ultralytics_script": lambda i: plain_script(i, 0),
        "deepbehavior_infer_bfloat16": lambda i: wall([*cli, f"out={work / f'cli-bf16-{i}'}", "model.bfloat16=true"],
                                                      env),
        "ultralytics_script_all_threads": lambda i: plain_script(i, args.threads),
        **({"deepbehavior_infer_ray": lambda i: wall([*cli, f"out={work / f'ray-{i}'}", "runner=ray"], env)}
           if args.ray else {}),
        # the same commands on the shorter clip: with the runs above, fixed seconds + ms a frame
        "deepbehavior_infer_short": lambda i: wall([*short_cli, f"out={work / f'cli-short-{i}'}"], env),
        "ultralytics_script_short": lambda i: plain_script(i, 0, short_video),
        "ultralytics_script_all_threads_short": lambda i: plain_script(i, args.threads, short_video),
    }
    steady = {name: [] for name in steady_runs}
    whole = {name: [] for name in whole_runs}
    first_frame = []
    for i in range(args.rounds):
        for runs, results in ((steady_runs, steady), (whole_runs, whole)):
            names = list(runs)
            random.Random(i).shuffle(names)  # no side always first, or always right after another
            for name in names:
                results[name].append(runs[name](i))
        launched = time.time()
        done = subprocess.run([python, "-c", FIRST_FRAME_SCRIPT, str(launched), str(video), str(work / f"first-{i}"),
                               str(model_path), str(args.threads)], env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr[-1500:])
        first_frame.append(float(done.stdout.split()[-1]))
        print(f"[bench] round {i + 1}/{args.rounds}: "
              + ", ".join(f"{k} {v[-1]:.1f}" for k, v in {**steady, **whole}.items()), flush=True)

    med = {k: statistics.median(v) for k, v in {**steady, **whole}.items()}
    best_script = min(med["ultralytics_script"], med["ultralytics_script_all_threads"])
    best_baseline = max(med["ultralytics_video_batch"], med["ultralytics_stream"], med["ultralytics_list_batch"])
    result = {
        **headline(best=med["ours_pipeline"] / best_baseline,
                   best_what="steady frames/s of our default (float32) pipeline over ultralytics' best steady mode "
                             "(largest median of video batch, stream, list batch) at the same batch, threads, imgsz, "
                             "max_det; bfloat16 in steady_ratio_bfloat16_vs_ultralytics_best",
                   whole=best_script / med["deepbehavior_infer"],
                   whole_what="the faster plain ultralytics script (its default threads, or all threads) over "
                              "`deepbehavior infer videos=[clip]` with its defaults, launch to exit; bfloat16 in "
                              "whole_command_ratio_bfloat16"),
        "steady_fps": {k: spread(v) for k, v in steady.items()},
        "steady_ratio_vs_ultralytics_best": round(med["ours_pipeline"] / best_baseline, 3),
        "steady_ratio_vs_ultralytics_video_batch": round(med["ours_pipeline"] / med["ultralytics_video_batch"], 3),
        "steady_ratio_vs_ultralytics_stream": round(med["ours_pipeline"] / med["ultralytics_stream"], 3),
        "predictor_ratio_vs_ultralytics_list_batch": round(med["ours_predictor"] / med["ultralytics_list_batch"], 3),
        "pipeline_vs_own_predictor": round(med["ours_pipeline"] / med["ours_predictor"], 3),
        "steady_ratio_bfloat16_vs_ultralytics_best": round(med["ours_pipeline_bfloat16"] / best_baseline, 3),
        "predictor_ratio_bfloat16_vs_ultralytics_list_batch": round(
            med["ours_predictor_bfloat16"] / med["ultralytics_list_batch"], 3),
        "whole_command_ratio_bfloat16": round(best_script / med["deepbehavior_infer_bfloat16"], 3),
        "whole_command_s": {k: spread(v) for k, v in whole.items()},
        # > 1: deepbehavior's whole command is faster than the plain ultralytics script
        "whole_command_ratio": round(best_script / med["deepbehavior_infer"], 3),
        **({"whole_command_ratio_ray": round(best_script / med["deepbehavior_infer_ray"], 3)} if args.ray else {}),
        "whole_command_baseline": "the faster (median) of ultralytics_script (as users write it: ultralytics "
                                  "sets torch to min(8, CPUs - 1) threads at its first predict) and "
                                  "ultralytics_script_all_threads (threads set to --threads after that)",
        # seconds = fixed + per_frame * frames, fitted over both clips' runs (medians of ms a frame compare the
        # steady part of each command; fixed is start-up: imports, model load, first batch)
        "cost": (costs := {name: fit_cost([args.fit_frames] * len(whole[f"{name}_short"]) + [args.frames] * len(whole[name]),
                                          whole[f"{name}_short"] + whole[name])
                           for name in ("deepbehavior_infer", "ultralytics_script", "ultralytics_script_all_threads")}),
        "per_frame_ratio_vs_script_best": round(
            min(costs["ultralytics_script"]["per_frame_ms"], costs["ultralytics_script_all_threads"]["per_frame_ms"])
            / costs["deepbehavior_infer"]["per_frame_ms"], 3),
        "frames_fit_short": args.fit_frames,
        "first_frame_s": spread(first_frame),
        "baseline": "ultralytics at the same batch, threads, imgsz and max_det; its best steady mode is the largest "
                    "median among video batch, stream and list batch",
        "ultralytics_threads_after_its_predict": sorted(THREADS_SEEN),
        "frames_whole_command": args.frames, "frames_steady": args.steady_frames, "batch_size": args.batch,
        "imgsz": args.imgsz, "threads": args.threads, "rounds": args.rounds,
        "model": "yolo11n architecture, seeded random weights (speed only)",
        "video": f"dlc-openfield/videos/m3v1mp4.mp4, first {args.frames} frames, 640x480",
        "machine": machine(), "load_average_1min_end": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
