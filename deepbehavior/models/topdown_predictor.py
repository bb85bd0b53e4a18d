"""The top-down keypoint model (:mod:`.topdown`) as an inference backend (see :mod:`.base`)."""

from __future__ import annotations

import numpy as np

from .. import schema
from .base import ModelDescription, torch_threads


class TopDownPredictor:
    """A trained top-down checkpoint applied to batches of frames: one slot per animal found.

    Parameters
    ----------
    weights
        A top-down checkpoint (``weights/best.pt`` of ``deepbehavior train`` on a keypoint dataset).
    max_individuals
        Slots per frame, most confident animal first.
    conf
        Lowest centroid peak (0..1) that counts as an animal.
    device
        ``auto``, ``cpu`` or ``cuda:N``.
    threads
        Torch CPU threads of each call (None: the caller's setting); the process's own setting is
        put back after each call.
    """

    def __init__(self, weights: str, *, max_individuals: int = 1, conf: float = 0.1, device: str = "auto",
                 threads: int | None = None, **_ignored):
        from .topdown import load_checkpoint
        from .yolo import pick_device

        self.threads = threads
        self.kwargs = dict(weights=str(weights), max_individuals=max_individuals, conf=conf, device=device,
                           threads=threads)
        self.model = load_checkpoint(weights, device=pick_device(device))
        self.slots, self.conf, self.weights = int(max_individuals), float(conf), str(weights)

    def __getstate__(self) -> dict:
        return dict(self.kwargs)

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        self.__init__(state.pop("weights"), **state)

    def describe(self) -> ModelDescription:
        return ModelDescription(kind=schema.POSES, slots=self.slots, class_names=("animal",),
                                keypoint_names=self.model.keypoint_names,
                                metadata={"weights": self.weights, "backend": "topdown",
                                          "window_px": self.model.settings.window,
                                          "crop_size": self.model.settings.crop_size,
                                          **self._part_checks()})

    def _part_checks(self) -> dict:
        """The training labels' identity checks (parts kept apart, pairs on their sides), for the quality
        report of ``deepbehavior track`` (``deepbehavior.tracking.part_checks``); none for older models."""
        recipe = self.model.metadata.get("recipe")
        if not recipe:
            return {}
        return {"recipe": {k: recipe[k] for k in ("mode", "rotation", "flip", "flip_pairs", "views")},
                "part_checks": {"keypoints": list(self.model.keypoint_names),
                                "collapse_px": [list(c) for c in recipe.get("collapse_px") or []],
                                "side_checks": [list(c) for c in recipe.get("side_checks") or []]}}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = batch["frames"]
        out = {k: v for k, v in batch.items() if k != "frames"}
        with torch_threads(self.threads):
            pred = self.model.predict(np.asarray(frames), max_individuals=self.slots, min_confidence=self.conf)
        out.update(keypoints=pred["keypoints"], keypoint_conf=pred["keypoint_conf"])
        return out
