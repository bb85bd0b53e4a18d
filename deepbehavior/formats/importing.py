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
    """Write ``ds`` to a new Zarr store at ``path``, each view in one write, every region marked done.

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
    by_view: dict[str, list] = {}
    for region in store.regions(path):
        by_view.setdefault(region.view, []).append(region)
    for view, regions in by_view.items():  # the dataset is in memory: one write a view, not one a chunk
        store.write_regions(path, schema.select_view(ds, view), regions)
    return path


def summarize(ds: xr.Dataset) -> dict:
    """Frames, individuals, keypoints, views and the fraction of missing positions of a dataset."""
    position = np.asarray(ds["position"].values)
    return {
        "kind": str(ds.attrs.get("ds_type")),
        "frames": int(ds.sizes["time"]),
        "individuals": int(ds.sizes[schema.INDIVIDUALS]),
        "keypoints": int(ds.sizes.get(schema.KEYPOINTS, 0)),
        "views": int(ds.sizes.get("view", 1)),
        "missing_fraction": float(np.isnan(position).mean()) if position.size else 1.0,
    }


def _one_view(ds: xr.Dataset, where) -> xr.Dataset:
    ds = schema.drop_single_view(ds)
    if schema.VIEW in ds.dims:
        raise ValueError(f"{where}: Expected one camera per file, but got {ds.sizes[schema.VIEW]} views")
    return ds


def join_views(datasets: dict[str, xr.Dataset], *, fps: float | None = None) -> xr.Dataset:
    """One multi-camera dataset from one single-camera dataset per view (``{view: dataset}``).

    Frames are the union of the files' frame numbers (NaN where a camera has none); individuals
    the union of their names (all slots, or all identities); keypoints must be the same in every
    file (matched by name, in the first file's order); boxes must have the same classes.

    Parameters
    ----------
    datasets
        View name -> poses or boxes dataset of that camera (``attrs["source_file"]`` names it in errors).
    fps
        Frames per second of every camera; by default the files' own, which must agree.

    Returns
    -------
    xarray.Dataset
        The datasets' kind with a ``view`` dimension over the given views, in their order.
    """
    from ._common import check_size

    frames, KP, IND = schema.frames, schema.KEYPOINTS, schema.INDIVIDUALS

    if len(datasets) < 2:
        raise ValueError(f"Expected two or more views to join, but got {list(datasets)}")
    items = {view: _one_view(ds, ds.attrs.get("source_file", view)) for view, ds in datasets.items()}
    first_view, first = next(iter(items.items()))
    kind = first.attrs["ds_type"]
    where = {v: ds.attrs.get("source_file", v) for v, ds in items.items()}
    for view, ds in items.items():
        if ds.attrs["ds_type"] != kind:
            raise ValueError(f"{where[view]}: Expected {kind} like {where[first_view]}, but got {ds.attrs['ds_type']}")
    rates = {float(ds.attrs["fps"]) for ds in items.values()}
    if fps is None and len(rates) > 1:
        raise ValueError(f"Expected one frame rate for every view (pass fps=), but got {sorted(rates)}")
    fps = float(fps or rates.pop())
    kinds = {ds.attrs.get("individuals_are") for ds in items.values()}
    if len(kinds) > 1:
        raise ValueError(f"Expected every view's individuals to be slots, or every view's identities, but got "
                         f"{ {v: ds.attrs.get('individuals_are') for v, ds in items.items()} }")
    time = np.unique(np.concatenate([frames(ds) for ds in items.values()]))
    individuals = list(dict.fromkeys(str(i) for ds in items.values() for i in ds[IND].values))
    views = list(items)
    if kind == schema.POSES:
        keypoints = [str(k) for k in first[KP].values]
        for view, ds in items.items():
            theirs = [str(k) for k in ds[KP].values]
            if sorted(theirs) != sorted(keypoints):
                raise ValueError(f"{where[view]}: Expected the keypoints of {where[first_view]} ({keypoints}), "
                                 f"but got {theirs}")
        check_size(where[first_view], "frames", len(time), 3 * len(keypoints) * len(individuals) * len(views))
        position = np.full((len(time), 2, len(keypoints), len(individuals), len(views)), np.nan)
        confidence = np.full((len(time), len(keypoints), len(individuals), len(views)), np.nan)
        for v, (view, ds) in enumerate(items.items()):
            kp, ind = KP, IND
            ds = ds.sel({kp: keypoints})
            rows = np.searchsorted(time, frames(ds))
            cols = [individuals.index(str(i)) for i in ds[ind].values]
            # Advanced indices apart from slices come first: the target is (time, individual, space, keypoint).
            position[rows[:, None], :, :, cols, v] = ds["position"].transpose("time", ind, "space", kp).values
            confidence[rows[:, None], :, cols, v] = ds["confidence"].transpose("time", ind, kp).values
        out = schema.make_poses(position, confidence, fps=fps, keypoints=keypoints, individuals=individuals,
                                views=views, time=time, source_software=str(first.attrs.get("source_software")),
                                individuals_are=str(first.attrs.get("individuals_are")))
    else:
        classes = list(first.attrs.get("class_names", []))
        for view, ds in items.items():
            if list(ds.attrs.get("class_names", [])) != classes:
                raise ValueError(f"{where[view]}: Expected the classes {classes}, but got {ds.attrs.get('class_names')}")
        check_size(where[first_view], "frames", len(time), 6 * len(individuals) * len(views))
        arrays = {name: np.full((len(time), 2, len(individuals), len(views)), np.nan) for name in ("position", "shape")}
        arrays.update({name: np.full((len(time), len(individuals), len(views)), np.nan)
                       for name in ("confidence", "class_index")})
        for v, (view, ds) in enumerate(items.items()):
            ind = IND
            rows = np.searchsorted(time, frames(ds))
            cols = [individuals.index(str(i)) for i in ds[ind].values]
            for name in ("position", "shape"):
                arrays[name][rows[:, None], :, cols, v] = ds[name].transpose("time", ind, "space").values
            for name in ("confidence", "class_index"):
                arrays[name][rows[:, None], cols, v] = ds[name].transpose("time", ind).values
        out = schema.make_boxes(arrays["position"], arrays["shape"], arrays["confidence"], arrays["class_index"],
                                fps=fps, individuals=individuals, views=views, class_names=classes, time=time,
                                source_software=str(first.attrs.get("source_software")),
                                individuals_are=str(first.attrs.get("individuals_are")))
    out.attrs["source_files"] = {view: str(where[view]) for view in views}
    return out
