"""Distributed inference: (session, view, frame range) shards through Ray Data into Zarr stores.

The pipeline::

    plan_shards ─► Ray Data, with GPUs:    decode_shard (CPU tasks) ─► PredictStage (GPU actors) ─┐
                   Ray Data, without:      ReadAndPredict (an actor per node, reading in a thread) ─┤
                                                                                                  ▼
                                    driver: write_region_arrays + done marker, one shard at a time, progress

Shards are the stores' time chunks, so a shard is the unit of work, of writing and of resuming.
Frames never reach the driver, only predictions (a few numbers a frame); the driver alone writes,
so the store needs no shared filesystem between nodes and no two writers ever meet. A shard that
fails (after retries) is recorded in the store's progress folder with its error; every other
shard still finishes. A retried or restarted worker may send a frame twice: results are keyed by
frame number, so duplicates change nothing. The stages live in :mod:`.stages`.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import fingerprint, store
from ..cohort import Cohort, store_path
from ..models.base import ModelDescription
from ..models.outputs import prediction_arrays, store_parts
from ..video import VideoError, probe, set_decoder_log
from .stages import THREADED_BACKENDS, PredictStage, ReadAndPredict, decode_shard, load_backend, with_threads
from .threads import choose_threads

__all__ = ["Shard", "NewStore", "plan_shards", "plan_work", "run_inference", "infer_cohort", "load_backend",
           "session_fingerprints", "check_resumable", "note_variants"]


@dataclass(frozen=True)
class Shard:
    store: str
    session: str
    view: str
    video: str
    chunk: int
    start: int
    stop: int

    @property
    def region(self) -> store.Region:
        return store.Region(self.view, self.chunk, self.start, self.stop)


def session_fingerprints(cohort: Cohort, *, backend: str, backend_kwargs: dict, chunk: int) -> dict[str, dict]:
    """Session key → the fingerprint of its store (:func:`deepbehavior.fingerprint.predictor_fingerprint`)."""
    return {s.key: fingerprint.predictor_fingerprint(backend, backend_kwargs, s.videos, chunk=chunk)
            for s in cohort.sessions}


def note_variants(shards: list[Shard], variant: dict[str, str], printer: Callable[[str], None], *,
                  skip=()) -> None:
    """One line per store the shards resume whose done chunks were predicted with other settings
    outside the fingerprint (batch size, threads, device) than ``variant``; stores in ``skip`` (about
    to be made anew) are not looked at."""
    for path in sorted({s.store for s in shards} - set(skip)):
        if Path(path).exists():
            line = fingerprint.variant_notice(store.done_variants(path), variant, where=f"store {path}")
            if line:
                printer(f"[infer] {line}")


def check_resumable(cohort: Cohort, stores_dir: str | Path, fingerprints: dict[str, dict], *,
                    force: bool = False) -> None:
    """Stop (:class:`~deepbehavior.fingerprint.FingerprintMismatch`) if a session's existing store
    was made with other weights, options or videos than ``fingerprints`` say, unless ``force``."""
    if force:
        return
    for session in cohort.sessions:
        path = store_path(Path(stores_dir), session)
        if path.exists():
            recorded = fingerprint.of_store(store.open_store(path, chunked=False).attrs)
            fingerprint.check(recorded, fingerprints[session.key], where=f"store {path}",
                              redo="force=true")


@dataclass
class NewStore:
    """A store a plan needs that is not on disk yet (or is to be made anew, ``force``).

    :meth:`create` makes it, every value missing, and marks done its regions past the end of a
    view shorter than the session (``past_end``), which have nothing to read.
    """

    path: Path
    description: ModelDescription
    n_frames: int
    fps: float
    views: list[str]
    chunk: int
    attrs: dict
    past_end: list[store.Region] = field(default_factory=list)

    def create(self) -> None:
        parts = store_parts(self.description, n_frames=self.n_frames, fps=self.fps, views=self.views)
        store.create_empty_store(self.path, parts, chunk=self.chunk, attrs=self.attrs, overwrite=True)
        for region in self.past_end:
            store.mark_done(self.path, region)


def plan_shards(cohort: Cohort, stores_dir: str | Path, description: ModelDescription,
                **options) -> tuple[list[Shard], list[dict]]:
    """Create any missing store and list the shards that are not done yet (the arguments of :func:`plan_work`).

    Returns the shards, and the sessions that could not be planned (a video missing, unreadable,
    truncated or damaged) with their error; the other sessions run. With ``force`` every store is recreated.
    ``fingerprints`` (session key → fingerprint) are recorded in new stores and checked against
    existing ones (:func:`check_resumable`).
    """
    shards, failures, new_stores = plan_work(cohort, stores_dir, description, **options)
    for new_store in new_stores.values():
        new_store.create()
    return shards, failures


def plan_work(
    cohort: Cohort,
    stores_dir: str | Path,
    description: ModelDescription,
    *,
    chunk: int,
    force: bool = False,
    provenance: dict | None = None,
    fingerprints: dict[str, dict] | None = None,
) -> tuple[list[Shard], list[dict], dict[str, NewStore]]:
    """:func:`plan_shards`, less the making of new stores: those are returned, by path, for the
    caller to make (:meth:`NewStore.create`) before it first writes to one or records a failure in it.

    A fresh output folder is then planned without opening any store, so that Zarr loads after the
    first frames are predicted, not before (stores are made and written with Zarr alone).
    """
    stores_dir = Path(stores_dir)
    if fingerprints is not None:
        check_resumable(cohort, stores_dir, fingerprints, force=force)
    stores_dir.mkdir(parents=True, exist_ok=True)
    shards, failures, new_stores = [], [], {}
    for session in cohort.sessions:
        views = list(session.videos)
        try:
            infos = {view: probe(video) for view, video in session.videos.items()}
        except (VideoError, OSError, ValueError) as exc:
            failures.append({"session": session.key, "view": "*", "start": 0, "stop": 0, "error": str(exc)})
            continue
        n_frames = max(info.frames for info in infos.values())
        path = store_path(stores_dir, session)
        new_store = None
        if force or not path.exists():
            attrs = {"session": session.key, "subject": session.subject, "group": session.group,
                     "videos": {v: str(p) for v, p in session.videos.items()},
                     "model": description.metadata, "provenance": provenance or {}}
            if fingerprints is not None:
                attrs[fingerprint.ATTR] = fingerprints[session.key]
            new_store = NewStore(path, description, n_frames, infos[views[0]].fps, views, chunk, attrs)
            new_stores[str(path)] = new_store
        for region in store.layout_regions(views, n_frames, chunk) if new_store else store.pending(path):
            n_view = infos[region.view].frames
            if region.start >= n_view:  # this view is shorter than the session: nothing to read
                if new_store:
                    new_store.past_end.append(region)
                else:
                    store.mark_done(path, region)
                continue
            shards.append(Shard(str(path), session.key, region.view, str(session.videos[region.view]),
                                region.chunk, region.start, min(region.stop, n_view)))
    return shards, failures, new_stores


# ---------------------------------------------------------------------------------------------
# The driver


@dataclass
class Progress:
    """Frames done per session, the rate, and the time left; printed every ``every`` seconds.

    The rate counts from the first predictions back, so that the time taken to start workers and
    load the model does not stretch the estimates of the time left for the rest of the run.
    """

    totals: dict[str, int]
    every: float = 5.0
    printer: Callable[[str], None] = print
    done: dict[str, int] = field(default_factory=dict)
    since: tuple[float, int] | None = None  # (time, frames done) when the first predictions came
    last: float = -float("inf")
    #: The rate of the last line printed (frames/s since the first predictions), None before there is one.
    rate: float | None = None

    def add(self, session: str, frames: int) -> None:
        now = time.monotonic()
        self.done[session] = self.done.get(session, 0) + frames
        if self.since is None:
            self.since = (now, sum(self.done.values()))
        if now - self.last >= self.every:
            self.last = now
            self.printer(self.line())

    def line(self) -> str:
        done, total = sum(self.done.values()), sum(self.totals.values())
        now, rate, left = time.monotonic(), None, None
        if self.since is not None and now > self.since[0] and done > self.since[1]:
            rate = (done - self.since[1]) / (now - self.since[0])
            left = (total - done) / rate
            self.rate = rate
        per = ", ".join(f"{s} {self.done.get(s, 0)}/{n}" for s, n in self.totals.items())
        speed = f"{rate:.1f} frames/s, {left:.0f}s left" if rate else "? frames/s, ? left"
        return f"[infer] {done}/{total} frames, {speed} | {per}"


@dataclass
class RunReport:
    frames: int
    seconds: float
    shards_done: int
    failures: list[dict]
    #: The predictor's torch threads and why (:meth:`.threads.ThreadChoice.as_dict`), where the runner chose them.
    threads: dict | None = None
    #: Frames per second from the first predictions on, as the last progress line showed it (None: no line).
    steady_fps: float | None = None

    @property
    def fps(self) -> float:
        """End-to-end frames per second: starting the workers and loading the model included."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _ShardResults:
    """Predictions of one shard as they arrive, keyed by frame number."""

    def __init__(self, shard: Shard):
        self.shard = shard
        self.received = np.zeros(shard.stop - shard.start, dtype=bool)
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, first: int, result: dict[str, np.ndarray]) -> int:
        rows = slice(first - self.shard.start, first - self.shard.start + len(next(iter(result.values()))))
        for key, value in result.items():
            if key not in self.arrays:
                self.arrays[key] = np.full((len(self.received), *value.shape[1:]), np.nan, dtype=value.dtype)
            self.arrays[key][rows] = value
        new = int((~self.received[rows]).sum())
        self.received[rows] = True
        return new

    @property
    def complete(self) -> bool:
        return bool(self.received.all())


