"""A whole session: identities as the config says, and the atomic write of the result."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import xarray as xr

from .classes import identities_from_classes
from .layout import view_names
from .motion import track_identities

if TYPE_CHECKING:
    from ..config import TrackConfig


def track_session(ds: xr.Dataset, config: TrackConfig) -> xr.Dataset:
    """Identities for one session's detections, as ``config`` says.

    Identity from the class when ``config.classes`` is given, otherwise from motion
    (:func:`~deepbehavior.tracking.track_identities` with ``config.method`` and its parameters).
    Works on the whole video at once, whatever chunks or inference shards the store was written
    in; Dask-backed variables stay lazy and are read a block of frames at a time.

    Returns
    -------
    xr.Dataset
        Identities, with ``attrs["swaps_repaired"]``, ``attrs["swap_frames"]``,
        ``attrs["track_events"]`` and ``attrs["track_config"]`` (the parameters used).
    """
    if config.classes:
        out = identities_from_classes(ds, dict(config.classes))
        out.attrs["swaps_repaired"] = 0
        out.attrs["swap_frames"] = {v: [] for v in view_names(ds)}
    else:
        out = track_identities(ds, n_identities=config.n_identities, max_jump=config.max_jump, method=config.method,
                               swap_radius=config.swap_radius, max_extrapolate=config.max_extrapolate,
                               reacquire_after=config.reacquire_after, duplicate_distance=config.duplicate_distance,
                               repair=config.repair, names=list(config.names) or None)
    out.attrs["track_config"] = asdict(config)
    return out


def write_tracked(ds: xr.Dataset, path: str | os.PathLike, *, chunk: int, overwrite: bool = False) -> Path:
    """Write a tracked dataset as a Zarr v3 store at ``path``, atomically (see
    :func:`deepbehavior.store.write_dataset`); ``chunk`` frames per time chunk."""
    from ..schema import validate
    from ..store import write_dataset

    validate(ds)
    return write_dataset(ds, path, chunk=chunk, overwrite=overwrite)
