"""The tracks of a session: x and y of each identity over time, with the frames where the repair
exchanged identities marked, to check tracking at a glance."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..analysis.kinematics import space_unit


def plot_tracks(ds: xr.Dataset, *, view: str | None = None, title: str = "") -> Figure:
    """x and y (two panels) of every identity's reference point against time (s).

    Parameters
    ----------
    ds
        Dataset with identities (``deepbehavior.tracking.track_session``): ``position (time, space,
        [keypoint,] individual[, view])`` in pixels, ``attrs["fps"]`` and optionally
        ``attrs["swap_frames"]`` (view → frame numbers where identities were exchanged back), drawn
        as dashed vertical lines.
    view
        The camera view to draw (default: the first).

    Returns
    -------
    matplotlib.figure.Figure
        Two stacked panels sharing the time axis.
    """
    from ..tracking import reference_points

    ref = reference_points(ds)
    if "view" in ref.dims:
        views = [str(v) for v in ref["view"].values]
        view = views[0] if view is None else view
        if view not in views:
            raise ValueError(f"Expected a view in {views}, but got {view!r}")
        ref = ref.sel(view=view)
    fps = float(ds.attrs.get("fps", 1.0))
    seconds = np.asarray(ds["time"].values, dtype=float) / fps
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    swaps = [float(t) / fps for t in ds.attrs.get("swap_frames", {}).get(str(view), [])]
    unit = space_unit(ds)
    for ax, axis in zip(axes, ("x", "y")):
        for name in ref["individual"].values:
            values = ref.sel(individual=name, space=axis).values
            ax.plot(seconds, values, lw=0.8, label=str(name))
        for k, s in enumerate(swaps):
            ax.axvline(s, color="k", ls="--", lw=0.8, label="swap repaired" if k == 0 else None)
        ax.set_ylabel(f"{axis} ({unit})")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[1].set_xlabel("time (s)")
    if title:
        axes[0].set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
