"""ultralytics human pose models (COCO-17 keypoints, several people) in the OpenPose layout.

Runs any ultralytics pose checkpoint whose keypoints are COCO's 17 person points (``yolo11n-pose.pt``
… ``yolo11x-pose.pt``, ``yolov8*-pose.pt``, or one trained on COCO-keypoints-shaped data) through
:class:`~deepbehavior.models.yolo.YoloPredictor` and maps its points to BODY_25 + both hands
(67 points, :mod:`.pose_layout`). COCO has no hands and no feet: those points are NaN; Neck and
MidHip are derived. Each detected person is one slot, most confident first. A pose model whose
keypoints are not COCO's person points (its ``kpt_names`` say otherwise, or it has not 17) is run as
it is, with its own keypoint names.
"""

from __future__ import annotations

import numpy as np

from .. import schema
from . import pose_layout
from .base import ModelDescription
from .yolo import YoloPredictor


class YoloPosePredictor:
    """An ultralytics COCO-17 pose model on batches of frames, as 67 OpenPose-layout keypoints.

    Parameters
    ----------
    weights
        A pose ``.pt`` file, a name ultralytics knows (downloaded by ultralytics when online), or an
        architecture ``.yaml`` (random weights: useful for tests and speed measurements only).
    imgsz
        Longer side of the network input, pixels (a multiple of 32).
    conf, iou
        Person confidence threshold and IoU of non-maximum suppression.
    max_individuals
        Slots kept per frame (people), most confident first.
    device
        ``auto``, ``cpu`` or ``cuda:N``.
    half
        float16 on CUDA.
    bfloat16
        Convolutions in bfloat16 (see :class:`YoloPredictor`).
    threads
        Torch CPU threads (None: torch's default).
    """

    def __init__(self, weights: str, *, imgsz: int = 640, conf: float = 0.25, iou: float = 0.7,
                 max_individuals: int = 4, device: str = "auto", half: bool = False,
                 bfloat16: bool = False, threads: int | None = None):
        self.kwargs = dict(weights=str(weights), imgsz=imgsz, conf=conf, iou=iou, max_individuals=max_individuals,
                           device=device, half=half, bfloat16=bfloat16, threads=threads)
        self._model = YoloPredictor(**self.kwargs)
        if self._model.task != "pose":
            raise ValueError(f"Expected a pose model in {weights}, but got task {self._model.task!r}")
        # the OpenPose layout only for COCO's person points; any other model keeps its own names
        # (a 17-point animal model is not a person)
        own = self._model.kpt_names
        self.person = tuple(self._model.kpt_shape)[:1] == (len(pose_layout.COCO_17),) and \
            (own is None or tuple(n.lower() for n in own) == pose_layout.COCO_17)

    def __getstate__(self) -> dict:
        return dict(self.kwargs)

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        self.__init__(state.pop("weights"), **state)

    def describe(self) -> ModelDescription:
        inner = self._model.describe()
        if not self.person:
            return ModelDescription(kind=schema.POSES, slots=inner.slots, class_names=inner.class_names,
                                    keypoint_names=inner.keypoint_names,
                                    metadata={**inner.metadata, "layout": "the model's own keypoints (not COCO "
                                              "person points: no OpenPose mapping)", "backend": "yolo_pose"})
        return ModelDescription(
            kind=schema.POSES,
            slots=inner.slots,
            class_names=inner.class_names,
            keypoint_names=pose_layout.KEYPOINT_NAMES,
            metadata={
                **inner.metadata,
                "layout": pose_layout.LAYOUT,
                "derived": list(pose_layout.derived_points("coco17")),
                "backend": "yolo_pose",
            },
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self._model(batch)
        if not self.person:
            return out
        out["keypoints"], out["keypoint_conf"] = pose_layout.to_layout(
            out["keypoints"], out["keypoint_conf"], source="coco17")
        return out
