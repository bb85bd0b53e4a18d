"""DeepLabCut labels: ``CollectedData_<scorer>.csv`` into a keypoint project.

The CSV has three header rows (``scorer``, ``bodyparts``, ``coords``), or four in multi-animal
projects (``individuals`` after ``scorer``); then one row per image, whose first column is the image
path (``labeled-data/<video>/imgNNNN.png``) or whose first three columns are its parts. Empty cells
are missing points. Each individual becomes one instance of class ``animal`` with no box.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from .project import ImportReport, LabelError, Project, ingest


def _skeleton(csv_path: Path, bodyparts: list[str]) -> list[list[int]]:
    """The skeleton of the DLC project's ``config.yaml`` (two folders up), as keypoint indices."""
    import yaml

    for config in (csv_path.parent.parent.parent / "config.yaml", csv_path.parent / "config.yaml"):
        if config.is_file():
            try:
                data = yaml.safe_load(config.read_text()) or {}
            except yaml.YAMLError:
                return []
            pairs = data.get("skeleton") or []
            return [[bodyparts.index(a), bodyparts.index(b)] for a, b in pairs
                    if a in bodyparts and b in bodyparts]
    return []


def read_dlc_csv(path: str | os.PathLike) -> tuple[list[str], list[str], dict[str, dict[str, list]]]:
    """Parse a DLC CSV: ``(bodyparts, individuals, {image path: {individual: [[x, y] | None, ...]}})``."""
    path = Path(path)
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    heads = {row[0]: i for i, row in enumerate(rows[:4]) if row}
    if "bodyparts" not in heads or "coords" not in heads:
        raise LabelError(f"Expected header rows 'bodyparts' and 'coords' in {path}, but got "
                         f"{[r[0] for r in rows[:4] if r]}")
    coords_row = rows[heads["coords"]]
    first = next(i for i, v in enumerate(coords_row) if v in ("x", "y", "likelihood"))
    parts_row = rows[heads["bodyparts"]]
    ind_row = rows[heads["individuals"]] if "individuals" in heads else ["single"] * len(coords_row)
    bodyparts = list(dict.fromkeys(parts_row[first:]))
    individuals = list(dict.fromkeys(ind_row[first:]))
    columns = {}
    for col in range(first, len(coords_row)):
        if coords_row[col] in ("x", "y"):
            columns[(ind_row[col], parts_row[col], coords_row[col])] = col
    labels: dict[str, dict[str, list]] = {}
    for number, row in enumerate(rows[heads["coords"] + 1:], start=heads["coords"] + 2):
        if not row or not any(row):
            continue
        image = "/".join(v for v in row[:first] if v)
        per_ind = {}
        for ind in individuals:
            points = []
            for part in bodyparts:
                cells = [row[columns[(ind, part, c)]] if columns.get((ind, part, c), len(row)) < len(row) else ""
                         for c in ("x", "y")]
                if any(c.strip() == "" or c.strip().lower() == "nan" for c in cells):
                    points.append(None)
                    continue
                try:
                    points.append([float(cells[0]), float(cells[1])])
                except ValueError:
                    raise LabelError(f"Expected numbers at {path}:{number} for {part}, but got {cells}") from None
            per_ind[ind] = points
        labels[image] = per_ind
    return bodyparts, individuals, labels


def import_dlc(source: str | os.PathLike, root: str | os.PathLike, *,
               class_name: str = "animal") -> tuple[Project, ImportReport]:
    """Read a DLC ``CollectedData_*.csv`` (images beside it) into a keypoint project at ``root``."""
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"Expected a DeepLabCut CSV at {source}, but there is none")
    bodyparts, individuals, labels = read_dlc_csv(source)
    project = Project.create(root, classes=[class_name], keypoints=bodyparts,
                             skeleton=_skeleton(source, bodyparts))
    report = ImportReport()
    taken = set(project.images())
    dlc_root = source.parent.parent.parent
    for image_path, per_ind in labels.items():
        candidates = [dlc_root / image_path, source.parent / Path(image_path).name]
        image = next((c for c in candidates if c.is_file()), None)
        if image is None:
            report.missing_images.append(image_path)
            continue
        instances = [{"class": 0, "box": None, "keypoints": points}
                     for points in per_ind.values() if any(p is not None for p in points)]
        ingest(project, image, instances, report=report, taken=taken, origin={"imported_from": str(image)})
    project.save_meta()
    return project, report
