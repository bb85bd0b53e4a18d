"""Near-free predictors for benchmarks/scale.py: the pipeline's cost without a network's.

Both follow :mod:`deepbehavior.models.base`'s contract and load as a ``module:Class`` backend
(``_scale_predictors:EmptyPredictor``) from a process whose ``sys.path`` holds ``benchmarks/``.
"""

from __future__ import annotations

import numpy as np

from deepbehavior import schema
from deepbehavior.models.base import ModelDescription, empty_slots

#: Keypoints :class:`BlobPosePredictor` reports: the dark blob's centroid, and its left- and rightmost columns.
BLOB_KEYPOINTS = ("centre", "left", "right")


class EmptyPredictor:
    """Boxes, none ever found: what remains of ``infer`` is decoding, batching and the stores."""

    def __init__(self, *, max_individuals: int = 1):
        self.slots = int(max_individuals)

    def describe(self) -> ModelDescription:
        return ModelDescription(kind=schema.BOXES, slots=self.slots, class_names=("mouse",))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["frames"])
        out = {k: v for k, v in batch.items() if k != "frames"}
        out.update(boxes=empty_slots(n, self.slots, 4), box_conf=empty_slots(n, self.slots),
                   class_index=empty_slots(n, self.slots))
        return out


class BlobPosePredictor:
    """One animal's pose from its dark pixels (grey below ``threshold``), whole batch at once in NumPy.

    A stand-in for a tiny network that still gives the later steps real tracks to work on: the
    synthetic mice (:func:`deepbehavior.synthetic.mice.render_session`) are dark on a light arena.
    A frame with no dark pixel has no detection (NaN).
    """

    def __init__(self, *, threshold: int = 100):
        self.threshold = int(threshold)

    def describe(self) -> ModelDescription:
        return ModelDescription(kind=schema.POSES, slots=1, class_names=("mouse",), keypoint_names=BLOB_KEYPOINTS)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = batch["frames"]
        n = len(frames)
        out = {k: v for k, v in batch.items() if k != "frames"}
        mask = frames[..., 1] < self.threshold  # (n, H, W); green channel as grey
        count = mask.sum(axis=(1, 2)).astype(np.float32)
        found = count > 0
        safe = np.where(found, count, 1.0)
        cols, rows = mask.any(axis=1), mask.any(axis=2)  # (n, W), (n, H)
        xs = np.arange(frames.shape[2], dtype=np.float32)
        ys = np.arange(frames.shape[1], dtype=np.float32)
        cx = (mask.sum(axis=1) * xs).sum(axis=1) / safe
        cy = (mask.sum(axis=2) * ys).sum(axis=1) / safe
        left = np.argmax(cols, axis=1).astype(np.float32)
        right = (frames.shape[2] - 1 - np.argmax(cols[:, ::-1], axis=1)).astype(np.float32)
        top = np.argmax(rows, axis=1).astype(np.float32)
        bottom = (frames.shape[1] - 1 - np.argmax(rows[:, ::-1], axis=1)).astype(np.float32)
        keypoints = empty_slots(n, 1, len(BLOB_KEYPOINTS), 2)
        keypoints[:, 0, :, 0] = np.stack([cx, left, right], axis=1) + 0.5  # pixel corners, as the contract says
        keypoints[:, 0, :, 1] = np.stack([cy, cy, cy], axis=1) + 0.5
        boxes = np.stack([left, top, right + 1, bottom + 1], axis=1)[:, None]
        conf = np.ones((n, 1), np.float32)
        keypoints[~found] = np.nan
        boxes[~found] = np.nan
        conf[~found] = np.nan
        kconf = np.repeat(conf[:, :, None], len(BLOB_KEYPOINTS), axis=2)
        out.update(keypoints=keypoints, keypoint_conf=kconf, boxes=boxes.astype(np.float32), box_conf=conf,
                   class_index=np.where(found, 0.0, np.nan).astype(np.float32)[:, None])
        return out
