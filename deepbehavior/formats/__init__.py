"""Other tools' files, one module per tool, behind one registry and one keyword, ``format=``.

Each tool's module holds its ``is_<tool>`` check and whichever of these it supports, sharing one
parser: a reader of predictions (``read_<tool>(path, *, fps, ...) -> xr.Dataset``, poses or boxes of
:mod:`deepbehavior.schema`), a writer (``save_<tool>(ds, path)``), a label reader
(``read_<tool>_labels(path) -> LabelSet``) and a label writer (``save_<tool>_labels(labels, out)``).
DeepLabCut, SLEAP, NWB and Lightning Pose files are read and written through movement and sleap-io;
TensorBox, darknet, Yolo_mark, YOLO, COCO and OpenPose files by our own code.

Every reader validates values, not only syntax: any failure is one :class:`FormatError` line
naming the file and the field ("…: Expected X, but got Y").

How to add a format: write ``formats/<tool>.py`` with ``is_<tool>`` and the functions it supports,
and add a :class:`Format` to :data:`FORMATS` (its place in the dict is its place in guessing).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from ._common import FormatError, check_dataset
from ._labels import LabelledImage, LabelSet
from .coco import is_coco, read_coco_labels, save_coco_labels
from .darknet import SOCIAL_CLASSES, is_darknet, read_darknet
from .dlc import is_dlc, read_dlc, read_dlc_labels, save_dlc
from .lightning_pose import read_lightning_pose, save_lightning_pose
from .nwb import is_nwb, read_nwb, save_nwb
from .openpose import (BODY_25, HAND_21, LEFT_HAND, OPENPOSE_KEYPOINTS, RIGHT_HAND, is_openpose, read_openpose,
                       save_openpose)
from .sleap import is_sleap, read_sleap, save_sleap
from .table import save_csv
from .tensorbox import is_tensorbox, read_tensorbox, read_tensorbox_labels, save_tensorbox_labels
from .yolo import is_yolo, read_yolo_labels, save_yolo_labels
from .yolo_mark import is_yolo_mark, read_yolo_mark, read_yolo_mark_labels, save_yolo_mark_labels


@dataclass(frozen=True)
class Format:
    """What one tool's module offers; None where it does not."""

    is_format: Callable[[Path], bool] | None = None
    read: Callable[..., xr.Dataset] | None = None
    write: Callable | None = None
    read_labels: Callable[..., LabelSet] | None = None
    write_labels: Callable | None = None
    suffix: str = ""  # of the file a writer makes ("" for a folder)
    max_confidence: float = 1.0  # largest score the tool writes


#: Format name -> what its module offers, in the order formats are guessed.
FORMATS: dict[str, Format] = {
    "yolo": Format(is_yolo, read_labels=read_yolo_labels, write_labels=save_yolo_labels),
    "yolo_mark": Format(is_yolo_mark, read_yolo_mark, read_labels=read_yolo_mark_labels,
                        write_labels=save_yolo_mark_labels),
    "openpose": Format(is_openpose, read_openpose, save_openpose),
    "dlc": Format(is_dlc, read_dlc, save_dlc, read_labels=read_dlc_labels, suffix=".csv"),
    # SLEAP's point scores are confidence-map peaks: 1.35 occurs in real files; 10 is garbage.
    "sleap": Format(is_sleap, read_sleap, save_sleap, suffix=".slp", max_confidence=10.0),
    # NWB holds any tool's scores: SLEAP's bound applies to a file whose source_software is SLEAP
    # (:func:`_max_confidence`), [0, 1] to the others.
    "nwb": Format(is_nwb, read_nwb, save_nwb, suffix=".nwb"),
    "coco": Format(is_coco, read_labels=read_coco_labels, write_labels=save_coco_labels, suffix=".json"),
    "tensorbox": Format(is_tensorbox, read_tensorbox, read_labels=read_tensorbox_labels,
                        write_labels=save_tensorbox_labels, suffix=".json"),
    "darknet": Format(is_darknet, read_darknet),
    # Not guessed: its CSV has DeepLabCut's layout; name it with format=lightning_pose.
    # Its labels CSV (CollectedData.csv at the project root) has DeepLabCut's layout too.
    "lightning_pose": Format(None, read_lightning_pose, save_lightning_pose, read_labels=read_dlc_labels, suffix=".csv"),
    "csv": Format(None, write=save_csv, suffix=".table.csv"),
}
#: Older names still accepted by ``format=``.
ALIASES = {"tensorbox_predictions": "tensorbox", "tensorbox_labels": "tensorbox"}
#: Format name -> prediction reader (the formats ``deepbehavior import`` reads).
READERS: dict[str, Callable[..., xr.Dataset]] = {n: f.read for n, f in FORMATS.items() if f.read}
#: Format name -> writer of a dataset (the formats ``deepbehavior export`` writes).
WRITERS: dict[str, Callable] = {n: f.write for n, f in FORMATS.items() if f.write}

__all__ = ["BODY_25", "HAND_21", "LEFT_HAND", "RIGHT_HAND", "OPENPOSE_KEYPOINTS", "SOCIAL_CLASSES", "ALIASES",
           "FORMATS", "READERS", "WRITERS", "Format", "FormatError", "LabelSet", "LabelledImage", "guess_format",
           "load_file", "load_labels", "save_file", "save_labels", "save_openpose"]


