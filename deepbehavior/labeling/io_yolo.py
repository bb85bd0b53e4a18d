"""YOLO (ultralytics) datasets: export a project for training, and import one into a project.

Layout written (and read)::

    OUT/data.yaml                 path, train, val, names; kpt_shape, flip_idx, kpt_names, skeleton
    OUT/images/{train,val}/<image>
    OUT/labels/{train,val}/<stem>.txt   class cx cy w h [x y v]*K   (relative to image size)

Keypoint visibility ``v`` is 2 for a placed point and 0 (with x = y = 0) for a missing one. An
instance without a box gets the box around its keypoints (:func:`box_from_keypoints`).
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import yaml

from ..models.dataset_checks import label_path
from .project import ImportReport, LabelError, Project, box_from_keypoints, ingest, unique_name

# (anywhere in the name, at the start only): leftear <-> rightear, LShoulder <-> RShoulder.
_SIDES = ((("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT")), (("L", "R"), ("l_", "r_")))


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


def label_lines(label: dict, *, n_keypoints: int) -> list[str]:
    """The lines of a YOLO label file for one project label (relative coordinates, 6 decimals)."""
    width, height = float(label["width"]), float(label["height"])
    lines = []
    for inst in label["instances"]:
        box = inst["box"]
        points = inst["keypoints"] or [None] * n_keypoints
        if box is None:
            box = box_from_keypoints(points, width=width, height=height)
        if box is None:
            continue
        if n_keypoints == 0 and inst["box"] is None:
            continue
        x1, y1, x2, y2 = box
        values = [(x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height]
        fields = [str(inst["class"])] + [f"{v:.6f}" for v in values]
        for p in points if n_keypoints else []:
            fields += ["0.000000", "0.000000", "0"] if p is None else [f"{p[0] / width:.6f}",
                                                                      f"{p[1] / height:.6f}", "2"]
        lines.append(" ".join(fields))
    return lines


def export_yolo(project: Project, out: str | os.PathLike, *, val_fraction: float = 0.2, seed: int = 0) -> Path:
    """Write the project's labelled images as a YOLO dataset under ``out``; return ``data.yaml``.

    Images are copied; an image named ``a.png`` beside ``a.jpg`` is renamed so that label files
    do not collide. Raises ``ValueError`` when nothing is labelled.
    """
    out = Path(out).resolve()
    labels = project.labelled()
    if not labels:
        raise ValueError(f"Expected labelled images in {project.root}, but none is labelled yet")
    train, val = split_names(list(labels), val_fraction=val_fraction, seed=seed)
    if not val:
        val = list(train)  # ultralytics needs a validation set; one image serves both
    n_kp = len(project.spec.keypoints)
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
            shutil.copyfile(project.image_path(name), image_dir / f"{stem}{Path(name).suffix}")
            text = "\n".join(label_lines(labels[name], n_keypoints=n_kp))
            (label_dir / f"{stem}.txt").write_text(text + ("\n" if text else ""))
    data = {"path": str(out), "train": "images/train", "val": "images/val",
            "names": dict(enumerate(project.spec.classes))}
    if n_kp:
        data.update(kpt_shape=[n_kp, 3], flip_idx=flip_indices(list(project.spec.keypoints)),
                    kpt_names={0: list(project.spec.keypoints)},
                    skeleton=[list(p) for p in project.spec.skeleton])
    target = out / "data.yaml"
    tmp = out / ".data.yaml.partial"
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, target)
    return target


def parse_label_file(path: Path, *, width: int, height: int, n_keypoints: int) -> list[dict]:
    """Instances of one YOLO label file, in pixels of a ``width`` × ``height`` image."""
    instances = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        expected = (5, 5 + 3 * n_keypoints, 5 + 2 * n_keypoints)
        if len(fields) not in expected:
            raise LabelError(f"Expected {expected[0]} or {expected[1]} fields at {path}:{number}, but got {len(fields)}")
        try:
            cls, values = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError:
            raise LabelError(f"Expected numbers at {path}:{number}, but got {line!r}") from None
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


def _split_images(data: dict, base: Path, key: str) -> list[Path]:
    entry = data.get(key)
    if entry is None:
        return []
    entries = entry if isinstance(entry, list) else [entry]
    images = []
    for item in entries:
        path = Path(item) if Path(item).is_absolute() else base / item
        if path.is_dir():
            images += sorted(p for p in path.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
        elif path.suffix == ".txt" and path.is_file():
            images += [Path(line) if Path(line).is_absolute() else base / line
                       for line in path.read_text().split() if line]
    return images


def import_yolo(source: str | os.PathLike, root: str | os.PathLike) -> tuple[Project, ImportReport]:
    """Read a YOLO dataset (its ``data.yaml`` or the folder holding it) into a project at ``root``."""
    from PIL import Image

    source = Path(source)
    yaml_path = source / "data.yaml" if source.is_dir() else source
    if not yaml_path.is_file():
        raise FileNotFoundError(f"Expected a YOLO data.yaml at {yaml_path}, but there is none")
    data = yaml.safe_load(yaml_path.read_text()) or {}
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names:
        raise LabelError(f"Expected 'names' in {yaml_path}, but got {data.get('names')!r}")
    n_kp = int(data.get("kpt_shape", [0])[0])
    kpt_names = data.get("kpt_names") or {}
    keypoints = list(kpt_names.get(0, kpt_names.get("0", []))) if isinstance(kpt_names, dict) else list(kpt_names)
    if len(keypoints) != n_kp:
        keypoints = [f"kp{i}" for i in range(n_kp)]
    base = Path(data.get("path") or yaml_path.parent)
    if not base.is_absolute():
        base = yaml_path.parent / base
    if not base.is_dir():  # a dataset moved since export: its own folder is the base
        base = yaml_path.parent
    project = Project.create(root, classes=names, keypoints=keypoints, skeleton=data.get("skeleton") or ())
    report = ImportReport()
    taken = set(project.images())
    seen: set[Path] = set()
    for key in ("train", "val", "test"):
        for image in _split_images(data, base, key):
            if image.resolve() in seen:
                continue
            seen.add(image.resolve())
            if not image.is_file():
                report.missing_images.append(str(image))
                continue
            label_file = label_path(image)
            with Image.open(image) as im:
                width, height = im.size
            instances = parse_label_file(label_file, width=width, height=height, n_keypoints=n_kp) \
                if label_file.is_file() else []
            ingest(project, image, instances, report=report, taken=taken,
                   origin={"imported_from": str(image)})
    project.save_meta()
    return project, report