def run_inference(
    shards: list[Shard],
    *,
    backend: str,
    backend_kwargs: dict,
    kind: str,
    frames_per_batch: int = 16,
    retries: int = 2,
    predictors: int = 1,
    gpus_per_predictor: float = 0.0,
    cpus_per_predictor: float = 1.0,
    readers: int = 1,
    printer: Callable[[str], None] = print,
    progress_every: float = 5.0,
    decoder_log: str | Path | None = None,
    variant: dict[str, str] | None = None,
) -> RunReport:
    """Run the shards through Ray Data (Ray must be started) and write each finished shard.

    With ``gpus_per_predictor``, ``readers`` decoding tasks feed the predictors; without, each
    predictor reads its shards' frames itself (:class:`.stages.ReadAndPredict`). The workers'
    decoder messages go to ``decoder_log`` when given (else each worker's default, see
    :func:`deepbehavior.video.decoder_log_path`). ``variant``: the settings outside the fingerprint
    (:func:`deepbehavior.fingerprint.numeric_variant`), recorded in each shard's done marker.
    """
    import ray.data

    started = time.monotonic()
    if not shards:
        return RunReport(0, 0.0, 0, [])
    _quiet_ray_data()
    read = {"frames_per_batch": frames_per_batch, "retries": retries}
    if decoder_log is not None:
        read["decoder_log"] = str(decoder_log)
    predictor = {"backend": backend, "kwargs": backend_kwargs}
    progress = Progress(_frames_per_session(shards), every=progress_every, printer=printer)
    pending = {i: _ShardResults(s) for i, s in enumerate(shards)}
    failures: list[dict] = []
    done = frames = 0
    # A shard left incomplete by a lost node (its actor or decoding task gone with it) is run again
    # in a new round on the nodes still alive, up to `retries` times; the frames it already has are kept.
    for attempt in range(retries + 1):
        # Later rounds let the pool shrink to the nodes that are left rather than wait for lost ones.
        size = {"size": predictors} if attempt == 0 else {"min_size": 1, "max_size": predictors}
        pool = {"batch_size": 1, "num_gpus": gpus_per_predictor, "num_cpus": cpus_per_predictor,
                "compute": ray.data.ActorPoolStrategy(**size)}
        items = [{"shard": i, "video": shards[i].video, "start": shards[i].start, "stop": shards[i].stop}
                 for i in pending]
        # Ray's defaults do the rest within a round: a decode task is retried 3 times after a worker
        # dies, and a predictor actor is restarted (its tasks retried) without limit (tests/integration).
        with _ray_data_settings(enable_progress_bars=False, print_on_execution_start=False, verbose_stats_logs=False,
                                # a block per row: predictions reach the driver (and the progress
                                # line) as each row is made, not once a whole shard's rows are
                                target_max_block_size=1):
            dataset = ray.data.from_items(items, override_num_blocks=len(items))
            if gpus_per_predictor:
                dataset = (dataset.map_batches(decode_shard, batch_size=1, num_cpus=1, fn_kwargs=read,
                                               compute=ray.data.TaskPoolStrategy(size=readers))
                           .map_batches(PredictStage, fn_constructor_kwargs=predictor, **pool))
            else:
                dataset = dataset.map_batches(ReadAndPredict, fn_constructor_kwargs=predictor | read, **pool)
            written, kept = _collect(dataset, pending, failures, kind=kind, progress=progress, variant=variant)
        done, frames = done + written, frames + kept
        if not pending:
            break
        if attempt < retries:
            printer(f"[infer] {len(pending)} shard(s) incomplete (a worker or node was lost); "
                    f"running them again on the nodes left ({attempt + 1}/{retries})")
    for shard in pending.values():  # still incomplete after every round
        message = f"only {int(shard.received.sum())} of {len(shard.received)} frames came back"
        store.record_failure(shard.shard.store, shard.shard.region, message)
        failures.append({"session": shard.shard.session, "view": shard.shard.view, "start": shard.shard.start,
                         "stop": shard.shard.stop, "error": message})
    progress.printer(progress.line())
    return RunReport(frames, time.monotonic() - started, done, failures, steady_fps=progress.rate)


