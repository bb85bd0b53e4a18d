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


def _present(ds: xr.Dataset) -> xr.DataArray:
    """Where each individual has a position: ``(time, individuals[, view])`` booleans."""
    position = ds["position"]
    return position.notnull().any([d for d in position.dims if d not in (schema.TIME, schema.INDIVIDUALS, schema.VIEW)])


def track_frames(ds: xr.Dataset) -> dict[str, int]:
    """Frames in which each individual (track) has a position, by name (any camera counts)."""
    present = _present(ds)
    if schema.VIEW in present.dims:
        present = present.any(schema.VIEW)
    counts = present.sum(schema.TIME).values
    return {str(name): int(n) for name, n in zip(ds[schema.INDIVIDUALS].values, counts)}


def drop_short_tracks(ds: xr.Dataset, *, min_frames: int) -> xr.Dataset:
    """``ds`` without the individuals (tracks) seen in fewer than ``min_frames`` frames, their names
    added to ``attrs["dropped_tracks"]``: what SLEAP's "delete tracks shorter than" does to the
    fragments a tracker leaves behind.

    Raises
    ------
    ValueError
        When no track is left.
    """
    counts = track_frames(ds)
    keep = [name for name, n in counts.items() if n >= min_frames]
    if not keep:
        raise ValueError(f"{ds.attrs.get('source_file', 'the file')}: Expected a track seen in at least {min_frames} "
                         f"frames (min_track_frames), but the longest is seen in {max(counts.values(), default=0)}")
    if len(keep) == len(counts):
        return ds
    out = ds.sel({schema.INDIVIDUALS: keep})
    out.attrs = {**ds.attrs, "dropped_tracks": [*ds.attrs.get("dropped_tracks", []),
                                                  *(n for n in counts if n not in set(keep))]}
    return out


def tracks_as_slots(ds: xr.Dataset) -> xr.Dataset:
    """A tracked dataset's individuals read as detection slots, for ``deepbehavior track`` to link again.

    Each frame's individuals that have a position go into ``slot0``, ``slot1``, … by decreasing
    mean confidence (as a detector fills its slots), as many slots as the most individuals seen in
    one frame (per camera for a multi-camera dataset); the track names are dropped (kept in
    ``attrs["tracks_read_as_slots"]``). A dataset that is already slots is returned unchanged.

    Parameters
    ----------
    ds
        A poses or boxes dataset with ``attrs["individuals_are"] == "identities"``.

    Returns
    -------
    xarray.Dataset
        The same variables with ``individuals`` = slots, ``attrs["individuals_are"] = "slots"``.
    """
    if ds.attrs.get("individuals_are") == schema.SLOTS:
        return ds
    ind = schema.INDIVIDUALS
    present = _present(ds)
    confidence = ds["confidence"]
    score = confidence.mean([d for d in confidence.dims if d not in present.dims]) if confidence.ndim > present.ndim \
        else confidence
    # Present individuals first, the most confident first; the sort is stable so ties keep file order.
    key = xr.where(present, score.fillna(0.0), -np.inf).transpose(*present.dims)
    axis = key.dims.index(ind)
    order = xr.DataArray(np.argsort(-key.values, axis=axis, kind="stable"), dims=key.dims)
    n_slots = max(int(present.sum(ind).max()), 1)
    out = ds.drop_vars(list(ds.data_vars)).isel({ind: slice(0, n_slots)})
    for name, var in ds.data_vars.items():
        if ind not in var.dims:
            out[name] = var
            continue
        index = order.broadcast_like(var).transpose(*var.dims)
        values = np.take_along_axis(var.values, index.values, axis=var.dims.index(ind))
        out[name] = (var.dims, values.take(range(n_slots), axis=var.dims.index(ind)), var.attrs)
    out = out.assign_coords({ind: [f"slot{k}" for k in range(n_slots)]})
    out.attrs = {**ds.attrs, "individuals_are": schema.SLOTS,
                 "tracks_read_as_slots": [str(n) for n in ds[ind].values]}
    return out


def fragment_note(ds: xr.Dataset, *, share: float = 0.1) -> str | None:
    """One line about the short tracks (fragments) of a tracked dataset and the two ways on, or None.

    A track seen in fewer than ``share`` of the frames counts as a fragment (a tracker's broken or
    spurious track): ``min_track_frames`` drops them, ``tracks=slots`` hands every instance to
    ``deepbehavior track`` to link again.
    """
    if ds.attrs.get("individuals_are") != schema.IDENTITIES or ds.sizes[schema.TIME] == 0:
        return None
    counts = track_frames(ds)
    threshold = max(2, int(np.ceil(share * ds.sizes[schema.TIME])))
    short = [n for n, k in counts.items() if k < threshold]
    if not short or len(short) == len(counts):
        return None
    return (f"{len(short)} of {len(counts)} tracks are fragments (each seen in fewer than {threshold} of "
            f"{ds.sizes[schema.TIME]} frames); min_track_frames={threshold} drops them, tracks=slots reads every "
            f"instance as a detection for deepbehavior track to link again")


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
