"""Start-up: how long a user waits before anything happens, against ultralytics' own first result.

    python benchmarks/startup.py [--rounds 2] [--frames 60]

Measures, in one run, each figure the median of ``--rounds`` fresh processes:
1. ``help_s``: ``deepbehavior --help``; ``job_help_s``: ``deepbehavior infer --help`` (settings
   composed from the YAML and dataclasses); ``bad_input_s``: ``deepbehavior infer`` naming a
   missing video (the one-line error);
2. a small ``deepbehavior infer`` on the embedded default (a local Ray started by the job) over one
   synthetic video of ``--frames`` frames (320×240) with yolo11n at 320 px: ``to_ray_start_s`` (the
   process is up and its settings checked: the "starting a local Ray" line), ``to_plan_s`` (Ray is up
   and the shards are planned), ``to_first_frame_s`` (the first predictions reached the driver: the
   first progress line) and ``total_s``;
3. the baseline a user could write instead: ``YOLO(weights).predict(source=video, stream=True)`` in
   a fresh process, ``baseline_first_frame_s`` from process start to its first result.
The model has seeded random weights (none can be downloaded here; start-up does not depend on them).
Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _machine import cpu_model  # noqa: E402

CLI = [sys.executable, "-m", "deepbehavior.cli"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _timed(args: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, timeout=600)
    return time.perf_counter() - started


def _infer_marks(cwd: Path, video: Path, weights: Path, out: Path) -> dict[str, float]:
    """Seconds from process start to each milestone line of a small infer job."""
    started = time.perf_counter()
    proc = subprocess.Popen([*CLI, "infer", f"out={out}", f"videos=[{video}]", f"model.weights={weights}",
                             "model.imgsz=320", "store.chunk=30"], cwd=cwd, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    marks: dict[str, float] = {}
    for line in proc.stdout:
        now = time.perf_counter() - started
        if "starting a local Ray" in line:
            marks.setdefault("to_ray_start_s", now)
        elif line.startswith("[infer]") and " shards, " in line:
            marks.setdefault("to_plan_s", now)
        elif line.startswith("[infer]") and " frames, " in line and not line.startswith("[infer] 0/"):
            marks.setdefault("to_first_frame_s", now)
    err = proc.stderr.read()
    if proc.wait() != 0:
        raise RuntimeError(f"infer failed: {err[-2000:]}")
    marks["total_s"] = time.perf_counter() - started
    return marks


BASELINE = """
import os, sys, time
started = float(sys.argv[3])
os.environ.update(YOLO_OFFLINE="1", YOLO_VERBOSE="False", YOLO_CONFIG_DIR=sys.argv[4])
from ultralytics import YOLO
result = next(iter(YOLO(sys.argv[1]).predict(source=sys.argv[2], stream=True, imgsz=320, verbose=False)))
print(time.time() - started)
"""


def _baseline(video: Path, weights: Path, config_dir: Path) -> float:
    result = subprocess.run([sys.executable, "-c", BASELINE, str(weights), str(video), repr(time.time()),
                             str(config_dir)], capture_output=True, text=True, timeout=600, env=_env())
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()

    from deepbehavior.runtime.environment import offline_ultralytics, state_dir
    from deepbehavior.synthetic import render_session
    from tests.helpers.models import random_yolo

    offline_ultralytics()
    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        tmp = Path(tmp)
        weights = random_yolo(tmp / "yolo11n.pt")
        video = render_session(tmp / "clip.mp4", frames=args.frames, width=320, height=240).video
        rounds: dict[str, list[float]] = {}
        for i in range(args.rounds):
            for key, value in {
                "help_s": _timed([*CLI, "--help"], tmp),
                "job_help_s": _timed([*CLI, "infer", "--help"], tmp),
                "bad_input_s": _timed([*CLI, "infer", "out=x", "videos=[missing.mp4]", f"model.weights={weights}"], tmp),
                **_infer_marks(tmp, video, weights, tmp / f"out{i}"),
                "baseline_first_frame_s": _baseline(video, weights, state_dir() / "ultralytics"),
            }.items():
                rounds.setdefault(key, []).append(round(value, 3))
            print(f"round {i + 1}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rounds.items()), flush=True)
    medians = {k: round(statistics.median(v), 3) for k, v in rounds.items()}
    result = {
        "benchmark": "startup",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "gpu": None, "note": "shared VM: other work ran at the same time"},
        "input": {"frames": args.frames, "size": [320, 240], "model": "yolo11n (random weights)", "imgsz": 320},
        "median": medians,
        "rounds": rounds,
        "ratio_first_frame_vs_ultralytics": round(medians["to_first_frame_s"] / medians["baseline_first_frame_s"], 2),
        "target_first_frame_s": 5.0,
    }
    path = ROOT / "benchmarks" / "results" / "startup.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["median"], indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
