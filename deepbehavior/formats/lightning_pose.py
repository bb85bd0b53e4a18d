"""Lightning Pose predictions: DeepLabCut-style CSV tables, read and written with movement."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail


def read_lightning_pose(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read a Lightning Pose predictions CSV (movement's ``from_lp_file``) into poses; time = row (frame)."""
    from movement.io import load_poses

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_lp_file(path, fps=None)
    except Exception as exc:  # movement validates the layout
        raise fail(path, "", "a Lightning Pose predictions CSV", str(exc).splitlines()[0][:100]) from None
    out = schema.make_poses(ds["position"].transpose("time", "space", "keypoints", "individuals").values,
                            ds["confidence"].transpose("time", "keypoints", "individuals").values, fps=fps,
                            keypoints=[str(k) for k in ds["keypoints"].values],
                            individuals=[str(i) for i in ds["individuals"].values],
                            time=np.asarray(ds["time"].values, dtype=np.int64), source_software="LightningPose")
    out.attrs["source_file"] = str(path)
    return out


def save_lightning_pose(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a single-view, single-individual poses dataset as a Lightning Pose CSV (movement's ``to_lp_file``)."""
    from movement.io import save_poses

    from ._movement import to_movement

    path = Path(path)
    save_poses.to_lp_file(to_movement(ds, path, from_frame_zero=True), path)
    return path
