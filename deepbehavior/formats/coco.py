"""COCO JSON (detection and keypoints) labels: read and write.

Categories are the classes (ids from 1 when written); every category carries the keypoint names
and the skeleton (1-based, as COCO writes it). ``bbox`` is ``[x, y, width, height]`` in pixels;
keypoints are ``[x, y, v]`` per keypoint with ``v = 2`` placed and ``0, 0, 0`` missing. An instance
with keypoints only is written with the box around them, since COCO tools expect a box.
``file_name`` is the image's path relative to the JSON file's folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..files import write_atomic
from ._common import MAX_PIXELS, check_values, fail, read_text
from ._labels import LabelledImage, LabelSet
from .yolo import box_from_keypoints


def is_coco(path: Path) -> bool:
    """Whether ``path`` is a COCO JSON file (an object with ``images`` and ``annotations``)."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    with open(path, "rb") as handle:
        head = handle.read(65536).decode("utf-8", errors="replace")
    return head.lstrip().startswith("{") and '"images"' in head


def save_coco_labels(labels: LabelSet, path: str | os.PathLike, *, description: str = "") -> Path:
    """Write labelled images (with their ``width``/``height``) as one COCO JSON file at ``path``."""
    path = Path(path).resolve()
    categories = [{"id": i + 1, "name": name, "supercategory": "animal"} for i, name in enumerate(labels.classes)]
    if labels.keypoints:
        for cat in categories:
            cat["keypoints"] = list(labels.keypoints)
            cat["skeleton"] = [[a + 1, b + 1] for a, b in labels.skeleton]
    images, annotations = [], []
    for image_id, image in enumerate(labels.images, start=1):
        images.append({"id": image_id, "file_name": os.path.relpath(image.path, path.parent),
                       "width": image.width, "height": image.height})
        for inst in image.instances:
            box = inst["box"] or box_from_keypoints(inst["keypoints"], width=image.width, height=image.height)
            x1, y1, x2, y2 = box
            ann = {"id": len(annotations) + 1, "image_id": image_id, "category_id": inst["class"] + 1,
                   "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
            if labels.keypoints:
                flat = []
                for p in inst["keypoints"] or [None] * len(labels.keypoints):
                    flat += [0, 0, 0] if p is None else [p[0], p[1], 2]
                ann["keypoints"] = flat
                ann["num_keypoints"] = sum(1 for p in inst["keypoints"] or [] if p is not None)
            annotations.append(ann)
    data = {"info": {"description": description}, "images": images, "annotations": annotations,
            "categories": categories}
    write_atomic(path, json.dumps(data, indent=1) + "\n")
    return path


def _list(path, data: dict, key: str) -> list:
    if not isinstance(data.get(key), list):
        raise fail(path, f"'{key}'", "a list", type(data.get(key)).__name__)
    for i, item in enumerate(data[key]):
        if not isinstance(item, dict):
            raise fail(path, f"'{key}'[{i}]", "an object", item)
    return data[key]


def read_coco_labels(path: str | os.PathLike, *, image_dir: str | os.PathLike | None = None) -> LabelSet:
    """Read a COCO JSON file; images are looked up relative to its folder (or ``image_dir``).

    Listed images that are missing go to ``missing_images``.
    """
    path = Path(path)
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise fail(path, f"line {exc.lineno} column {exc.colno}", "valid JSON", exc.msg) from None
    except RecursionError:
        raise fail(path, "", "JSON nested less than a thousand deep", "deeper") from None
    if not isinstance(data, dict):
        raise fail(path, "", "a COCO object with images, annotations, categories", type(data).__name__)
    images, annotations, categories = (_list(path, data, k) for k in ("images", "annotations", "categories"))
    try:
        categories = sorted(categories, key=lambda c: c["id"])
        class_of = {c["id"]: i for i, c in enumerate(categories)}
        names = [str(c["name"]) for c in categories]
    except (KeyError, TypeError):
        raise fail(path, "'categories'", "objects with an 'id' and a 'name'", categories[:1]) from None
    with_kp = next((c for c in categories if c.get("keypoints")), None)
    if with_kp and not isinstance(with_kp["keypoints"], list):
        raise fail(path, "'categories', 'keypoints'", "a list of keypoint names", with_kp["keypoints"])
    keypoints = [str(k) for k in with_kp["keypoints"]] if with_kp else []
    try:
        skeleton = [[int(a) - 1, int(b) - 1] for a, b in with_kp.get("skeleton", [])] if with_kp else []
    except (TypeError, ValueError):
        raise fail(path, "'skeleton'", "pairs of keypoint numbers", with_kp.get("skeleton")) from None
    labels = LabelSet(classes=names, keypoints=keypoints, skeleton=skeleton)
    by_image: dict = {}
    for i, ann in enumerate(annotations):
        category = ann.get("category_id")
        if isinstance(category, (list, dict)) or category not in class_of:
            raise fail(path, f"annotation {i}, 'category_id'", f"one of {sorted(class_of)}", ann.get("category_id"))
        image_id = ann.get("image_id")
        if isinstance(image_id, bool) or not isinstance(image_id, (int, str)):
            raise fail(path, f"annotation {i}, 'image_id'", "an image id (an integer or a string)", image_id)
        by_image.setdefault(image_id, []).append((i, ann))
    base = Path(image_dir) if image_dir else path.parent
    for j, image in enumerate(images):
        name = image.get("file_name")
        if not isinstance(name, str):
            raise fail(path, f"image {j}, 'file_name'", "a path", name)
        file = Path(name) if Path(name).is_absolute() else base / name
        if not file.is_file():
            labels.missing_images.append(name)
            continue
        instances = []
        image_id = image.get("id")
        if isinstance(image_id, bool) or not isinstance(image_id, (int, str)):
            raise fail(path, f"image {j}, 'id'", "an image id (an integer or a string)", image_id)
        for i, ann in by_image.get(image_id, []):
            bbox = ann.get("bbox")
            if not isinstance(bbox, list) or len(bbox) != 4 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox):
                raise fail(path, f"annotation {i}, 'bbox'", "[x, y, width, height] (numbers)", bbox)
            check_values(path, f"annotation {i}, 'bbox'", bbox, low=-MAX_PIXELS, high=MAX_PIXELS, unit="px")
            x, y, w, h = (float(v) for v in bbox)
            points = None
            flat = ann.get("keypoints")
            if keypoints and flat:
                if not isinstance(flat, list) or len(flat) != 3 * len(keypoints):
                    raise fail(path, f"annotation {i}, 'keypoints'", f"{3 * len(keypoints)} values", flat)
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
                    raise fail(path, f"annotation {i}, 'keypoints'", "numbers", flat)
                check_values(path, f"annotation {i}, 'keypoints'", flat, low=-MAX_PIXELS, high=MAX_PIXELS)
                points = [[float(flat[3 * k]), float(flat[3 * k + 1])] if flat[3 * k + 2] > 0 else None
                          for k in range(len(keypoints))]
                if all(p is None for p in points):
                    points = None
            instances.append({"class": class_of[ann["category_id"]], "box": [x, y, x + w, y + h],
                              "keypoints": points})
        labels.images.append(LabelledImage(file, instances))
    return labels.check(path)
