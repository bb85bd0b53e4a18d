"""Ray Train wiring of the training loop: ``TorchTrainer`` with data-parallel workers.

Each worker runs :func:`deepbehavior.models.yolo_train.train_loop` with a :class:`RaySession`: Ray
Train starts the process group (gloo on CPU, NCCL on GPU), DDP wraps the model, and every epoch's
checkpoint goes to ``storage_path/name`` through ``ray.train.report``. Rerunning with the same
storage and name finds Ray Train's record of that run and hands the latest checkpoint back to the
workers, so a killed or preempted run continues where it stopped; ``max_failures`` restarts workers
within one run the same way.

Console output. Ray Train reports every epoch, checkpoint and worker start on the console, and its
``PlacementGroupCleaner`` (a detached actor that removes a run's placement group if the controller
dies) asks the Ray State API whether the controller is alive every few seconds. That API is served
by the dashboard, which the embedded Ray does not start, and without an explicit address the
cleaner looks the cluster up among every Ray on the machine ("Found multiple active Ray
instances"), so every check fails and logs a warning. By default :func:`fit` therefore sets Ray
Train's log level to WARNING, leaves the cleaner out on an embedded cluster (whose placement
groups end with it anyway; the cleaner stays on a cluster joined by address), turns off the preemption watcher on an
embedded cluster (no node there is ever drained), and shows one line per epoch of its own, sent by
worker 0 through a queue and printed by the driver without Ray's ``(pid=...)`` prefix.
``verbose=True`` restores all of Ray's output.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

from ..config import RayConfig
from ..models.topdown_train import TopDownSpec
from ..models.train_session import checkpoint_name, epoch_folders
from ..models.yolo_train import LoopSpec, train_loop
from .environment import start_ray
from .threads import choose_threads


class RaySession:
    """The loop's view of a Ray Train worker.

    ``run_folder``: the run's checkpoint folder when it is on this machine's filesystem. Ray Train
    resumes from its own record of a run; where it has none, the newest ``epoch_NNNN`` folder there
    (left by the local runner, :mod:`.local_training`) is where the run continues.
    """

    def __init__(self, messages: Any = None, run_folder: str | None = None):
        import ray.train

        context = ray.train.get_context()
        self.world_rank = context.get_world_rank()
        self.world_size = context.get_world_size()
        self._messages = messages  # a ray.util.queue.Queue the driver prints from, or None
        self._run_folder = run_folder

    def say(self, text: str) -> None:
        if self._messages is None:
            print(text, flush=True)
            return
        try:
            self._messages.put(text, timeout=10)
        except Exception:  # the driver's queue is gone or full: the line still reaches Ray's log
            print(text, flush=True)

    def device(self):
        import ray.train.torch

        return ray.train.torch.get_device()

    def prepare_model(self, model):
        import ray.train.torch

        # Some heads leave parameters unused for a batch (e.g. no objects of a class); ultralytics' own
        # DDP sets the same flag.
        return ray.train.torch.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})

    def latest_checkpoint(self) -> Optional[Path]:
        import ray.train

        checkpoint = ray.train.get_checkpoint()
        if checkpoint is None:
            saved = epoch_folders(self._run_folder) if self._run_folder else []
            return saved[-1] if saved else None
        # A local copy: storage may be a cluster filesystem.
        return Path(checkpoint.to_directory(tempfile.mkdtemp(prefix="deepbehavior-resume-")))

    def report(self, metrics, checkpoint_dir):
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint,
                         checkpoint_dir_name=checkpoint_name(int(metrics["epoch"])) if checkpoint else None)


def _worker(config: dict[str, Any]) -> None:
    if config.get("quiet"):
        _quiet_worker_reports()
    if not config["spec"].get("threads"):
        # Measured only for the one worker on this process's own Ray: sibling workers that are still
        # starting, or another machine's work, would count as busy. Otherwise the CPUs it reserved.
        threads = (choose_threads(limit=config.get("cpus")).threads if config.get("measure")
                   else max(int(config.get("cpus") or 1), 1))
        config = {**config, "spec": {**config["spec"], "threads": threads}}
    if config.get("kind") == "topdown":
        from ..models.topdown_train import TopDownSpec, train_topdown

        train_topdown(TopDownSpec(**config["spec"]), RaySession(config.get("messages"), config.get("run_folder")))
        return
    train_loop(LoopSpec(**config["spec"]), RaySession(config.get("messages"), config.get("run_folder")))


def _quiet_worker_reports() -> None:
    """Hide the worker's "Reporting training result ..." line (INFO, one per epoch and worker).

    Ray Train's worker context names its logger after its file path rather than its module, so
    ``LoggingConfig(log_level=...)``, which filters the ``ray.train`` loggers, misses it.
    """
    import logging

    try:
        from ray.train.v2._internal.execution import context
    except ImportError:
        return
    logging.getLogger(context.__file__).setLevel(logging.WARNING)


def _trainer_class(*, drop_cleaner: bool):
    """``TorchTrainer``, without the placement group cleaner when ``drop_cleaner``."""
    from ray.train.torch import TorchTrainer

    if not drop_cleaner:
        return TorchTrainer
    try:
        from ray.train.v2._internal.callbacks.placement_group_callback import PlacementGroupCleanerCallback
    except ImportError:  # another Ray version: nothing to leave out
        return TorchTrainer

    class QuietTorchTrainer(TorchTrainer):
        def _create_default_callbacks(self):
            return [c for c in super()._create_default_callbacks()
                    if not isinstance(c, PlacementGroupCleanerCallback)]

    return QuietTorchTrainer


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables that Ray Train copies to its controller and workers when they start."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_printing(run, messages, out=None) -> Any:
    """Call ``run()`` in a thread while printing the lines that arrive in ``messages``."""
    import queue as queue_module

    out = out or sys.stdout
    box: dict[str, Any] = {}

    def target():
        try:
            box["result"] = run()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="deepbehavior-fit", daemon=True)
    thread.start()

    def drain(block: bool) -> None:
        while True:
            try:
                text = messages.get(block=block, timeout=0.5 if block else None)
            except queue_module.Empty:
                return
            except Exception:  # the queue actor is gone: wait for the run instead of spinning
                if block:
                    thread.join(timeout=0.5)
                return
            print(text, file=out, flush=True)
            block = False

    while thread.is_alive():
        drain(True)
        thread.join(timeout=0)
    drain(False)
    if "error" in box:
        raise box["error"]
    return box["result"]


def concurrent_runs() -> int:
    """Runs of a parallel sweep (``hydra/launcher=ray``) sharing this machine or cluster, this one
    included: its launcher sets ``DEEPBEHAVIOR_CONCURRENT_RUNS``; 1 outside a sweep."""
    return max(int(os.environ.get("DEEPBEHAVIOR_CONCURRENT_RUNS", "1") or 1), 1)


@dataclass(frozen=True)
class FitResult:
    """What a finished run left: the last metrics and where its checkpoints are."""

    metrics: dict[str, float]
    checkpoint: Optional[str]
    storage: str
    #: The torch threads of its worker(s) and why (:meth:`.threads.ThreadChoice.as_dict`, or the rule
    #: each Ray Train worker applied on its own node).
    threads: Optional[dict] = None


def fit(spec: LoopSpec | TopDownSpec, *, num_workers: int = 1, use_gpu: bool = False, storage: str | Path,
        name: str = "train", max_failures: int = 0, keep_checkpoints: int = 2,
        cpus_per_worker: Optional[int] = None, ray: RayConfig = RayConfig(), verbose: bool = False) -> FitResult:
    """Train with Ray Train's ``TorchTrainer``; return the final metrics.

    Parameters
    ----------
    spec
        The loop's settings (dataset, model, epochs, output folder...): ultralytics' loop for a
        :class:`LoopSpec`, the top-down keypoint loop for a ``TopDownSpec``.
    num_workers
        Data-parallel workers; each trains on its own shard of every epoch.
    use_gpu
        One GPU per worker and NCCL; otherwise CPU and gloo.
    storage
        Folder (local, or shared by every node) or URI (``s3://...``) holding ``name/`` with the
        checkpoints.
    name
        The run's name under ``storage``; the same name resumes.
    max_failures
        Worker failures to recover from within this run (from the latest checkpoint).
    keep_checkpoints
        Checkpoints kept (the most recent ones).
    cpus_per_worker
        CPUs each worker reserves and uses for its threads; by default the cluster's CPUs shared
        equally among the workers (and among the runs of a parallel sweep, whose launcher sets
        ``DEEPBEHAVIOR_CONCURRENT_RUNS``), at least 1.
    ray
        Where Ray runs.
    verbose
        Show Ray Train's own console output (worker starts, every report and checkpoint) instead
        of one line per epoch.
    """
    from dataclasses import asdict

    ray_module = start_ray(ray)
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig

    try:
        from ray.train import LoggingConfig

        logging = {"logging_config": LoggingConfig(log_level="INFO" if verbose else "WARNING")}
    except ImportError:  # Ray Train v1 has no LoggingConfig
        logging = {}

    if max_failures < -1:
        raise ValueError(f"Expected max_failures >= -1 (-1: retry forever), but got {max_failures}")
    if num_workers < 1:
        raise ValueError(f"Expected num_workers >= 1, but got {num_workers}")
    if cpus_per_worker is None:
        total = int(ray_module.cluster_resources().get("CPU", 1))
        cpus_per_worker = max(total // (num_workers * concurrent_runs()), 1)
    kind = "topdown" if isinstance(spec, TopDownSpec) else "ultralytics"
    if "://" in str(storage):  # a cluster filesystem URI (s3://, gs://, ...): Ray Train writes there itself
        storage_path, run_folder = str(storage), f"{str(storage).rstrip('/')}/{name}"
    else:
        local = Path(storage).resolve()
        local.mkdir(parents=True, exist_ok=True)
        storage_path, run_folder = str(local), str(local / name)
    embedded = not ray.address
    messages = None
    if not verbose:
        from ray.util.queue import Queue

        messages = Queue(actor_options={"num_cpus": 0})
    # The cleaner cannot work on an embedded cluster (no State API, and it looks the cluster up among
    # every Ray on the machine), and that cluster's placement groups end with this process anyway.
    trainer_class = _trainer_class(drop_cleaner=embedded)
    trainer = trainer_class(
        _worker,
        train_loop_config={"spec": asdict(spec), "kind": kind, "messages": messages, "quiet": not verbose,
                           "cpus": cpus_per_worker, "measure": embedded and num_workers == 1,
                           "run_folder": None if "://" in str(storage) else run_folder},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker, **({"GPU": 1} if use_gpu else {})}),
        run_config=RunConfig(name=name, storage_path=storage_path,
                             failure_config=FailureConfig(max_failures=max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=keep_checkpoints), **logging),
    )
    print(f"deepbehavior train: starting {num_workers} Ray Train worker(s), {cpus_per_worker} CPU(s) each ...",
          flush=True)
    quiet_env = {} if verbose or not embedded else {"RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0"}
    with _environment(quiet_env):
        if messages is None:
            result = trainer.fit()
        else:
            try:
                result = _run_printing(trainer.fit, messages)
            finally:
                messages.shutdown()
    threads = ({"threads": spec.threads, "source": "set"} if spec.threads else
               {"threads": "auto on each worker", "usable": cpus_per_worker, "source": "deepbehavior.runtime.threads"}
               if embedded and num_workers == 1 else
               {"threads": cpus_per_worker, "usable": cpus_per_worker, "source": "CPUs reserved per worker"})
    return FitResult(metrics=dict(result.metrics or {}),
                     checkpoint=result.checkpoint.path if result.checkpoint else None,
                     storage=run_folder, threads=threads)
