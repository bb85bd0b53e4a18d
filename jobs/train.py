# jobs/train.py
"""Train a detector or keypoint model on a YOLO-layout dataset, in this process or with Ray Train.

Input: ``train.data=data.yaml`` (images, labels, class names, and ``kpt_shape`` for keypoints);
``train.model`` an architecture YAML (from scratch) or a weights file (fine-tuning). The dataset is
checked first (every bad file and line in one message). One worker on this machine's CPUs trains in
this process (``runner=auto``); ``num_workers`` data-parallel workers, GPUs, a cluster
(``ray.address``) or ``max_failures`` train under Ray Train (or ``runner=ray``). Each epoch is
checkpointed to ``storage`` (default ``out/checkpoints``) and a rerun of the same command continues
from the last checkpoint (Ray Train also from an in-process run's). Outputs in ``out``: ``weights/best.pt`` and
``weights/last.pt`` (load with ``YOLO(path)``), ``results.csv`` (every epoch) and ``results.png`` (losses and
metrics per epoch, drawn at the end), ``data.yaml`` (the dataset with resolved paths). ``max_failures=N`` restarts
workers that die (from the last checkpoint, within the same run). The console shows one line per
epoch; ``verbose=true`` shows Ray Train's own output too. With ``-m`` (a Hydra sweep) every run has
its own folder under ``out`` and ``out/comparison.csv`` compares them at the end; add
``hydra/launcher=ray`` (and ``hydra.launcher.parallel=N``) to run the runs in parallel on Ray.

A keypoint dataset trains the top-down model with a recipe chosen from its labels (crop around each
animal or a fixed whole-frame window, input size, rotation, left/right pairs, views), printed in one
block before training and kept in ``out/recipe.json`` and the checkpoint; ``train.topdown.*`` overrides
any choice. Its ``val`` split chooses ``best.pt`` and stops early; a ``test`` split in ``data.yaml`` is
scored once at the end (``out/test.json``). ``train.time=H`` (hours) ends training before an epoch that
would pass the budget.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from hydra.experimental.callback import Callback
from omegaconf import MISSING

from deepbehavior.config import RayConfig, TrainConfig

from ._hydra import hydra_job


@dataclass
class TrainJob:
    # Folder for weights/, results.csv, results.png and the checkpoints.
    out: str = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    # Data-parallel training workers (Ray Train).
    num_workers: int = 1
    # One GPU per worker (NCCL) instead of CPUs (gloo).
    use_gpu: bool = False
    # Where checkpoints go (folder or s3://...; null: out/checkpoints).
    storage: Optional[str] = None
    # The run's name under storage; the same name resumes.
    name: str = "train"
    # Worker failures recovered within the run from the last checkpoint (-1: always).
    max_failures: int = 0
    # CPUs each worker reserves (null: the machine's CPUs shared equally); its torch threads are
    # train.threads (auto: those of them that other programs are not keeping busy).
    cpus_per_worker: Optional[int] = None
    # Ray Train's own console output; by default one line per epoch of ours.
    verbose: bool = False
    # auto: in this process when Ray would add only its start-up (one worker, no GPU, no ray.address,
    # max_failures=0, storage a local folder); "ray" or "local" to choose
    # (runtime.local_training.TRAIN_RUNNERS; checked there, by choose_train_runner, before the dataset is read).
    runner: str = "auto"


class CompareRuns(Callback):
    """At the end of a sweep, one table of all its runs in ``<sweep dir>/comparison.csv``."""

    def on_multirun_end(self, config, **kwargs) -> None:
        from deepbehavior.models.train_report import compare_runs

        folder = Path(config.hydra.sweep.dir)
        table = compare_runs(folder)
        if len(table):
            columns = [c for c in ("run", "best_epoch", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "kpt_error_px",
                                   "pck", "fitness") if c in table]
            print(table[columns].to_string(index=False))
            print(f"comparison of {len(table)} runs: {folder / 'comparison.csv'}")


@hydra_job("train", TrainJob)
def main(cfg: TrainJob) -> None:
    import json
    from dataclasses import replace

    import yaml

    from deepbehavior.config import parse_threads
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.yolo_train import make_spec
    from deepbehavior.files import write_atomic
    from deepbehavior.runtime.local_training import choose_train_runner

    if not cfg.train.data:
        raise ValueError("Expected train.data=PATH/data.yaml, but got nothing")
    out = Path(cfg.out).resolve()
    storage = cfg.storage or out / "checkpoints"
    runner = choose_train_runner(cfg.runner, address=cfg.ray.address, num_workers=cfg.num_workers,
                                 use_gpu=cfg.use_gpu, max_failures=cfg.max_failures, storage=storage)
    summary = check_dataset(cfg.train.data)
    data = out / "data.yaml"
    write_atomic(data, yaml.safe_dump(summary.data, sort_keys=False))
    spec = make_spec(cfg.train, task=summary.task, data=data, out=out)
    spec = replace(spec, threads=parse_threads(cfg.train.threads, name="train.threads"))  # None: auto
    print(f"dataset: {summary.task}, classes {list(summary.names)}, images {summary.images}, "
          f"objects {summary.objects}")
    if runner == "local":
        from deepbehavior.runtime.local_training import fit_local

        result = fit_local(spec, storage=storage, name=cfg.name, threads=cfg.train.threads, cpus=cfg.cpus_per_worker)
    else:
        from deepbehavior.runtime.distributed_training import fit

        result = fit(spec, num_workers=cfg.num_workers, use_gpu=cfg.use_gpu, storage=storage, name=cfg.name,
                     max_failures=cfg.max_failures, cpus_per_worker=cfg.cpus_per_worker, ray=cfg.ray,
                     verbose=cfg.verbose)
    shown = {k: round(v, 4) for k, v in result.metrics.items()
             if k.startswith(("metrics/mAP", "test/")) or k in ("kpt_error_px", "pck", "fitness")}
    if "epoch" in result.metrics:
        shown = {"epoch": int(result.metrics["epoch"]) + 1, **shown}  # counted from 1, as in results.csv
    print(f"last epoch: {shown}")
    # how the run was set up, beside results.csv: the torch threads and why (auto: the CPUs not busy)
    write_atomic(out / "train_report.json", json.dumps({"metrics": result.metrics, "threads": result.threads,
                                                          "checkpoint": result.checkpoint}, indent=2, default=str))
    print(f"weights: {out / 'weights' / 'best.pt'} (best), {out / 'weights' / 'last.pt'} (last)")
    print(f"report: {out / 'results.csv'}, {out / 'results.png'}; checkpoints: {result.storage}")
    if (out / "recipe.json").is_file():
        print(f"recipe: {out / 'recipe.json'}" + (f"; test figures: {out / 'test.json'}"
                                                    if (out / "test.json").is_file() else ""))
