"""Where a frame's time goes in the local inference runner, besides the network.

    python benchmarks/inference_profile.py [--frames 96] [--batch 4] [--threads N]

Runs the local runner (:func:`deepbehavior.runtime.local.run_local`: a decoding thread, the
predictor and the Zarr writes on the main thread) over the first ``--frames`` frames of the
DeepLabCut open-field video (640x480) with yolo11n (seeded random weights) under cProfile, which
sees the main thread, and sorts its time into: the network's forward pass, pre-processing
(letterbox, colour order, scaling, the tensor), non-maximum suppression, the per-frame Python that
turns detections into slots, store writes, and waiting for decoded frames (time the decoding thread
did not hide). Decoding itself is timed alone on the same frames (OpenCV, one thread). Milliseconds
a frame, and each part's share of the main thread's time. Under cProfile every Python call costs a
little more than it does normally, so the Python parts are upper bounds. Writes
``benchmarks/results/inference_profile.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from _machine import cpu_model  # noqa: E402
from _timing import headline  # noqa: E402
from gpu import weights  # noqa: E402
from inference import clip  # noqa: E402

# (part, function names whose cumulative time is that part), matched against cProfile's entries
PARTS = (
    ("network_forward", ("_call_impl",), "torch/nn/modules/module.py"),
    ("preprocess", ("_preprocess",), "deepbehavior/models/yolo.py"),
    ("nms", ("non_max_suppression",), "deepbehavior/models/nms.py"),
    ("store_writes", ("write_region_arrays",), "deepbehavior/store.py"),
    ("waiting_for_decoded_frames", ("get",), "queue.py"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the runtime's rule)")
    parser.add_argument("--out", default=str(HERE / "results" / "inference_profile.json"))
    args = parser.parse_args()
    from deepbehavior.cohort import cohort_from_videos
    from deepbehavior.runtime.inference import plan_shards
    from deepbehavior.runtime.local import load_stage, run_local
    from deepbehavior.video import iter_frame_batches

    work = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    video = clip(args.frames, work / "clip.mp4")
    model = weights(work, "yolo11n.yaml")
    kwargs = {"weights": str(model), "imgsz": 640, "conf": 0.25, "max_individuals": 4, "device": "cpu",
              **({"threads": args.threads} if args.threads else {})}
    stage = load_stage("yolo", kwargs)
    description = stage.predictor.describe()

    def run(tag: str) -> float:
        shards, _ = plan_shards(cohort_from_videos([video]), work / tag, description, chunk=1000, force=True)
        start = time.perf_counter()
        report = run_local(shards, stage, kind=description.kind, frames_per_batch=args.batch, printer=lambda m: None)
        if report.failures:
            raise RuntimeError(report.failures)
        return time.perf_counter() - start

    run("warm-up")
    plain_seconds = run("plain")
    profiler = cProfile.Profile()
    profiler.enable()
    profiled_seconds = run("profiled")
    profiler.disable()
    stats = pstats.Stats(profiler)
    parts = {}
    for part, names, where in PARTS:
        cumulative = [entry[3] for (file, _, name), entry in stats.stats.items()
                      if name in names and file.replace(os.sep, "/").endswith(where)]
        # nested calls of the same function (a module calling its submodules) count once: the outermost
        parts[part] = max(cumulative, default=0.0)
    parts["slots_and_other_python"] = max(profiled_seconds - sum(parts.values()), 0.0)
    start = time.perf_counter()
    decoded = sum(len(batch) for batch in iter_frame_batches(video, 0, args.frames, args.batch))
    decode_seconds = time.perf_counter() - start
    ms = {k: round(1000 * v / args.frames, 2) for k, v in parts.items()}
    result = {
        **headline(best=None, best_what="a profile of our runner alone: no baseline (benchmarks/inference.py and "
                                        "benchmarks/threads.py compare against ultralytics)",
                   whole=None, whole_what="a profile of our runner alone, in one process: no whole command"),
        "ms_per_frame_main_thread": ms,
        "share_of_main_thread": {k: round(v / profiled_seconds, 3) for k, v in parts.items()},
        "decode_ms_per_frame_alone": round(1000 * decode_seconds / max(decoded, 1), 2),
        "run_ms_per_frame": round(1000 * plain_seconds / args.frames, 2),
        "run_ms_per_frame_profiled": round(1000 * profiled_seconds / args.frames, 2),
        "threads": stage.predictor.threads, "threads_choice": stage.threads.as_dict() if stage.threads else None,
        "frames": args.frames, "batch": args.batch,
        "model": "yolo11n architecture, seeded random weights (speed only), imgsz 640 on 640x480 frames",
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_1min_end": round(os.getloadavg()[0], 2)},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
