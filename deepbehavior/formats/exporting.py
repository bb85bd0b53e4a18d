"""Writing a store in another tool's format: one file (or folder) per camera."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from . import FORMATS, save_file
from .. import schema


def export_dataset(ds: xr.Dataset, out: str | os.PathLike, *, name: str, format: str, suffix: str | None = None,
                   overwrite: bool = False) -> list[Path]:
    """Write ``ds`` in ``format`` under the folder ``out``; return the files (or folders) written.

    A single-camera dataset becomes ``out/<name><suffix>``; a multi-camera one
    ``out/<name>_<view><suffix>`` per camera. OpenPose writes a folder ``out/<name>[_<view>]_openpose``
    of per-frame JSON files named after ``name``. ``suffix`` defaults to the format's (``.csv``,
    ``.slp``, ``.nwb``…). Raises ``FileExistsError`` before writing anything when a target exists
    and ``overwrite`` is False.
    """
    out = Path(out)
    fmt = FORMATS[format]
    suffix = fmt.suffix if suffix is None else suffix
    cameras = schema.view_names(ds)
    several = schema.VIEW in ds.dims and ds.sizes[schema.VIEW] > 1
    targets = {}
    for view in cameras:
        stem = f"{name}_{view}" if several else name
        targets[view] = out / (f"{stem}_openpose" if format == "openpose" else f"{stem}{suffix}")
    existing = [str(t) for t in targets.values() if t.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"Expected no file at {existing[0]}, but there is one (pass force=true to replace it)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for view, target in targets.items():
        part = schema.select_view(ds, view).load()
        if format == "openpose":
            stem = target.name[: -len("_openpose")]
            save_file(part, target, format, video_name=stem)
        else:
            save_file(part, target, format)
        written.append(target)
    return written
