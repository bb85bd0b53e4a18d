"""How the benchmarks time things: spreads over rounds and whole commands in fresh processes."""

from __future__ import annotations

import statistics
import subprocess
import time


def spread(values: list[float]) -> dict:
    """Min, median and max of one figure over the rounds, and each round's value (3 decimals)."""
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3), "rounds": [round(v, 3) for v in values]}


def wall(command: list[str], env: dict) -> float:
    """Wall seconds of ``command`` from launch to exit, in a new process; an error if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{command[:4]} failed: {done.stderr[-1500:]}")
    return seconds
