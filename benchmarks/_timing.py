"""How the benchmarks time things and state their two headline ratios.

Every JSON in ``benchmarks/results/`` carries the same four headline keys (``headline`` builds them,
``tests/unit/test_benchmark_results.py`` checks them):

- ``ratio_vs_baseline_best``: our speed over the baseline's at its best (same batch, threads and
  input; its fastest documented mode), median over interleaved rounds; above 1 means ours is faster;
- ``baseline_best``: what that baseline is, in words;
- ``whole_command_ratio``: the baseline's whole command wall time over ours (launch to exit, fresh
  processes, median over interleaved rounds); above 1 means ours is faster;
- ``whole_command``: the two commands, in words.

A ratio that does not apply (an accuracy benchmark, a component with no command of its own) is
``None`` and its words say why.
"""

from __future__ import annotations

import statistics
import subprocess
import time


def spread(values: list[float]) -> dict:
    """Min, median and max of one figure over the rounds, and each round's value (3 decimals)."""
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3), "rounds": [round(v, 3) for v in values]}


def wall(command: list[str], env: dict | None = None) -> float:
    """Wall seconds of ``command`` from launch to exit, in a new process; an error if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-1500:]}")
    return seconds


def headline(*, best: float | None, best_what: str, whole: float | None, whole_what: str) -> dict:
    """The four headline keys of a benchmark JSON (see the module docstring); ratios to 3 decimals."""
    for name, value, words in (("best", best, best_what), ("whole", whole, whole_what)):
        if value is not None and not value > 0:
            raise ValueError(f"headline: Expected {name} to be a positive ratio or None, but got {value!r}")
        if not words.strip():
            raise ValueError(f"headline: Expected words saying what {name} compares, but got none")
    return {"ratio_vs_baseline_best": None if best is None else round(best, 3), "baseline_best": best_what,
            "whole_command_ratio": None if whole is None else round(whole, 3), "whole_command": whole_what}


def fit_cost(frames: list[int], seconds: list[float]) -> dict:
    """Fixed seconds and seconds a frame of runs of ``frames`` frames that took ``seconds``: the least-squares
    line ``seconds = fixed + per_frame * frames`` (at least two distinct frame counts)."""
    if len(set(frames)) < 2 or len(frames) != len(seconds):
        raise ValueError(f"fit_cost: Expected runs at two or more frame counts, but got frames {frames}")
    mean_f, mean_s = statistics.fmean(frames), statistics.fmean(seconds)
    per_frame = (sum((f - mean_f) * (s - mean_s) for f, s in zip(frames, seconds))
                 / sum((f - mean_f) ** 2 for f in frames))
    return {"fixed_s": round(mean_s - per_frame * mean_f, 3), "per_frame_ms": round(1000 * per_frame, 2)}
