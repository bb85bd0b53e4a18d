"""Reading slots out of a dataset and writing identities back: the only module of the package that
knows the dataset's dimension names, so the matchers work on plain arrays.

The data model (``deepbehavior.schema``): ``position (time, space[, keypoints], individuals[, view])``
with ``view`` only when there are two or more cameras (a single camera's name is then a scalar
``view`` coordinate); frame numbers in the ``frame`` coordinate along ``time``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import xarray as xr

from .. import schema
from ..schema import INDIVIDUALS, KEYPOINTS, VIEW
from ..schema import frames as frame_numbers


def _dim(position: xr.DataArray, name: str) -> str | None:
    return name if name in position.dims else None


def individuals_dim(ds: xr.Dataset) -> str:
    """Name of the individuals dimension of ``ds["position"]``."""
    name = _dim(ds["position"], INDIVIDUALS)
    if name is None:
        raise ValueError(f"Expected 'position' with an '{INDIVIDUALS}' dimension, but got {tuple(ds['position'].dims)}")
    return name


def keypoints_dim(ds: xr.Dataset) -> str | None:
    """Name of the keypoints dimension (``None`` for boxes)."""
    return _dim(ds["position"], KEYPOINTS)


def view_names(ds: xr.Dataset) -> list[str]:
    """Camera names: the ``view`` dimension's labels, or the one scalar ``view`` (default ``view0``)."""
    if VIEW in ds["position"].dims:
        return [str(v) for v in ds[VIEW].values]
    if VIEW in ds.coords:
        return [str(ds[VIEW].values.item())]
    return ["view0"]


def animals_in_most_frames(ds: xr.Dataset) -> int:
    """How many detections most frames hold: the most common count of slots with a position, over
    the frames with at least one (the largest over cameras; 0 when no frame has any).

    What ``deepbehavior track`` should be told as ``track.n_identities`` when the user has not said:
    a detector's extra slots (a second box in a few frames of a one-mouse video) do not count.
    """
    from ..store import count_animals

    return count_animals(ds["position"].values, ds["position"].dims)


def check_slots(ds: xr.Dataset) -> None:
    """One-line error unless ``ds`` holds detections in slots with a ``position`` variable."""
    if not isinstance(ds, xr.Dataset) or "position" not in ds:
        raise ValueError("Expected a poses or boxes dataset with a 'position' variable, but got something else")
    individuals_dim(ds)
    for dim in ("time", "space"):
        if dim not in ds["position"].dims:
            raise ValueError(f"Expected 'position' with a '{dim}' dimension, but got {tuple(ds['position'].dims)}")
    kind = ds.attrs.get("individuals_are", schema.SLOTS)
    if kind != schema.SLOTS:
        raise ValueError(f"Expected attrs['individuals_are'] == '{schema.SLOTS}', but got {kind!r}")


def points(ds: xr.Dataset, view: int = 0, *, chunk: int = 4096) -> Iterator[tuple[int, np.ndarray]]:
    """The detections of one camera, a block of frames at a time.

    Yields
    ------
    (start, block)
        ``start`` is the first time index of the block; ``block`` is float64 of shape
        ``(frames, slots, keypoints, space)`` (one "keypoint", the centre, for boxes), NaN where
        nothing was detected. Dask-backed stores are read one block at a time, so memory does not
        grow with the length of the video.
    """
    position = ds["position"]
    if VIEW in position.dims:
        position = position.isel({VIEW: view})
    ind, kp = individuals_dim(ds), keypoints_dim(ds)
    if kp is None:
        position = position.expand_dims("_kp")
        kp = "_kp"
    position = position.transpose("time", ind, kp, "space")
    n = position.sizes["time"]
    for start in range(0, n, chunk):
        yield start, np.asarray(position.isel(time=slice(start, start + chunk)).values, dtype=np.float64)


def reference_points(ds: xr.Dataset) -> xr.DataArray:
    """One point per individual and frame for plots: the box centre, or the mean of the seen keypoints.

    Returns
    -------
    xr.DataArray
        ``position`` without the keypoints dimension (pixels); lazy when ``ds`` is Dask-backed.
    """
    position = ds["position"]
    kp = keypoints_dim(ds)
    return position.mean(kp, skipna=True) if kp else position


def gather(ds: xr.Dataset, slot_of: np.ndarray, names: Sequence[str]) -> xr.Dataset:
    """New dataset whose individual ``k`` at (time, view) is slot ``slot_of[t, k, v]`` (-1: none).

    Every variable with the individuals dimension is picked the same way (NaN where no slot);
    Dask-backed variables stay lazy. ``attrs["individuals_are"]`` becomes ``"identities"``.
    """
    ind = individuals_dim(ds)
    has_view = VIEW in ds["position"].dims
    if has_view:
        index = xr.DataArray(slot_of, dims=("time", "_identity", VIEW), coords={VIEW: ds[VIEW].values})
    else:
        index = xr.DataArray(slot_of[:, :, 0], dims=("time", "_identity"))

    def take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        picked = np.take_along_axis(values, np.where(idx < 0, 0, idx).astype(np.intp), axis=-1)
        if np.issubdtype(picked.dtype, np.floating):
            picked = np.where(idx < 0, np.nan, picked)
        return picked

    out = {}
    for name, var in ds.data_vars.items():
        if ind not in var.dims:
            out[name] = var
            continue
        idx = index if VIEW in var.dims else (index.isel({VIEW: 0}, drop=True) if has_view else index)
        if "time" not in var.dims:
            raise ValueError(f"Expected '{name}' with a 'time' dimension, but got {tuple(var.dims)}")
        if var.chunks:  # the index follows the variable's chunks along time
            idx = idx.chunk({"time": var.chunks[var.dims.index("time")]})
        picked = xr.apply_ufunc(take, var, idx,
                                input_core_dims=[[ind], ["_identity"]], output_core_dims=[["_identity"]],
                                dask="parallelized", output_dtypes=[var.dtype])
        out[name] = picked.rename(_identity=ind).transpose(*var.dims)
        out[name].attrs = dict(var.attrs)
    coords = {k: v for k, v in ds.coords.items() if ind not in v.dims}
    result = xr.Dataset(out, coords=coords, attrs=dict(ds.attrs))
    result = result.assign_coords({ind: list(names)})
    result.attrs["individuals_are"] = schema.IDENTITIES
    return result
