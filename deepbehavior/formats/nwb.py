"""NWB files with the ndx-pose extension, read and written with movement.

NWB holds one subject per file, so a dataset with several individuals is written as one file per
individual (``<stem>_<individual>.nwb``).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail


def is_nwb(path: Path) -> bool:
    """Whether ``path`` is an ``.nwb`` file."""
    return Path(path).is_file() and Path(path).suffix.lower() == ".nwb"


def read_nwb(path: str | os.PathLike, *, fps: float | None = None) -> xr.Dataset:
    """Read the ndx-pose ``PoseEstimation`` of an NWB file (movement's ``from_nwb_file``).

    Returns
    -------
    xarray.Dataset
        Poses with the file's keypoints and its subject as the one individual; ``frame`` the frame
        numbers (``round(seconds × fps)``, fps from the file's timestamps unless given).
    """
    from movement.io import load_poses

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_nwb_file(path)
    except Exception as exc:  # pynwb and h5py raise many types for a damaged file
        raise fail(path, "", "an NWB file with an ndx-pose PoseEstimation", f"{type(exc).__name__}") from None
    fps = fps or ds.attrs.get("fps")
    if not fps:
        raise fail(path, "timestamps", "a known rate (pass fps=)", "none")
    position = ds["position"].transpose("time", "space", "keypoints", "individuals").values
    confidence = ds["confidence"].transpose("time", "keypoints", "individuals").values
    seconds = np.asarray(ds["time"].values, dtype=np.float64)
    frames = np.rint(seconds * float(fps)).astype(np.int64)
    out = schema.make_poses(position, confidence, fps=float(fps), keypoints=[str(k) for k in ds["keypoints"].values],
                            individuals=[str(i) for i in ds["individuals"].values], time=frames,
                            source_software=str(ds.attrs.get("source_software") or "NWB"))
    out.attrs["source_file"] = str(path)
    return out


def save_nwb(ds: xr.Dataset, path: str | os.PathLike) -> list[Path]:
    """Write a single-view poses dataset as NWB (movement's ``to_nwb_file``), one file per individual.

    Returns the files written: ``path`` itself for one individual, else ``<stem>_<individual>.nwb``.
    """
    from movement.io import save_poses
    from pynwb import NWBHDF5IO

    from ._movement import to_movement

    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = save_poses.to_nwb_file(to_movement(ds, path))
    files = files if isinstance(files, list) else [files]
    names = [str(i) for i in ds[schema.INDIVIDUALS].values]
    written = []
    for name, nwbfile in zip(names, files):
        target = path if len(files) == 1 else path.with_name(f"{path.stem}_{name}{path.suffix or '.nwb'}")
        with NWBHDF5IO(str(target), "w") as io:
            io.write(nwbfile)
        written.append(target)
    return written
