"""The Ray Data stages of inference, run on the workers: decoding, prediction, or both in one.

With GPUs, decoding tasks on the CPUs feed predictor actors on the GPUs (:func:`decode_shard`,
:class:`PredictStage`). Without, one actor per node does both (:class:`ReadAndPredict`): a thread
reads the next frames while the network runs, and frames never leave the process.

Kept apart from the driver's code (planning, stores, xarray, Zarr) so that a worker imports only
what it runs: every import here is paid again by each reader and predictor process at start.
"""

from __future__ import annotations

import importlib
import pickle
import queue
import threading
import time
import traceback
from collections.abc import Iterator

import numpy as np

from ..config import PredictConfig, parse_threads
from ..video import iter_frame_batches, set_decoder_log

BACKENDS = {
    "yolo": "deepbehavior.models.yolo:YoloPredictor",  # ultralytics detection or pose, raw keypoints
    "yolo_pose": "deepbehavior.models.yolo_pose:YoloPosePredictor",  # COCO-17 people → OpenPose layout
    "mediapipe": "deepbehavior.models.mediapipe_pose:MediaPipeHolisticPredictor",  # body + hands, offline
    "topdown": "deepbehavior.models.topdown_predictor:TopDownPredictor",  # animals' keypoints, ours
}


#: Backends whose predictors take ``threads`` (torch CPU threads): the runtime gives each, unless
#: the options name a number, one thread per CPU its predictor holds.
THREADED_BACKENDS = frozenset({"yolo", "yolo_pose", "topdown"})


def predictor_kwargs(model: PredictConfig, backend: str | None = None) -> dict:
    """Constructor arguments of ``backend``'s predictor (default ``model.backend``) from the ``model``
    config: the fields that backend takes, then ``model.options``. ``threads`` is ``model.threads``
    when that is a number; on ``auto`` it is left to the runtime (:data:`THREADED_BACKENDS`,
    :func:`.threads.choose_threads`) unless the options set it."""
    kwargs = _predictor_kwargs(model, backend or model.backend)
    threads = parse_threads(model.threads, name="model.threads")
    if threads and (backend or model.backend) in THREADED_BACKENDS and kwargs.get("threads") is None:
        kwargs["threads"] = threads
    return kwargs


def _predictor_kwargs(model: PredictConfig, backend: str) -> dict:
    """:func:`predictor_kwargs` before ``model.threads``."""
    from pathlib import Path

    weights = Path(model.weights).expanduser()
    if backend == "topdown":
        return {"weights": str(weights), "max_individuals": model.max_individuals, "conf": model.conf,
                "device": model.device, **model.options}
    if backend == "mediapipe":  # max_individuals above 1 gives its several-people predictor
        from ..models.mediapipe_pose import require_mediapipe

        require_mediapipe()  # not installed: one line saying what to install, before anything starts
        return {"max_individuals": model.max_individuals, **model.options}
    if backend not in ("yolo", "yolo_pose"):
        return dict(model.options)
    return {"weights": str(weights) if Path(model.weights).suffix else model.weights, "imgsz": model.imgsz,
            "conf": model.conf, "iou": model.iou, "max_individuals": model.max_individuals,
            "device": model.device, "half": model.half,
            # only when on: stores made before this setting existed keep their fingerprint
            **({"bfloat16": True} if model.bfloat16 else {}), **model.options}


def with_threads(backend: str, kwargs: dict, threads: int) -> dict:
    """``kwargs`` with ``threads`` for a :data:`THREADED_BACKENDS` predictor that has none set."""
    if backend in THREADED_BACKENDS and kwargs.get("threads") is None:
        return kwargs | {"threads": int(threads)}
    return kwargs


