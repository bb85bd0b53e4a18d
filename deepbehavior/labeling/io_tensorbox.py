"""TensorBox ``labels.json`` (DeepBehavior's ``make_json.py``): one class, boxes only.

A JSON array of ``{"image_path": "dir/pict00012.png", "rects": [{"x1", "y1", "x2", "y2"}]}``,
pixels, image paths relative to the JSON file's folder. The labelling tool's progress file
(``OUT.json_work``: the same objects written back to back) is read too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..store import write_atomic
from .project import ImportReport, LabelError, Project, ingest


def read_json_objects(text: str, *, where: str) -> list:
    """A JSON array, or JSON values written back to back with no separator, as one list."""
    decoder = json.JSONDecoder()
    items, position = [], 0
    while True:
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position >= len(text):
            break
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise LabelError(f"Expected JSON objects in {where}, but got: {exc}") from None
        items.extend(value if isinstance(value, list) else [value])
    return items


def export_tensorbox(project: Project, path: str | os.PathLike, *, class_index: int | None = None) -> Path:
    """Write boxes (of every class, or only ``class_index``) as a TensorBox ``labels.json``."""
    path = Path(path).resolve()
    records = []
    for name, label in project.labelled().items():
        rects = [{"x1": b[0], "y1": b[1], "x2": b[2], "y2": b[3]}
                 for inst in label["instances"] if (b := inst["box"]) is not None
                 and (class_index is None or inst["class"] == class_index)]
        records.append({"image_path": os.path.relpath(project.image_path(name), path.parent), "rects": rects})
    write_atomic(path, json.dumps(records, indent=1) + "\n")
    return path


def import_tensorbox(source: str | os.PathLike, root: str | os.PathLike, *,
                     class_name: str = "object") -> tuple[Project, ImportReport]:
    """Read a TensorBox ``labels.json`` (or ``.json_work``) into a one-class project at ``root``."""
    source = Path(source)
    records = read_json_objects(source.read_text(), where=str(source))
    project = Project.create(root, classes=[class_name])
    report = ImportReport()
    taken = set(project.images())
    for i, record in enumerate(records):
        if not isinstance(record, dict) or "image_path" not in record:
            raise LabelError(f"Expected an object with image_path at {source} record {i}, but got {record!r}")
        image = source.parent / record["image_path"]
        if not image.is_file():
            report.missing_images.append(record["image_path"])
            continue
        try:
            instances = [{"class": 0, "box": [r["x1"], r["y1"], r["x2"], r["y2"]], "keypoints": None}
                         for r in record.get("rects", [])]
        except (KeyError, TypeError):
            raise LabelError(f"Expected rects with x1, y1, x2, y2 at {source} record {i}, but got "
                             f"{record.get('rects')!r}") from None
        ingest(project, image, instances, report=report, taken=taken, origin={"imported_from": str(image)})
    project.save_meta()
    return project, report
