"""Labelled videos of a session from its store: what TensorBox's label_images and darknet's demo made."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from .. import schema
from .overlay import render_social_overlay
from .skeleton import write_pose_video


def render_labelled_video(ds: xr.Dataset, video: str | os.PathLike, path: str | os.PathLike, *,
                          view: str | None = None, frames: int | None = None) -> Path:
    """Write ``video`` with the store's boxes (and their slots' colours) or skeletons drawn.

    ``frames`` limits the video to the first frames of the store (None: all of them).
    """
    if frames is not None:
        ds = ds.isel(time=slice(0, frames))
    if ds.attrs.get("ds_type") == schema.POSES:
        return write_pose_video(ds, video, path, view=view)
    first = [str(ds["individuals"].values[0])]  # slots are not animals: no distance line between them
    return render_social_overlay(video, ds, path, view=view, individuals=first)
