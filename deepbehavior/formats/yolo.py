"""YOLO label files (darknet, Yolo_mark, ultralytics) and ultralytics datasets.

A label file has one line per object, ``class x_center y_center width height`` relative to the
image size, followed for pose datasets by ``x y v`` (or ``x y``) per keypoint, also relative;
``v = 2`` is a placed point and ``0 0 0`` a missing one. An ultralytics dataset is laid out as::

    OUT/data.yaml                 path, train, val, names; kpt_shape, flip_idx, kpt_names, skeleton
    OUT/images/{train,val}/<image>
    OUT/labels/{train,val}/<stem>.txt

This module holds the one parser of label lines (:func:`read_label_file`, used by Yolo_mark too),
the ultralytics dataset reader :func:`read_yolo_labels` and writer :func:`save_yolo_labels`.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from ..models.dataset_checks import label_path
from ._common import fail, read_text
from ._labels import LabelledImage, LabelSet, image_size

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
# Relative values a little outside [0, 1] occur (boxes drawn to the edge, rounding); far outside
# means a corrupt line.
_REL_SLACK = 0.05
# (anywhere in the name, at the start only): leftear <-> rightear, LShoulder <-> RShoulder.
_SIDES = ((("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT")), (("L", "R"), ("l_", "r_")))


def is_yolo(path: Path) -> bool:
    """Whether ``path`` is an ultralytics ``data.yaml`` or a folder holding one."""
    path = Path(path)
    return (path / "data.yaml").is_file() if path.is_dir() else path.suffix in (".yaml", ".yml")


def read_label_file(path: Path, *, width: int, height: int, n_classes: int, n_keypoints: int = 0) -> list[dict]:
    """Instances of one YOLO label file, in pixels of a ``width`` × ``height`` image.

    Raises a one-line error naming the file and line of a line with the wrong number of fields, a
    class out of range, or a relative value that is not finite or far outside [0, 1].
    """
    instances = []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        expected = (5, 5 + 3 * n_keypoints, 5 + 2 * n_keypoints) if n_keypoints else (5,)
        if len(fields) not in expected:
            layout = "'class x_center y_center width height'" if not n_keypoints else \
                f"{' or '.join(map(str, sorted(set(expected))))} fields 'class x_center y_center width height x y [v] ...'"
            raise fail(path, f"line {number}", layout, line)
        try:
            cls, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            what = "an integer class and numbers" if n_keypoints else "an integer class and four numbers"
            raise fail(path, f"line {number}", what, line) from None
        if not 0 <= cls < n_classes:
            raise fail(path, f"line {number}", f"a class id in [0, {n_classes})", cls)
        step = 3 if len(values) == 4 + 3 * n_keypoints and n_keypoints else 2
        coordinates = values[:4] + [v for k in range(n_keypoints if len(values) > 4 else 0)
                                    for v in values[4 + step * k:6 + step * k]]
        for v in coordinates:
            if not -_REL_SLACK <= v <= 1 + _REL_SLACK:  # also refuses NaN and inf
                raise fail(path, f"line {number}", "relative coordinates in [0, 1]", v)
        cx, cy, w, h = values[:4]
        box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
        points = None
        if n_keypoints and len(values) > 4:
            step = 3 if len(values) == 4 + 3 * n_keypoints else 2
            points = []
            for k in range(n_keypoints):
                x, y = values[4 + step * k], values[5 + step * k]
                visible = values[6 + step * k] > 0 if step == 3 else (x, y) != (0.0, 0.0)
                points.append([x * width, y * height] if visible else None)
            if all(p is None for p in points):
                points = None
        instances.append({"class": cls, "box": box, "keypoints": points})
    return instances


def flip_indices(keypoints: list[str]) -> list[int]:
    """For each keypoint, the index of its mirror image (``leftear`` <-> ``rightear``), else itself."""
    index = {name: i for i, name in enumerate(keypoints)}
    out = []
    for i, name in enumerate(keypoints):
        partner = i
        anywhere, prefix = _SIDES
        for a, b in anywhere + tuple((b, a) for a, b in anywhere):
            if a in name and name.replace(a, b) in index:
                partner = index[name.replace(a, b)]
                break
        else:
            for a, b in prefix + tuple((b, a) for a, b in prefix):
                if name.startswith(a) and b + name[len(a):] in index:
                    partner = index[b + name[len(a):]]
                    break
        out.append(partner)
    return out


def split_names(names: list[str], *, val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """A reproducible train/val split; at least one image in each when there are two or more."""
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"Expected val_fraction in [0, 1), but got {val_fraction}")
    shuffled = list(names)
    random.Random(seed).shuffle(shuffled)
    n_val = round(len(names) * val_fraction)
    if len(names) >= 2 and val_fraction > 0:
        n_val = min(max(n_val, 1), len(names) - 1)
    val = set(shuffled[:n_val])
    return [n for n in names if n not in val], [n for n in names if n in val]


def box_from_keypoints(points, *, width: float, height: float, pad: float = 0.05) -> list[float] | None:
    """A box around the placed keypoints, padded by ``pad`` of its size and clipped to the image (pixels)."""
    placed = [p for p in points if p is not None]
    if not placed:
        return None
    xs, ys = [p[0] for p in placed], [p[1] for p in placed]
    dx = max((max(xs) - min(xs)) * pad, 2.0)
    dy = max((max(ys) - min(ys)) * pad, 2.0)
    return [max(min(xs) - dx, 0.0), max(min(ys) - dy, 0.0), min(max(xs) + dx, float(width)),
            min(max(ys) + dy, float(height))]


def label_lines(image: LabelledImage, *, n_keypoints: int) -> list[str]:
    """The lines of a YOLO label file for one labelled image (relative coordinates, 6 decimals).

    An instance with keypoints but no box gets the box around its keypoints; without keypoints
    (``n_keypoints == 0``) such an instance is left out.
    """
    width, height = float(image.width), float(image.height)
    lines = []
    for inst in image.instances:
        box = inst["box"]
        points = inst["keypoints"] or [None] * n_keypoints
        if box is None:
            if n_keypoints == 0:
                continue
            box = box_from_keypoints(points, width=width, height=height)
        if box is None:
            continue
        x1, y1, x2, y2 = box
        values = [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height]
        fields = [str(inst["class"])] + [f"{v:.6f}" for v in values]
        for p in points if n_keypoints else []:
            fields += ["0.000000", "0.000000", "0"] if p is None else [f"{p[0] / width:.6f}",
                                                                      f"{p[1] / height:.6f}", "2"]
        lines.append(" ".join(fields))
    return lines


def unique_name(taken: set[str], name: str) -> str:
    """``name``, or ``stem_2.ext``, ``stem_3.ext``… if it is already in ``taken``."""
    if name not in taken:
        return name
    stem, suffix = Path(name).stem, Path(name).suffix
    i = 2
    while f"{stem}_{i}{suffix}" in taken:
        i += 1
    return f"{stem}_{i}{suffix}"


def save_yolo_labels(labels: LabelSet, out: str | os.PathLike, *, val_fraction: float = 0.2, seed: int = 0) -> Path:
    """Write labelled images as an ultralytics dataset under ``out``; return its ``data.yaml``.

    Images are copied; an image named ``a.png`` beside ``a.jpg`` is renamed so that label files
    do not collide. Raises ``ValueError`` when there is no labelled image.
    """
    import yaml

    out = Path(out).resolve()
    if not labels.images:
        raise ValueError(f"Expected labelled images to write to {out}, but none is labelled yet")
    by_name, taken = {}, set()
    for image in labels.images:
        name = unique_name(taken, image.path.name)
        taken.add(name)
        by_name[name] = image
    train, val = split_names(list(by_name), val_fraction=val_fraction, seed=seed)
    if not val:
        val = list(train)  # ultralytics needs a validation set; one image serves both
    n_kp = len(labels.keypoints)
    for split, names in (("train", train), ("val", val)):
        image_dir, label_dir = out / "images" / split, out / "labels" / split
        shutil.rmtree(image_dir, ignore_errors=True)
        shutil.rmtree(label_dir, ignore_errors=True)
        image_dir.mkdir(parents=True)
        label_dir.mkdir(parents=True)
        stems: set[str] = set()
        for name in names:
            stem = unique_name(stems, Path(name).stem)
            stems.add(stem)
            shutil.copyfile(by_name[name].path, image_dir / f"{stem}{Path(name).suffix}")
            text = "\n".join(label_lines(by_name[name], n_keypoints=n_kp))
            (label_dir / f"{stem}.txt").write_text(text + ("\n" if text else ""))
    data = {"path": str(out), "train": "images/train", "val": "images/val", "names": dict(enumerate(labels.classes))}
    if n_kp:
        data.update(kpt_shape=[n_kp, 3], flip_idx=flip_indices(list(labels.keypoints)),
                    kpt_names={0: list(labels.keypoints)}, skeleton=[list(p) for p in labels.skeleton])
    target = out / "data.yaml"
    tmp = out / ".data.yaml.partial"
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, target)
    return target


def _split_images(data: dict, base: Path, key: str, yaml_path: Path) -> list[Path]:
    entry = data.get(key)
    if entry is None:
        return []
    entries = entry if isinstance(entry, list) else [entry]
    images = []
    for item in entries:
        if not isinstance(item, str):
            raise fail(yaml_path, f"'{key}'", "a folder or image list path", item)
        path = Path(item) if Path(item).is_absolute() else base / item
        if path.is_dir():
            images += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.suffix == ".txt" and path.is_file():
            images += [Path(line) if Path(line).is_absolute() else base / line
                       for line in read_text(path).split() if line]
    return images


def read_yolo_labels(path: str | os.PathLike) -> LabelSet:
    """Read an ultralytics dataset (its ``data.yaml`` or the folder holding it).

    Images listed but missing are in ``missing_images``; an image without a label file has no
    instances (a true negative).
    """
    import yaml

    source = Path(path)
    yaml_path = source / "data.yaml" if source.is_dir() else source
    if not yaml_path.is_file():
        raise FileNotFoundError(f"Expected a YOLO data.yaml at {yaml_path}, but there is none")
    try:
        data = yaml.safe_load(read_text(yaml_path)) or {}
    except yaml.YAMLError as exc:
        raise fail(yaml_path, "", "valid YAML", str(exc).splitlines()[0]) from None
    if not isinstance(data, dict):
        raise fail(yaml_path, "", "a mapping", type(data).__name__)
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names or not isinstance(names, list):
        raise fail(yaml_path, "'names'", "a list or mapping of class names", data.get("names"))
    try:
        n_kp = int((data.get("kpt_shape") or [0])[0])
    except (TypeError, ValueError, IndexError):
        raise fail(yaml_path, "'kpt_shape'", "[keypoints, 2 or 3]", data.get("kpt_shape")) from None
    if not 0 <= n_kp <= 1000:
        raise fail(yaml_path, "'kpt_shape'", "between 0 and 1000 keypoints", n_kp)
    kpt_names = data.get("kpt_names") or {}
    keypoints = list(kpt_names.get(0, kpt_names.get("0", []))) if isinstance(kpt_names, dict) else list(kpt_names)
    if len(keypoints) != n_kp:
        keypoints = [f"kp{i}" for i in range(n_kp)]
    base = Path(str(data.get("path") or yaml_path.parent))
    if not base.is_absolute():
        base = yaml_path.parent / base
    if not base.is_dir():  # a dataset moved since export: its own folder is the base
        base = yaml_path.parent
    labels = LabelSet(classes=[str(n) for n in names], keypoints=[str(k) for k in keypoints],
                      skeleton=[list(p) for p in data.get("skeleton") or []])
    seen: set[Path] = set()
    for key in ("train", "val", "test"):
        for image in _split_images(data, base, key, yaml_path):
            if image.resolve() in seen:
                continue
            seen.add(image.resolve())
            if not image.is_file():
                labels.missing_images.append(str(image))
                continue
            width, height = image_size(image)
            file = label_path(image)
            instances = read_label_file(file, width=width, height=height, n_classes=len(names),
                                        n_keypoints=n_kp) if file.is_file() else []
            labels.images.append(LabelledImage(image, instances, width, height))
    return labels.check(yaml_path)
