"""The in-process runner's steady rate against ultralytics' own streaming predict, interleaved.

    python benchmarks/local_steady.py [--frames 600] [--imgsz 320] [--batch 4] [--rounds 2]

One clip, the first ``--frames`` frames of the DeepLabCut open-field video (640×480, written as
MP4); one model, yolo11n with seeded random weights (speed does not depend on them), loaded once
per side and warmed up. Each round runs, in this order (A B C A B C …, so that a drift of a shared
machine's speed hits every side alike):

``ours``
    :func:`deepbehavior.runtime.local.run_local` over the whole clip: decoding in a thread,
    batches of ``--batch`` frames, the Zarr store written chunk by chunk (``--chunk`` frames);
``ultralytics_stream``
    ``model.predict(source=clip, stream=True)``, its documented way over a video (batch 1);
``ultralytics_stream_batch``
    the same with ``batch=--batch``.

Both sides run at the same image size, ``max_det`` and number of torch threads (``--threads``,
default the local runner's: one per CPU); the threads are put back before each of ultralytics'
runs (its first predict sets min(8, CPUs - 1) for itself on the CPU). Rates are frames / wall
second; CPU seconds of this process (every thread) are given too, since a loaded machine
stretches wall time. Writes ``benchmarks/results/local_steady.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from _machine import cpu_model  # noqa: E402
from _timing import headline, spread  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "dlc-openfield" / "videos" / "m3v1mp4.mp4"


def _timed(fn) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (this process) and frames of ``fn()`` (which returns its frames)."""
    wall, cpu = time.perf_counter(), time.process_time()
    frames = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--chunk", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "local_steady.json"))
    args = parser.parse_args()
    if not VIDEO.is_file():
        raise SystemExit(f"benchmarks/local_steady.py: error: Expected the open-field video at {VIDEO}, but it is absent")

    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    from deepbehavior.cohort import cohort_from_videos
    from deepbehavior.runtime.inference import plan_shards
    from deepbehavior.runtime.local import default_threads, run_local
    from deepbehavior.runtime.stages import PredictStage
    from deepbehavior.video import iter_frames, probe, read_frames, write_video
    from tests.helpers.models import random_yolo

    threads = args.threads or default_threads()
    work = Path(tempfile.mkdtemp(prefix="bench-steady-"))
    weights = random_yolo(work / "yolo11n.pt")
    clip = write_video(work / "clip.mp4", iter_frames(VIDEO, 0, args.frames), fps=probe(VIDEO).fps)
    stage = PredictStage("yolo", {"weights": str(weights), "imgsz": args.imgsz, "conf": 0.25, "max_individuals": 4,
                                  "device": "cpu", "threads": threads})
    model = YOLO(str(weights))
    warm = read_frames(clip, 0, args.batch)
    stage.predict({"frames": warm[None], "first": [0], "count": [args.batch], "error": [""]})
    model.predict(list(warm), imgsz=args.imgsz, device="cpu", verbose=False)
    description = stage.predictor.describe()
    torch.set_num_threads(threads)
    threads_before = torch.get_num_threads()

    def ours(i: int):
        def run() -> int:
            shards, _ = plan_shards(cohort_from_videos([clip]), work / f"stores-{i}", description, chunk=args.chunk,
                                    force=True)
            report = run_local(shards, stage, kind=description.kind, frames_per_batch=args.batch,
                               printer=lambda m: None)
            assert not report.failures, report.failures
            return report.frames
        return run

    def theirs(batch: int):
        def run() -> int:
            torch.set_num_threads(threads)  # ultralytics' predict changed it on its previous run
            return sum(1 for _ in model.predict(source=str(clip), stream=True, batch=batch, imgsz=args.imgsz,
                                                conf=0.25, max_det=4, device="cpu", verbose=False))
        return run

    sides = {"ours": None, "ultralytics_stream": theirs(1), "ultralytics_stream_batch": theirs(args.batch)}
    fps: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    threads_after_ours = set()
    for i in range(args.rounds):
        for name, fn in sides.items():
            if name == "ours":
                torch.set_num_threads(threads_before)
                wall, cpu_s, frames = _timed(ours(i))
                threads_after_ours.add(torch.get_num_threads())
            else:
                wall, cpu_s, frames = _timed(fn)
            if frames != args.frames:
                raise RuntimeError(f"{name} predicted {frames} frames, expected {args.frames}")
            fps[name].append(frames / wall)
            cpu[name].append(cpu_s / frames)
            print(f"[bench] {name}: {frames / wall:.2f} frames/s, {cpu_s / frames:.3f} CPU s/frame", flush=True)
        print(f"[bench] round {i + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.2f} frames/s" for k, v in fps.items()),
              flush=True)
    med = {k: statistics.median(v) for k, v in fps.items()}
    best = max(med["ultralytics_stream"], med["ultralytics_stream_batch"])
    result = {
        "benchmark": "local_steady",
        **headline(best=med["ours"] / best, best_what="steady frames/s of the in-process runner (decode thread, predict, store) at 320 px over ultralytics' best of predict(stream=True) at batch 1 and batch 4, same threads",
                   whole=None, whole_what="steady rate only (a companion of inference.json at 320 px); the whole-command comparison is inference.json's"),
        "fps": {k: spread(v) for k, v in fps.items()},
        "cpu_s_per_frame": {k: spread(v) for k, v in cpu.items()},
        # > 1: ours is faster
        "ratio_vs_ultralytics_best": round(med["ours"] / best, 3),
        "ratio_vs_ultralytics_stream": round(med["ours"] / med["ultralytics_stream"], 3),
        "ratio_vs_ultralytics_stream_batch": round(med["ours"] / med["ultralytics_stream_batch"], 3),
        "torch_threads": threads, "torch_threads_left_by_ours": sorted(threads_after_ours),
        "frames": args.frames, "imgsz": args.imgsz, "batch": args.batch, "chunk": args.chunk, "rounds": args.rounds,
        "model": "yolo11n architecture, seeded random weights (speed only)",
        "video": f"dlc-openfield/videos/m3v1mp4.mp4, first {args.frames} frames, 640x480",
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "gpu": None, "load_average_1min_end": round(os.getloadavg()[0], 2),
                    "note": "shared VM: other work ran at the same time"},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("fps", "ratio_vs_ultralytics_best")}, indent=2))


if __name__ == "__main__":
    main()
