"""Start-up: how long a user waits before anything happens, against ultralytics' own first result.

    python benchmarks/startup.py [--rounds 3] [--frames 60]

Every figure is taken in fresh processes, the cases interleaved round by round (help, job help,
bad input, infer, baseline, then again) so that a drift of a shared machine's speed hits them
alike; each is given as min / median / max over ``--rounds``, in wall seconds and in CPU seconds
of the process (user + system), the latter being what a busy machine does not inflate:

1. ``help``: ``deepbehavior --help``; ``job_help``: ``deepbehavior infer --help`` (settings
   composed from the YAML and dataclasses); ``bad_input``: ``deepbehavior infer`` naming a missing
   video (its one-line error);
2. a small ``deepbehavior infer`` on the embedded default (no ``ray.address``: the in-process
   runner) over one synthetic video of ``--frames`` frames (320×240), yolo11n at 320 px:
   ``first_frame`` (launch to the first progress line that counts predicted frames) and ``total``;
3. the baseline a user could write instead: ``YOLO(weights).predict(source=video, stream=True)`` in
   a fresh process, ``baseline_first_frame`` from launch to its first result.

Also ``modules_after_help``: which heavy libraries ``deepbehavior --help`` and ``infer --help``
import (none should: tests/unit/test_cli.py checks the first). The model has seeded random
weights (none can be downloaded here; start-up does not depend on them).
Writes benchmarks/results/startup.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
from _machine import described  # noqa: E402
from _timing import headline, spread  # noqa: E402

CLI = [sys.executable, "-m", "deepbehavior.cli"]
HEAVY = ("ray", "torch", "ultralytics", "pandas", "xarray", "dask", "zarr", "matplotlib", "cv2", "scipy", "movement")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return times.user + times.system


def _run(args: list[str], cwd: Path, marks: dict[str, callable] | None = None) -> dict[str, float]:
    """Wall and CPU seconds from launch to each line ``marks[name](line)`` first accepts, and to the end.

    CPU seconds at a mark are read from the process while it runs; at the end, from its resource
    usage as the kernel reports it to the parent (``os.wait4``).
    """
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    found: dict[str, float] = {}
    for line in proc.stdout:
        for name, accepts in (marks or {}).items():
            if name + "_s" not in found and accepts(line):
                found[name + "_s"] = time.perf_counter() - started
                try:
                    found[name + "_cpu_s"] = _cpu(watched)
                except psutil.Error:
                    pass
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    found["total_s"] = time.perf_counter() - started
    found["total_cpu_s"] = usage.ru_utime + usage.ru_stime
    found["returncode"] = proc.returncode
    found["stderr"] = err
    return found


def _first_frame(line: str) -> bool:
    """The first progress line that counts predicted frames (``[infer] 4/60 frames, …``)."""
    head = line.split(" ", 2)
    return line.startswith("[infer] ") and len(head) > 1 and "/" in head[1] and not head[1].startswith("0/")


BASELINE = """
import os, sys, time
os.environ.update(YOLO_OFFLINE="1", YOLO_VERBOSE="False", YOLO_CONFIG_DIR=sys.argv[3])
from ultralytics import YOLO
result = next(iter(YOLO(sys.argv[1]).predict(source=sys.argv[2], stream=True, imgsz=320, verbose=False)))
print("first result", flush=True)
"""

MODULES = """
import runpy, sys
sys.argv = ["deepbehavior", *sys.argv[1:]]
try:
    runpy.run_module("deepbehavior.cli", run_name="__main__")
except SystemExit:
    pass