def _name(format: str | None, table: dict, what: str) -> str:
    format = ALIASES.get(format, format)
    if format not in table:
        raise ValueError(f"Expected format to be one of {', '.join(table)} or 'auto' ({what}), but got {format!r}")
    return format


def guess_format(path: str | os.PathLike, *, labels: bool = False) -> str:
    """The name (a key of :data:`FORMATS`) of the format of the file or folder at ``path``.

    Parameters
    ----------
    labels
        Guess among the formats with a label reader only.

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
    for name, fmt in FORMATS.items():
        if fmt.is_format is None or (labels and fmt.read_labels is None) or (not labels and fmt.read is None):
            continue
        if fmt.is_format(path):
            return name
    kinds = [n for n, f in FORMATS.items() if f.is_format and (f.read_labels if labels else f.read)]
    raise ValueError(f"Expected a file or folder of one of the formats {', '.join(kinds)}, but could not tell "
                     f"the format of {path} (pass format=...)")


def _call(function: Callable, what: str, format: str, *args, **options):
    accepted = [n for n, p in inspect.signature(function).parameters.items() if p.kind == p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"Expected options of the {format} {what} among {accepted}, but got {unknown}")
    return function(*args, **options)


def _named(path, function: Callable, *args, **options):
    """``function(*args, **options)``, its ``ValueError`` made to name ``path`` when it does not
    (checks deeper down, in the data model or a library, know no file)."""
    try:
        return function(*args, **options)
    except FormatError:
        raise
    except ValueError as exc:
        message = " ".join(str(exc).split())
        if str(path) in message:
            raise
        raise FormatError(f"{path}: {message}") from None


def load_file(path: str | os.PathLike, format: str | None = None, *, frame_size: tuple[int, int] | None = None,
              frame_count: int | None = None, **options) -> xr.Dataset:
    """Read a file or folder of another tool into a poses or boxes dataset, its values checked.

    Parameters
    ----------
    path
        The file (or folder, for OpenPose and Yolo_mark).
    format
        A key of :data:`READERS`; guessed from the file when None or ``"auto"``.
    frame_size
        ``(width, height)`` in pixels of the video the file describes: positions outside it (by
        more than :data:`~._common.FRAME_MARGIN` of a side) are refused. A size the file records
        itself (SLEAP's video, DeepLabCut's labelled images) is checked without it.
    frame_count
        Frames of that video: frame numbers must be below it, and a file with a row per frame
        (DeepLabCut and Lightning Pose predictions) must have them all.
    **options
        Passed to the reader (``fps``, and the reader's own options).

    Examples
    --------
    >>> ds = load_file("tensorbox_predictions_stream.json", fps=30)  # doctest: +SKIP
    """
    format = guess_format(path) if format in (None, "auto") else _name(format, READERS, "readers")
    if not Path(path).exists():
        raise FileNotFoundError(f"Expected a file or folder at {path}, but there is none")
    ds = _named(path, _call, READERS[format], "reader", format, path, **options)
    check_dataset(ds, path, max_confidence=_max_confidence(format, ds), frame_size=frame_size,
                  frame_count=frame_count)
    ds.attrs["source_format"] = format
    return ds


def _max_confidence(format: str, ds: xr.Dataset) -> float:
    """The largest score ``ds`` read as ``format`` may hold: the format's, or for an NWB file the bound
    of the tool its ``source_software`` names (SLEAP's scores exceed 1; any other tool's stay in [0, 1])."""
    if format == "nwb" and str(ds.attrs.get("source_software", "")).strip().lower().startswith("sleap"):
        return FORMATS["sleap"].max_confidence
    return FORMATS[format].max_confidence


def save_file(ds: xr.Dataset, path: str | os.PathLike, format: str, **options):
    """Write a single-view dataset in another tool's format (a key of :data:`WRITERS`); return what
    the writer returns (the path, or the paths written)."""
    format = _name(format, WRITERS, "writers")
    return _call(WRITERS[format], "writer", format, ds, path, **options)


def load_labels(path: str | os.PathLike, format: str | None = None, **options) -> LabelSet:
    """Read a labelled dataset (YOLO, Yolo_mark, COCO, TensorBox, DeepLabCut) into a :class:`LabelSet`."""
    table = {n: f.read_labels for n, f in FORMATS.items() if f.read_labels}
    format = guess_format(path, labels=True) if format in (None, "auto") else _name(format, table, "label readers")
    if not Path(path).exists():
        raise FileNotFoundError(f"Expected a file or folder at {path}, but there is none")
    return _named(path, _call, table[format], "label reader", format, path, **options)


def save_labels(labels: LabelSet, path: str | os.PathLike, format: str, **options) -> Path:
    """Write labels in a label format (YOLO, Yolo_mark, COCO, TensorBox); return the file written."""
    table = {n: f.write_labels for n, f in FORMATS.items() if f.write_labels}
    format = _name(format, table, "label writers")
    return _call(table[format], "label writer", format, labels, path, **options)
