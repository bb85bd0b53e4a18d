"""Tracking as a Python step: one dataset (or store) of detection slots in, identities out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ..config import TrackConfig


@dataclass(frozen=True)
class TrackReport:
    """What :func:`track` did.

    Attributes
    ----------
    tracked
        The dataset with identities (``individuals_are == "identities"``), in memory.
    quality
        One row per event that needs a look (:func:`deepbehavior.tracking.quality_report`:
        swap, extra, duplicate, reacquired, jump, merge, missing).
    summary
        Counts of :attr:`quality`: ``frames``, ``swaps_repaired`` and ``<event>_frames``.
    path
        The store written, when :func:`track` was given ``out``; else None.
    """

    tracked: xr.Dataset
    quality: pd.DataFrame
    summary: dict[str, int]
    path: Path | None = None


def track(
    data: xr.Dataset | str | os.PathLike,
    *,
    settings: TrackConfig | None = None,
    retrack: bool = False,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> TrackReport:
    """Turn detection slots into identities over the whole recording.

    Parameters
    ----------
    data
        Detections in slots (``attrs["individuals_are"] == "slots"``, as ``infer`` writes them),
        a dataset or a path that :func:`deepbehavior.pipeline.io.load` reads.
    settings
        The tracking settings (:class:`deepbehavior.config.TrackConfig`); None: its defaults.
    retrack
        Treat the individuals of a dataset that holds identities (another tool's tracks, e.g.
        SLEAP's fragments) as slots, and track them afresh.
    out
        Also write the tracked dataset as a store at this ``*.zarr`` path.
    overwrite
        Replace a store already at ``out``.
    **options
        Fields of :class:`~deepbehavior.config.TrackConfig` replacing those of ``settings``
        (``method``, ``n_identities``, ``max_jump`` in pixels per frame, ...).

    Returns
    -------
    TrackReport
        The tracked dataset, the quality table and its summary.

    Examples
    --------
    >>> import deepbehavior as db
    >>> report = db.track(db.load("flies.slp"), retrack=True, n_identities=2)  # doctest: +SKIP
    >>> report.summary["swaps_repaired"]  # doctest: +SKIP
    """
    from .. import schema
    from ..config import TrackConfig
    from ..tracking import quality_report, summarize_quality, track_session, write_tracked
    from ..tracking.motion import check_method
    from ._options import with_options
    from .io import load

    settings = with_options(TrackConfig, settings, options, where="track")
    check_method(settings.method)
    ds = load(data) if isinstance(data, (str, os.PathLike)) else data
    if retrack:
        ds = ds.assign_attrs(individuals_are=schema.SLOTS)
    tracked = track_session(ds, settings)
    quality = quality_report(tracked, merge_distance=settings.merge_distance, max_jump=settings.max_jump)
    summary = summarize_quality(quality, frames=tracked.sizes["time"],
                                swaps_repaired=int(tracked.attrs.get("swaps_repaired", 0)))
    path = None
    if out is not None:
        path = write_tracked(tracked, out, chunk=int(ds.attrs.get("chunk", 1000)), overwrite=overwrite)
    return TrackReport(tracked, quality, summary, path)