def _quiet_ray_data() -> None:
    """Keep Ray Data's banners ("progress bars disabled", "execution finished") off the console,
    which our progress lines have to themselves."""
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    logging.getLogger("ray.data._internal.execution.streaming_executor").setLevel(logging.WARNING)


@contextmanager
def _ray_data_settings(**values):
    """Ray Data's settings of this process changed for one run, then put back."""
    import ray.data

    context = ray.data.DataContext.get_current()
    saved = {name: getattr(context, name) for name in values}
    for name, value in values.items():
        setattr(context, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)


def _frames_per_session(shards: list[Shard]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for s in shards:
        totals[s.session] = totals.get(s.session, 0) + s.stop - s.start
    return totals


def _collect(dataset, pending: dict[int, _ShardResults], failures: list[dict], *, kind: str,
             progress: Progress, variant: dict[str, str] | None = None) -> tuple[int, int]:
    """Gather the predictions as they arrive; write each shard once it is whole (removing it from
    ``pending``), record failed ones in ``failures``. Returns the shards written and their frames:
    frames of a shard that is never written are not counted."""
    done = frames = 0
    for row in dataset.iter_rows():
        index = int(row["shard"])
        if index not in pending:
            continue  # a late duplicate of a shard already written or failed
        shard = pending[index]
        if row["error"]:
            store.record_failure(shard.shard.store, shard.shard.region, str(row["error"]))
            failures.append({"session": shard.shard.session, "view": shard.shard.view,
                             "start": shard.shard.start, "stop": shard.shard.stop, "error": str(row["error"])})
            del pending[index]
            continue
        progress.add(shard.shard.session, shard.add(int(row["first"]), pickle.loads(row["result"])))
        if shard.complete:
            store.write_region_arrays(shard.shard.store, prediction_arrays(kind, shard.arrays), shard.shard.region,
                                      variant=variant)
            done += 1
            frames += len(shard.received)
            del pending[index]
    return done, frames


def describe_model(backend: str, backend_kwargs: dict) -> ModelDescription:
    """Load the model once (fails here, in one line, on weights that are not a model of the kind
    the backend runs) and say what its stores will hold."""
    predictor = load_backend(backend)(**backend_kwargs)
    try:
        return predictor.describe()
    finally:
        getattr(predictor, "close", lambda: None)()


def plan_predictors(nodes: list[dict], readers: int | None = None) -> dict:
    """Where prediction runs on a Ray cluster whose nodes are ``nodes`` (as ``ray.nodes()`` lists them).

    One predictor per GPU, fed by ``readers`` decoding processes (default: every CPU the
    predictors leave, as one decoder cannot keep up with a GPU). Without GPUs, one predictor per
    node with CPUs, taking as many CPUs as the smallest such node has, and reading its own frames.
    Returns the keyword arguments of :func:`run_inference` that say so.
    """
    if readers is not None and readers < 1:
        raise ValueError(f"Expected readers >= 1, but got {readers}")
    alive = [n.get("Resources", {}) for n in nodes if n.get("Alive", True)]
    gpus = int(sum(r.get("GPU", 0) for r in alive))
    cpus = [int(r.get("CPU", 0)) for r in alive if r.get("CPU", 0) >= 1]
    if gpus:
        return {"predictors": gpus, "gpus_per_predictor": 1.0, "cpus_per_predictor": 1.0,
                "readers": readers or max(sum(cpus) - gpus, 1)}
    if not cpus:
        raise RuntimeError("Expected a Ray cluster with CPUs or GPUs to run inference on, but it has neither")
    return {"predictors": len(cpus), "gpus_per_predictor": 0.0, "cpus_per_predictor": float(min(cpus)), "readers": 0}


def infer_cohort(
    cohort: Cohort,
    out: str | Path,
    *,
    backend: str,
    backend_kwargs: dict,
    chunk: int,
    frames_per_batch: int = 16,
    force: bool = False,
    retries: int = 2,
    readers: int | None = None,
    provenance: dict | None = None,
    printer: Callable[[str], None] = print,
    progress_every: float = 5.0,
    description: ModelDescription | None = None,
) -> RunReport:
    """Plan, run and write inference for a whole cohort into ``out/stores`` (Ray must be started).

    Predictors are placed by :func:`plan_predictors`. On the CPU, a backend of
    :data:`.stages.THREADED_BACKENDS` without ``threads`` gets one thread per CPU its predictor holds (on a
    Ray this process started, per such CPU that other programs are not keeping busy: :func:`.threads.choose_threads`). ``description`` (from
    :func:`describe_model`, run before Ray started) spares loading the model here. Every store
    records its fingerprint; resuming one made with other settings is an error unless ``force``.
    FFmpeg's messages about damaged videos go to ``out/decoder.log`` (one console line per such file).
    """
    import ray

    decoder_log = Path(out) / "decoder.log"
    previous = set_decoder_log(decoder_log)
    try:
        return _infer_cohort(cohort, out, backend=backend, backend_kwargs=backend_kwargs, chunk=chunk,
                             frames_per_batch=frames_per_batch, force=force, retries=retries, readers=readers,
                             provenance=provenance, printer=printer, progress_every=progress_every,
                             description=description, decoder_log=decoder_log, ray=ray)
    finally:
        set_decoder_log(previous)
        # Probing opens the log before any frame is read: a run that decoded nothing worth a
        # message (one that failed its checks, say) leaves no empty log in its folder.
        with suppress(OSError):
            if decoder_log.stat().st_size == 0:
                decoder_log.unlink()


def _infer_cohort(cohort, out, *, backend, backend_kwargs, chunk, frames_per_batch, force, retries, readers,
                  provenance, printer, progress_every, description, decoder_log, ray) -> RunReport:
    """:func:`infer_cohort`'s work, with the decoder log already set."""
    layout = plan_predictors(ray.nodes(), readers)
    if description is None:
        description = describe_model(backend, backend_kwargs)
    fingerprints = session_fingerprints(cohort, backend=backend, backend_kwargs=backend_kwargs, chunk=chunk)
    shards, unplanned = plan_shards(cohort, Path(out) / "stores", description, chunk=chunk, force=force,
                                    provenance=provenance, fingerprints=fingerprints)
    if not shards:
        if not unplanned:
            printer("[infer] every shard is already done (force=true redoes them)")
        return RunReport(0, 0.0, 0, unplanned)
    from .environment import ray_temp_dir

    on_gpu = layout["gpus_per_predictor"] > 0
    choice = None
    own_ray = ray_temp_dir() is not None  # started by this process, on this machine (not joined by address)
    if (not on_gpu and own_ray and layout["predictors"] == 1 and backend in THREADED_BACKENDS
            and not backend_kwargs.get("threads")):
        # the one predictor runs on this machine: as many threads as it has CPUs that are not busy
        choice = choose_threads(limit=int(layout["cpus_per_predictor"]), name="model.threads")
        backend_kwargs = backend_kwargs | {"threads": choice.threads}
    elif not on_gpu:  # another machine's load is not measured from here: one thread per CPU the predictor holds
        backend_kwargs = with_threads(backend, backend_kwargs, int(layout["cpus_per_predictor"]))
    where = f"GPU, {layout['readers']} reader(s)" if on_gpu else f"CPU ({layout['cpus_per_predictor']:.0f} cores each)"
    printer(f"[infer] {len(shards)} shards, {sum(s.stop - s.start for s in shards)} frames, "
            f"{layout['predictors']} predictor(s) on {where}")
    variant = fingerprint.numeric_variant(backend_kwargs, frames_per_batch=frames_per_batch)
    note_variants(shards, variant, printer)
    report = run_inference(
        shards, backend=backend, backend_kwargs=backend_kwargs, kind=description.kind,
        frames_per_batch=frames_per_batch, retries=retries, printer=printer, progress_every=progress_every,
        decoder_log=decoder_log, variant=variant, **layout,
    )
    report.failures[:0] = unplanned
    report.threads = choice.as_dict() if choice is not None else None
    return report
