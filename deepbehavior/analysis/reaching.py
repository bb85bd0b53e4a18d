"""Reaching: a paw's 3D (or 2D) track, reaches segmented by speed, and measures of each reach.

The paw is seen by a front and a side camera; the geometry work triangulates it into a poses
dataset with ``space = x, y, z`` (calibrated units, usually mm). Every function here also takes a
plain position ``DataArray``, 2D or 3D; speeds are then in that array's units per second.

A reach is found with two speed thresholds (hysteresis): it must reach ``start_speed`` somewhere,
and it extends backwards and forwards from there for as long as the speed stays at or above
``stop_speed``. Reaches shorter than ``min_duration_s`` are dropped, so a twitch is not a reach.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import schema
from ._tracks import as_position, fps_of, point_track, runs, speed, step_lengths

REACH_COLUMNS = ("onset", "offset", "peak", "onset_s", "duration_s", "peak_speed", "path_length",
                 "extent")


def paw_trajectory(
    data: xr.Dataset | xr.DataArray,
    *,
    keypoint: str | None = None,
    individual: str | None = None,
    view: str | None = None,
) -> xr.DataArray:
    """The paw's track ``(time, space)`` from a poses dataset or position array.

    Parameters
    ----------
    data
        Poses dataset (3D from triangulation, or 2D) or its ``position`` array.
    keypoint
        The paw keypoint; None takes the mean of the keypoints.
    individual, view
        None takes the first individual and the first view.

    Returns
    -------
    xarray.DataArray
        ``(time, space)`` in the units of ``data`` (mm for calibrated 3D), ``attrs["fps"]`` kept.
    """
    return point_track(as_position(data, view=view), keypoint=keypoint, individual=individual)


def segment_reaches(
    speed_values: np.ndarray,
    *,
    start_speed: float,
    stop_speed: float,
    min_frames: int = 1,
) -> list[tuple[int, int]]:
    """Reaches in a speed series, by hysteresis.

    Parameters
    ----------
    speed_values
        Speed ``(time,)`` in any unit per second; NaN counts as below both thresholds.
    start_speed
        A reach must reach this speed (same unit).
    stop_speed
        A reach extends while the speed is at or above this (``<= start_speed``).
    min_frames
        Reaches of fewer frames are dropped.

    Returns
    -------
    list of (onset, offset)
        Indices into ``speed_values``; ``offset`` is the last frame of the reach (inclusive).
    """
    if not stop_speed <= start_speed:
        raise ValueError(f"Expected stop_speed <= start_speed, but got {stop_speed} > {start_speed}")
    values = np.asarray(speed_values, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"Expected a 1D speed series, but got shape {values.shape}")
    with np.errstate(invalid="ignore"):
        moving = values >= stop_speed
        fast = values >= start_speed
    reaches = []
    for start, stop in zip(*runs(moving)):
        if fast[start:stop].any() and stop - start >= min_frames:
            reaches.append((int(start), int(stop - 1)))
    return reaches


def measure_reaches(
    track: xr.DataArray,
    *,
    start_speed: float,
    stop_speed: float,
    min_duration_s: float = 0.0,
    fps: float | None = None,
) -> pd.DataFrame:
    """Segment a paw track into reaches and measure each one.

    Parameters
    ----------
    track
        Paw position ``(time, space)`` (2D or 3D; mm or pixels), ``time`` in frame numbers.
    start_speed, stop_speed
        Hysteresis thresholds in position units per second (mm/s for calibrated 3D).
    min_duration_s
        Reaches shorter than this (s, from onset to offset) are dropped.
    fps
        Frames per second; default ``track.attrs["fps"]``.

    Returns
    -------
    pandas.DataFrame
        One row per reach: ``onset``, ``offset``, ``peak`` (frame numbers of the track's ``time``),
        ``onset_s`` (s since the first frame), ``duration_s`` ((offset − onset) / fps, s),
        ``peak_speed`` (units/s), ``path_length`` (units, summed between onset and offset),
        ``extent`` (units, greatest distance from the onset position) and the endpoint
        ``endpoint_<axis>`` for each space axis: the position farthest from the onset position.
    """
    fps = fps_of(track, fps)
    track = track.transpose("time", "space")
    axes = [str(a) for a in track["space"].values]
    frames = schema.frames(track.assign_attrs(fps=fps))
    values = np.asarray(track.values, dtype=np.float64)
    speeds = speed(track, fps=fps)
    steps = step_lengths(track)
    # Frames needed for min_duration_s: the reach spans (n - 1) frame intervals.
    min_frames = int(np.ceil(min_duration_s * fps - 1e-9)) + 1 if min_duration_s > 0 else 1
    rows = []
    for onset, offset in segment_reaches(speeds, start_speed=start_speed, stop_speed=stop_speed,
                                         min_frames=min_frames):
        segment = values[onset:offset + 1]
        reach_from_start = np.linalg.norm(segment - segment[0], axis=1)
        far = int(np.nanargmax(reach_from_start)) if np.isfinite(reach_from_start).any() else 0
        peak = onset + int(np.nanargmax(speeds[onset:offset + 1]))
        row = {
            "onset": int(frames[onset]),
            "offset": int(frames[offset]),
            "peak": int(frames[peak]),
            "onset_s": float(frames[onset] - frames[0]) / fps,
            "duration_s": float(frames[offset] - frames[onset]) / fps,
            "peak_speed": float(speeds[peak]),
            "path_length": float(np.nansum(steps[onset:offset])),
            "extent": float(reach_from_start[far]),
        }
        row.update({f"endpoint_{axis}": float(segment[far, i]) for i, axis in enumerate(axes)})
        rows.append(row)
    columns = list(REACH_COLUMNS) + [f"endpoint_{axis}" for axis in axes]
    return pd.DataFrame(rows, columns=columns)


def summarize_reaches(reaches: pd.DataFrame, *, unit: str = "mm") -> list[tuple[str, float, str]]:
    """Session-level numbers from :func:`measure_reaches`: ``(measure, value, unit)`` triples.

    ``count``; mean ``duration_s``, ``peak_speed``, ``path_length``, ``extent`` (NaN when there
    are no reaches). ``unit`` names the position unit.
    """
    def mean(column: str) -> float:
        return float(reaches[column].mean()) if len(reaches) else float("nan")

    return [
        ("reach_count", float(len(reaches)), "count"),
        ("reach_duration_mean", mean("duration_s"), "s"),
        ("reach_peak_speed_mean", mean("peak_speed"), f"{unit}/s"),
        ("reach_path_length_mean", mean("path_length"), unit),
        ("reach_extent_mean", mean("extent"), unit),
    ]
