"""Lightning Pose predictions: DeepLabCut-style CSV tables, read and written with movement."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail


def read_lightning_pose(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read a Lightning Pose predictions CSV into poses.

    The table has DeepLabCut's layout and is read by the same parser (:mod:`.dlc`: a row cut
    short, a last line without its newline and cells that are not numbers are refused). Frame
    numbers come from the first column, never from the row order: integers (predictions of a
    video), or image paths whose last run of digits is the frame (``labeled-data/…/img0042.png``,
    predictions on labelled frames, of one video: a file over several videos' folders is refused).
    They must increase from row to row; a deleted row leaves its frame out (``attrs["missing_frames"]``
    counts the gaps) instead of shifting the frames after it.

    Returns
    -------
    xarray.Dataset
        Poses in pixels, keypoints the body parts, one individual; ``frame`` the frame numbers;
        ``confidence`` the likelihood. With image paths, ``attrs["image_paths"]``.
    """
    from ._common import check_frame_order, check_frames, frame_number, warn_gaps
    from .dlc import _arrays, _table

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a Lightning Pose CSV at {path}, but there is none")
    table, index = _table(path)
    if isinstance(index, np.ndarray):
        frames = index
    else:
        # Frame numbers restart in each video's folder (labeled-data/<video>/imgNNNN.png): frames of
        # several videos have no one frame axis, and would read as rows repeated or moved.
        folders = list(dict.fromkeys(str(v).replace("\\", "/").rpartition("/")[0] for v in index))
        if len(folders) > 1:
            raise fail(path, "first column", "labelled frames of one video (import them one video at a time)",
                       f"labelled frames of {len(folders)} videos: {', '.join(folders)}")
        numbers = [frame_number(v) for v in index]
        missing = [i for i, n in enumerate(numbers) if n is None]
        if missing:
            raise fail(path, f"data row {missing[0] + 1}, first column",
                       "a frame number or an image path ending in one", index[missing[0]])
        frames = np.asarray(numbers, dtype=np.int64)
    check_frames(path, "first column (frame numbers)", frames)
    check_frame_order(path, "first column", frames, rows="data row")
    position, confidence, keypoints, individuals = _arrays(path, table)
    if len(individuals) != 1:
        raise fail(path, "columns", "one individual (Lightning Pose's layout)", f"{len(individuals)}")
    out = schema.make_poses(position, confidence, fps=fps, keypoints=keypoints, individuals=["individual_0"],
                            time=frames, source_software="LightningPose")
    out.attrs["source_file"] = str(path)
    if isinstance(index, np.ndarray):
        out.attrs["rows_are_frames"] = True  # Lightning Pose predicts every frame of a video
        out.attrs["missing_frames"] = warn_gaps(path, frames)
    else:  # labelled frames: gaps are the frames nobody labelled
        out.attrs["image_paths"] = list(index)
        out.attrs["missing_frames"] = int(frames[-1] - frames[0] + 1 - len(frames)) if len(frames) else 0
    return out


def save_lightning_pose(ds: xr.Dataset, path: str | os.PathLike) -> list[Path]:
    """Write a single-view 2D poses dataset as Lightning Pose CSVs (DeepLabCut's single-animal table,
    as movement's ``to_lp_file`` makes it): ``path`` itself for one individual, else one file per
    individual, ``<stem>_<individual>.csv`` (Lightning Pose tracks one animal per file). Returns the
    files written."""
    from movement.io import save_poses

    from ._movement import to_movement
    from .dlc import write_dlc_table

    path = Path(path)
    if path.suffix != ".csv":
        raise fail(path, "suffix", "'.csv'", path.suffix)
    tables = save_poses.to_dlc_style_df(to_movement(ds, path, from_frame_zero=True), split_individuals=True)
    files = {name: path if len(tables) == 1 else path.with_name(f"{path.stem}_{name}{path.suffix}")
             for name in tables}
    for name, table in tables.items():
        write_dlc_table(table, files[name])
    return list(files.values())
