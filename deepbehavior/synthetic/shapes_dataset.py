"""A tiny YOLO-layout dataset with known answers, for tests, benchmarks and trying the train job.

Bright shapes on a dark noisy background: class ``rectangle`` and class ``ellipse`` for detection,
and for keypoints a bright triangle whose three corners (top, bottom-left, bottom-right) are the
keypoints. Every box and keypoint is exact (the box is the outer edges of the drawn pixels, in the
labels' corner origin), so a trained model can be scored against them.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import yaml

from .. import schema


def _draw_object(image: np.ndarray, rng: np.random.Generator, kind: str) -> tuple[list[float], list[float]]:
    """Draw one object; return its box and keypoints as a YOLO label file holds them (pixels, corner origin).

    The shape is drawn on whole pixels: its first and last columns and rows are integer pixel
    centres (this data model's convention, :mod:`deepbehavior.schema`), and ``cv2`` fills both ends
    (a shape from column ``left`` to ``right`` covers ``right - left + 1`` pixels). The box is the
    outer edges of those pixels, ``[left - 0.5, right + 0.5]``; it and the keypoints (corners of the
    triangle, at pixel centres) are returned in the corner origin of YOLO labels
    (:func:`deepbehavior.schema.to_corner_origin`): box ``(x0, y0, x1, y1)``, keypoints ``x, y`` each.
    """
    h, w = image.shape[:2]
    bw, bh = round(rng.uniform(0.2, 0.45) * w), round(rng.uniform(0.2, 0.45) * h)  # pixels covered
    left, top = round(rng.uniform(2, w - bw - 2)), round(rng.uniform(2, h - bh - 2))
    right, bottom = left + bw - 1, top + bh - 1  # last column and row, inclusive
    colour = tuple(int(c) for c in rng.integers(170, 256, size=3))
    keypoints: list[float] = []
    if kind == "rectangle":
        cv2.rectangle(image, (left, top), (right, bottom), colour, thickness=-1)
    elif kind == "ellipse":  # an odd number of pixels across, centred on a pixel
        a, b = (bw - 1) // 2, (bh - 1) // 2
        cv2.ellipse(image, (left + a, top + b), (a, b), 0, 0, 360, colour, thickness=-1)
        right, bottom = left + 2 * a, top + 2 * b
    else:  # triangle with keypoints at its corners
        corners = np.array([[(left + right) // 2, top], [left, bottom], [right, bottom]])
        cv2.fillPoly(image, [corners.astype(np.int32)], colour)
        keypoints = schema.to_corner_origin(corners).ravel().tolist()
    box = schema.to_corner_origin([left - 0.5, top - 0.5, right + 0.5, bottom + 0.5])
    return box.tolist(), keypoints


def write_synthetic_dataset(
    folder: str | os.PathLike,
    *,
    kind: str = "detect",
    classes: int = 1,
    images: int = 24,
    val_images: int = 8,
    size: int = 128,
    objects: int = 1,
    seed: int = 0,
) -> Path:
    """Write a synthetic YOLO dataset into ``folder``; return the path of its ``data.yaml``.

    Parameters
    ----------
    folder
        Where to write ``images/{train,val}``, ``labels/{train,val}`` and ``data.yaml``.
    kind
        ``"detect"`` (rectangles, and ellipses when ``classes`` is 2) or ``"pose"`` (triangles with 3
        keypoints, ``kpt_shape: [3, 3]``).
    classes
        1 or 2 (detection only).
    images, val_images
        Number of training and validation images.
    size
        Image width and height, pixels.
    objects
        Objects per image; they may overlap.
    seed
        Seed of the random generator; the same seed writes the same files.
    """
    if kind not in ("detect", "pose"):
        raise ValueError(f"Expected kind 'detect' or 'pose', but got {kind!r}")
    if classes not in (1, 2) or (kind == "pose" and classes != 1):
        raise ValueError(f"Expected classes 1 or 2 (1 for pose), but got {classes}")
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    kinds = ["triangle"] if kind == "pose" else ["rectangle", "ellipse"][:classes]
    for split, count in (("train", images), ("val", val_images)):
        (folder / "images" / split).mkdir(parents=True, exist_ok=True)
        (folder / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
            lines = []
            for _ in range(objects):
                cls = int(rng.integers(len(kinds)))
                (x1, y1, x2, y2), kpts = _draw_object(image, rng, kinds[cls])
                values = [(x1 + x2) / 2 / size, (y1 + y2) / 2 / size, (x2 - x1) / size, (y2 - y1) / size]
                for j in range(0, len(kpts), 2):
                    values += [kpts[j] / size, kpts[j + 1] / size, 2.0]
                lines.append(" ".join([str(cls)] + [f"{v:.6f}" for v in values]))
            cv2.imwrite(str(folder / "images" / split / f"{split}{i:04d}.png"), image)
            (folder / "labels" / split / f"{split}{i:04d}.txt").write_text("\n".join(lines) + "\n")
    data = {"path": ".", "train": "images/train", "val": "images/val", "names": kinds}
    if kind == "pose":
        data["kpt_shape"] = [3, 3]
        data["flip_idx"] = [0, 2, 1]
        data["kpt_names"] = {0: ["top", "left", "right"]}
    path = folder / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
