"""Inference throughput: `deepbehavior infer` against ultralytics' own streaming predict, same frames, same model.

    python benchmarks/inference.py [--frames 0] [--imgsz 640] [--batch 4] [--rounds 3]
    python benchmarks/inference.py --batch 64          # on a GPU machine

Measures, in one run, on the first ``--frames`` frames (0: all 2330) of the DeepLabCut open-field
video (640×480):
1. ``pipeline_fps``: end to end through Ray (decode → predictor actor → Zarr), the predictor's
   process start and model loading included, on a Ray that has run a job before (a cluster, or any
   job after the first); ``pipeline_cold_fps``: the same job as the first one on a Ray just started
   (Ray Data's own actors and the first worker processes start then);
2. ``ultralytics_stream_fps``: ``model.predict(source=video, stream=True)`` over the same frames;
3. ``forward_fps``: the network's forward pass alone on pre-letterboxed batches of ``--batch``,
   timed just before and just after each warm pipeline run (``--rounds`` of them; the headline
   figures are those of the round whose ratio is the median);
and the peak memory of the pipeline on a clip and on a clip 10× longer: the sum over the driver
and every Ray process of their proportional set size (PSS), which counts a page shared by several
processes (the object store's, the libraries') once in all, where summing RSS counts it in each.
The model is yolo11n (nano) with seeded random weights: no pretrained weights can be downloaded
here, and speed does not depend on the values of the weights. Writes benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _machine import cpu_model  # noqa: E402
VIDEO = ROOT.parent / "shared" / "data" / "dlc-openfield" / "videos" / "m3v1mp4.mp4"


class PeakMemory:
    """Peak total PSS and RSS (MB) of this process and all its descendants (Ray's), sampled."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak, self.peak_rss, self._stop = interval, 0.0, 0.0, threading.Event()

    def _sample(self) -> tuple[float, float]:
        pss = rss = 0
        me = psutil.Process()
        for proc in [me, *me.children(recursive=True)]:
            try:
                info = proc.memory_full_info()
            except psutil.Error:
                continue
            pss, rss = pss + info.pss, rss + info.rss
        return pss / 2**20, rss / 2**20

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            pss, rss = self._sample()
            self.peak, self.peak_rss = max(self.peak, pss), max(self.peak_rss, rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def machine() -> dict:
    import torch

    return {"cpu": cpu_model(), "cores": psutil.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
            "torch": torch.__version__, "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def clip(source: Path, frames: int, path: Path, repeat: int = 1) -> Path:
    from deepbehavior.video import iter_frames, probe, write_video

    fps = probe(source).fps
    frames = frames or probe(source).frames
    chunk = list(iter_frames(source, 0, frames))
    return write_video(path, (f for _ in range(repeat) for f in chunk), fps=fps)


def run_pipeline(video: Path, weights: Path, out: Path, args, *, memory: bool = False):
    """One ``infer`` over ``video``; with ``memory``, the peak memory too (sampling it reads every
    process's smaps twice a second, CPU the timed runs must not lose, so those run without it)."""
    from contextlib import nullcontext

    from deepbehavior.cohort import cohort_from_videos
    from deepbehavior.runtime.inference import infer_cohort

    kwargs = {"weights": str(weights), "imgsz": args.imgsz, "conf": 0.25, "max_individuals": 4,
              "device": args.device, "threads": os.cpu_count()}
    with PeakMemory() if memory else nullcontext() as peak:
        report = infer_cohort(cohort_from_videos([video]), out, backend="yolo", backend_kwargs=kwargs,
                              chunk=args.chunk, frames_per_batch=args.batch, force=True, printer=lambda m: None)
    if report.failures:
        raise RuntimeError(report.failures)
    return report, peak


def run_ultralytics_stream(video: Path, weights: Path, args) -> float:
    import torch
    from ultralytics import YOLO

    torch.set_num_threads(os.cpu_count() or 1)
    model = YOLO(str(weights))
    device = args.device if args.device != "auto" else ("cuda:0" if torch.cuda.is_available() else "cpu")
    start, count = time.perf_counter(), 0
    for _ in model.predict(source=str(video), stream=True, imgsz=args.imgsz, conf=0.25, max_det=4, verbose=False,
                           device=device):
        count += 1
    return count / (time.perf_counter() - start)


def run_forward(video: Path, weights: Path, args) -> float:
    import torch

    from deepbehavior.models.yolo import YoloPredictor
    from deepbehavior.video import read_frames

    predictor = YoloPredictor(str(weights), imgsz=args.imgsz, device=args.device, threads=os.cpu_count())
    frames = read_frames(video, 0, args.batch)
    tensor, *_ = predictor._preprocess(frames)
    with torch.inference_mode():
        predictor.model(tensor)  # warm-up
        repeats = max(min(args.frames or 600, 600) // args.batch, 3)
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            predictor.model(tensor)
        if predictor.device.type == "cuda":
            torch.cuda.synchronize()
    return repeats * args.batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=0, help="frames of the video to use (0: all)")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="warm pipeline runs, each between two forward timings")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--memory-frames", type=int, default=150, help="clip length for the memory check")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "inference.json"))
    args = parser.parse_args()
    if not VIDEO.is_file():
        raise SystemExit(f"needs the open-field video at {VIDEO}")

    from deepbehavior.config import RayConfig
    from deepbehavior.runtime.environment import start_ray
    from tests.helpers.models import random_yolo

    work = Path(tempfile.mkdtemp(prefix="bench-infer-"))
    weights = random_yolo(work / "yolo11n-random.pt")
    video = clip(VIDEO, args.frames, work / "clip.mp4")
    start_ray(RayConfig())

    cold, _ = run_pipeline(video, weights, work / "pipeline-cold", args)
    # This machine's speed drifts by ±10% over minutes (a shared VM): each round times the forward
    # pass just before and just after a warm pipeline run and takes the ratio to their mean; the
    # round with the median ratio gives the headline figures.
    rounds = []
    for i in range(args.rounds):
        before = run_forward(video, weights, args)
        report, _ = run_pipeline(video, weights, work / f"pipeline-{i}", args)
        after = run_forward(video, weights, args)
        rounds.append({"pipeline_fps": round(report.fps, 2),
                       "forward_fps_before_after": [round(before, 2), round(after, 2)],
                       "pipeline_vs_forward": round(2 * report.fps / (before + after), 3)})
    median = sorted(rounds, key=lambda r: r["pipeline_vs_forward"])[len(rounds) // 2]
    pipeline_fps, frames = median["pipeline_fps"], report.frames
    forward_fps = sum(median["forward_fps_before_after"]) / 2
    stream_fps = run_ultralytics_stream(video, weights, args)

    short = clip(VIDEO, args.memory_frames, work / "short.mp4")
    long = clip(VIDEO, args.memory_frames, work / "long.mp4", repeat=10)
    _, mem_short = run_pipeline(short, weights, work / "mem-short", args, memory=True)
    long_report, mem_long = run_pipeline(long, weights, work / "mem-long", args, memory=True)

    result = {
        "pipeline_fps": round(pipeline_fps, 2),
        "ultralytics_stream_fps": round(stream_fps, 2),
        "forward_fps": round(forward_fps, 2),
        "rounds": rounds,
        "pipeline_vs_ultralytics_stream": round(pipeline_fps / stream_fps, 3),
        "pipeline_vs_forward": round(pipeline_fps / forward_fps, 3),
        "pipeline_cold_fps": round(cold.fps, 2),
        "pipeline_cold_vs_ultralytics_stream": round(cold.fps / stream_fps, 3),
        "pipeline_cold_vs_forward": round(cold.fps / forward_fps, 3),
        "device": "cuda" if machine()["gpu"] else "cpu",
        "frames": frames,
        "imgsz": args.imgsz,
        "batch_size": args.batch,
        "peak_rss_mb": round(mem_long.peak, 1),
        "peak_rss_mb_short_clip": round(mem_short.peak, 1),
        "peak_rss_mb_10x_clip": round(mem_long.peak, 1),
        "memory_ratio_10x": round(mem_long.peak / mem_short.peak, 3),
        "memory_measure": "sum of PSS over the driver and all Ray processes (shared pages counted once)",
        "summed_rss_mb_short_clip": round(mem_short.peak_rss, 1),
        "summed_rss_mb_10x_clip": round(mem_long.peak_rss, 1),
        "memory_clip_frames": [args.memory_frames, long_report.frames],
        "model": "yolo11n architecture, seeded random weights (speed only)",
        "video": f"dlc-openfield/videos/m3v1mp4.mp4, first {frames} frames, 640x480",
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
