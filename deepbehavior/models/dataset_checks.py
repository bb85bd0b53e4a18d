"""Checks of a YOLO-layout dataset before training, so that one message lists every problem.

ultralytics skips bad label files with a warning and trains on what is left; a labelling mistake then
shows up only as a worse model. These checks read ``data.yaml``, every image list and every label
file, and raise one ``ValueError`` naming each offending file and line.

The layout (ultralytics' own): ``data.yaml`` with ``path`` (dataset root; relative to the YAML's
folder), ``train`` and ``val`` (folders of images or ``.txt`` lists of image paths, relative to
``path``), ``names`` (list or ``{id: name}``) and, for keypoint models, ``kpt_shape: [K, 2 or 3]``
(and optionally ``flip_idx``). The labels of ``.../images/x.png`` are in ``.../labels/x.txt``, one
object a line: ``class xc yc w h`` then, for keypoints, ``x y [visibility]`` per keypoint, every
coordinate relative to the image size (0 to 1). An image without a label file is a background image.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

IMAGE_SUFFIXES = frozenset({".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp"})
# Coordinates a hair outside [0, 1] come from rounding in labelling tools; ultralytics clips them.
_TOLERANCE = 1e-3


@dataclass(frozen=True)
class DatasetSummary:
    """What a checked dataset holds. ``data`` is ``data.yaml`` with absolute ``path``/``train``/``val``."""

    data: dict[str, Any]
    names: tuple[str, ...]
    kpt_shape: tuple[int, int] | None
    images: dict[str, int]  # split -> number of images
    objects: dict[str, int]  # split -> number of labelled objects

    @property
    def task(self) -> str:
        """``"pose"`` when the dataset has keypoints, else ``"detect"``."""
        return "pose" if self.kpt_shape else "detect"


def label_path(image: Path) -> Path:
    """The label file of an image: the last ``images`` folder of its path replaced by ``labels``."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _names(data: dict[str, Any]) -> tuple[str, ...] | None:
    names = data.get("names")
    if isinstance(names, dict):
        keys = sorted(names)
        if keys != list(range(len(keys))):
            return None
        return tuple(str(names[k]) for k in keys)
    if isinstance(names, (list, tuple)) and names:
        return tuple(str(n) for n in names)
    return None


def _list_images(source: Path, root: Path, problems: list[str]) -> list[Path]:
    """Image files of a split: a folder (searched recursively) or a text file listing images."""
    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if source.is_file():
        images = []
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            entry = line.strip()
            if not entry:
                continue
            # ultralytics resolves "./x" against the list's folder and other relative paths against the root.
            path = Path(entry)
            if not path.is_absolute():
                path = (source.parent / entry) if entry.startswith("./") else (root / entry)
            if not path.is_file():
                problems.append(f"{source}:{number}: Expected an image file, but got missing file {entry!r}")
                continue
            images.append(path)
        return images
    problems.append(f"{source}: Expected a folder of images or a .txt list of images, but got nothing there")
    return []


def _check_label_line(fields: list[str], *, nc: int, kpt_shape: tuple[int, int] | None) -> str | None:
    """The problem with one label line, or None when it is valid."""
    expected = 5 + (kpt_shape[0] * kpt_shape[1] if kpt_shape else 0)
    if len(fields) != expected:
        layout = "class xc yc w h" + (f" + {kpt_shape[0]}x{kpt_shape[1]} keypoint values" if kpt_shape else "")
        return f"Expected {expected} values ({layout}), but got {len(fields)}"
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return f"Expected numbers, but got {' '.join(fields)!r}"
    if not all(math.isfinite(v) for v in values):
        return f"Expected finite numbers, but got {' '.join(fields)!r}"
    cls = values[0]
    if cls != int(cls) or not 0 <= cls < nc:
        return f"Expected a class id in 0..{nc - 1} (data.yaml names), but got {fields[0]}"
    xc, yc, w, h = values[1:5]
    if w <= 0 or h <= 0:
        return f"Expected a box width and height > 0, but got {fields[3]} {fields[4]}"
    if not all(-_TOLERANCE <= v <= 1 + _TOLERANCE for v in (xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2)):
        return f"Expected a box inside the image (relative coordinates 0..1), but got xc={xc} yc={yc} w={w} h={h}"
    if kpt_shape:
        k, ndim = kpt_shape
        for j in range(k):
            x, y = values[5 + j * ndim], values[6 + j * ndim]
            visible = values[7 + j * ndim] > 0 if ndim == 3 else (x != 0 or y != 0)
            if visible and not (-_TOLERANCE <= x <= 1 + _TOLERANCE and -_TOLERANCE <= y <= 1 + _TOLERANCE):
                return f"Expected keypoint {j} inside the image (relative coordinates 0..1), but got x={x} y={y}"
    return None


