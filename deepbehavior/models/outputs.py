"""A model's raw output as datasets of the schema: the empty store of a model, one shard's predictions.

The predictor contract (:mod:`deepbehavior.models.base`) gives arrays ``(frame, slot, …)`` in pixels;
these functions turn them into the ``poses``/``bboxes`` layout of :mod:`deepbehavior.schema`. They sit
next to the models so anything that produces predictions (the inference runtime, synthetic data)
writes stores the same way without importing the scheduler.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .. import schema
from .base import ModelDescription

__all__ = ["store_template", "predictions_to_part"]


def store_template(description: ModelDescription, *, n_frames: int, fps: float, views: list[str]) -> xr.Dataset:
    """An all-missing dataset shaped for a model's output over ``n_frames`` frames of ``views``."""
    slots, n_views = description.slots, len(views)
    if description.kind == schema.POSES:
        n_kpt = len(description.keypoint_names)
        return schema.make_poses(
            np.full((n_frames, 2, n_kpt, slots, n_views), np.nan, np.float32),
            np.full((n_frames, n_kpt, slots, n_views), np.nan, np.float32),
            fps=fps, keypoints=description.keypoint_names, views=views,
            individuals=[f"slot{i}" for i in range(slots)], individuals_are=schema.SLOTS,
        )
    nan = np.full((n_frames, 2, slots, n_views), np.nan, np.float32)
    return schema.make_boxes(nan, nan, np.full((n_frames, slots, n_views), np.nan, np.float32),
                             np.full((n_frames, slots, n_views), np.nan, np.float32),
                             fps=fps, views=views, class_names=description.class_names)


def predictions_to_part(kind: str, results: dict[str, np.ndarray], frames: np.ndarray, fps: float) -> xr.Dataset:
    """One shard's predictions (arrays ``(frame, slot, …)``) as a dataset of the store's schema.

    Predictors give pixels with (0, 0) the top-left pixel's corner, the origin of the labels they
    learn from (YOLO, COCO, the labelling app; MediaPipe's normalised coordinates too); the store's
    origin is the pixel's centre (:mod:`deepbehavior.schema`), so positions move by -0.5 px here.
    """
    if kind == schema.POSES:
        keypoints = schema.from_corner_origin(results["keypoints"])
        position = np.transpose(keypoints, (0, 3, 2, 1))  # (time, slot, keypoint, space) → schema
        confidence = np.transpose(results["keypoint_conf"], (0, 2, 1))  # (time, keypoint, slot)
        return schema.make_poses(position, confidence, fps=fps, time=frames, individuals_are=schema.SLOTS)
    xyxy = results["boxes"]
    centre = np.moveaxis(schema.from_corner_origin((xyxy[..., :2] + xyxy[..., 2:]) / 2), -1, 1)  # (time, space, slot)
    size = np.moveaxis(xyxy[..., 2:] - xyxy[..., :2], -1, 1)
    return schema.make_boxes(centre, size, results["box_conf"], results["class_index"], fps=fps, time=frames)
