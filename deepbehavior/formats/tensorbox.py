"""TensorBox files of DeepBehavior: predictions (array and back-to-back variants) and labels.

Predictions hold one record per frame, ``{"frame_number": "pict00012.png", "coordinates": [{"x1",
"y1", "x2", "y2", "score"}]}``; a frame without a detection is written as all five values 0.
Labels (``make_json.py``) hold ``{"image_path": ..., "rects": [{"x1", "y1", "x2", "y2"}]}`` per
labelled image, as a JSON array (``OUT.json``) or back to back (the progress file
``OUT.json_work``). Pixel coordinates, (x1, y1) the top-left corner.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail, frame_number, load_json_objects, number

_CORNERS = ("x1", "y1", "x2", "y2")


def _boxes(path, where: str, rects: object, *, with_score: bool) -> list[tuple[float, ...]]:
    """``(x1, y1, x2, y2[, score])`` of each box of one record, read by field name."""
    if not isinstance(rects, list):
        raise fail(path, where, "a list of boxes", rects)
    keys = _CORNERS + (("score",) if with_score else ())
    return [tuple(number(path, f"{where}, box {j}", r, k) for k in keys) for j, r in enumerate(rects)]


def _to_arrays(boxes: list[list[tuple[float, ...]]], n_slots: int):
    n = len(boxes)
    centre = np.full((n, 2, n_slots), np.nan, dtype=np.float64)
    shape = np.full((n, 2, n_slots), np.nan, dtype=np.float64)
    score = np.full((n, n_slots), np.nan, dtype=np.float64)
    for i, frame in enumerate(boxes):
        for k, box in enumerate(frame):
            x1, y1, x2, y2 = box[:4]
            centre[i, :, k] = ((x1 + x2) / 2, (y1 + y2) / 2)
            shape[i, :, k] = (abs(x2 - x1), abs(y2 - y1))
            score[i, k] = box[4] if len(box) > 4 else 1.0
    return centre, shape, score


def read_tensorbox_predictions(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read TensorBox predictions (either variant) into a boxes dataset of detection slots.

    Parameters
    ----------
    path
        A ``predict_images_to_json.py`` JSON array or a ``predict_video_to_json.py`` stream of
        objects written back to back.
    fps
        Frames per second of the video (the file does not record it).

    Returns
    -------
    xarray.Dataset
        Boxes ``position``/``shape (time, space, individuals)`` in pixels (centre, width and
        height), ``confidence`` the TensorBox score. ``frame`` holds the frame numbers parsed from
        ``frame_number`` (the record's index where it holds no number). "No detection" (all five
        values 0) is NaN. One slot per box of the record that has most boxes (one, in DeepBehavior).
    """
    records = load_json_objects(path)
    frames, boxes = [], []
    for index, (record, line) in enumerate(records):
        where = f"object {index} (line {line})"
        if not isinstance(record, dict) or "coordinates" not in record:
            raise fail(path, where, "a prediction with 'frame_number' and 'coordinates'", record)
        found = _boxes(path, where, record["coordinates"], with_score=True)
        boxes.append([b for b in found if any(v != 0 for v in b)])
        number_ = frame_number(record.get("frame_number"))
        frames.append(index if number_ is None else number_)
    if not records:
        raise fail(path, "", "at least one prediction", "none")
    frames = np.asarray(frames, dtype=np.int64)
    if len(np.unique(frames)) != len(frames):
        # Frame names that repeat cannot be frame numbers: fall back to the order of the records.
        frames = np.arange(len(records), dtype=np.int64)
    order = np.argsort(frames, kind="stable")
    boxes = [boxes[i] for i in order]
    n_slots = max(1, max(len(b) for b in boxes))
    centre, shape, score = _to_arrays(boxes, n_slots)
    ds = schema.make_boxes(centre, shape, score, fps=fps, time=frames[order], class_names=("object",),
                           source_software="TensorBox", individuals_are="slots")
    ds.attrs["source_file"] = str(path)
    return ds


def read_tensorbox_labels(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read TensorBox labels (``labels.json`` or its ``.json_work`` progress file) into boxes.

    Returns
    -------
    xarray.Dataset
        Boxes over the labelled images: ``frame`` is the image's index in the file,
        ``attrs["image_paths"]`` the image paths as written (relative to the file's folder) and
        ``attrs["image_root"]`` that folder. One slot per box of the image with most boxes;
        positions in pixels, confidence 1 where a box exists.
    """
    records = load_json_objects(path)
    images, boxes = [], []
    for index, (record, line) in enumerate(records):
        where = f"object {index} (line {line})"
        if not isinstance(record, dict) or "image_path" not in record or "rects" not in record:
            raise fail(path, where, "a label with 'image_path' and 'rects'", record)
        images.append(str(record["image_path"]))
        boxes.append(_boxes(path, where, record["rects"], with_score=False))
    if not records:
        raise fail(path, "", "at least one labelled image", "none")
    n_slots = max(1, max(len(b) for b in boxes))
    centre, shape, score = _to_arrays(boxes, n_slots)
    ds = schema.make_boxes(centre, shape, score, fps=fps, class_names=("object",),
                           source_software="TensorBox", individuals_are="slots")
    ds.attrs.update(source_file=str(path), image_paths=images, image_root=str(Path(path).resolve().parent))
    return ds
