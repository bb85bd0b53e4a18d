"""The tracks of a session: x and y of each identity over time, with the frames where the repair
exchanged identities marked, to check tracking at a glance."""

from __future__ import annotations

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .. import schema
from ..analysis.kinematics import space_unit


def plot_tracks(ds: xr.Dataset, *, view: str | None = None, title: str = "") -> Figure:
    """x and y (two panels) of every identity's reference point against time (s).

    Parameters
    ----------
    ds
        Dataset with identities (``deepbehavior.tracking.track_session``): ``position (time, space,
        [keypoints,] individuals[, view])`` in pixels, ``attrs["fps"]`` and optionally
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

    ref = schema.select_view(reference_points(ds), view)
    view = str(ref["view"].values) if "view" in ref.coords else view
    fps = float(ds.attrs.get("fps", 1.0))
    seconds = np.asarray(ds["time"].values, dtype=float)
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    swaps = [float(t) / fps for t in ds.attrs.get("swap_frames", {}).get(str(view), [])]
    unit = space_unit(ds)
    for ax, axis in zip(axes, ("x", "y")):
        for name in ref["individuals"].values:
            values = ref.sel(individuals=name, space=axis).values
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
