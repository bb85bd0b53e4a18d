"""Keypoint labels (one animal per image, pixels) to a YOLO pose dataset with a held-out split.

DeepLabCut-style projects label body parts only; a YOLO pose model also needs a box per animal. The
box here is the box around the labelled body parts, widened by a margin, since the body parts of a
mouse (snout, ears, tail base) lie on its outline and the animal's body fills the box between them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import yaml

from .. import schema


def keypoint_box(points: np.ndarray, *, width: int, height: int, margin: float = 0.15,
                 min_size: float = 16.0) -> np.ndarray | None:
    """The box (x1, y1, x2, y2, pixels) around the finite points ``(K, 2)``, widened and clipped.

    ``margin`` widens each side by that fraction of the points' extent; ``min_size`` (pixels) is the
    smallest side. None when no point is finite.
    """
    finite = np.isfinite(points).all(axis=1)
    if not finite.any():
        return None
    lo, hi = points[finite].min(axis=0), points[finite].max(axis=0)
    extent = np.maximum(hi - lo, min_size)
    centre = (lo + hi) / 2
    half = extent * (0.5 + margin)
    box = np.concatenate([centre - half, centre + half])
    return np.clip(box, 0, [width, height, width, height])


def write_pose_dataset(labels: dict[str, np.ndarray], folder: str | os.PathLike, *, keypoint_names: list[str],
                       name: str = "animal", val_fraction: float = 0.2, seed: int = 0,
                       flip_idx: list[int] | None = None, test_fraction: float = 0.0) -> Path:
    """Write a YOLO pose dataset (one object per image) and return its ``data.yaml``.

    Parameters
    ----------
    labels
        Image path -> ``(K, 2)`` keypoints in pixels of the data model (pixel centres at integers,
        as DLC and SLEAP label them), NaN where not labelled; written in YOLO's corner origin.
    folder
        Where ``images/{train,val}``, ``labels/{train,val}`` and ``data.yaml`` are written (images
        are copied).
    keypoint_names
        The K names, in order.
    val_fraction
        Fraction of images held out (chosen at random with ``seed``), at least one.
    flip_idx
        Keypoint order after a left-right flip (e.g. swapping left and right ear); identity by default.
    test_fraction
        Fraction of images in a ``test`` split (``images/test``), chosen at random with ``seed``
        among those not held out for validation, for figures nothing was selected on (none by default).
    """
    folder = Path(folder)
    images = sorted(labels)
    rng = np.random.default_rng(seed)
    n_val = max(1, round(len(images) * val_fraction))
    order = rng.permutation(len(images))
    held_out = set(order[:n_val].tolist())
    n_test = round(len(images) * test_fraction) if test_fraction > 0 else 0
    if n_val + n_test >= len(images):
        raise ValueError(f"Expected val_fraction + test_fraction to leave training images of {len(images)}, "
                         f"but got {val_fraction} + {test_fraction}")
    tested = set(order[n_val:n_val + n_test].tolist())
    k = len(keypoint_names)
    for index, image in enumerate(images):
        split = "val" if index in held_out else "test" if index in tested else "train"
        # the data model's pixel centres at integers -> YOLO's origin at the top-left pixel's corner
        points = schema.to_corner_origin(np.asarray(labels[image], dtype=float).reshape(k, 2))
        height, width = cv2.imread(str(image), cv2.IMREAD_UNCHANGED).shape[:2]
        target = folder / "images" / split / f"{index:05d}_{Path(image).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, target)
        label = folder / "labels" / split / target.with_suffix(".txt").name
        label.parent.mkdir(parents=True, exist_ok=True)
        box = keypoint_box(points, width=width, height=height)
        if box is None:
            label.write_text("")
            continue
        values = [(box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height,
                  (box[2] - box[0]) / width, (box[3] - box[1]) / height]
        for x, y in points:
            values += [0.0, 0.0, 0.0] if not np.isfinite([x, y]).all() else [x / width, y / height, 2.0]
        label.write_text("0 " + " ".join(f"{v:.6f}" for v in values) + "\n")
    data = {"path": ".", "train": "images/train", "val": "images/val", "names": [name],
            **({"test": "images/test"} if tested else {}),
            "kpt_shape": [k, 3], "flip_idx": flip_idx or list(range(k)),
            "kpt_names": {0: list(keypoint_names)}}
    path = folder / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
