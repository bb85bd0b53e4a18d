"""COCO JSON (detection and keypoints): export a project's labels, import a COCO file.

Categories are the project's classes (ids from 1); every category carries the project's keypoint
names and skeleton (1-based, as COCO writes it). ``bbox`` is ``[x, y, width, height]`` in pixels;
keypoints are ``[x, y, v]`` per keypoint with ``v = 2`` placed and ``0, 0, 0`` missing. An instance
with keypoints only gets the box around them, since COCO tools expect a box. ``file_name`` is the
image's path relative to the JSON file's folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..store import write_atomic
from .project import ImportReport, LabelError, Project, box_from_keypoints, ingest


def export_coco(project: Project, path: str | os.PathLike) -> Path:
    """Write the labelled images of ``project`` as one COCO JSON file at ``path``."""
    path = Path(path).resolve()
    spec = project.spec
    categories = [{"id": i + 1, "name": name, "supercategory": "animal"} for i, name in enumerate(spec.classes)]
    if spec.keypoints:
        for cat in categories:
            cat["keypoints"] = list(spec.keypoints)
            cat["skeleton"] = [[a + 1, b + 1] for a, b in spec.skeleton]
    images, annotations = [], []
    for image_id, (name, label) in enumerate(project.labelled().items(), start=1):
        rel = os.path.relpath(project.image_path(name), path.parent)
        images.append({"id": image_id, "file_name": rel, "width": label["width"], "height": label["height"]})
        for inst in label["instances"]:
            box = inst["box"] or box_from_keypoints(inst["keypoints"], width=label["width"], height=label["height"])
            x1, y1, x2, y2 = box
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": inst["class"] + 1,
                   "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
            if spec.keypoints:
                flat = []
                for p in inst["keypoints"] or [None] * len(spec.keypoints):
                    flat += [0, 0, 0] if p is None else [p[0], p[1], 2]
                ann["keypoints"] = flat
                ann["num_keypoints"] = sum(1 for p in inst["keypoints"] or [] if p is not None)
            annotations.append(ann)
    data = {"info": {"description": f"deepbehavior labelling project {project.root.name}"},
            "images": images, "annotations": annotations, "categories": categories}
    write_atomic(path, json.dumps(data, indent=1) + "\n")
    return path


def import_coco(source: str | os.PathLike, root: str | os.PathLike, *,
                image_dir: str | os.PathLike | None = None) -> tuple[Project, ImportReport]:
    """Read a COCO JSON file into a project at ``root``.

    Images are looked up relative to the JSON file's folder (or ``image_dir``). Listed images
    that are missing are reported, not fatal.
    """
    source = Path(source)
    try:
        data = json.loads(source.read_text())
    except json.JSONDecodeError as exc:
        raise LabelError(f"Expected COCO JSON in {source}, but got: {exc}") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise LabelError(f"Expected a list '{key}' in {source}, but got {type(data.get(key)).__name__}")
    categories = sorted(data["categories"], key=lambda c: c["id"])
    class_of = {c["id"]: i for i, c in enumerate(categories)}
    with_kp = next((c for c in categories if c.get("keypoints")), None)
    keypoints = list(with_kp["keypoints"]) if with_kp else []
    skeleton = [[a - 1, b - 1] for a, b in with_kp.get("skeleton", [])] if with_kp else []
    project = Project.create(root, classes=[c["name"] for c in categories], keypoints=keypoints,
                             skeleton=skeleton)
    by_image: dict = {}
    for ann in data["annotations"]:
        if ann.get("category_id") not in class_of:
            raise LabelError(f"Expected category_id one of {sorted(class_of)} in {source}, but got {ann.get('category_id')}")
        by_image.setdefault(ann["image_id"], []).append(ann)
    base = Path(image_dir) if image_dir else source.parent
    report = ImportReport()
    taken = set(project.images())
    for image in data["images"]:
        file = Path(image["file_name"])
        file = file if file.is_absolute() else base / file
        if not file.is_file():
            report.missing_images.append(str(image["file_name"]))
            continue
        instances = []
        for ann in by_image.get(image["id"], []):
            x, y, w, h = ann["bbox"]
            points = None
            if keypoints and ann.get("keypoints"):
                flat = ann["keypoints"]
                points = [[flat[3 * k], flat[3 * k + 1]] if flat[3 * k + 2] > 0 else None
                          for k in range(len(keypoints))]
                if all(p is None for p in points):
                    points = None
            instances.append({"class": class_of[ann["category_id"]], "box": [x, y, x + w, y + h],
                              "keypoints": points})
        ingest(project, file, instances, report=report, taken=taken, origin={"imported_from": str(file)})
    project.save_meta()
    return project, report
