"""Every label format by name, and guessing the format of a path to import."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .io_coco import export_coco, import_coco
from .io_dlc import import_dlc
from .io_tensorbox import export_tensorbox, import_tensorbox
from .io_yolo import export_yolo, import_yolo
from .io_yolo_mark import export_yolo_mark, import_yolo_mark

EXPORTERS = {"yolo": export_yolo, "coco": export_coco, "tensorbox": export_tensorbox,
             "yolo_mark": export_yolo_mark}
IMPORTERS = {"yolo": import_yolo, "coco": import_coco, "tensorbox": import_tensorbox,
             "yolo_mark": import_yolo_mark, "dlc": import_dlc}


def guess_format(path: str | os.PathLike) -> str:
    """The format of a dataset to import, from its files: yolo, coco, tensorbox, yolo_mark or dlc."""
    path = Path(path)
    if path.is_dir():
        if (path / "data.yaml").is_file():
            return "yolo"
        if (path / "obj.data").is_file() or (path / "obj.names").is_file():
            return "yolo_mark"
        if sorted(path.glob("CollectedData_*.csv")):
            return "dlc"
    elif path.suffix in (".yaml", ".yml"):
        return "yolo"
    elif path.name in ("obj.data", "obj.names"):
        return "yolo_mark"
    elif path.suffix == ".csv":
        return "dlc"
    elif path.suffix == ".json" or path.name.endswith(".json_work"):
        head = path.read_text()[:4096].lstrip()
        if head.startswith("{") and not path.name.endswith(".json_work"):
            try:
                if "images" in json.loads(path.read_text()):
                    return "coco"
            except json.JSONDecodeError:
                pass
        return "tensorbox"
    raise ValueError(f"Expected a YOLO data.yaml, COCO/TensorBox JSON, Yolo_mark folder or DLC CSV, but got {path}")


def import_any(source: str | os.PathLike, root: str | os.PathLike, *, fmt: str | None = None):
    """Import ``source`` (format guessed unless ``fmt``) into the project at ``root``."""
    fmt = fmt or guess_format(source)
    if fmt not in IMPORTERS:
        raise ValueError(f"Expected a format among {sorted(IMPORTERS)}, but got {fmt!r}")
    source = Path(source)
    if fmt == "dlc" and source.is_dir():
        source = sorted(source.glob("CollectedData_*.csv"))[0]
    return IMPORTERS[fmt](source, root)
