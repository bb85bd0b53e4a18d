"""Distributed inference: (session, view, frame range) shards through Ray Data into Zarr stores.

The pipeline::

    plan_shards ─► Ray Data: decode_shard (CPU tasks) ─► PredictStage actors (GPU, or CPU) ─► driver
                                                                                          │
                                          write_region + done marker, one shard at a time ◄┘

Shards are the stores' time chunks, so a shard is the unit of work, of writing and of resuming.
Frames never reach the driver, only predictions (a few numbers a frame); the driver alone writes,
so the store needs no shared filesystem between nodes and no two writers ever meet. A shard that
fails (after retries) is recorded in the store's progress folder with its error; every other
shard still finishes. A retried or restarted worker may send a frame twice: results are keyed by
frame number, so duplicates change nothing. The two stages live in :mod:`.stages`.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema, store
from ..cohort import Cohort, store_path
from ..models.base import ModelDescription
from ..video import VideoError, probe
from .stages import PredictStage, decode_shard, load_backend

__all__ = ["Shard", "plan_shards", "run_inference", "infer_cohort", "load_backend"]


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


def store_template(description: ModelDescription, *, n_frames: int, fps: float, views: list[str]) -> xr.Dataset:
    """An all-missing dataset shaped for a model's output over ``n_frames`` frames of ``views``."""
    slots, n_views = description.slots, len(views)
    if description.kind == "poses":
        n_kpt = len(description.keypoint_names)
        return schema.make_poses(
            np.full((n_frames, 2, n_kpt, slots, n_views), np.nan, np.float32),
            np.full((n_frames, n_kpt, slots, n_views), np.nan, np.float32),
            fps=fps, keypoints=description.keypoint_names, views=views,
            individuals=[f"slot{i}" for i in range(slots)], individuals_are="slots",
        )
    nan = np.full((n_frames, 2, slots, n_views), np.nan, np.float32)
    return schema.make_boxes(nan, nan, np.full((n_frames, slots, n_views), np.nan, np.float32),
                             np.full((n_frames, slots, n_views), np.nan, np.float32),
                             fps=fps, views=views, class_names=description.class_names)


def predictions_to_part(kind: str, results: dict[str, np.ndarray], frames: np.ndarray, fps: float) -> xr.Dataset:
    """One shard's predictions (arrays ``(frame, slot, …)``) as a dataset of the store's schema."""
    if kind == "poses":
        position = np.transpose(results["keypoints"], (0, 3, 2, 1))  # (time, slot, keypoint, space) → schema
        confidence = np.transpose(results["keypoint_conf"], (0, 2, 1))  # (time, keypoint, slot)
        return schema.make_poses(position, confidence, fps=fps, time=frames, individuals_are="slots")
    xyxy = results["boxes"]
    centre = np.moveaxis((xyxy[..., :2] + xyxy[..., 2:]) / 2, -1, 1)  # (time, space, slot)
    size = np.moveaxis(xyxy[..., 2:] - xyxy[..., :2], -1, 1)
    return schema.make_boxes(centre, size, results["box_conf"], results["class_index"], fps=fps, time=frames)


def plan_shards(
    cohort: Cohort,
    stores_dir: str | Path,
    description: ModelDescription,
    *,
    chunk: int,
    force: bool = False,
    provenance: dict | None = None,
) -> tuple[list[Shard], list[dict]]:
    """Create any missing store and list the shards that are not done yet.

    Returns the shards, and the sessions that could not be planned (a video missing or unreadable)
    with their error. With ``force`` every store is recreated.
    """
    stores_dir = Path(stores_dir)
    stores_dir.mkdir(parents=True, exist_ok=True)
    shards, failures = [], []
    for session in cohort.sessions:
        views = list(session.videos)
        try:
            infos = {view: probe(video) for view, video in session.videos.items()}
        except VideoError as exc:
            failures.append({"session": session.key, "view": "*", "start": 0, "stop": 0, "error": str(exc)})
            continue
        n_frames = max(info.frames for info in infos.values())
        path = store_path(stores_dir, session)
        if force or not path.exists():
            template = store_template(description, n_frames=n_frames, fps=infos[views[0]].fps, views=views)
            attrs = {"session": session.key, "subject": session.subject, "group": session.group,
                     "videos": {v: str(p) for v, p in session.videos.items()},
                     "model": description.metadata, "provenance": provenance or {}}
            store.create_store(path, template, chunk=chunk, attrs=attrs, overwrite=True)
        for region in store.pending(path):
            n_view = infos[region.view].frames
            if region.start >= n_view:  # this view is shorter than the session: nothing to read
                store.mark_done(path, region)
                continue
            shards.append(Shard(str(path), session.key, region.view, str(session.videos[region.view]),
                                region.chunk, region.start, min(region.stop, n_view)))
    return shards, failures


# ---------------------------------------------------------------------------------------------
# The driver


@dataclass
class Progress:
    """Frames done per session, the rate, and the time left; printed every ``every`` seconds."""

    totals: dict[str, int]
    every: float = 5.0
    printer: Callable[[str], None] = print
    done: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    last: float = 0.0

    def add(self, session: str, frames: int) -> None:
        self.done[session] = self.done.get(session, 0) + frames
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self.printer(self.line())

    def line(self) -> str:
        done, total = sum(self.done.values()), sum(self.totals.values())
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = done / elapsed
        left = (total - done) / rate if rate > 0 else float("inf")
        per = ", ".join(f"{s} {self.done.get(s, 0)}/{n}" for s, n in self.totals.items())
        eta = f"{left:.0f}s" if np.isfinite(left) else "?"
        return f"[infer] {done}/{total} frames, {rate:.1f} frames/s, {eta} left | {per}"


