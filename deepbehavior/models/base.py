"""The contract between a model and the inference pipeline.

A predictor is a plain callable class: it loads its model in ``__init__`` and maps a batch of frames
to a batch of predictions in ``__call__``. It is testable without Ray; Ray Data runs it as an actor.

Input batch (dict of NumPy arrays, ``N`` frames of one video)::

    frames  (N, height, width, 3) uint8, BGR (as OpenCV decodes)
    frame   (N,) int64 frame numbers
    (any other keys are passed through unchanged)

Output batch: the input without ``frames``, plus, for ``kind == schema.BOXES`` (``"bboxes"``)::

    boxes        (N, K, 4) float32  x1, y1, x2, y2 in pixels of the original frame; NaN where no box
    box_conf     (N, K) float32     NaN where no box
    class_index  (N, K) float32     NaN where no box

and for ``kind == schema.POSES``::

    keypoints      (N, K, P, 2) float32  x, y in pixels; NaN where missing
    keypoint_conf  (N, K, P) float32
    (optionally boxes / box_conf / class_index as above, for the person boxes)

``K`` is the number of slots (``max_individuals``), filled with the most confident detections
first. Pixels have (0, 0) at the top-left pixel's *corner*, as the labels models learn from;
:func:`.outputs.prediction_arrays` moves them to the data model's pixel-centre origin. ``describe()`` tells the pipeline what the store will hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .. import schema


@dataclass(frozen=True)
class ModelDescription:
    """What a model's stores hold: ``kind`` (:data:`deepbehavior.schema.POSES` or
    :data:`~deepbehavior.schema.BOXES`; ``"boxes"`` is accepted and stored as ``"bboxes"``), the
    slots per frame, and the names of its classes and keypoints."""

    kind: str
    slots: int
    class_names: tuple[str, ...] = ("object",)
    keypoint_names: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind == schema.BOXES_ALIAS:
            object.__setattr__(self, "kind", schema.BOXES)
        if self.kind not in schema.DS_TYPES:
            raise ValueError(f"Expected a model kind {schema.POSES!r} or {schema.BOXES!r}, but got {self.kind!r}")


class Predictor(Protocol):
    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def describe(self) -> ModelDescription: ...


def empty_slots(n_frames: int, slots: int, *extra: int) -> np.ndarray:
    """An all-NaN float32 array ``(n_frames, slots, *extra)``."""
    return np.full((n_frames, slots, *extra), np.nan, dtype=np.float32)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's intra-op threads of this thread at ``threads`` inside the block, as they were after it.

    A predictor's ``threads`` option applies to its own calls only: the host process (a notebook,
    another library's torch work) keeps its setting. ``None`` or ``0`` changes nothing. Setting the
    count costs well under a microsecond, so a predictor may do it around every batch.
    """
    if not threads:
        yield
        return
    import torch

    before = torch.get_num_threads()
    if before != threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
