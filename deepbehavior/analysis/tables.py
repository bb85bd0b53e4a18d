"""Tidy per-frame kinematics tables of a session's store, and their one-row summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .. import schema
from . import cleaning, kinematics


def kinematics_table(position: xr.DataArray, *, fps: float, pixel_size_mm: float | None = None,
                     smooth_window: int = 0) -> pd.DataFrame:
    """Per-frame position, velocity, acceleration and speed of one track.

    Parameters
    ----------
    position
        ``(time, space)`` positions in pixels (dask- or NumPy-backed).
    fps
        Frames per second.
    pixel_size_mm
        Millimetres per pixel; with it every column is in mm, mm/s, mm/s².
    smooth_window
        Frames of a Savitzky–Golay filter (degree 2) applied to positions first; 0: none.

    Returns
    -------
    DataFrame with columns ``frame, time_s, x, y, vx, vy, ax, ay, speed`` and ``attrs["units"]``.
    """
    if set(position.dims) != {"time", "space"}:
        raise ValueError(f"Expected one track with dims (time, space), but got {tuple(position.dims)}")
    position = position.assign_attrs(fps=fps, space_unit=kinematics.space_unit(position))
    if pixel_size_mm:
        position = kinematics.scale_to_mm(position, pixel_size_mm)
    if smooth_window:
        position = cleaning.savgol_filter(position, window=smooth_window, polyorder=2).assign_attrs(position.attrs)
    velocity = kinematics.compute_velocity(position, fps=fps)
    acceleration = kinematics.compute_acceleration(position, fps=fps)
    speed = kinematics.compute_speed(position, fps=fps)
    pos, vel, acc, spd = (np.asarray(a.transpose("time", ...).values) for a in (position, velocity, acceleration, speed))
    frames = schema.frames(position)
    table = pd.DataFrame({
        "frame": frames, "time_s": np.asarray(position["time"].values, dtype=np.float64),
        "x": pos[:, 0], "y": pos[:, 1], "vx": vel[:, 0], "vy": vel[:, 1],
        "ax": acc[:, 0], "ay": acc[:, 1], "speed": spd,
    })
    table.attrs["units"] = {"position": kinematics.space_unit(position), "speed": speed.attrs.get("units")}
    return table


def summarize(table: pd.DataFrame) -> dict:
    """Frames, missing fraction, path length, mean/max speed of a :func:`kinematics_table`."""
    steps = np.hypot(np.diff(table["x"].to_numpy()), np.diff(table["y"].to_numpy()))
    return {
        "frames": len(table),
        "missing_fraction": float(table["x"].isna().mean()),
        "path_length": float(np.nansum(steps)),
        "mean_speed": float(table["speed"].mean()),
        "max_speed": float(table["speed"].max()),
        "units": table.attrs.get("units", {}).get("position", "px"),
    }
