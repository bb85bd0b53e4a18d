"""TensorBox files of DeepBehavior: predictions (array and back-to-back variants) and labels.

Predictions hold one record per frame, ``{"frame_number": "pict00012.png", "coordinates": [{"x1",
"y1", "x2", "y2", "score"}]}``; a frame without a detection is written as all five values 0.
Labels (``make_json.py``) hold ``{"image_path": ..., "rects": [{"x1", "y1", "x2", "y2"}]}`` per
labelled image, as a JSON array (``OUT.json``) or back to back (the progress file
``OUT.json_work``). Pixel coordinates, (x1, y1) the top-left corner. One parser
(:func:`_records`) serves the prediction reader, the label reader and the boxes-from-labels reader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ..files import write_atomic
from ._common import MAX_PIXELS, check_frames, check_values, fail, frame_number, load_json_objects, number
from ._labels import LabelledImage, LabelSet, labels_to_boxes

_CORNERS = ("x1", "y1", "x2", "y2")


def _head(path: Path, size: int = 4096) -> str:
    with open(path, "rb") as handle:
        return handle.read(size).decode("utf-8", errors="replace")


def is_tensorbox(path: Path) -> bool:
    """Whether ``path`` is a TensorBox predictions or labels file (JSON with TensorBox's fields)."""
    path = Path(path)
    if not path.is_file() or not (path.suffix.lower() in (".json", ".json_work") or path.name.endswith(".json_work")):
        return False
    head = _head(path)
    if '"images"' in head and '"annotations"' in head:
        return False  # COCO
    return head.lstrip()[:1] in ("[", "{") and any(k in head for k in ('"frame_number"', '"coordinates"',
                                                                      '"image_path"', '"rects"')) \
        or head.strip() in ("[]", "")


def _is_labels(records) -> bool:
    return bool(records) and isinstance(records[0][0], dict) and "image_path" in records[0][0]


def _records(path, *, labels: bool) -> list[tuple[object, list[tuple[float, ...]]]]:
    """``(frame_number or image_path, [(x1, y1, x2, y2[, score]), ...])`` of each record of the file."""
    key, boxes_key = ("image_path", "rects") if labels else ("frame_number", "coordinates")
    out = []
    for index, (record, line) in enumerate(load_json_objects(path)):
        where = f"object {index} (line {line})"
        if not isinstance(record, dict) or boxes_key not in record or (labels and key not in record):
            kind = "a label with 'image_path' and 'rects'" if labels else \
                "a prediction with 'frame_number' and 'coordinates'"
            raise fail(path, where, kind, record)
        rects = record[boxes_key]
        if not isinstance(rects, list):
            raise fail(path, where, "a list of boxes", rects)
        fields = _CORNERS if labels else _CORNERS + ("score",)
        boxes = [tuple(number(path, f"{where}, box {j}", r, k) for k in fields) for j, r in enumerate(rects)]
        for j, box in enumerate(boxes):
            if not all(abs(v) <= MAX_PIXELS for v in box[:4]):  # also false for NaN
                check_values(path, f"{where}, box {j}", box[:4], low=-MAX_PIXELS, high=MAX_PIXELS, unit="px")
                raise fail(path, f"{where}, box {j}", "numbers, not NaN", list(box[:4]))
            if len(box) > 4 and not 0.0 <= box[4] <= 1.0:
                check_values(path, f"{where}, box {j}, score", box[4], low=0.0, high=1.0)
                raise fail(path, f"{where}, box {j}, score", "a score in [0, 1], not NaN", box[4])
        if labels and not isinstance(record[key], str):
            raise fail(path, f"{where}, 'image_path'", "a path", record[key])
        out.append((record.get(key), boxes))
    return out


def _to_arrays(boxes: list[list[tuple[float, ...]]], n_slots: int):
    """Centres (in the data model's pixel convention), sizes and scores of TensorBox's corner-origin
    ``x1, y1, x2, y2[, score]`` boxes, ``(frame, 2, slot)``, ``(frame, 2, slot)``, ``(frame, slot)``."""
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
    return schema.from_corner_origin(centre), shape, score


def read_tensorbox(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read TensorBox predictions (either variant) or labels into a boxes dataset of slots.

    Parameters
    ----------
    path
        A ``predict_images_to_json.py`` JSON array, a ``predict_video_to_json.py`` stream of
        objects written back to back, or a ``make_json.py`` labels file.
    fps
        Frames per second of the video (the file does not record it).

    Returns
    -------
    xarray.Dataset
        Boxes (centre, width and height, pixels), ``confidence`` the TensorBox score (1 for
        labels). Predictions: ``frame`` from the frame numbers in ``frame_number``, or the records'
        order where no record holds one; a file where some records hold one and others do not, or
        where a frame number repeats, is refused (either would misplace frames); "no detection"
        (all five values 0) is NaN. Labels: one time step per labelled image, ``attrs["image_paths"]`` the paths as
        written and ``attrs["image_root"]`` the file's folder. One slot per box of the record that
        has most boxes.
    """
    objects = load_json_objects(path)
    if not objects:
        raise fail(path, "", "at least one record", "none")
    if _is_labels(objects):
        return _labels_as_boxes(path, fps=fps)
    records = _records(path, labels=False)
    numbers = [frame_number(name) for name, _ in records]
    unnumbered = [i for i, n in enumerate(numbers) if n is None]
    if unnumbered and len(unnumbered) < len(numbers):
        # the unnumbered records' place among the numbered ones is unknown: any guess shifts frames
        i = unnumbered[0]
        raise fail(path, f"object {i} (line {objects[i][1]}), 'frame_number'",
                   f"a frame number in every record or in none ({len(numbers) - len(unnumbered)} of "
                   f"{len(numbers)} records have one)", repr(records[i][0]))
    frames = [index if n is None else n for index, n in enumerate(numbers)]
    boxes = [[b for b in found if any(v != 0 for v in b)] for _, found in records]
    check_frames(path, "frame_number", frames)
    frames = np.asarray(frames, dtype=np.int64)
    values, first, counts = np.unique(frames, return_index=True, return_counts=True)
    if (counts > 1).any():
        # A frame written twice is a record duplicated (or a name mangled): taking the records'
        # order instead would shift every frame after it.
        repeated = int(values[counts > 1][0])
        again = int(np.flatnonzero(frames == repeated)[1])
        raise fail(path, f"object {again} (line {objects[again][1]}), 'frame_number'",
                   f"each frame once (frame {repeated} is also object {int(first[counts > 1][0])})",
                   repr(records[again][0]))
    order = np.argsort(frames, kind="stable")
    boxes = [boxes[i] for i in order]
    centre, shape, score = _to_arrays(boxes, max(1, max(len(b) for b in boxes)))
    ds = schema.make_boxes(centre, shape, score, fps=fps, time=frames[order], class_names=("object",),
                           source_software="TensorBox", individuals_are=schema.SLOTS)
    ds.attrs["source_file"] = str(path)
    return ds


def _labels_as_boxes(path, *, fps: float) -> xr.Dataset:
    records = _records(path, labels=True)
    centre, shape, score = _to_arrays([b for _, b in records], max(1, max(len(b) for _, b in records)))
    ds = schema.make_boxes(centre, shape, score, fps=fps, class_names=("object",),
                           source_software="TensorBox", individuals_are=schema.SLOTS)
    ds.attrs.update(source_file=str(path), image_paths=[str(p) for p, _ in records],
                    image_root=str(Path(path).resolve().parent))
    return ds


def read_tensorbox_labels(path: str | os.PathLike, *, class_name: str = "object") -> LabelSet:
    """Read TensorBox labels (``labels.json`` or its ``.json_work`` progress file), one class.

    Image paths are relative to the file's folder; listed images that are not there go to
    ``missing_images``.
    """
    path = Path(path)
    labels = LabelSet(classes=[class_name])
    for image_path, boxes in _records(path, labels=True):
        image = path.parent / image_path
        if not image.is_file():
            labels.missing_images.append(image_path)
            continue
        labels.images.append(LabelledImage(image, [{"class": 0, "box": list(b), "keypoints": None} for b in boxes]))
    return labels.check(path)


def save_tensorbox_labels(labels: LabelSet, path: str | os.PathLike, *, class_index: int | None = None) -> Path:
    """Write boxes (of every class, or only ``class_index``) as a TensorBox ``labels.json``."""
    path = Path(path).resolve()
    records = []
    for image in labels.images:
        rects = [{"x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3]} for inst in image.instances
                 if (b := inst["box"]) is not None and (class_index is None or inst["class"] == class_index)]
        records.append({"image_path": os.path.relpath(image.path, path.parent), "rects": rects})
    write_atomic(path, json.dumps(records, indent=1) + "\n")
    return path
