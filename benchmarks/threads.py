"""Threads by load: `deepbehavior infer` at its default threads against the plain ultralytics script, idle and loaded.

    python benchmarks/threads.py [--frames 40 160] [--rounds 2] [--hogs 2]

Whole commands, each a fresh process, wall time from launch to exit, on the first N frames of the
DeepLabCut open-field video (640x480), yolo11n with seeded random weights (speed does not depend on
weights), batch 4, imgsz 640, max 4 detections:

``deepbehavior_infer``
    ``deepbehavior infer videos=[clip] ...`` with its default ``model.threads=auto``
    (:func:`deepbehavior.runtime.threads.choose_threads`: the CPUs not busy with other work);
``deepbehavior_infer_all_threads``
    the same with ``model.threads=<every core>``: what the default was before the rule;
``script_default``
    the plain script as a user writes it (``benchmarks/inference.py``'s ``PLAIN_SCRIPT``):
    ultralytics sets torch to min(8, CPUs - 1) threads at its first predict;
``script_1_thread`` / ``script_all_threads``
    the same script with torch set to 1 / every core after that first predict (``script_1_thread`` is
    left out where ultralytics' default is already 1 thread: 2 cores); the plain script at its best is
    the fastest of them.

Two machine states, in interleaved rounds: ``idle`` (nothing of ours beside it) and ``loaded``
(``--hogs`` CPU hogs beside it, each ``python -c 'while 1: pass'``, started before the state's runs
and stopped after them). Every run's 1-minute load average at its start is recorded: this machine is
shared with other work, so "idle" means "no hog of ours", and the figures are noisy. From runs at
two or more frame counts each command's cost is fitted as fixed seconds + ms a frame
(``_timing.fit_cost``). Writes ``benchmarks/results/threads.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
from _machine import cpu_model  # noqa: E402
from _timing import fit_cost, headline, spread, wall  # noqa: E402
from gpu import weights  # noqa: E402  (seeded random yolo11n, nothing downloaded)
from inference import PLAIN_SCRIPT, VIDEO, clip  # noqa: E402

HOG = "while 1: pass"


def start_hogs(count: int) -> list[subprocess.Popen]:
    """``count`` CPU-bound processes (``python -c 'while 1: pass'``)."""
    return [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(count)]


def stop_hogs(hogs: list[subprocess.Popen]) -> None:
    for hog in hogs:
        hog.kill()
        hog.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[40, 160], help="clip lengths (two or more)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--hogs", type=int, default=os.cpu_count() or 2, help="CPU hogs in the loaded state")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--out", default=str(HERE / "results" / "threads.json"))
    args = parser.parse_args()
    # a TERM (timeout, a CI's cancel) unwinds through the finally that stops the hogs
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if len(set(args.frames)) < 2:
        parser.error(f"Expected two or more distinct --frames, but got {args.frames}")
    if not VIDEO.is_file():
        raise SystemExit(f"benchmarks/threads.py: error: Expected the open-field video at {VIDEO}, but it is absent")

    from deepbehavior.runtime.environment import offline_ultralytics

    env = {**os.environ, **offline_ultralytics(), "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    work = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    model = weights(work, "yolo11n.yaml")
    clips = {n: clip(n, work / f"clip-{n}.mp4") for n in args.frames}
    plain = work / "plain.py"
    plain.write_text(textwrap.dedent(PLAIN_SCRIPT))
    cores = os.cpu_count() or 1
    python = sys.executable

    def infer(n: int, tag: str, *extra: str) -> list[str]:
        return [python, "-m", "deepbehavior.cli", "infer", f"videos=[{clips[n]}]", f"model.weights={model}",
                "model.max_individuals=4", f"model.batch_size={args.batch}", f"model.imgsz={args.imgsz}",
                "model.device=cpu", "force=true", f"out={work / tag}", *extra]

    def script(n: int, tag: str, threads: int) -> list[str]:
        return [python, str(plain), str(clips[n]), str(model), str(work / f"{tag}.npy"), str(args.batch),
                str(args.imgsz), str(threads)]

    sides = {
        "deepbehavior_infer": lambda n, tag: infer(n, tag),
        "deepbehavior_infer_all_threads": lambda n, tag: infer(n, tag, f"model.threads={cores}"),
        "script_default": lambda n, tag: script(n, tag, 0),
        "script_1_thread": lambda n, tag: script(n, tag, 1),
        "script_all_threads": lambda n, tag: script(n, tag, cores),
    }
    if min(8, cores - 1) == 1:  # ultralytics' default is then 1 thread: script_default is script_1_thread
        del sides["script_1_thread"]
    scripts = [side for side in sides if side.startswith("script_")]
    states = {"idle": 0, "loaded": args.hogs}
    runs: dict[str, dict[str, list[dict]]] = {s: {k: [] for k in sides} for s in states}
    chosen: dict[str, list] = {s: [] for s in states}
    for round_ in range(args.rounds):
        order = list(states) if round_ % 2 == 0 else list(states)[::-1]
        for state in order:
            hogs = start_hogs(states[state])
            try:
                jobs = [(side, n) for side in sides for n in args.frames]
                random.Random(round_ * 7 + len(state)).shuffle(jobs)
                for side, n in jobs:
                    tag = f"{state}-{side}-{n}-{round_}"
                    load = os.getloadavg()[0]
                    try:
                        seconds = wall(sides[side](n, tag), env)
                    except RuntimeError as exc:  # the shared tree changed under it (other work): once more
                        print(f"[bench] retrying {side} {n}: {str(exc)[-200:]}", flush=True)
                        seconds = wall(sides[side](n, tag + "-retry"), env)
                    runs[state][side].append({"frames": n, "seconds": round(seconds, 3), "load_1min": round(load, 2)})
                    report = work / tag / "infer_report.json"
                    if report.is_file():
                        chosen[state].append(json.loads(report.read_text()).get("threads"))
                    print(f"[bench] round {round_ + 1} {state} {side} {n} frames: {seconds:.2f} s (load {load:.1f})",
                          flush=True)
            finally:
                stop_hogs(hogs)

    def median_at(state: str, side: str, n: int) -> float:
        return statistics.median(r["seconds"] for r in runs[state][side] if r["frames"] == n)

    longest = max(args.frames)
    summary = {}
    for state in states:
        costs = {side: fit_cost([r["frames"] for r in rs], [r["seconds"] for r in rs])
                 for side, rs in runs[state].items()}
        at = {side: median_at(state, side, longest) for side in sides}
        best_script = min(at[s] for s in scripts)
        summary[state] = {
            "cost": costs,
            f"seconds_{longest}_frames": {side: spread([r["seconds"] for r in runs[state][side]
                                                        if r["frames"] == longest]) for side in sides},
            # > 1: ours (default threads) is faster
            "ours_vs_script_default": round(at["script_default"] / at["deepbehavior_infer"], 3),
            "ours_vs_script_best": round(best_script / at["deepbehavior_infer"], 3),
            "ours_vs_ours_all_threads": round(at["deepbehavior_infer_all_threads"] / at["deepbehavior_infer"], 3),
            "per_frame_ours_vs_script_best": round(
                min(costs[s]["per_frame_ms"] for s in scripts)
                / costs["deepbehavior_infer"]["per_frame_ms"], 3),
            "load_1min": spread([r["load_1min"] for rs in runs[state].values() for r in rs]),
            "threads_chosen_by_auto": chosen[state],
        }
    result = {
        **headline(best=summary["loaded"]["ours_vs_script_best"],
                   best_what=f"loaded machine ({args.hogs} x `python -c '{HOG}'` beside it): the plain ultralytics "
                             f"script at its best (fastest median of its default, 1 and {cores} threads) over "
                             f"`deepbehavior infer` at its default threads (auto), {longest} frames, launch to exit",
                   whole=summary["loaded"]["ours_vs_script_default"],
                   whole_what=f"loaded machine: the plain script at its default threads over `deepbehavior infer` "
                              f"at its default, {longest} frames; idle figures in states.idle"),
        "states": summary,
        "runs": runs,
        "hogs_loaded": args.hogs, "hog": f"python -c '{HOG}'", "frames": args.frames, "rounds": args.rounds,
        "batch": args.batch, "imgsz": args.imgsz,
        "note": "a shared 2-core machine: other programs ran beside every state (see load_1min); rounds interleave "
                "the states and shuffle the commands",
        "model": "yolo11n architecture, seeded random weights (speed only)",
        "machine": {"cpu": cpu_model(), "cores": cores},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
