"""Figures of a session (trajectory, speed, distance with interaction bouts shaded) and of a cohort
(a measure by group), as PNG.

Figures are built with matplotlib's object API on the Agg canvas (no pyplot state), so they can be
drawn from several threads and on machines without a display.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from ..analysis.plausibility import SpeedCheck, check_speed
from ..analysis.regions import RegionOfInterest


def _figure(width: float = 6.0, height: float = 4.0) -> tuple[Figure, object]:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG at ``path`` (through a temporary file and a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def plot_trajectory(
    tracks: Mapping[str, xr.DataArray],
    *,
    regions: Sequence[RegionOfInterest] = (),
    unit: str = "px",
    title: str = "",
) -> Figure:
    """Each track's path in the x–y plane, regions outlined.

    Parameters
    ----------
    tracks
        ``name -> (time, space)`` positions in ``unit``.
    regions
        Regions of interest in the same unit, drawn as outlines.
    """
    fig, ax = _figure(5.5, 5.0)
    for region in regions:
        ax.add_patch(Polygon(region.vertices, closed=True, fill=False, linestyle="--", edgecolor="0.4"))
        centre = region.vertices.mean(axis=0)
        ax.annotate(region.name, centre, ha="center", va="center", color="0.3")
    for name, track in tracks.items():
        ax.plot(track.sel(space="x").values, track.sel(space="y").values, lw=0.8, label=name)
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.invert_yaxis()  # image coordinates: y grows downwards
    ax.set_aspect("equal", adjustable="datalim")
    if tracks:
        ax.legend(loc="best", fontsize="small")
    ax.set_title(title)
    return fig


def plot_speed(speeds: Mapping[str, np.ndarray], *, seconds: np.ndarray, unit: str = "px",
               title: str = "", checks: Mapping[str, SpeedCheck] | None = None) -> Figure:
    """Speed over time: ``speeds`` maps a name to ``(time,)`` speeds in ``unit``/s; ``seconds`` is ``(time,)``.

    ``checks`` (name → :class:`~deepbehavior.analysis.plausibility.SpeedCheck`) mark each track's
    implausible frames with red crosses and its limit with a dotted line.
    """
    fig, ax = _figure(7.0, 3.0)
    for k, (name, values) in enumerate(speeds.items()):
        ax.plot(seconds, values, lw=0.8, label=name, color=f"C{k}")
        check = (checks or {}).get(name)
        if check is None or not np.isfinite(check.limit):
            continue
        ax.axhline(check.limit, color=f"C{k}", lw=0.6, linestyle=":")
        if check.count:
            ax.plot(seconds[check.too_fast], np.asarray(values)[check.too_fast], "x", color="red", ms=5,
                    label=f"{name}: {check.count} implausible frames (> {check.limit:.4g} {unit}/s)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"speed ({unit}/s)")
    if speeds:
        ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_distance(
    distance: np.ndarray,
    *,
    seconds: np.ndarray,
    bouts: pd.DataFrame | None = None,
    threshold: float | None = None,
    unit: str = "px",
    title: str = "",
) -> Figure:
    """Inter-animal distance over time with interaction bouts shaded.

    ``bouts`` has ``start`` and ``stop`` (indices into ``distance``, stop exclusive), as returned
    by :func:`deepbehavior.analysis.social.interaction_bouts`.
    """
    fig, ax = _figure(7.0, 3.0)
    ax.plot(seconds, distance, lw=0.8, color="C0")
    step = float(np.median(np.diff(seconds))) if len(seconds) > 1 else 0.0
    for start, stop in ([] if bouts is None else bouts[["start", "stop"]].to_numpy()):
        ax.axvspan(seconds[start], seconds[stop - 1] + step, color="C1", alpha=0.25, lw=0)
    if threshold is not None:
        ax.axhline(threshold, color="C1", lw=0.8, linestyle="--")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(f"distance ({unit})")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_measure_by_group(table: pd.DataFrame, measure: str) -> Figure:
    """One measure of the cohort table by group: a box per group with each session as a point."""
    rows = table[table["measure"] == measure]
    if rows.empty:
        raise ValueError(f"Expected measure {measure!r} in the table, but it has {sorted(table['measure'].unique())}")
    groups = sorted(rows["group"].unique())
    values = [rows.loc[rows["group"] == g, "value"].dropna().to_numpy() for g in groups]
    fig, ax = _figure(1.5 + 1.2 * len(groups), 4.0)
    ax.boxplot(values, showfliers=False, widths=0.5)
    ax.set_xticks(range(1, len(groups) + 1), groups)
    jitter = np.random.default_rng(0)  # fixed, so that figures are reproducible
    for i, v in enumerate(values, start=1):
        ax.plot(i + jitter.uniform(-0.12, 0.12, len(v)), v, "o", ms=4, alpha=0.8, color="C0")
    unit = rows["unit"].iloc[0]
    ax.set_ylabel(f"{measure} ({unit})")
    ax.set_xlabel("group")
    fig.tight_layout()
    return fig


def write_session_figures(
    position: xr.DataArray,
    folder: str | os.PathLike,
    *,
    fps: float,
    unit: str = "px",
    regions: Sequence[RegionOfInterest] = (),
    threshold: float | None = None,
    min_duration_s: float = 0.0,
    individuals: Sequence[str] | None = None,
    centre: str | None = None,
    max_speed: float | None = None,
    title: str = "",
) -> list[Path]:
    """The figures of one session: ``trajectory.png``, ``speed.png`` and, with two or more
    individuals, ``distance.png`` (bouts below ``threshold`` for ``min_duration_s`` shaded).

    Parameters
    ----------
    position
        ``(time, space, [keypoints,] [individuals])`` in ``unit``; each animal is drawn by its
        ``centre`` keypoint (None: the mean of its keypoints).
    max_speed
        Fastest plausible speed (``unit``/s; None: 25 x each track's median); faster frames are
        marked in ``speed.png`` (:mod:`deepbehavior.analysis.plausibility`).
    """
    from ..analysis._tracks import point_track, speed
    from ..analysis.social import inter_animal_distance, interaction_bouts

    folder = Path(folder)
    names = [str(v) for v in position["individuals"].values] if "individuals" in position.dims else [None]
    tracks = {n or "animal": point_track(position, keypoint=centre, individual=n) for n in names}
    seconds = np.asarray(position["time"].values, dtype=float) - float(position["time"].values[0])
    written = [save_figure(plot_trajectory(tracks, regions=regions, unit=unit, title=title),
                           folder / "trajectory.png")]
    speeds = {n: speed(t, fps=fps) for n, t in tracks.items()}
    checks = {n: check_speed(v, name=n, unit=unit, max_speed=max_speed) for n, v in speeds.items()}
    written.append(save_figure(plot_speed(speeds, seconds=seconds, unit=unit, title=title, checks=checks),
                               folder / "speed.png"))
    if len(names) >= 2:
        distance = inter_animal_distance(position, individuals=individuals or None, keypoint=centre)
        bouts = None
        if threshold is not None:
            bouts = interaction_bouts(distance, threshold=threshold, min_duration_s=min_duration_s, fps=fps)
        written.append(save_figure(plot_distance(distance.values, seconds=seconds, bouts=bouts, threshold=threshold,
                                                 unit=unit, title=title), folder / "distance.png"))
    return written
