"""What a training loop needs from its runner, and what the loops share.

A session gives the loop its rank, the world size, the device, how to wrap the model for data
parallelism, the latest checkpoint folder (to resume) and how to report an epoch's metrics with a
checkpoint. :class:`LocalSession` runs in one process without Ray (tests, quick runs);
:mod:`deepbehavior.runtime.distributed_training` provides the Ray Train one. Both loops (the
ultralytics one of :mod:`.yolo_train`, the top-down one of :mod:`.topdown_train`) print
:func:`epoch_line` and stop together through :func:`broadcast`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Protocol

__all__ = ["Session", "LocalSession", "epoch_line", "broadcast", "checkpoint_name", "epoch_folders",
           "process_state_kept"]


class Session(Protocol):
    world_rank: int
    world_size: int

    def device(self) -> Any: ...

    def prepare_model(self, model: Any) -> Any: ...

    def latest_checkpoint(self) -> Optional[Path]: ...

    def report(self, metrics: dict[str, float], checkpoint_dir: Optional[Path]) -> None: ...

    def say(self, text: str) -> None: ...


@dataclass
class LocalSession:
    """One process without Ray: checkpoints are folders ``epoch_NNNN`` under ``storage``."""

    storage: Path
    world_rank: int = 0
    world_size: int = 1
    keep: int = 2
    reported: list[dict[str, float]] = field(default_factory=list)

    def device(self):
        import torch

        return torch.device("cpu")

    def prepare_model(self, model):
        return model

    def latest_checkpoint(self) -> Optional[Path]:
        found = epoch_folders(self.storage)
        return found[-1] if found else None

    def report(self, metrics, checkpoint_dir):
        self.reported.append(dict(metrics))
        if checkpoint_dir is None:
            return
        target = Path(self.storage) / checkpoint_name(int(metrics["epoch"]))
        staging = target.with_name(target.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(checkpoint_dir, staging)
        os.replace(staging, target)  # a folder appears complete or not at all
        for old in epoch_folders(self.storage)[:-self.keep]:
            shutil.rmtree(old, ignore_errors=True)

    def say(self, text: str) -> None:
        print(text, flush=True)


@contextmanager
def process_state_kept() -> Iterator[None]:
    """Put back, after a loop trained in this process, the process-wide settings ultralytics' trainer
    changes and leaves: torch's thread count (it sets min(8, CPUs - 1)), deterministic algorithms and
    cuDNN flags, and environment variables (``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED``,
    ``CUBLAS_WORKSPACE_CONFIG``). A Ray Train worker ends with its run; a process that trained in
    place goes on (a sweep's next run, inference) with what it had before."""
    import torch

    threads = torch.get_num_threads()
    deterministic = (torch.are_deterministic_algorithms_enabled(),
                     torch.is_deterministic_algorithms_warn_only_enabled())
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    environment = dict(os.environ)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic[0], warn_only=deterministic[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        for key in set(os.environ) - set(environment):
            del os.environ[key]
        os.environ.update(environment)


def checkpoint_name(epoch: int) -> str:
    """The folder of the checkpoint after ``epoch`` (counted from 0, as the loops count): named by the
    epochs done, ``epoch_0003`` after the third, as the console's "epoch 3/5" and results.csv count."""
    return f"epoch_{epoch + 1:04d}"


def epoch_folders(folder: str | os.PathLike) -> list[Path]:
    """The complete checkpoint folders ``epoch_NNNN`` of a run (as both runners name them), oldest
    first; a staging folder left by a killed copy (``epoch_NNNN.tmp``) is not one."""
    return sorted(p for p in Path(folder).glob("epoch_*") if p.is_dir() and p.name[len("epoch_"):].isdigit())


def epoch_line(metrics: dict[str, Any], *, epochs: int, seconds_left: Optional[float]) -> str:
    """One console line for a finished epoch: losses, validation metrics, throughput, time left.

    ``metrics`` is an epoch's record from the loop (``epoch`` counted from 0, ``train/*`` losses,
    ``metrics/*``, ``kpt_error_px``, ``images_per_s``, ``time_s``); ``seconds_left`` (s) is the
    estimated wall time of the remaining epochs, or None when unknown.
    """
    parts = [f"epoch {int(metrics['epoch']) + 1}/{epochs}"]
    losses = [f"{k.split('/', 1)[1].removesuffix('_loss')} {v:.3f}" for k, v in metrics.items()
              if k.startswith("train/")]
    if losses:
        parts.append("loss " + " ".join(losses))
    shown = {"metrics/mAP50(B)": "mAP50", "metrics/mAP50-95(B)": "mAP50-95", "metrics/mAP50(P)": "mAP50(P)",
             "kpt_error_px": "kpt_err_px", "kpt_median_px": "median_px", "pck": "PCK", "kpt_detected": "found"}
    values = [f"{label} {float(metrics[k]):.3f}" for k, label in shown.items() if k in metrics]
    if values:
        parts.append(" ".join(values))
    if "images_per_s" in metrics:
        parts.append(f"{float(metrics['images_per_s']):.1f} img/s")
    if "time_s" in metrics:
        parts.append(f"train {float(metrics['time_s']):.1f} s")
    if seconds_left is not None:
        parts.append(f"left ~{_duration(seconds_left)}")
    return "deepbehavior train: " + " | ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(int(round(seconds)), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


def broadcast(value: Any, world_size: int) -> Any:
    """``value`` as worker 0 has it, on every worker (unchanged with one worker)."""
    if world_size == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
