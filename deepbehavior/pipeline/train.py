"""Training as a Python step: a labelled YOLO-layout dataset in, weights out, in this process."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import TrainConfig


@dataclass(frozen=True)
class TrainReport:
    """What :func:`train` left.

    Attributes
    ----------
    weights
        ``out/weights/best.pt``: the best epoch's model (give it to :func:`deepbehavior.infer`).
    metrics
        The last epoch's metrics (``metrics/mAP50(B)``; for keypoints ``kpt_error_px`` in pixels and
        ``pck``).
    task
        ``detect`` or ``pose``, as the dataset says.
    checkpoint
        The last checkpoint folder (a rerun with the same ``out`` continues from it).
    """

    weights: Path
    metrics: dict[str, float]
    task: str
    checkpoint: str | None = None


def train(
    data: str | os.PathLike,
    *,
    out: str | os.PathLike,
    settings: TrainConfig | None = None,
    name: str = "train",
    **options: Any,
) -> TrainReport:
    """Train a detector or keypoint model in this process (one worker, this machine's CPUs or GPU).

    Data-parallel workers, several GPUs or a cluster: ``deepbehavior train`` (Ray Train).

    Parameters
    ----------
    data
        A YOLO ``data.yaml`` (images, labels, class names, and ``kpt_shape`` for keypoints); every
        bad file and line is named in one error before training starts.
    out
        Folder of the run: ``weights/best.pt``, ``weights/last.pt``, ``results.csv``,
        ``data.yaml`` and ``checkpoints/``.
    settings
        :class:`deepbehavior.config.TrainConfig` (``model``, ``epochs``, ``imgsz`` in pixels,
        ``batch``, ``seed``...); its ``data`` is replaced by ``data``.
    name
        Name of the run's checkpoint folder, ``out/checkpoints/<name>``.
    **options
        Fields of ``TrainConfig`` replacing those of ``settings`` (``epochs=5``...).

    Returns
    -------
    TrainReport
        Where the weights are and the last epoch's metrics.
    """
    from dataclasses import replace

    import yaml

    from ..config import TrainConfig, parse_threads
    from ..files import write_atomic
    from ..models.dataset_checks import check_dataset
    from ..models.yolo_train import make_spec
    from ..runtime.local_training import fit_local
    from ._options import with_options

    settings = with_options(TrainConfig, settings, {**options, "data": str(data)}, where="train")
    out = Path(out).resolve()
    summary = check_dataset(settings.data)
    resolved = out / "data.yaml"
    write_atomic(resolved, yaml.safe_dump(summary.data, sort_keys=False))
    spec = make_spec(settings, task=summary.task, data=resolved, out=out)
    spec = replace(spec, threads=parse_threads(settings.threads, name="threads"))
    result = fit_local(spec, storage=out / "checkpoints", name=name, threads=settings.threads)
    return TrainReport(out / "weights" / "best.pt", dict(result.metrics), summary.task, result.checkpoint)
