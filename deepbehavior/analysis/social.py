"""Two-animal social interaction: distances between animals, interaction bouts, speed of each.

Positions come from a poses dataset with two individuals (keypoints such as ``nose`` and ``tail``)
or from a boxes dataset (the box centre). Distances are in the units of the positions (pixels, or
mm after scaling). An interaction bout is a run of consecutive frames in which a distance is below
a threshold, lasting at least a minimum time; a frame with a missing distance ends a bout.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ._tracks import fps_of, point_track, runs, speed


def _pair(position: xr.DataArray, individuals: Sequence[str] | None) -> tuple[str, str]:
    names = [str(v) for v in position["individuals"].values]
    if individuals is None or len(individuals) == 0:
        if len(names) < 2:
            raise ValueError(f"Expected at least two individuals, but got {names}")
        return names[0], names[1]
    if len(individuals) != 2 or any(n not in names for n in individuals):
        raise ValueError(f"Expected two individuals out of {names}, but got {list(individuals)}")
    return str(individuals[0]), str(individuals[1])


def keypoint_distance(
    position: xr.DataArray,
    *,
    individuals: Sequence[str] | None = None,
    keypoints: tuple[str | None, str | None] = (None, None),
) -> xr.DataArray:
    """Distance ``(time,)`` from a point of the first animal to a point of the second.

    Parameters
    ----------
    position
        ``(time, space, [keypoints,] individuals)``, pixels or mm.
    individuals
        The two animals (default: the first two individuals).
    keypoints
        The keypoint of each animal; None takes that animal's centroid (mean of its keypoints).

    Returns
    -------
    xarray.DataArray
        ``(time,)`` in the units of ``position``; NaN where either point is missing.
    """
    first, second = _pair(position, individuals)
    a = point_track(position, keypoint=keypoints[0], individual=first)
    b = point_track(position, keypoint=keypoints[1], individual=second)
    distance = np.sqrt(((a - b) ** 2).sum("space", skipna=False))
    return distance.assign_attrs(position.attrs)


def inter_animal_distance(
    position: xr.DataArray, *, individuals: Sequence[str] | None = None, keypoint: str | None = None
) -> xr.DataArray:
    """Distance ``(time,)`` between the two animals' ``keypoint`` (default: their centroids)."""
    return keypoint_distance(position, individuals=individuals, keypoints=(keypoint, keypoint))


def find_bouts(close: np.ndarray, *, fps: float, min_duration_s: float = 0.0) -> pd.DataFrame:
    """Runs of True in ``close`` ``(time,)`` lasting at least ``min_duration_s``.

    A run of ``n`` frames lasts ``n / fps`` seconds (each frame stands for one frame interval).

    Returns
    -------
    pandas.DataFrame
        ``start``, ``stop`` (indices, stop exclusive), ``start_s`` (s from the first frame),
        ``duration_s`` (s).
    """
    starts, stops = runs(np.asarray(close, dtype=bool))
    keep = (stops - starts) / fps >= min_duration_s - 1e-9
    starts, stops = starts[keep], stops[keep]
    return pd.DataFrame({"start": starts, "stop": stops, "start_s": starts / fps,
                         "duration_s": (stops - starts) / fps})


def interaction_bouts(
    distance: xr.DataArray, *, threshold: float, min_duration_s: float, fps: float | None = None
) -> pd.DataFrame:
    """Bouts in which ``distance`` is below ``threshold`` (same unit) for at least ``min_duration_s`` (s).

    ``start``/``stop`` are indices into ``distance``; ``start_s`` counts from its first frame.
    """
    fps = fps_of(distance, fps)
    values = np.asarray(distance.values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        close = values < threshold
    return find_bouts(close, fps=fps, min_duration_s=min_duration_s)


def summarize_bouts(bouts: pd.DataFrame, *, prefix: str = "interaction") -> list[tuple[str, float, str]]:
    """Count, total time (s) and latency to the first bout (s; NaN when there is none)."""
    latency = float(bouts["start_s"].iloc[0]) if len(bouts) else float("nan")
    return [
        (f"{prefix}_count", float(len(bouts)), "count"),
        (f"{prefix}_time", float(bouts["duration_s"].sum()), "s"),
        (f"{prefix}_latency", latency, "s"),
    ]


def measure_social(
    position: xr.DataArray,
    *,
    threshold: float,
    min_duration_s: float,
    individuals: Sequence[str] | None = None,
    centre: str | None = None,
    nose: str | None = "nose",
    tail: str | None = "tail",
    fps: float | None = None,
    unit: str = "px",
) -> list[tuple[str, float, str]]:
    """Every social measure of a session, as ``(measure, value, unit)`` triples.

    Parameters
    ----------
    position
        ``(time, space, [keypoints,] individuals)`` in ``unit``.
    threshold
        Interaction distance (``unit``): bouts are where the ``centre`` distance is below it.
    min_duration_s
        Shortest bout (s).
    centre
        Keypoint for the inter-animal distance; None uses each animal's centroid.
    nose, tail
        Keypoint names; the nose–nose and nose–tail measures are left out when they are absent.

    Returns
    -------
    list of (measure, value, unit)
        ``distance_mean``; ``nose_nose_mean``; ``nose_tail_mean_ab`` and ``_ba`` (nose of the
        first animal to tail of the second, and the reverse); ``interaction_count``,
        ``interaction_time`` (s), ``interaction_latency`` (s); ``speed_mean_<individual>``
        (``unit``/s) for each of the two.
    """
    fps = fps_of(position, fps)
    first, second = _pair(position, individuals)
    pair = (first, second)
    distance = inter_animal_distance(position, individuals=pair, keypoint=centre)
    rows = [("distance_mean", float(np.nanmean(distance.values)) if np.isfinite(distance.values).any()
             else float("nan"), unit)]
    names = [str(k) for k in position["keypoints"].values] if "keypoints" in position.dims else []
    if nose in names:
        for label, kps, who in (("nose_nose_mean", (nose, nose), pair),
                                ("nose_tail_mean_ab", (nose, tail), pair),
                                ("nose_tail_mean_ba", (nose, tail), (second, first))):
            if tail not in names and kps[1] == tail:
                continue
            d = keypoint_distance(position, individuals=who, keypoints=kps).values
            rows.append((label, float(np.nanmean(d)) if np.isfinite(d).any() else float("nan"), unit))
    bouts = interaction_bouts(distance, threshold=threshold, min_duration_s=min_duration_s, fps=fps)
    rows += summarize_bouts(bouts)
    for name in pair:
        s = speed(point_track(position, keypoint=centre, individual=name), fps=fps)
        rows.append((f"speed_mean_{name}", float(np.nanmean(s)) if np.isfinite(s).any() else float("nan"),
                     f"{unit}/s"))
    return rows
