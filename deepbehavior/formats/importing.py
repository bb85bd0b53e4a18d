"""Putting a dataset read from another tool's files into a store, and summarising it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema, store


def _json_safe(value):
    """Attributes as plain Python values (numpy scalars and arrays are not JSON)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_store(ds: xr.Dataset, path: str | os.PathLike, *, chunk: int, attrs: dict | None = None,
                overwrite: bool = False) -> Path:
    """Write ``ds`` to a new Zarr store at ``path``, region by region, each marked done.

    Parameters
    ----------
    ds
        A poses or boxes dataset (validated by :func:`deepbehavior.store.create_store`).
    chunk
        Frames per time chunk of the store.
    attrs
        Extra attributes of the store (provenance).
    overwrite
        Replace a store already at ``path``.
    """
    template = ds.copy()
    template.attrs = _json_safe(dict(ds.attrs))
    path = store.create_store(path, template, chunk=chunk, attrs=_json_safe(attrs or {}), overwrite=overwrite)
    for region in store.regions(path):
        part = schema.select_view(ds, region.view).isel(time=slice(region.start, region.stop))
        store.write_region(path, part, region)
    return path


def summarize(ds: xr.Dataset) -> dict:
    """Frames, individuals, keypoints and the fraction of missing positions of a dataset."""
    position = np.asarray(ds["position"].values)
    return {
        "kind": str(ds.attrs.get("ds_type")),
        "frames": int(ds.sizes["time"]),
        "individuals": int(ds.sizes["individuals"]),
        "keypoints": int(ds.sizes.get("keypoints", 0)),
        "missing_fraction": float(np.isnan(position).mean()) if position.size else 1.0,
    }