def load_backend(name: str) -> type:
    """The predictor class registered as ``name`` (or given as ``module:Class``)."""
    target = BACKENDS.get(name, name)
    if ":" not in target:
        raise ValueError(f"Expected a model backend among {sorted(BACKENDS)} or 'module:Class', but got {name!r}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def decode_shard(batch: dict, *, frames_per_batch: int, retries: int, decoder_log: str | None = None):
    """Ray Data UDF: one shard in, its frames out as batches of ``frames_per_batch``.

    Each output row holds a whole batch of frames (``frames`` of shape ``(1, B, H, W, 3)``), so a
    predictor call never mixes videos. A shard that cannot be read after ``retries`` retries comes
    out as one row with its ``error``. The decoder's messages go to ``decoder_log`` (the job's,
    when given; see :func:`deepbehavior.video.set_decoder_log`), one console line per damaged file.
    """
    if decoder_log:
        set_decoder_log(decoder_log)
    index = int(batch["shard"][0])
    video, start, stop = str(batch["video"][0]), int(batch["start"][0]), int(batch["stop"][0])
    for attempt in range(retries + 1):
        try:
            first = start
            for frames in iter_frame_batches(video, start, stop, frames_per_batch):
                yield _frame_row(index, first, frames)
                first += len(frames)
            return
        except Exception as exc:  # noqa: BLE001 - any decoding failure is reported per shard
            if attempt == retries:
                yield {"shard": np.array([index]), "first": np.array([start]), "count": np.array([0]),
                       "frames": np.zeros((1, 0, 1, 1, 3), np.uint8),
                       "error": np.array([f"{type(exc).__name__}: {exc} (after {retries + 1} attempts)"])}
            else:
                time.sleep(0.5 * (attempt + 1))


def _frame_row(index: int, first: int, frames: np.ndarray) -> dict:
    """A row of a batch of frames ``(n, H, W, 3)`` (as ``(1, n, H, W, 3)``: a view, no copy)."""
    return {"shard": np.array([index]), "first": np.array([first]), "count": np.array([len(frames)]),
            "frames": frames[None], "error": np.array([""])}


class PredictStage:
    """Ray Data actor: runs a predictor on each row's batch of frames; errors become rows.

    The predictions (a dict of arrays whose keys depend on the backend) travel as one pickled
    ``bytes`` cell, ``result``: Arrow stores bytes as they are, where a column of dicts would
    first fail to convert and then be pickled anyway, with a warning each time.
    """

    def __init__(self, backend: str, kwargs: dict):
        self.predictor = load_backend(backend)(**kwargs)

    def __call__(self, row: dict) -> dict:
        result, error = self.predict(row)
        return result_row(int(row["shard"][0]), int(row["first"][0]), int(row["count"][0]), result, error)

    def predict(self, row: dict) -> tuple[dict | None, str]:
        """The predictions for a row of frames, or ``None`` and what stopped them."""
        if row["error"][0]:
            return None, str(row["error"][0])
        first, count = int(row["first"][0]), int(row["count"][0])
        try:
            result = self.predictor({"frames": row["frames"][0], "frame": np.arange(first, first + count)})
        except Exception as exc:  # noqa: BLE001 - reported as this shard's failure
            return None, f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=2).splitlines()[-1]}"
        result.pop("frame", None)
        return result, ""


def result_row(shard: int, first: int, count: int, result: dict | None, error: str = "") -> dict:
    """One row of predictions for frames ``first`` … ``first + count - 1`` of a shard, or its error."""
    cell = b"" if result is None else pickle.dumps(result, protocol=5)
    return {"shard": np.array([shard]), "first": np.array([first]), "count": np.array([count]),
            "error": np.array([error]), "result": np.array([cell], dtype=object)}


class ReadAndPredict:
    """Ray Data actor for nodes without a GPU: one shard in, its predictions out about every ``every`` s.

    The shard's frames are decoded in a thread of this process, ahead of the network (OpenCV
    releases the GIL while it decodes), instead of in a separate task whose frames would be copied
    into Ray's object store and out again. The predictions of consecutive batches go out together
    as one row once ``every`` seconds have passed, often enough for progress to show, seldom enough
    for Ray Data's cost per row not to count. The first error ends the shard.
    """

    def __init__(self, backend: str, kwargs: dict, *, frames_per_batch: int, retries: int, every: float = 1.0,
                 decoder_log: str | None = None):
        self.stage = PredictStage(backend, kwargs)
        self.frames_per_batch, self.retries, self.every = frames_per_batch, retries, every
        self.decoder_log = decoder_log

    def __call__(self, batch: dict):
        shard, parts, sent = int(batch["shard"][0]), [], time.monotonic()
        for row in prefetched(decode_shard(batch, frames_per_batch=self.frames_per_batch, retries=self.retries,
                                             decoder_log=self.decoder_log)):
            result, error = self.stage.predict(row)
            if error:
                if parts:
                    yield _joined(shard, parts)
                yield result_row(shard, int(row["first"][0]), 0, None, error)
                return
            parts.append((int(row["first"][0]), int(row["count"][0]), result))
            if time.monotonic() - sent >= self.every:
                yield _joined(shard, parts)
                parts, sent = [], time.monotonic()
        if parts:
            yield _joined(shard, parts)


def _joined(shard: int, parts: list[tuple[int, int, dict]]) -> dict:
    """One row for the predictions of consecutive batches ``(first, count, result)``."""
    result = {key: np.concatenate([p[2][key] for p in parts]) for key in parts[0][2]}
    return result_row(shard, parts[0][0], sum(p[1] for p in parts), result)


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """``items``, produced by a thread of their own up to ``depth`` ahead of the consumer.

    An exception raised while producing is raised here, in the consumer, at its place in the
    sequence. Closing the returned generator early stops the thread at its next item.
    """
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stopped = threading.Event()
    end = object()

    def offer(item) -> bool:
        while not stopped.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((item, None)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            offer((end, exc))
            return
        offer((end, None))

    thread = threading.Thread(target=produce, name="deepbehavior-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = buffer.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stopped.set()
