"""Writing a store in another tool's format: one file (or folder) per camera."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from . import FORMATS, save_file
from .. import schema


# Formats that write one file per individual when there are several (``<stem>_<individual><suffix>``):
# NWB holds one subject per file, Lightning Pose one animal per table.
PER_INDIVIDUAL = ("nwb", "lightning_pose")


def planned_files(target: Path, format: str, individuals: list[str]) -> list[Path]:
    """The files (or folder) a writer of ``format`` makes for the target ``target``."""
    if format in PER_INDIVIDUAL and len(individuals) > 1:
        return [target.with_name(f"{target.stem}_{name}{target.suffix}") for name in individuals]
    return [target]


def export_dataset(ds: xr.Dataset, out: str | os.PathLike, *, name: str, format: str, suffix: str | None = None,
                   overwrite: bool = False) -> list[Path]:
    """Write ``ds`` in ``format`` under the folder ``out``; return the files (or folders) written.

    A single-camera dataset becomes ``out/<name><suffix>``; a multi-camera one
    ``out/<name>_<view><suffix>`` per camera; NWB and Lightning Pose write one file per individual
    when there are several (``..._<individual><suffix>``). OpenPose writes a folder
    ``out/<name>[_<view>]_openpose`` of per-frame JSON files named after ``name``. ``suffix``
    defaults to the format's (``.csv``, ``.slp``, ``.nwb``…). Each camera's part carries the video
    the store names for that camera (``attrs["video"]``) to writers that record it (SLEAP, NWB).
    Raises ``FileExistsError`` before writing anything when a target exists and ``overwrite`` is
    False.
    """
    from ..store import recorded_videos

    out = Path(out)
    fmt = FORMATS[format]
    suffix = fmt.suffix if suffix is None else suffix
    cameras = schema.view_names(ds)
    several = schema.VIEW in ds.dims and ds.sizes[schema.VIEW] > 1
    individuals = [str(i) for i in ds[schema.INDIVIDUALS].values] if schema.INDIVIDUALS in ds.dims else []
    targets = {}
    for view in cameras:
        stem = f"{name}_{view}" if several else name
        targets[view] = out / (f"{stem}_openpose" if format == "openpose" else f"{stem}{suffix}")
    existing = [str(f) for t in targets.values() for f in planned_files(t, format, individuals) if f.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"Expected no file at {existing[0]}, but there is one (pass force=true to replace it)")
    out.mkdir(parents=True, exist_ok=True)
    videos = recorded_videos(ds)
    written = []
    for view, target in targets.items():
        part = schema.select_view(ds, view).load()
        part.attrs = {k: v for k, v in part.attrs.items() if k != "videos"}
        video = videos.get(str(view))
        if video:
            part.attrs["video"] = video
        else:
            part.attrs.pop("video", None)
        if format == "openpose":
            stem = target.name[: -len("_openpose")]
            save_file(part, target, format, video_name=stem)  # one folder of per-frame files: the target
            written.append(target)
        else:
            result = save_file(part, target, format)
            written += [Path(p) for p in result] if isinstance(result, (list, tuple)) else [Path(result or target)]
    return written