@dataclass
class RunReport:
    frames: int
    seconds: float
    shards_done: int
    failures: list[dict]

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
    fps_of: dict[str, float],
    frames_per_batch: int = 16,
    retries: int = 2,
    readers: int = 1,
    predictors: int = 1,
    gpus_per_predictor: float = 0.0,
    cpus_per_predictor: float = 1.0,
    printer: Callable[[str], None] = print,
) -> RunReport:
    """Run the shards through Ray Data (Ray must be started) and write each finished shard."""
    import ray.data

    started = time.monotonic()
    if not shards:
        return RunReport(0, 0.0, 0, [])
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.verbose_stats_logs = False
    items = [{"shard": i, "video": s.video, "start": s.start, "stop": s.stop} for i, s in enumerate(shards)]
    # Ray's defaults do the rest: a decode task is retried 3 times after a worker dies, and a
    # predictor actor is restarted (its tasks retried) without limit (tests/integration). Where the
    # two stages ask for the same resources (a CPU-only node with one reader and one predictor),
    # Ray Data fuses decoding into the predictor's process: decoding a 640x480 frame costs ~2.5 ms
    # against ~55 ms for the network on the CPU, and the frames then skip the object store.
    dataset = (
        ray.data.from_items(items, override_num_blocks=len(items))
        .map_batches(decode_shard, batch_size=1, num_cpus=1, compute=ray.data.TaskPoolStrategy(size=readers),
                     fn_kwargs={"frames_per_batch": frames_per_batch, "retries": retries})
        .map_batches(PredictStage, batch_size=1, num_gpus=gpus_per_predictor, num_cpus=cpus_per_predictor,
                     compute=ray.data.ActorPoolStrategy(size=predictors),
                     fn_constructor_kwargs={"backend": backend, "kwargs": backend_kwargs})
    )
    pending = {i: _ShardResults(s) for i, s in enumerate(shards)}
    totals: dict[str, int] = {}
    for s in shards:
        totals[s.session] = totals.get(s.session, 0) + s.stop - s.start
    progress = Progress(totals, printer=printer)
    failures: list[dict] = []
    frames = done = 0
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
        new = shard.add(int(row["first"]), pickle.loads(row["result"]))
        frames += new
        progress.add(shard.shard.session, new)
        if shard.complete:
            part = predictions_to_part(kind, shard.arrays, np.arange(shard.shard.start, shard.shard.stop),
                                       fps_of[shard.shard.store])
            store.write_region(shard.shard.store, part, shard.shard.region)
            done += 1
            del pending[index]
    for shard in pending.values():  # the dataset ended without all of a shard's frames
        message = f"only {int(shard.received.sum())} of {len(shard.received)} frames came back"
        store.record_failure(shard.shard.store, shard.shard.region, message)
        failures.append({"session": shard.shard.session, "view": shard.shard.view, "start": shard.shard.start,
                         "stop": shard.shard.stop, "error": message})
    printer(progress.line())
    return RunReport(frames, time.monotonic() - started, done, failures)


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
) -> RunReport:
    """Plan, run and write inference for a whole cohort into ``out/stores`` (Ray must be started).

    One predictor actor per GPU of the cluster, or one on the CPU when there is none; ``readers``
    decoding processes (default: one without GPUs, else every CPU the predictors leave).
    """
    import ray

    if readers is not None and readers < 1:
        raise ValueError(f"Expected readers >= 1, but got {readers}")
    predictor = load_backend(backend)(**backend_kwargs)  # fail here, once, on a bad model file
    description = predictor.describe()
    del predictor
    shards, unplanned = plan_shards(cohort, Path(out) / "stores", description, chunk=chunk, force=force,
                                    provenance=provenance)
    if not shards:
        if not unplanned:
            printer("[infer] every shard is already done (force=true redoes them)")
        return RunReport(0, 0.0, 0, unplanned)
    gpus = int(ray.cluster_resources().get("GPU", 0))
    cpus = int(ray.cluster_resources().get("CPU", 1))
    if readers is None:
        readers = max(cpus - gpus, 1) if gpus else 1
    fps_of = {s.store: float(store.open_store(s.store).attrs["fps"]) for s in shards}
    printer(f"[infer] {len(shards)} shards, {sum(s.stop - s.start for s in shards)} frames, "
            f"{max(gpus, 1)} predictor(s) on {'GPU' if gpus else 'CPU'}, {readers} reader(s)")
    report = run_inference(
        shards, backend=backend, backend_kwargs=backend_kwargs, kind=description.kind, fps_of=fps_of,
        frames_per_batch=frames_per_batch, retries=retries, readers=readers,
        predictors=max(gpus, 1), gpus_per_predictor=1.0 if gpus else 0.0,
        cpus_per_predictor=1.0 if gpus else float(max(cpus - readers, 1)), printer=printer,
    )
    report.failures[:0] = unplanned
    return report
