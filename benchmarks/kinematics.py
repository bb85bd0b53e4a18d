"""Velocity throughput against ``movement``, and peak memory on Dask-backed Zarr stores.

Writes ``benchmarks/results/kinematics.json`` with:

- ``points_per_s``: points (one (x, y) per keypoint, individual and frame) per second of
  ``deepbehavior.analysis.kinematics.compute_velocity`` on a 1M-frame in-memory array;
- ``movement_points_per_s``: the same for ``movement.kinematics.compute_velocity`` on the same
  array (its time coordinate in seconds, as movement expects), in the same run; null when
  movement is not installed;
- ``peak_rss_mb_small`` / ``peak_rss_mb_large``: peak resident memory of a fresh process that
  opens a Zarr store lazily, computes velocity and speed and writes the speed to a new store,
  for a small and a 10× larger store (flat memory means chunks stream through);
- ``machine`` and ``date``.

Run: ``python benchmarks/kinematics.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import xarray as xr

REPO = Path(__file__).resolve().parent.parent
RESULT = REPO / "benchmarks" / "results" / "kinematics.json"
FRAMES = 1_000_000
KEYPOINTS = 4
FPS = 30.0
STORE_CHUNK = 20_000
SMALL, LARGE = 200_000, 2_000_000
REPEATS = 3


from _machine import cpu_model as _cpu_model  # noqa: E402


def _positions(n_frames: int, *, start: int = 0) -> xr.DataArray:
    """Positions as a store holds them: ``time`` in seconds and the frame numbers in ``frame``."""
    rng = np.random.default_rng(0)
    data = np.cumsum(rng.normal(size=(n_frames, 2, KEYPOINTS, 1)).astype(np.float32), axis=0)
    frames = np.arange(start, start + n_frames)
    return xr.DataArray(
        data,
        dims=("time", "space", "keypoints", "individuals"),
        coords={"time": frames / FPS, "frame": ("time", frames), "space": ["x", "y"],
                "keypoints": [f"k{i}" for i in range(KEYPOINTS)], "individuals": ["a"]},
        attrs={"fps": FPS},
    )


def _best_rate(func, points: int) -> float:
    best = np.inf
    for _ in range(REPEATS):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return points / best


def throughput() -> tuple[float, float | None]:
    from deepbehavior.analysis.kinematics import compute_velocity

    points = FRAMES * KEYPOINTS
    position = _positions(FRAMES)
    ours = _best_rate(lambda: compute_velocity(position), points)
    try:
        from movement.kinematics import compute_velocity as movement_velocity
    except ImportError:
        return ours, None
    theirs = _best_rate(lambda: movement_velocity(position), points)
    return ours, theirs


_WORKER = """
import sys, xarray as xr, dask
from deepbehavior.analysis.kinematics import compute_speed

def peak_mb():
    # VmHWM starts afresh at exec; ru_maxrss would inherit the parent's peak through fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

dask.config.set(scheduler="threads", num_workers=2)
source, target = sys.argv[1], sys.argv[2]
before = peak_mb()
position = xr.open_zarr(source, zarr_format=3)["position"]
speed = compute_speed(position, fps=float(position.attrs["fps"]))
speed.to_dataset(name="speed").to_zarr(target, mode="w", zarr_format=3)
print(before, peak_mb())
"""


def _write_store(path: Path, n_frames: int) -> None:
    """Write a store in pieces so that building it never holds it all in memory."""
    for start in range(0, n_frames, STORE_CHUNK * 10):
        stop = min(n_frames, start + STORE_CHUNK * 10)
        piece = _positions(stop - start, start=start)
        # Label coordinates stay out: Zarr v3 has no stable string dtype yet.
        ds = piece.drop_vars(["space", "keypoints", "individuals"]).to_dataset(name="position").chunk(time=STORE_CHUNK)
        if start == 0:
            ds.to_zarr(path, mode="w", zarr_format=3)
        else:
            ds.to_zarr(path, append_dim="time", zarr_format=3)


def peak_rss_mb(n_frames: int, workdir: Path) -> tuple[float, float]:
    """(peak RSS after imports, peak RSS at the end) of a fresh process, MB."""
    source, target = workdir / f"pos{n_frames}.zarr", workdir / f"speed{n_frames}.zarr"
    _write_store(source, n_frames)
    result = subprocess.run(
        [sys.executable, "-c", _WORKER, str(source), str(target)], check=True, capture_output=True, text=True
    )
    before, after = result.stdout.strip().splitlines()[-1].split()
    return float(before), float(after)


def main() -> dict:
    ours, theirs = throughput()
    with tempfile.TemporaryDirectory() as tmp:
        (imports, small), (_, large) = peak_rss_mb(SMALL, Path(tmp)), peak_rss_mb(LARGE, Path(tmp))
    memory = psutil.virtual_memory().total / 2**30
    result = {
        "points_per_s": ours,
        "movement_points_per_s": theirs,
        "speedup_vs_movement": (ours / theirs) if theirs else None,
        "peak_rss_mb_small": small,
        "peak_rss_mb_large": large,
        "rss_mb_after_imports": imports,
        "frames": FRAMES,
        "keypoints": KEYPOINTS,
        "store_frames_small": SMALL,
        "store_frames_large": LARGE,
        "store_chunk_frames": STORE_CHUNK,
        "machine": {
            "cpu": _cpu_model(),
            "cores": psutil.cpu_count(logical=True),
            "ram_gb": round(memory, 1),
            "python": platform.python_version(),
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = RESULT.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=2) + "\n")
    tmp_path.replace(RESULT)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
