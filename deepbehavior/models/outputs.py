"""A model's raw output in the schema's layout: the empty store of a model, one shard's predictions.

The predictor contract (:mod:`deepbehavior.models.base`) gives arrays ``(frame, slot, …)`` in pixels;
these functions turn them into the ``poses``/``bboxes`` layout of :mod:`deepbehavior.schema`. They sit
next to the models so anything that produces predictions (the inference runtime, synthetic data)
writes stores the same way without importing the scheduler. Inference writes with
:func:`store_parts` and :func:`prediction_arrays`, plain arrays that the store layer writes with Zarr
alone (``store_parts(...).dataset()`` is the empty store as a dataset); :func:`predictions_to_part`
is a shard's predictions as a dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .. import schema
from .base import ModelDescription

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["store_parts", "prediction_arrays", "predictions_to_part"]


def store_parts(description: ModelDescription, *, n_frames: int, fps: float, views: list[str]) -> schema.Parts:
    """The parts (:class:`deepbehavior.schema.Parts`) of an all-missing dataset shaped for a model's
    output over ``n_frames`` frames of ``views``; its data are read-only views of one NaN."""
    slots, n_views = description.slots, len(views)

    def nan(*shape: int) -> np.ndarray:
        return np.broadcast_to(np.float32(np.nan), shape)

    if description.kind == schema.POSES:
        n_kpt = len(description.keypoint_names)
        return schema.pose_parts(
            nan(n_frames, 2, n_kpt, slots, n_views), nan(n_frames, n_kpt, slots, n_views),
            fps=fps, keypoints=description.keypoint_names, views=views,
            individuals=[f"slot{i}" for i in range(slots)], individuals_are=schema.SLOTS,
        )
    return schema.box_parts(nan(n_frames, 2, slots, n_views), nan(n_frames, 2, slots, n_views),
                            nan(n_frames, slots, n_views), nan(n_frames, slots, n_views),
                            fps=fps, views=views, class_names=description.class_names)


def prediction_arrays(kind: str, results: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One shard's predictions (arrays ``(frame, slot, …)``) as the data variables of the store's
    schema, float32, each in its dimension order (:data:`deepbehavior.schema.POSE_DIMS`,
    :data:`~deepbehavior.schema.BOX_DIMS`), ``frame`` first.

    Predictors give pixels with (0, 0) the top-left pixel's corner, the origin of the labels they
    learn from (YOLO, COCO, the labelling app; MediaPipe's normalised coordinates too); the store's
    origin is the pixel's centre (:mod:`deepbehavior.schema`), so positions move by -0.5 px here.
    """
    if kind == schema.POSES:
        keypoints = schema.from_corner_origin(results["keypoints"])
        arrays = {"position": np.transpose(keypoints, (0, 3, 2, 1)),  # (time, slot, keypoint, space) → schema
                  "confidence": np.transpose(results["keypoint_conf"], (0, 2, 1))}  # (time, keypoint, slot)
    else:
        xyxy = results["boxes"]
        arrays = {"position": np.moveaxis(schema.from_corner_origin((xyxy[..., :2] + xyxy[..., 2:]) / 2), -1, 1),
                  "shape": np.moveaxis(xyxy[..., 2:] - xyxy[..., :2], -1, 1),  # (time, space, slot)
                  "confidence": results["box_conf"], "class_index": results["class_index"]}
    return {name: np.asarray(array, dtype=np.float32) for name, array in arrays.items()}


def predictions_to_part(kind: str, results: dict[str, np.ndarray], frames: np.ndarray, fps: float) -> xr.Dataset:
    """One shard's predictions as a dataset of the store's schema (:func:`prediction_arrays`), its
    ``time`` the frames ``frames`` at ``fps``."""
    arrays = prediction_arrays(kind, results)
    if kind == schema.POSES:
        return schema.make_poses(arrays["position"], arrays["confidence"], fps=fps, time=frames,
                                 individuals_are=schema.SLOTS)
    return schema.make_boxes(arrays["position"], arrays["shape"], arrays["confidence"], arrays["class_index"],
                             fps=fps, time=frames)
