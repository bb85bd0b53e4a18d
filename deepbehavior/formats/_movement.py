"""Our datasets as movement's writers take them: one camera, movement's names, time in seconds."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import schema
from ._common import check_size, fail

# Dimension names: the data model names them as movement does (plural); older stores used the
# singular, which is renamed here so that both can be exported.
KEYPOINTS = getattr(schema, "KEYPOINTS", "keypoints")
INDIVIDUALS = getattr(schema, "INDIVIDUALS", "individuals")
VIEW = getattr(schema, "VIEW", "view")
_OLD = {"keypoint": "keypoints", "individual": "individuals"}


def frames(ds: xr.Dataset) -> np.ndarray:
    """Frame numbers (int64) of a dataset of either layout."""
    if "frame" in ds.coords:
        return np.asarray(ds["frame"].values, dtype=np.int64)
    if ds.attrs.get("time_unit") == "seconds":
        return np.rint(np.asarray(ds["time"].values, dtype=np.float64) * float(ds.attrs["fps"])).astype(np.int64)
    return np.asarray(ds["time"].values, dtype=np.int64)


def views(ds: xr.Dataset) -> list[str]:
    """Camera names of a dataset: the ``view`` dimension's labels, or its single scalar ``view``."""
    if "view" in ds.dims:
        return [str(v) for v in ds["view"].values]
    return [str(ds["view"].values)] if "view" in ds.coords else ["view0"]


def select_view(ds: xr.Dataset, view: str) -> xr.Dataset:
    """The dataset of one camera, without a ``view`` dimension."""
    if "view" in ds.dims:
        return ds.sel(view=view)
    return ds


def to_movement(ds: xr.Dataset, path=None, *, from_frame_zero: bool = False) -> xr.Dataset:
    """A copy of a single-camera poses dataset in movement's layout.

    Dimensions ``time, space, keypoints, individuals``, ``time`` in seconds (``fps`` and
    ``time_unit`` in attrs), only ``position`` and ``confidence``; coordinates that are not
    dimensions (the camera name, frame numbers) are dropped. Raises naming ``path`` when the
    dataset is not poses or holds several cameras.

    ``from_frame_zero``: one time step per frame from frame 0 to the last, NaN where the dataset
    has none, for formats whose row number is the frame number (DeepLabCut, SLEAP analysis,
    Lightning Pose: movement writes and reads their rows as frames 0, 1, 2, …).
    """
    if ds.attrs.get("ds_type") != "poses":
        raise fail(path or "dataset", "ds_type", "a poses dataset", ds.attrs.get("ds_type"))
    if "view" in ds.dims:
        if ds.sizes["view"] != 1:
            raise fail(path or "dataset", "view", "one camera (export each view to its own file)",
                       f"{ds.sizes['view']} views")
        ds = ds.isel(view=0)
    ds = ds.rename({k: v for k, v in _OLD.items() if k in ds.dims})
    fps = float(ds.attrs["fps"])
    seconds = frames(ds) / fps
    out = xr.Dataset(
        {"position": ds["position"].transpose("time", "space", "keypoints", "individuals").astype(np.float32),
         "confidence": ds["confidence"].transpose("time", "keypoints", "individuals").astype(np.float32)})
    out = out.drop_vars([c for c in out.coords if c not in out.dims])
    out = out.assign_coords(time=seconds)
    if from_frame_zero:
        numbers = frames(ds)
        if len(numbers) and numbers.min() < 0:
            raise fail(path or "dataset", "frames", "frame numbers from 0", int(numbers.min()))
        last = int(numbers.max()) if len(numbers) else -1
        check_size(path or "dataset", "frames", last + 1, 3 * out.sizes["keypoints"] * out.sizes["individuals"])
        out = out.reindex(time=np.arange(last + 1) / fps)
    out.attrs = {"ds_type": "poses", "fps": fps, "time_unit": "seconds",
                 "source_software": str(ds.attrs.get("source_software", "deepbehavior"))}
    return out
