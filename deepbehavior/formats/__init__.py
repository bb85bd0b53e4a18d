"""Readers (and a writer) of other tools' files, behind one entry point, :func:`load_file`.

Every reader returns a dataset of :mod:`deepbehavior.schema` (poses or boxes) and raises
``ValueError`` naming the file and the line (or object index) of malformed input.

How to add a format: write ``formats/<name>.py`` with ``read_<name>(path, *, fps=30.0, **options)
-> xr.Dataset``, add it to :data:`READERS`, and teach :func:`guess_format` to recognise its files
(cheaply: a name, an extension, the first bytes).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from ._common import FormatError
from .darknet import SOCIAL_CLASSES, read_darknet
from .dlc import read_dlc
from .openpose import BODY_25, HAND_21, LEFT_HAND, OPENPOSE_KEYPOINTS, RIGHT_HAND, read_openpose, save_openpose
from .sleap import is_sleap, read_sleap
from .tensorbox import read_tensorbox_labels, read_tensorbox_predictions
from .yolo_mark import read_yolo_mark

#: Format name -> reader.
READERS: dict[str, Callable[..., xr.Dataset]] = {
    "tensorbox_predictions": read_tensorbox_predictions,
    "tensorbox_labels": read_tensorbox_labels,
    "darknet": read_darknet,
    "yolo_mark": read_yolo_mark,
    "openpose": read_openpose,
    "dlc": read_dlc,
    "sleap": read_sleap,
}

__all__ = ["BODY_25", "HAND_21", "LEFT_HAND", "RIGHT_HAND", "OPENPOSE_KEYPOINTS", "SOCIAL_CLASSES",
           "READERS", "FormatError", "guess_format", "load_file", "save_openpose"]


def _head(path: Path, size: int = 4096) -> str:
    with open(path, "rb") as handle:
        return handle.read(size).decode("utf-8", errors="replace")


def guess_format(path: str | os.PathLike) -> str:
    """The name (a key of :data:`READERS`) of the format of the file or folder at ``path``.

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    ValueError
        When the format cannot be told; pass ``format=`` then.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expected a file or folder at {path}, but there is none")
    if path.is_dir():
        if (path / "obj.data").is_file():
            return "yolo_mark"
        if any(p.name.endswith("_keypoints.json") for p in path.iterdir()):
            return "openpose"
        raise ValueError(f"Expected a folder of OpenPose *_keypoints.json files or a Yolo_mark dataset "
                         f"(obj.data), but got {path}")
    name, suffix = path.name.lower(), path.suffix.lower()
    if name == "obj.data":
        return "yolo_mark"
    if suffix in (".h5", ".hdf5", ".slp"):
        if is_sleap(path):
            return "sleap"
        raise ValueError(f"Expected a SLEAP HDF5 file, but got {path} (DeepLabCut .h5: read its .csv twin)")
    head = _head(path)
    if suffix in (".json", ".json_work") or head.lstrip()[:1] in ("[", "{"):
        if '"frame_number"' in head or '"coordinates"' in head:
            return "tensorbox_predictions"
        if '"image_path"' in head or '"rects"' in head:
            return "tensorbox_labels"
    if suffix == ".csv" or head.startswith("scorer,"):
        if head.startswith("scorer") or "\nbodyparts," in head:
            return "dlc"
    if "\x1b[2J" in head or "Bounding Box:" in head or "left_x:" in head:
        return "darknet"
    raise ValueError(f"Expected a file of one of the formats {', '.join(READERS)}, but could not tell "
                     f"the format of {path} (pass format=...)")


def load_file(path: str | os.PathLike, format: str | None = None, **options) -> xr.Dataset:
    """Read a file or folder of another tool into a poses or boxes dataset.

    Parameters
    ----------
    path
        The file (or folder, for OpenPose and Yolo_mark).
    format
        A key of :data:`READERS`; guessed from the file when None or ``"auto"``.
    **options
        Passed to the reader (``fps``, and the reader's own options).

    Examples
    --------
    >>> ds = load_file("tensorbox_predictions_stream.json", fps=30)  # doctest: +SKIP
    """
    if format in (None, "auto"):
        format = guess_format(path)
    if format not in READERS:
        raise ValueError(f"Expected format to be one of {', '.join(READERS)} or 'auto', but got {format!r}")
    reader = READERS[format]
    accepted = [n for n, p in inspect.signature(reader).parameters.items() if p.kind == p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"Expected options of the {format} reader among {accepted}, but got {unknown}")
    ds = reader(path, **options)
    ds.attrs["source_format"] = format
    return ds