heavy = {HEAVY!r}
print("MODULES " + ",".join(sorted(m for m in heavy if m in sys.modules)))
"""


def _modules_after(args: list[str], cwd: Path) -> list[str]:
    """The heavy libraries a process has imported once ``deepbehavior ARGS`` is done."""
    out = subprocess.run([sys.executable, "-c", MODULES.format(HEAVY=HEAVY), *args], cwd=cwd, env=_env(),
                         capture_output=True, text=True, timeout=600).stdout
    line = next((x for x in out.splitlines() if x.startswith("MODULES ")), "MODULES ")
    return [m for m in line.split(" ", 1)[1].split(",") if m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "startup.json"))
    args = parser.parse_args()

    from deepbehavior.offline import offline_ultralytics, state_dir
    from deepbehavior.synthetic.mice import render_session
    from tests.helpers.models import random_yolo

    offline_ultralytics()
    load_at_start = round(os.getloadavg()[0], 2)
    figures: dict[str, list[float]] = {}

    def keep(result: dict, names: dict[str, str]) -> None:
        """Record ``result``'s figure ``mark`` (wall and CPU seconds) as ``name``, for each ``name: mark``."""
        if result["returncode"] not in (0, 2):  # 2: the bad-input case's expected exit
            raise RuntimeError(f"{names} failed: {result['stderr'][-2000:]}")
        for name, mark in names.items():
            figures.setdefault(f"{name}_s", []).append(result[f"{mark}_s"])
            if f"{mark}_cpu_s" in result:
                figures.setdefault(f"{name}_cpu_s", []).append(result[f"{mark}_cpu_s"])

    with tempfile.TemporaryDirectory(prefix="startup-") as tmp:
        tmp = Path(tmp)
        weights = random_yolo(tmp / "yolo11n.pt")
        video = render_session(tmp / "clip.mp4", frames=args.frames, width=320, height=240).video
        infer = [*CLI, "infer", f"videos=[{video}]", f"model.weights={weights}", "model.imgsz=320", "store.chunk=30"]
        modules = {"help": _modules_after(["--help"], tmp), "infer_help": _modules_after(["infer", "--help"], tmp)}
        for i in range(args.rounds):
            keep(_run([*CLI, "--help"], tmp), {"help": "total"})
            keep(_run([*CLI, "infer", "--help"], tmp), {"job_help": "total"})
            keep(_run([*CLI, "infer", "out=x", "videos=[missing.mp4]", f"model.weights={weights}"], tmp),
                 {"bad_input": "total"})
            ours = _run([*infer, f"out={tmp / f'out{i}'}"], tmp, {"first_frame": _first_frame})
            keep(ours, {"infer_first_frame": "first_frame", "infer_total": "total"})
            theirs = _run([sys.executable, "-c", BASELINE, str(weights), str(video), str(state_dir() / "ultralytics")],
                          tmp, {"first_frame": lambda line: line.startswith("first result")})
            keep(theirs, {"baseline_first_frame": "first_frame"})
            print(f"round {i + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in figures.items()),
                  flush=True)
    med = {k: statistics.median(v) for k, v in figures.items()}
    result = {
        "benchmark": "startup",
        **headline(best=med["baseline_first_frame_s"] / med["infer_first_frame_s"], best_what="ultralytics' wait for its first result over ours for the first frame (the same 60-frame clip, yolo11n, fresh processes): above 1 our first frame comes sooner",
                   whole=None, whole_what="start-up only; the whole-command comparison is inference.json's"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": described(gpu=None, load_average_1min_start=load_at_start,
                             load_average_1min_end=round(os.getloadavg()[0], 2),
                             note="where other work shares the machine (see the load averages), CPU seconds "
                                  "are the steadier figure"),
        "input": {"frames": args.frames, "size": [320, 240], "model": "yolo11n (random weights)", "imgsz": 320,
                  "runner": "default (runner=auto: in this process, no Ray)"},
        "seconds": {k: spread(v) for k, v in figures.items()},
        # < 1: our first frame comes sooner than ultralytics' own first result
        "ratio_first_frame_vs_ultralytics": round(med["infer_first_frame_s"] / med["baseline_first_frame_s"], 3),
        "ratio_first_frame_cpu_vs_ultralytics": round(med["infer_first_frame_cpu_s"]
                                                      / med["baseline_first_frame_cpu_s"], 3),
        "target_first_frame_s": 5.0,
        "modules_after_help": modules,
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v["median"] for k, v in result["seconds"].items()}, indent=2))
    print(f"written {path}")


if __name__ == "__main__":
    main()
