"""Our datasets as movement's writers take them: one camera, only movement's variables, and for
formats whose rows are frames, one row per frame from frame 0."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import schema
from ._common import check_size, fail

frames = schema.frames
views = schema.view_names
select_view = schema.select_view


def to_movement(ds: xr.Dataset, path=None, *, from_frame_zero: bool = False) -> xr.Dataset:
    """A copy of a single-camera poses dataset as movement's writers take it.

    Dimensions ``time, space, keypoints, individuals`` (``time`` in seconds), only ``position`` and
    ``confidence``, no coordinates other than the dimensions' (the camera name and the frame
    numbers are dropped), movement's attributes. Raises naming ``path`` when the dataset is not
    poses or holds several cameras. A store written before the data model of issue #13 is upgraded
    first (:func:`deepbehavior.schema.upgrade_legacy`).

    ``from_frame_zero``: one time step per frame from frame 0 to the last, NaN where the dataset
    has none, for formats whose row number is the frame number (DeepLabCut, SLEAP analysis,
    Lightning Pose: movement writes and reads their rows as frames 0, 1, 2, …).
    """
    if ds.attrs.get("ds_type") != schema.POSES:
        raise fail(path or "dataset", "ds_type", "a poses dataset", ds.attrs.get("ds_type"))
    if schema.is_legacy(ds):
        ds = schema.upgrade_legacy(ds)
    ds = schema.drop_single_view(ds)
    if schema.VIEW in ds.dims:
        raise fail(path or "dataset", "view", "one camera (export each view to its own file)",
                   f"{ds.sizes[schema.VIEW]} views")
    fps = float(ds.attrs["fps"])
    numbers = frames(ds)
    dims = ("time", "space", schema.KEYPOINTS, schema.INDIVIDUALS)
    out = xr.Dataset({"position": ds["position"].transpose(*dims).astype(np.float32),
                      "confidence": ds["confidence"].transpose(*dims[:1], *dims[2:]).astype(np.float32)})
    out = out.drop_vars([c for c in out.coords if c not in out.dims]).assign_coords(time=numbers / fps)
    if from_frame_zero:
        if len(numbers) and numbers.min() < 0:
            raise fail(path or "dataset", "frames", "frame numbers from 0", int(numbers.min()))
        last = int(numbers.max()) if len(numbers) else -1
        check_size(path or "dataset", "frames", last + 1,
                   3 * out.sizes[schema.KEYPOINTS] * out.sizes[schema.INDIVIDUALS])
        out = out.reindex(time=np.arange(last + 1) / fps)
    out.attrs = {"ds_type": schema.POSES, "fps": fps, "time_unit": "seconds",
                 "source_software": str(ds.attrs.get("source_software", "deepbehavior"))}
    return out


def skeleton_edges(ds: xr.Dataset) -> list[tuple[int, int]]:
    """The skeleton's edges as pairs of keypoint indices of ``ds``, from ``attrs["skeleton"]`` (pairs
    of keypoint names, as the SLEAP reader and the labelling project record them); [] when there is
    none. An edge naming a keypoint the dataset lacks is refused."""
    names = [str(k) for k in ds[schema.KEYPOINTS].values]
    edges = []
    for pair in ds.attrs.get("skeleton") or []:
        if len(pair) != 2 or any(str(n) not in names for n in pair):
            raise fail("dataset", "attrs['skeleton']", f"pairs of keypoint names among {names}", list(pair))
        edges.append((names.index(str(pair[0])), names.index(str(pair[1]))))
    return edges

