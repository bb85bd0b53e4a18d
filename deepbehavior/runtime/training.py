"""Ray Train wiring of the training loop: ``TorchTrainer`` with data-parallel workers.

Each worker runs :func:`deepbehavior.models.training.train_loop` with a :class:`RaySession`: Ray
Train starts the process group (gloo on CPU, NCCL on GPU), DDP wraps the model, and every epoch's
checkpoint goes to ``storage_path/name`` through ``ray.train.report``. Rerunning with the same
storage and name finds Ray Train's record of that run and hands the latest checkpoint back to the
workers, so a killed or preempted run continues where it stopped; ``max_failures`` restarts workers
within one run the same way.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from ..config import RayConfig
from ..models.training import LoopSpec, train_loop
from .environment import start_ray


class RaySession:
    """The loop's view of a Ray Train worker."""

    def __init__(self):
        import ray.train

        context = ray.train.get_context()
        self.world_rank = context.get_world_rank()
        self.world_size = context.get_world_size()

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
            return None
        # A local copy: storage may be a cluster filesystem.
        return Path(checkpoint.to_directory(tempfile.mkdtemp(prefix="deepbehavior-resume-")))

    def report(self, metrics, checkpoint_dir):
        import ray.train

        checkpoint = ray.train.Checkpoint.from_directory(str(checkpoint_dir)) if checkpoint_dir else None
        ray.train.report(metrics, checkpoint=checkpoint,
                         checkpoint_dir_name=f"epoch_{int(metrics['epoch']):04d}" if checkpoint else None)


def _worker(config: dict[str, Any]) -> None:
    train_loop(LoopSpec(**config["spec"]), RaySession())


@dataclass(frozen=True)
class FitResult:
    """What a finished run left: the last metrics and where its checkpoints are."""

    metrics: dict[str, float]
    checkpoint: Optional[str]
    storage: str


def fit(spec: LoopSpec, *, num_workers: int = 1, use_gpu: bool = False, storage: str | Path,
        name: str = "train", max_failures: int = 0, keep_checkpoints: int = 2,
        cpus_per_worker: Optional[int] = None, ray: RayConfig = RayConfig()) -> FitResult:
    """Train with Ray Train's ``TorchTrainer``; return the final metrics.

    Parameters
    ----------
    spec
        The loop's settings (dataset, model, epochs, output folder...).
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
        equally (at least 1).
    ray
        Where Ray runs.
    """
    from dataclasses import asdict

    ray_module = start_ray(ray)
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    if num_workers < 1:
        raise ValueError(f"Expected num_workers >= 1, but got {num_workers}")
    if cpus_per_worker is None:
        total = int(ray_module.cluster_resources().get("CPU", 1))
        cpus_per_worker = max(total // num_workers, 1)
    spec = LoopSpec(**{**asdict(spec), "threads": spec.threads or cpus_per_worker})
    if "://" in str(storage):  # a cluster filesystem URI (s3://, gs://, ...): Ray Train writes there itself
        storage_path, run_folder = str(storage), f"{str(storage).rstrip('/')}/{name}"
    else:
        local = Path(storage).resolve()
        local.mkdir(parents=True, exist_ok=True)
        storage_path, run_folder = str(local), str(local / name)
    trainer = TorchTrainer(
        _worker,
        train_loop_config={"spec": asdict(spec)},
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        scaling_config=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                     resources_per_worker={"CPU": cpus_per_worker, **({"GPU": 1} if use_gpu else {})}),
        run_config=RunConfig(name=name, storage_path=storage_path,
                             failure_config=FailureConfig(max_failures=max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=keep_checkpoints)),
    )
    result = trainer.fit()
    return FitResult(metrics=dict(result.metrics or {}),
                     checkpoint=result.checkpoint.path if result.checkpoint else None,
                     storage=run_folder)
