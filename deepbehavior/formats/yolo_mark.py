"""Yolo_mark datasets: ``obj.data``, ``obj.names``, an image list and a YOLO ``.txt`` per image.

``obj.data`` holds ``classes=``, ``train=``, ``valid=``, ``names=``, ``backup=``; its paths are as
darknet saw them (relative to darknet's folder, e.g. ``data/train.txt`` when the dataset folder is
darknet's ``data/``), so each path is looked for in the dataset folder, its parent, and the
dataset folder with the path's first component dropped. Label lines are
``class x_center y_center width height``, relative to the image size.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail, read_text


def _find(listed: str, root: Path) -> Path | None:
    """The existing file that ``listed`` (a path as written in the dataset) refers to, if any."""
    p = Path(listed.strip())
    candidates = [p] if p.is_absolute() else [root / p, root.parent / p]
    if not p.is_absolute() and len(p.parts) > 1:
        candidates.append(root.joinpath(*p.parts[1:]))
    candidates.append(root / "img" / p.name)
    return next((c for c in candidates if c.is_file()), None)


def read_obj_data(path: str | os.PathLike) -> dict[str, str]:
    """The ``key = value`` entries of an ``obj.data`` file."""
    entries = {}
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise fail(path, f"line {line_no}", "'key = value'", line)
        entries[key.strip()] = value.strip()
    return entries


def read_yolo_labels(path: str | os.PathLike, n_classes: int) -> list[tuple[int, float, float, float, float]]:
    """``(class, x_center, y_center, width, height)`` of each line of a YOLO label file (relative units)."""
    boxes = []
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 5:
            raise fail(path, f"line {line_no}", "'class x_center y_center width height'", line)
        try:
            cls, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            raise fail(path, f"line {line_no}", "an integer class and four numbers", line) from None
        if not 0 <= cls < n_classes:
            raise fail(path, f"line {line_no}", f"a class id in [0, {n_classes})", cls)
        boxes.append((cls, *values))
    return boxes


def _image_size(path: Path) -> tuple[int, int]:
    from PIL import Image  # reads the header only

    with Image.open(path) as image:
        return image.size


def read_yolo_mark(path: str | os.PathLike, *, fps: float = 30.0, subset: str = "train") -> xr.Dataset:
    """Read a Yolo_mark dataset into a boxes dataset over its images.

    Parameters
    ----------
    path
        The dataset folder (holding ``obj.data``) or the ``obj.data`` file.
    fps
        Frames per second recorded in the dataset's attributes (images have none).
    subset
        ``"train"`` or ``"valid"``: which image list of ``obj.data`` to read.

    Returns
    -------
    xarray.Dataset
        Boxes in pixels (centre, width, height) with ``frame`` = index of the image among those
        found, ``class_index`` into ``attrs["class_names"]`` (``obj.names``), confidence 1 where a
        box. ``attrs["image_paths"]`` lists the images read; ``attrs["missing_images"]`` the listed
        images that are not there and ``attrs["labels_without_image"]`` label files with no image
        (both are also reported with a warning, not an error).
    """
    path = Path(path)
    data_file = path / "obj.data" if path.is_dir() else path
    root = data_file.parent
    entries = read_obj_data(data_file)
    for key in (subset, "names"):
        if key not in entries:
            raise fail(data_file, "", f"a '{key} =' entry", f"entries {sorted(entries)}")
    names_file = _find(entries["names"], root)
    list_file = _find(entries[subset], root)
    if names_file is None or list_file is None:
        missing = entries["names"] if names_file is None else entries[subset]
        raise FileNotFoundError(f"Expected the file {missing} named in {data_file}, but it is not in {root}")
    names = [n.strip() for n in read_text(names_file).splitlines() if n.strip()]
    if "classes" in entries and entries["classes"].strip().isdigit() and int(entries["classes"]) != len(names):
        warnings.warn(f"{data_file}: classes={entries['classes']} but {names_file} names {len(names)}", stacklevel=2)
    images, boxes, missing_images, orphans = [], [], [], []
    for listed in read_text(list_file).splitlines():
        if not listed.strip():
            continue
        image = _find(listed, root)
        label = _find(str(Path(listed.strip()).with_suffix(".txt")), root)
        if image is None:
            missing_images.append(listed.strip())
            if label is not None:
                orphans.append(str(label.relative_to(root)))
            continue
        width, height = _image_size(image)
        found = read_yolo_labels(label, len(names)) if label is not None else []
        images.append(str(image.relative_to(root)))
        boxes.append([(c, x * width, y * height, w * width, h * height) for c, x, y, w, h in found])
    listed_labels = {str(Path(p).with_suffix(".txt")) for p in images}
    for txt in sorted(root.rglob("*.txt")):
        rel = str(txt.relative_to(root))
        if txt == list_file or rel in listed_labels or rel in orphans:
            continue
        if not any(txt.with_suffix(s).is_file() for s in (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".PNG")):
            if txt.parent != root:  # image lists and other text files sit at the top
                orphans.append(rel)
    if missing_images or orphans:
        warnings.warn(f"{data_file}: {len(missing_images)} listed images are missing "
                      f"({', '.join(missing_images)}); {len(orphans)} label files have no image "
                      f"({', '.join(orphans)})", stacklevel=2)
    if not images:
        raise fail(list_file, "", "at least one image that exists", "none")
    n_slots = max(1, max(len(b) for b in boxes))
    centre = np.full((len(images), 2, n_slots), np.nan)
    shape = np.full((len(images), 2, n_slots), np.nan)
    cls = np.full((len(images), n_slots), np.nan)
    for t, frame in enumerate(boxes):
        for k, (c, x, y, w, h) in enumerate(frame):
            centre[t, :, k], shape[t, :, k], cls[t, k] = (x, y), (w, h), c
    ds = schema.make_boxes(centre, shape, None, cls, fps=fps, class_names=names,
                           source_software="Yolo_mark", individuals_are="slots")
    ds.attrs.update(source_file=str(data_file), image_root=str(root.resolve()), image_paths=images,
                    missing_images=missing_images, labels_without_image=orphans)
    return ds
