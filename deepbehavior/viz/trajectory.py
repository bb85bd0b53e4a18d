"""Figures of one session's track: the path in the arena and speed over time."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _subplots(figsize: tuple[float, float]):
    """A figure on its own Agg canvas (no pyplot state, no backend chosen for the process)."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def _save(fig, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)
    return path


def plot_trajectory(table: pd.DataFrame, path, *, title: str = "", size: tuple[int, int] | None = None,
                    truth: pd.DataFrame | None = None) -> Path:
    """The path (x, y) coloured by time; image coordinates (y down). ``size`` is (width, height)."""
    fig, ax = _subplots(figsize=(5.5, 4.5))
    if truth is not None:
        ax.plot(truth["x"], truth["y"], color="0.7", lw=3, label="ground truth")
    points = ax.scatter(table["x"], table["y"], c=table["time_s"], s=6, cmap="viridis", label="tracked")
    fig.colorbar(points, ax=ax, label="time (s)")
    if size:
        ax.set_xlim(0, size[0])
        ax.set_ylim(size[1], 0)
    else:
        ax.invert_yaxis()
    ax.set_aspect("equal")
    unit = table.attrs.get("units", {}).get("position", "px")
    ax.set(xlabel=f"x ({unit})", ylabel=f"y ({unit})", title=title or "trajectory")
    if truth is not None:
        ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)


def plot_speed(table: pd.DataFrame, path, *, title: str = "", truth: np.ndarray | None = None) -> Path:
    """Speed over time, with the ground truth when known."""
    fig, ax = _subplots(figsize=(7, 3))
    if truth is not None:
        ax.plot(table["time_s"], truth, color="0.6", lw=3, label="ground truth")
    ax.plot(table["time_s"], table["speed"], lw=1.2, label="tracked")
    unit = table.attrs.get("units", {}).get("speed", "px/s")
    ax.set(xlabel="time (s)", ylabel=f"speed ({unit})", title=title or "speed")
    ax.legend(loc="upper right", fontsize=8)
    return _save(fig, path)
