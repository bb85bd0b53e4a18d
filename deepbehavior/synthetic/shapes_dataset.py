"""A tiny YOLO-layout dataset with known answers, for tests, benchmarks and trying the train job.

Bright shapes on a dark noisy background: class ``rectangle`` and class ``ellipse`` for detection,
and for keypoints a bright triangle whose three corners (top, bottom-left, bottom-right) are the
keypoints. Every box and keypoint is exact, so a trained model can be scored against them.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import yaml


def _draw_object(image: np.ndarray, rng: np.random.Generator, kind: str) -> tuple[list[float], list[float]]:
    """Draw one object; return its box (x1, y1, x2, y2, pixels) and keypoints (x, y per keypoint)."""
    h, w = image.shape[:2]
    bw, bh = rng.uniform(0.2, 0.45) * w, rng.uniform(0.2, 0.45) * h
    x1, y1 = rng.uniform(2, w - bw - 2), rng.uniform(2, h - bh - 2)
    x2, y2 = x1 + bw, y1 + bh
    colour = tuple(int(c) for c in rng.integers(170, 256, size=3))
    keypoints: list[float] = []
    if kind == "rectangle":
        cv2.rectangle(image, (round(x1), round(y1)), (round(x2), round(y2)), colour, thickness=-1)
    elif kind == "ellipse":
        centre = (round((x1 + x2) / 2), round((y1 + y2) / 2))
        cv2.ellipse(image, centre, (round(bw / 2), round(bh / 2)), 0, 0, 360, colour, thickness=-1)
    else:  # triangle with keypoints at its corners
        corners = np.array([[(x1 + x2) / 2, y1], [x1, y2], [x2, y2]])
        cv2.fillPoly(image, [np.round(corners).astype(np.int32)], colour)
        keypoints = corners.ravel().tolist()
    return [x1, y1, x2, y2], keypoints


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
