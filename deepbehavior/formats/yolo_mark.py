"""Yolo_mark datasets: ``obj.data``, ``obj.names``, an image list and a YOLO ``.txt`` per image.

``obj.data`` holds ``classes=``, ``train=``, ``valid=``, ``names=``, ``backup=``; its paths are as
darknet saw them, so each is looked for in several places (:func:`~._labels.find_listed`). Label
lines are ``class x_center y_center width height`` relative to the image size, read by
:func:`deepbehavior.formats.yolo.read_label_file`.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import xarray as xr

from ._common import fail, read_text
from ._labels import LabelledImage, LabelSet, find_listed, image_size, labels_to_boxes
from .yolo import IMAGE_SUFFIXES, label_lines, read_label_file, unique_name

_LISTS = ("train.txt", "valid.txt", "test.txt")


def is_yolo_mark(path: Path) -> bool:
    """Whether ``path`` is a Yolo_mark dataset folder (with ``obj.data`` or ``obj.names``) or its ``obj.data``."""
    path = Path(path)
    if path.is_dir():
        return (path / "obj.data").is_file() or (path / "obj.names").is_file()
    return path.name in ("obj.data", "obj.names")


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


def read_yolo_mark_labels(path: str | os.PathLike, *, subsets: tuple[str, ...] = ("train", "valid")) -> LabelSet:
    """Read a Yolo_mark dataset (its folder or ``obj.data``) into labels.

    Parameters
    ----------
    subsets
        Image lists of ``obj.data`` to read (``train``, ``valid``).

    Returns
    -------
    LabelSet
        Boxes only, classes from ``obj.names``. Listed images that are missing go to
        ``missing_images``; label files beside the images with no image (and not listed) to
        ``labels_without_images`` (paths relative to the dataset folder).
    """
    path = Path(path)
    if path.name == "obj.names":
        path = path.parent
    data_file = path / "obj.data" if path.is_dir() else path
    root = data_file.parent
    entries = read_obj_data(data_file) if data_file.is_file() else {}
    if "names" in entries:
        names_file = find_listed(entries["names"], root)
        if names_file is None:
            raise FileNotFoundError(f"Expected the file {entries['names']} named in {data_file}, but it is not in {root}")
    elif (root / "obj.names").is_file():
        names_file = root / "obj.names"
    else:
        raise fail(data_file, "", "a 'names =' entry (or an obj.names beside it)", f"entries {sorted(entries)}")
    classes = [n.strip() for n in read_text(names_file).splitlines() if n.strip()]
    if not classes:
        raise fail(names_file, "", "at least one class name", "none")
    count = entries.get("classes", "").strip()
    if count and count != str(len(classes)):
        raise fail(data_file, "'classes'", f"{len(classes)} (the names in {names_file.name})", count)
    lists = []
    for key in subsets:
        listed = entries.get(key, "train.txt" if key == "train" else "")
        located = find_listed(listed, root) if listed else None
        if listed and located is None and key in entries:
            raise FileNotFoundError(f"Expected the file {listed} named in {data_file}, but it is not in {root}")
        if located and located not in lists:
            lists.append(located)
    labels = LabelSet(classes=classes)
    used, seen = set(), set()
    for listing in lists:
        entries = list(dict.fromkeys(s.strip() for s in read_text(listing).splitlines() if s.strip()))
        if not entries:  # an image list emptied (a copy cut short) would import as a dataset of nothing
            raise fail(listing, "", "image paths, one a line", "an empty list")
        for entry in entries:
            image = find_listed(entry, root)
            if image is None:
                labels.missing_images.append(entry)
                continue
            if image.resolve() in seen:
                continue
            seen.add(image.resolve())
            label = image.with_suffix(".txt")
            used.add(label.resolve())
            width, height = image_size(image)
            instances = read_label_file(label, width=width, height=height, n_classes=len(classes)) \
                if label.is_file() else []
            labels.images.append(LabelledImage(image, instances, width, height))
    for folder in sorted({p.parent for p in seen} or {root / "img"}):
        for txt in sorted(folder.glob("*.txt")) if folder.is_dir() else []:
            if txt.resolve() in used or txt.name in _LISTS or txt.parent == root:
                continue
            if not any(txt.with_suffix(s).is_file() for s in IMAGE_SUFFIXES + (".JPG", ".PNG")):
                labels.labels_without_images.append(str(txt.relative_to(root)))
    return labels.check(data_file)


def save_yolo_mark_labels(labels: LabelSet, out: str | os.PathLike) -> Path:
    """Write labels as a Yolo_mark dataset in ``out`` (images copied to ``img/``); return ``obj.data``."""
    out = Path(out).resolve()
    image_dir = out / "img"
    image_dir.mkdir(parents=True, exist_ok=True)
    listed, stems = [], set()
    for image in labels.images:
        stem = unique_name(stems, image.path.stem)
        stems.add(stem)
        target = image_dir / f"{stem}{image.path.suffix}"
        shutil.copyfile(image.path, target)
        text = "\n".join(label_lines(image, n_keypoints=0))
        (image_dir / f"{stem}.txt").write_text(text + ("\n" if text else ""))
        listed.append(f"img/{target.name}")
    (out / "obj.names").write_text("".join(f"{c}\n" for c in labels.classes))
    (out / "train.txt").write_text("".join(f"{p}\n" for p in listed))
    (out / "obj.data").write_text(f"classes = {len(labels.classes)}\ntrain = {out / 'train.txt'}\n"
                                  f"valid = {out / 'train.txt'}\nnames = {out / 'obj.names'}\nbackup = backup/\n")
    return out / "obj.data"


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
        Boxes in pixels (centre, width, height), one per slot, over the images found (time = image
        index), ``class_index`` into ``attrs["class_names"]``, confidence 1 where a box.
        ``attrs["image_paths"]`` lists the images read (relative to the dataset folder);
        ``attrs["missing_images"]`` and ``attrs["labels_without_image"]`` what could not be paired
        (also reported with a warning).
    """
    labels = read_yolo_mark_labels(path, subsets=(subset,))
    path = Path(path)
    data_file = path / "obj.data" if path.is_dir() else path
    root = data_file.parent
    if labels.missing_images or labels.labels_without_images:
        warnings.warn(f"{data_file}: {len(labels.missing_images)} listed images are missing "
                      f"({', '.join(labels.missing_images)}); {len(labels.labels_without_images)} label files "
                      f"have no image ({', '.join(labels.labels_without_images)})", stacklevel=2)
    if not labels.images:
        raise fail(data_file, subset, "at least one listed image that exists", "none")
    ds = labels_to_boxes(labels, fps=fps, source_software="Yolo_mark")
    ds.attrs.update(source_file=str(data_file), image_root=str(root.resolve()),
                    image_paths=[str(i.path.relative_to(root)) for i in labels.images],
                    missing_images=labels.missing_images, labels_without_image=labels.labels_without_images)
    return ds
