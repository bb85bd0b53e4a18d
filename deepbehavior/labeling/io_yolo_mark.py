"""Yolo_mark / darknet datasets: ``obj.names``, ``obj.data``, ``train.txt`` and per-image ``.txt``.

``obj.names`` has one class per line (id = line number from 0); ``obj.data`` has ``classes=``,
``train=``, ``valid=``, ``names=``, ``backup=``; each image has a ``.txt`` beside it with lines
``class cx cy w h`` relative to the image size. Darknet resolves paths from the folder it is run
in, so ``train.txt`` paths such as ``data/img/x.jpg`` are looked up relative to the dataset folder,
its parent, and finally by file name in the ``img/`` folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .io_yolo import label_lines, parse_label_file
from .project import ImportReport, LabelError, Project, ingest, unique_name


def export_yolo_mark(project: Project, out: str | os.PathLike) -> Path:
    """Write the labelled images as a Yolo_mark dataset in ``out`` (images in ``img/``); return ``obj.data``."""
    out = Path(out).resolve()
    image_dir = out / "img"
    image_dir.mkdir(parents=True, exist_ok=True)
    listed, stems = [], set()
    for name, label in project.labelled().items():
        stem = unique_name(stems, Path(name).stem)
        stems.add(stem)
        target = image_dir / f"{stem}{Path(name).suffix}"
        shutil.copyfile(project.image_path(name), target)
        text = "\n".join(label_lines(label, n_keypoints=0))
        (image_dir / f"{stem}.txt").write_text(text + ("\n" if text else ""))
        listed.append(f"img/{target.name}")
    (out / "obj.names").write_text("".join(f"{c}\n" for c in project.spec.classes))
    (out / "train.txt").write_text("".join(f"{p}\n" for p in listed))
    data = (f"classes = {len(project.spec.classes)}\ntrain = {out / 'train.txt'}\nvalid = {out / 'train.txt'}\n"
            f"names = {out / 'obj.names'}\nbackup = backup/\n")
    (out / "obj.data").write_text(data)
    return out / "obj.data"


def _read_obj_data(path: Path) -> dict[str, str]:
    fields = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "=" not in line:
            raise LabelError(f"Expected key = value at {path}:{number}, but got {line!r}")
        key, value = line.split("=", 1)
        fields[key.strip()] = value.strip()
    return fields


def _locate(entry: str, folder: Path) -> Path | None:
    candidate = Path(entry)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    for base in (folder, folder.parent):
        if (base / candidate).is_file():
            return base / candidate
    for sub in ("img", "."):
        if (folder / sub / candidate.name).is_file():
            return folder / sub / candidate.name
    return None


def import_yolo_mark(source: str | os.PathLike, root: str | os.PathLike) -> tuple[Project, ImportReport]:
    """Read a Yolo_mark dataset (its folder or ``obj.data``) into a project at ``root``.

    Images listed in ``train.txt`` (and ``valid``) that are missing, and label files in the image
    folders without an image, are listed in the report; the rest is imported.
    """
    from PIL import Image

    source = Path(source)
    folder = source if source.is_dir() else source.parent
    data_file = source if source.is_file() else folder / "obj.data"
    fields = _read_obj_data(data_file) if data_file.is_file() else {}
    names_file = _locate(fields.get("names", "obj.names"), folder) or folder / "obj.names"
    if not names_file.is_file():
        raise FileNotFoundError(f"Expected class names at {names_file}, but there is no such file")
    classes = [line.strip() for line in names_file.read_text().splitlines() if line.strip()]
    if "classes" in fields and int(fields["classes"]) != len(classes):
        raise LabelError(f"Expected {fields['classes']} classes (obj.data) in {names_file}, but got {len(classes)}")
    lists = []
    for key in ("train", "valid"):
        located = _locate(fields.get(key, "train.txt" if key == "train" else ""), folder) \
            if fields.get(key, "train.txt" if key == "train" else "") else None
        if located and located not in lists:
            lists.append(located)
    entries = []
    for listing in lists:
        entries += [line.strip() for line in listing.read_text().splitlines() if line.strip()]
    project = Project.create(root, classes=classes)
    report = ImportReport()
    taken = set(project.images())
    used_labels, seen = set(), set()
    for entry in dict.fromkeys(entries):
        image = _locate(entry, folder)
        if image is None:
            report.missing_images.append(entry)
            continue
        if image.resolve() in seen:
            continue
        seen.add(image.resolve())
        label_file = image.with_suffix(".txt")
        used_labels.add(label_file.resolve())
        with Image.open(image) as im:
            width, height = im.size
        instances = parse_label_file(label_file, width=width, height=height, n_keypoints=0) \
            if label_file.is_file() else []
        ingest(project, image, instances, report=report, taken=taken, origin={"imported_from": str(image)})
    image_dirs = {p.parent for p in seen} or {folder / "img"}
    for directory in sorted(image_dirs):
        for label_file in sorted(directory.glob("*.txt")):
            if label_file.resolve() in used_labels or label_file.name in ("train.txt", "valid.txt", "test.txt"):
                continue
            has_image = any(label_file.with_suffix(s).is_file() for s in (".jpg", ".jpeg", ".png", ".bmp"))
            if not has_image:
                report.labels_without_images.append(label_file.name)
    project.save_meta()
    return project, report
