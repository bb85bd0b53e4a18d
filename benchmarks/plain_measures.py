"""The baseline of ``benchmarks/analyze.py``: the plain NumPy/pandas script a user would write for
the same measures on the same Zarr stores, with no deepbehavior import.

Per store (one two-mouse session with keypoints ``nose``, ``body``, ``tail``; positions in px):

- ``locomotion.distance_<animal>`` (px) and ``locomotion.speed_mean_<animal>`` (px/s) of each
  animal's centroid (mean of its keypoints);
- ``regions.time_in_<region>`` (s), ``regions.entries_<region>`` (outside-to-inside steps) and
  ``regions.distance`` (px) of the first animal's ``body`` point, for rectangles ``[x0, y0, x1, y1]``
  (half-open: ``x0 <= x < x1``);
- ``social.distance_mean``, ``nose_nose_mean``, ``nose_tail_mean_ab`` / ``_ba`` (px),
  ``interaction_count`` / ``_time`` (s) / ``_latency`` (s) of the bouts where the ``body`` points are
  closer than ``THRESHOLD`` for at least ``MIN_DURATION_S``, and ``speed_mean_<animal>`` (px/s).

Speeds are central differences (``np.gradient``) times fps; distances sum the frame-to-frame steps.
Sessions run ``workers`` at a time in threads, as ``deepbehavior analyze`` does.

Run: ``python benchmarks/plain_measures.py STORES_DIR OUT.csv [WORKERS]``.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

REGIONS = {"left": (0, 0, 213, 480), "centre": (213, 0, 426, 480), "right": (426, 0, 640, 480)}
THRESHOLD = 40.0  # px
MIN_DURATION_S = 0.5


def path_length(xy: np.ndarray) -> float:
    """Sum of the steps of a ``(time, 2)`` track (px)."""
    return float(np.nansum(np.linalg.norm(np.diff(xy, axis=0), axis=1)))


def mean_speed(xy: np.ndarray, fps: float) -> float:
    """Mean of the central-difference speed of a ``(time, 2)`` track (px/s)."""
    return float(np.nanmean(np.linalg.norm(np.gradient(xy, 1 / fps, axis=0), axis=1)))


def bouts(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the runs of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], close.astype(np.int8), [0]])))
    return edges[0::2], edges[1::2]


def measure_store(path: Path) -> list[tuple[str, str, float]]:
    """``(session, measure, value)`` rows of one store."""
    ds = xr.open_zarr(path)
    fps = float(ds.attrs["fps"])
    pos = ds["position"].transpose("time", "space", "keypoints", "individuals").values.astype(np.float64)
    names = [str(k) for k in ds["keypoints"].values]
    animals = [str(i) for i in ds["individuals"].values]
    nose, body, tail = (names.index(k) for k in ("nose", "body", "tail"))
    out = {}
    for j, animal in enumerate(animals):
        centroid = np.nanmean(pos[:, :, :, j], axis=2)
        out[f"locomotion.distance_{animal}"] = path_length(centroid)
        out[f"locomotion.speed_mean_{animal}"] = mean_speed(centroid, fps)
    xy = pos[:, :, body, 0]
    for name, (x0, y0, x1, y1) in REGIONS.items():
        inside = (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
        out[f"regions.time_in_{name}"] = inside.sum() / fps
        out[f"regions.entries_{name}"] = float((inside[1:] & ~inside[:-1]).sum())
    out["regions.distance"] = path_length(xy)
    a, b = pos[..., 0], pos[..., 1]
    distance = np.linalg.norm(a[:, :, body] - b[:, :, body], axis=1)
    out["social.distance_mean"] = float(np.nanmean(distance))
    out["social.nose_nose_mean"] = float(np.nanmean(np.linalg.norm(a[:, :, nose] - b[:, :, nose], axis=1)))
    out["social.nose_tail_mean_ab"] = float(np.nanmean(np.linalg.norm(a[:, :, nose] - b[:, :, tail], axis=1)))
    out["social.nose_tail_mean_ba"] = float(np.nanmean(np.linalg.norm(b[:, :, nose] - a[:, :, tail], axis=1)))
    starts, stops = bouts(distance < THRESHOLD)
    keep = (stops - starts) / fps >= MIN_DURATION_S - 1e-9
    starts, stops = starts[keep], stops[keep]
    out["social.interaction_count"] = float(len(starts))
    out["social.interaction_time"] = float((stops - starts).sum() / fps)
    out["social.interaction_latency"] = starts[0] / fps if len(starts) else float("nan")
    for j, animal in enumerate(animals[:2]):
        out[f"social.speed_mean_{animal}"] = mean_speed(pos[:, :, body, j], fps)
    session = path.name.removesuffix(".zarr")
    return [(session, measure, float(value)) for measure, value in out.items()]


def measure_stores(stores: Path, workers: int = 2) -> pd.DataFrame:
    """The table ``session, measure, value`` of every ``*.zarr`` store in ``stores``."""
    with ThreadPoolExecutor(workers) as pool:
        rows = [row for found in pool.map(measure_store, sorted(Path(stores).glob("*.zarr"))) for row in found]
    return pd.DataFrame(rows, columns=["session", "measure", "value"])


if __name__ == "__main__":
    measure_stores(Path(sys.argv[1]), int(sys.argv[3]) if len(sys.argv) > 3 else 2).to_csv(sys.argv[2], index=False)
