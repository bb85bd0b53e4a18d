"""The two Ray Data stages of inference, run on the workers: decoding and prediction.

Kept apart from the driver's code (planning, stores, xarray, Zarr) so that a worker imports only
what it runs: every import here is paid again by each reader and predictor process at start.
"""

from __future__ import annotations

import importlib
import pickle
import time
import traceback

import numpy as np

from ..video import iter_frames

BACKENDS = {
    "yolo": "deepbehavior.models.yolo:YoloPredictor",  # ultralytics detection or pose, raw keypoints
    "yolo_pose": "deepbehavior.models.yolo_pose:YoloPosePredictor",  # COCO-17 people → OpenPose layout
    "mediapipe": "deepbehavior.models.mediapipe_pose:MediaPipeHolisticPredictor",  # body + hands, offline
}


def load_backend(name: str) -> type:
    """The predictor class registered as ``name`` (or given as ``module:Class``)."""
    target = BACKENDS.get(name, name)
    if ":" not in target:
        raise ValueError(f"Expected a model backend among {sorted(BACKENDS)} or 'module:Class', but got {name!r}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def decode_shard(batch: dict, *, frames_per_batch: int, retries: int):
    """Ray Data UDF: one shard in, its frames out as batches of ``frames_per_batch``.

    Each output row holds a whole batch of frames (``frames`` of shape ``(1, B, H, W, 3)``), so a
    predictor call never mixes videos. A shard that cannot be read after ``retries`` retries comes
    out as one row with its ``error``.
    """
    index = int(batch["shard"][0])
    video, start, stop = str(batch["video"][0]), int(batch["start"][0]), int(batch["stop"][0])
    for attempt in range(retries + 1):
        sent = 0
        try:
            chunk: list[np.ndarray] = []
            for frame in iter_frames(video, start, stop):
                chunk.append(frame)
                if len(chunk) == frames_per_batch:
                    yield _frame_row(index, start + sent, chunk)
                    sent += len(chunk)
                    chunk = []
            if chunk:
                yield _frame_row(index, start + sent, chunk)
            return
        except Exception as exc:  # noqa: BLE001 - any decoding failure is reported per shard
            if attempt == retries:
                yield {"shard": np.array([index]), "first": np.array([start]), "count": np.array([0]),
                       "frames": np.zeros((1, 0, 1, 1, 3), np.uint8),
                       "error": np.array([f"{type(exc).__name__}: {exc} (after {retries + 1} attempts)"])}
            else:
                time.sleep(0.5 * (attempt + 1))


def _frame_row(index: int, first: int, frames: list[np.ndarray]) -> dict:
    return {"shard": np.array([index]), "first": np.array([first]), "count": np.array([len(frames)]),
            "frames": np.stack(frames)[None], "error": np.array([""])}


class PredictStage:
    """Ray Data actor: runs a predictor on each row's batch of frames; errors become rows.

    The predictions (a dict of arrays whose keys depend on the backend) travel as one pickled
    ``bytes`` cell, ``result``: Arrow stores bytes as they are, where a column of dicts would
    first fail to convert and then be pickled anyway, with a warning each time.
    """

    def __init__(self, backend: str, kwargs: dict):
        self.predictor = load_backend(backend)(**kwargs)

    def __call__(self, row: dict) -> dict:
        out = {"shard": row["shard"], "first": row["first"], "count": row["count"], "error": row["error"]}
        if row["error"][0] or int(row["count"][0]) == 0:
            return out | {"result": np.array([b""], dtype=object)}
        first, count = int(row["first"][0]), int(row["count"][0])
        try:
            result = self.predictor({"frames": row["frames"][0], "frame": np.arange(first, first + count)})
            result.pop("frame", None)
            return out | {"result": np.array([pickle.dumps(result, protocol=5)], dtype=object)}
        except Exception as exc:  # noqa: BLE001 - reported as this shard's failure
            message = f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=2).splitlines()[-1]}"
            return out | {"error": np.array([message]), "result": np.array([b""], dtype=object)}
