"""Inference in this one process, for jobs one machine runs anyway: no Ray to start, no actors.

On the embedded default (no ``ray.address``) every frame is predicted on this machine whichever
runner does it; starting Ray, its workers and a predictor actor then costs more CPU time before the
first frame than a short video takes to predict (benchmarks/results/startup.json). This runner plans the same
shards into the same stores (:func:`.inference.plan_work`), writes each finished shard as one
region and marks it done (so a rerun resumes, ``force`` redoes, a failed shard is recorded and
the others finish), and returns the same :class:`.inference.RunReport`. A new store is made
when its first region is written, not while planning, and stores are made and written with Zarr
alone (:func:`deepbehavior.store.write_region_arrays`): Zarr loads after the first frames are
predicted, and xarray, Dask and pandas never load, whose import is a noticeable part of a short job.

The pipeline, in one process::

    thread "decode":  decode_shard (OpenCV, GIL released) ─► batches of frames, a few ahead ─┐
    main thread:      predictor (torch's own threads) ─► predictions ─► write_region_arrays ◄─┘

The decoding thread decodes each frame straight into its place in the batch's array
(:func:`deepbehavior.video.iter_frame_batches`: no copy after decoding); the predictor takes a batch
as one tensor (colour order and scaling are folded into the network), so no Python runs per frame
on the main thread. Predictions are gathered per shard (one store chunk) and written as one
region. The predictor's torch threads apply to its own calls only (:func:`.models.base.torch_threads`):
the host process keeps its setting.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from .. import store
from ..cohort import Cohort
from ..models.outputs import prediction_arrays
from ..fingerprint import numeric_variant
from ..video import VideoError, probe
from .inference import (NewStore, Progress, RunReport, Shard, _ShardResults, note_variants, plan_work,
                        session_fingerprints)
from .stages import THREADED_BACKENDS, PredictStage, decode_shard, prefetched
from .threads import ThreadChoice, choose_threads, usable_cpus

__all__ = ["choose_runner", "run_local", "load_stage", "infer_local", "available_cpus", "default_threads",
           "local_threads",
           "LOCAL_GPU_MAX_FRAMES"]

# With a GPU, one decoding thread feeds it more slowly than Ray's many reader processes do; past
# this many frames Ray's start-up is worth paying. An estimate until benchmarks/gpu.py's
# local_runner_fps and end_to_end_fps have been measured on a GPU machine.
LOCAL_GPU_MAX_FRAMES = 5_000
#: Bytes of decoded frames the local runner's decoding thread may hold ahead of the predictor (:func:`prefetch_depth`).
PREFETCH_BYTES = 32 * 2**20
#: The ``runner=`` choices of ``infer``: ``auto`` decides by :func:`choose_runner`'s rule.
RUNNERS = ("auto", "local", "ray")


def available_cpus() -> int:
    """CPUs this process may use (its affinity, which a container or ``taskset`` narrows, and its cgroup quota)."""
    return usable_cpus()


def default_threads() -> int:
    """Torch threads of the local runner's predictor: :func:`.threads.choose_threads`' rule, the CPUs
    this process may use that other programs are not keeping busy.

    The decoding thread needs little beside the network's cost per frame on a CPU, so every free core
    goes to the network: on idle cores more threads ran more frames/s, the decoding thread running
    alongside (benchmarks/results/threads.json). On cores that other programs keep busy, torch's
    threads wait on one another at every layer, which the rule avoids; ``model.threads=N`` sets a
    number instead.
    """
    return choose_threads().threads


def local_threads(backend: str, backend_kwargs: dict) -> tuple[dict, ThreadChoice | None]:
    """``backend_kwargs`` with the predictor's ``threads`` filled in by :func:`.threads.choose_threads`
    (a number already set is kept), and the choice; None for a backend that takes no threads."""
    if backend not in THREADED_BACKENDS:
        return backend_kwargs, None
    choice = choose_threads(backend_kwargs.get("threads") or "auto", name="model.threads")
    return backend_kwargs | {"threads": choice.threads}, choice


def choose_runner(runner: str, *, address: str | None, frames: int, gpu: bool) -> str:
    """``"local"`` or ``"ray"`` for a job of ``frames`` frames to predict.

    ``runner`` ``"auto"`` picks the local runner when Ray would run on this machine alone (no
    ``address``) and either there is no GPU (every frame is then predicted by one process with
    every CPU, as Ray's one predictor per node would) or the job is short
    (``frames <= LOCAL_GPU_MAX_FRAMES``); Ray otherwise.
    """
    if runner not in RUNNERS:
        raise ValueError(f"Expected runner among {', '.join(map(repr, RUNNERS))}, but got {runner!r}")
    if runner != "auto":
        return runner
    if address:
        return "ray"
    return "local" if not gpu or frames <= LOCAL_GPU_MAX_FRAMES else "ray"


def prefetch_depth(videos: Iterable[str], frames_per_batch: int, batches: int) -> int:
    """Batches the decoding thread may be ahead: ``batches``, or as many as fit in :data:`PREFETCH_BYTES`
    of the largest frames among ``videos`` if that is more (videos that cannot be probed are left out,
    their shards fail when they are decoded; none probed, or none at all, gets ``batches``).

    The main thread writes a whole store chunk at a time; the decoding thread keeps decoding meanwhile
    only while it has room ahead. A few batches of large frames outlast a chunk's write; a few of small
    frames do not, and the decoder then waits for every write (benchmarks/results/scale.json). Sized by
    the largest frame, so that a small first video does not let a large later one hold far more than
    :data:`PREFETCH_BYTES` ahead.
    """
    largest = 0
    for video in dict.fromkeys(videos):  # each distinct video once, in order
        try:
            info = probe(video)  # cached: planning probed it
        except (VideoError, OSError, ValueError):
            continue
        largest = max(largest, info.width * info.height * 3)
    if not largest:
        return batches
    return max(batches, PREFETCH_BYTES // max(frames_per_batch * largest, 1))


def _rows(shards: list[Shard], *, frames_per_batch: int, retries: int) -> Iterator[tuple[int, dict]]:
    """Every shard's rows of frames (or its one error row), in order, tagged with the shard's index."""
    for index, shard in enumerate(shards):
        batch = {"shard": np.array([index]), "video": np.array([shard.video]), "start": np.array([shard.start]),
                 "stop": np.array([shard.stop])}
        for row in decode_shard(batch, frames_per_batch=frames_per_batch, retries=retries):
            yield index, row


def run_local(
    shards: list[Shard],
    stage: PredictStage,
    *,
    kind: str,
    frames_per_batch: int = 16,
    retries: int = 2,
    printer: Callable[[str], None] = print,
    progress_every: float = 5.0,
    prefetch: int = 3,
    new_stores: dict[str, NewStore] | None = None,
    variant: dict[str, str] | None = None,
) -> RunReport:
    """Decode (in a thread), predict and write ``shards`` in this process.

    Parameters
    ----------
    shards
        The work, as planned by :func:`.inference.plan_work` (or :func:`.inference.plan_shards`, which
        also makes the stores).
    stage
        The predictor, loaded once (:class:`.stages.PredictStage`).
    kind
        ``"poses"`` or ``"boxes"``: the stores' schema.
    frames_per_batch
        Frames per predictor call.
    retries
        Attempts at decoding a shard again before it is recorded as failed.
    prefetch
        Batches decoded ahead of the predictor, at least; small frames get more, up to
        :data:`PREFETCH_BYTES` of them (:func:`prefetch_depth`).
    new_stores
        Stores the shards go to that are not made yet (:func:`.inference.plan_work`), by path: each
        is made just before its first write or failure record, and those left are made at the end,
        so that every planned store exists once the run has finished.
    variant
        The settings outside the fingerprint this run predicts with
        (:func:`deepbehavior.fingerprint.numeric_variant`), recorded in each chunk's done marker.

    Returns
    -------
    RunReport
        Frames predicted, seconds from the call, shards written, failures (one per shard).
    """
    started = time.monotonic()
    if not shards:
        return RunReport(0, 0.0, 0, [])
    totals: dict[str, int] = {}
    for s in shards:
        totals[s.session] = totals.get(s.session, 0) + s.stop - s.start
    progress = Progress(totals, every=progress_every, printer=printer)
    failures: list[dict] = []
    frames = done = 0
    current: _ShardResults | None = None
    failed: set[int] = set()
    unmade = dict(new_stores or {})

    def made(path: str) -> str:
        if path in unmade:
            unmade.pop(path).create()
        return path

    def fail(shard: Shard, error: str) -> None:
        store.record_failure(made(shard.store), shard.region, error)
        failures.append({"session": shard.session, "view": shard.view, "start": shard.start, "stop": shard.stop,
                         "error": error})

    rows = prefetched(_rows(shards, frames_per_batch=frames_per_batch, retries=retries),
                      depth=prefetch_depth((s.video for s in shards), frames_per_batch, prefetch))
    try:
        for index, row in rows:
            if index in failed:
                continue  # the rest of a shard whose prediction failed
            shard = shards[index]
            if current is None or current.shard is not shard:
                current = _ShardResults(shard)
            result, error = stage.predict(row)
            if error:
                fail(shard, error)
                failed.add(index)
                current = None
                continue
            new = current.add(int(row["first"][0]), result)
            frames += new
            progress.add(shard.session, new)
            if current.complete:
                store.write_region_arrays(made(shard.store), prediction_arrays(kind, current.arrays), shard.region,
                                          variant=variant)
                done += 1
                current = None
    finally:
        rows.close()
    for path in list(unmade):
        made(path)
    progress.printer(progress.line())
    return RunReport(frames, time.monotonic() - started, done, failures, steady_fps=progress.rate)


def load_stage(backend: str, backend_kwargs: dict) -> PredictStage:
    """The local runner's model, loaded as :func:`infer_local` runs it (``threads`` chosen as there, before
    the model loads, and kept as the stage's ``threads``): fails here, in one line, on weights that are
    not a model of the kind the backend runs."""
    backend_kwargs, choice = local_threads(backend, backend_kwargs)
    stage = PredictStage(backend, backend_kwargs)
    stage.threads = choice
    return stage


def infer_local(
    cohort: Cohort,
    out: str | Path,
    *,
    backend: str,
    backend_kwargs: dict,
    chunk: int,
    frames_per_batch: int = 16,
    force: bool = False,
    retries: int = 2,
    provenance: dict | None = None,
    printer: Callable[[str], None] = print,
    progress_every: float = 5.0,
    stage: PredictStage | None = None,
) -> RunReport:
    """Plan, run and write inference for a cohort into ``out/stores``, in this process.

    The same stores, progress records, fingerprints and report as :func:`.inference.infer_cohort`
    (resuming a store made with other settings is an error unless ``force``). A backend of
    :data:`.stages.THREADED_BACKENDS` without ``threads`` gets :func:`.threads.choose_threads`' number,
    recorded with the stores' provenance (``threads``). ``stage``: the model already loaded by :func:`load_stage` from these ``backend`` and
    ``backend_kwargs`` (a job that checks the weights before its other work loads them only once);
    None loads it here.
    """
    started = time.monotonic()
    # the Ray path's fingerprints (taken before threads are filled in): either runner resumes the other's stores
    fingerprints = session_fingerprints(cohort, backend=backend, backend_kwargs=backend_kwargs, chunk=chunk)
    if stage is None:
        stage = load_stage(backend, backend_kwargs)  # fails here, once, on a bad model file
    choice = getattr(stage, "threads", None)
    if choice is not None:
        provenance = {**(provenance or {}), "threads": choice.as_dict()}
    description = stage.predictor.describe()
    # new stores are made as they are first written: Zarr loads after the first frames
    shards, unplanned, new_stores = plan_work(cohort, Path(out) / "stores", description, chunk=chunk, force=force,
                                              provenance=provenance, fingerprints=fingerprints)
    if not shards:
        for new_store in new_stores.values():  # sessions of no frames: their stores, empty, as planned
            new_store.create()
        if not unplanned:
            printer("[infer] every shard is already done (force=true redoes them)")
        return RunReport(0, time.monotonic() - started, 0, unplanned)
    printer(f"[infer] {len(shards)} shards, {sum(s.stop - s.start for s in shards)} frames, "
            f"in this process ({_threads_line(choice)})")
    as_run = backend_kwargs | ({"threads": choice.threads} if choice is not None else {})
    variant = numeric_variant(as_run, frames_per_batch=frames_per_batch)
    note_variants(shards, variant, printer, skip=new_stores)
    report = run_local(shards, stage, kind=description.kind, frames_per_batch=frames_per_batch,
                       retries=retries, printer=printer, progress_every=progress_every, new_stores=new_stores,
                       variant=variant)
    report.seconds = time.monotonic() - started  # model loading and planning included
    report.failures[:0] = unplanned
    report.threads = choice.as_dict() if choice is not None else None
    return report


def _threads_line(choice: ThreadChoice | None) -> str:
    """How many torch threads and why, for the console."""
    if choice is None:
        return "the backend's own threads"
    if choice.source == "set":
        return f"{choice.threads} thread(s), as set"
    return f"{choice.threads} thread(s): {choice.usable} CPU(s) usable, {choice.busy:.1f} busy with other work"