def find_dataset_problems(data_yaml: str | os.PathLike) -> tuple[list[str], DatasetSummary | None]:
    """Every problem of a YOLO dataset, as ``"file:line: message"`` strings, and its summary.

    Parameters
    ----------
    data_yaml
        Path of the dataset's ``data.yaml``.

    Returns
    -------
    problems
        One string per offending file or label line (empty when the dataset is valid).
    summary
        The dataset's resolved description, or None when ``data.yaml`` itself is unusable.
    """
    data_yaml = Path(data_yaml)
    if not data_yaml.is_file():
        raise FileNotFoundError(f"Expected a dataset description data.yaml, but got missing file {data_yaml}")
    try:
        data = yaml.safe_load(data_yaml.read_text()) or {}
    except yaml.YAMLError as exc:
        return [f"{data_yaml}: Expected valid YAML, but got {' '.join(str(exc).split())}"], None
    if not isinstance(data, dict):
        return [f"{data_yaml}: Expected a mapping with train, val and names, but got {type(data).__name__}"], None
    problems: list[str] = []
    names = _names(data)
    if names is None:
        problems.append(f"{data_yaml}: Expected 'names' as a list or {{0: name, 1: ...}}, "
                        f"but got {data.get('names')!r}")
    kpt_shape = data.get("kpt_shape")
    if kpt_shape is not None:
        if not (isinstance(kpt_shape, (list, tuple)) and len(kpt_shape) == 2 and kpt_shape[0] >= 1
                and kpt_shape[1] in (2, 3)):
            problems.append(f"{data_yaml}: Expected 'kpt_shape' as [keypoints, 2 or 3], but got {kpt_shape!r}")
            kpt_shape = None
        else:
            kpt_shape = (int(kpt_shape[0]), int(kpt_shape[1]))
            flip_idx = data.get("flip_idx")
            if flip_idx is not None and sorted(flip_idx) != list(range(kpt_shape[0])):
                problems.append(f"{data_yaml}: Expected 'flip_idx' a permutation of 0..{kpt_shape[0] - 1}, "
                                f"but got {flip_idx!r}")
    for split in ("train", "val"):
        if not data.get(split):
            problems.append(f"{data_yaml}: Expected a '{split}' entry (folder or .txt of images), but got none")
    if problems:
        return problems, None

    root = Path(data.get("path") or ".")
    root = root if root.is_absolute() else (data_yaml.parent / root)
    root = root.resolve()
    resolved = {**data, "path": str(root)}
    images: dict[str, int] = {}
    objects: dict[str, int] = {}
    for split in ("train", "val", "test"):
        entry = data.get(split)
        if not entry:
            continue
        sources = entry if isinstance(entry, list) else [entry]
        paths = [(root / s).resolve() if not Path(s).is_absolute() else Path(s) for s in sources]
        resolved[split] = [str(p) for p in paths] if isinstance(entry, list) else str(paths[0])
        split_images = [img for p in paths for img in _list_images(p, root, problems)]
        images[split] = len(split_images)
        objects[split] = 0
        if not split_images and split != "test":
            problems.append(f"{resolved[split]}: Expected at least one image in split '{split}', but got none")
        for image in split_images:
            labels = label_path(image)
            if not labels.is_file():
                continue  # a background image
            for number, line in enumerate(labels.read_text().splitlines(), start=1):
                if not line.strip():
                    problems.append(f"{labels}:{number}: Expected a label line, but got an empty line")
                    continue
                problem = _check_label_line(line.split(), nc=len(names), kpt_shape=kpt_shape)
                if problem:
                    problems.append(f"{labels}:{number}: {problem}")
                else:
                    objects[split] += 1
    summary = DatasetSummary(data=resolved, names=names, kpt_shape=kpt_shape, images=images, objects=objects)
    return problems, summary


def check_dataset(data_yaml: str | os.PathLike) -> DatasetSummary:
    """Check a YOLO dataset; return its summary or raise one ``ValueError`` listing every problem.

    Parameters
    ----------
    data_yaml
        Path of the dataset's ``data.yaml``.

    Raises
    ------
    ValueError
        When anything is wrong; the message has one line per offending file or label line.
    """
    problems, summary = find_dataset_problems(data_yaml)
    if problems:
        listing = "\n".join(f"  {p}" for p in problems)
        raise ValueError(f"Expected a valid YOLO dataset at {data_yaml}, "
                         f"but got {len(problems)} problem(s):\n{listing}")
    return summary
