"""The training loop of one data-parallel worker, built from ultralytics' parts.

ultralytics' own trainer starts and manages its own DDP processes, which does not fit inside a Ray
Train worker (Ray already started the processes and the process group). So the loop is ours and the
parts are ultralytics': a ``DetectionTrainer``/``PoseTrainer`` object is created only as a toolbox
(it builds the model, datasets, dataloaders, optimizer, scheduler and validator exactly as
``model.train`` would, and preprocesses batches), while this module runs the epochs, shards every
epoch over the workers, averages gradients with DDP, validates on worker 0, writes weights and the
report, and checkpoints/resumes through a :class:`Session`.

ultralytics reads ``RANK``/``WORLD_SIZE`` from the environment when it is imported and then behaves
as one of its own DDP workers (gathering validation statistics from every rank, barriers in dataset
building). The loop imports it with those variables hidden, so it acts as a single process and the
distribution is this module's alone.

A session is what the loop needs from its runner: its rank, the world size, the device, how to wrap
the model for data parallelism, the latest checkpoint folder (to resume) and how to report an
epoch's metrics with a checkpoint (:mod:`.train_session`). Its ``LocalSession`` runs without Ray (one
process, for tests and quick runs); ``deepbehavior.runtime.distributed_training`` provides the Ray Train one.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from copy import copy, deepcopy
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

import numpy as np

from . import ultralytics_internals as internals
from .keypoint_metrics import summarize_keypoint_errors
from .train_session import (LocalSession, Session, broadcast, epoch_line,  # noqa: F401  (part of this API)
                            process_state_kept)
from .train_report import compare_runs, write_report  # noqa: F401  (compare_runs is part of this API)

STATE_FILE = "state.pt"
WEIGHTS_DIR = "weights"


# --------------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class LoopSpec:
    """Everything a worker needs, as plain values (it travels to Ray workers by pickle).

    ``data`` is a resolved ``data.yaml`` (absolute paths); ``out`` is where weights and the report
    go; ``overrides`` are ultralytics training arguments (``imgsz``, ``lr0``, ``mosaic``, ...).
    """

    data: str
    out: str
    task: str  # "detect" or "pose"
    model: str = "yolo11n.yaml"
    epochs: int = 10
    batch: int = 16
    seed: int = 0
    patience: int = 100
    amp: bool = False
    pck_threshold: float = 0.1
    threads: Optional[int] = None
    overrides: dict[str, Any] = field(default_factory=dict)


# ultralytics' augmentation arguments set to "none" when a run asks for no augmentation.
NO_AUGMENTATION = {"mosaic": 0.0, "mixup": 0.0, "cutmix": 0.0, "copy_paste": 0.0, "fliplr": 0.0,
                   "flipud": 0.0, "degrees": 0.0, "translate": 0.0, "scale": 0.0, "shear": 0.0,
                   "perspective": 0.0, "hsv_h": 0.0, "hsv_s": 0.0, "hsv_v": 0.0, "erasing": 0.0}


def ultralytics_arguments(spec: LoopSpec, *, save_dir: Path, device: str) -> dict[str, Any]:
    """The ultralytics training arguments of a run (also used by the benchmark's reference run)."""
    return {
        "model": spec.model, "data": spec.data, "task": spec.task, "epochs": spec.epochs, "batch": spec.batch,
        "seed": spec.seed, "deterministic": True, "patience": spec.patience, "device": device,
        "amp": spec.amp, "plots": False, "val": True, "verbose": False,
        "project": str(save_dir.parent), "name": save_dir.name, "exist_ok": True,
        **spec.overrides,
    }


# --------------------------------------------------------------------------------------------------
# Progress and fault injection


# --------------------------------------------------------------------------------------------------
# The loop


@contextmanager
def _as_single_process() -> Iterator[None]:
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    saved = {k: os.environ.pop(k) for k in names if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _import_ultralytics():
    from ..offline import offline_ultralytics

    offline_ultralytics()
    with _as_single_process():
        import ultralytics  # noqa: F401
        from ultralytics.models import yolo  # noqa: F401
    if internals.rank() != -1:
        raise RuntimeError(f"Expected ultralytics imported as a single process (RANK -1), but got RANK {internals.rank()}"
                           " (it was imported before the training loop hid RANK/WORLD_SIZE)")


def _seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _save_weights(path: Path, *, ema, args, epoch: int, best_fitness: float, metrics: dict, history: list) -> None:
    """An ultralytics-style checkpoint (what ``YOLO(path)`` loads), written atomically."""
    import io

    import torch
    from ultralytics import __version__

    model = deepcopy(ema).half()
    if hasattr(model, "criterion"):
        model.criterion = None  # training-only state
    for v in model.state_dict().values():
        if v.is_floating_point():
            torch.nan_to_num_(v)
    buffer = io.BytesIO()
    torch.save({
        "epoch": epoch,
        "best_fitness": best_fitness,
        "model": None,
        "ema": model,
        "updates": None,
        "optimizer": None,
        "train_args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "train_metrics": metrics,
        "train_results": {k: [row.get(k) for row in history] for k in (history[0] if history else {})},
        "date": datetime.now().astimezone().isoformat(),
        "version": __version__,
        "license": "AGPL-3.0 (https://ultralytics.com/license)",
        "trainer": "deepbehavior (Ray Train)",
    }, buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def train_loop(spec: LoopSpec, session: Session) -> dict[str, Any]:
    """Train one worker's share; return the last epoch's metrics (worker 0) or ``{}``.

    Each epoch: every worker trains on its shard (a ``DistributedSampler`` over the training images)
    with gradients averaged by DDP; worker 0 validates the EMA model (mAP50, mAP50-95, and for
    keypoint models the error in pixels and PCK), writes ``out/weights/{last,best}.pt`` and the
    report, and hands a checkpoint (model, EMA, optimizer, history) to the session. A run that finds
    a checkpoint continues after its epoch.
    """
    import torch

    rank, world = session.world_rank, session.world_size
    started = time.perf_counter()
    if rank == 0:  # setting up takes tens of seconds on a CPU: say what is happening
        session.say(f"deepbehavior train: {world} worker(s) up; building the model and loading the data")
    _import_ultralytics()
    from ultralytics.models import yolo

    parts = internals.training_utils()
    EarlyStopping, ModelEMA, unwrap_model = parts.EarlyStopping, parts.ModelEMA, parts.unwrap_model

    device = session.device()
    out = Path(spec.out)
    work = out / "work" / f"rank{rank}"
    args = ultralytics_arguments(spec, save_dir=work,
                                 device="cpu" if device.type == "cpu" else str(device.index or 0))
    trainer_class = yolo.pose.PoseTrainer if spec.task == "pose" else yolo.detect.DetectionTrainer
    _seed(spec.seed)
    tool = trainer_class(overrides=args)  # builds nothing heavy yet: args, data.yaml, folders
    if spec.threads:  # after the trainer: its device selection sets torch to min(8, CPUs - 1) threads
        torch.set_num_threads(spec.threads)
    tool.device = device
    tool.world_size = 1  # the toolbox validates alone; distribution is ours
    tool.amp = spec.amp
    tool.setup_model()
    tool.model = tool.model.to(device)
    tool.set_model_attributes()
    stride = max(int(tool.model.stride.max()), 32)
    tool.stride = stride
    for name, param in tool.model.named_parameters():
        param.requires_grad = ".dfl" not in name  # ultralytics never trains the DFL projection
    hyp = tool.args

    per_worker = max(spec.batch // world, 1)
    train_loader = tool.get_dataloader(tool.data["train"], batch_size=per_worker,
                                       rank=rank if world > 1 else -1, mode="train")
    tool.train_loader = train_loader
    tool.set_class_weights()
    model = session.prepare_model(tool.model) if world > 1 else tool.model
    tool.model = model
    nb = len(train_loader)
    accumulate = max(round(hyp.nbs / spec.batch), 1)
    weight_decay = hyp.weight_decay * spec.batch * accumulate / hyp.nbs
    accumulate = min(accumulate, nb * spec.epochs)
    iterations = math.ceil(len(train_loader.dataset) / max(spec.batch, hyp.nbs)) * spec.epochs
    tool.epochs = spec.epochs
    tool.optimizer = tool.build_optimizer(model=model, name=hyp.optimizer, lr=hyp.lr0, momentum=hyp.momentum,
                                          decay=weight_decay, iterations=iterations)
    internals.setup_scheduler(tool)
    optimizer, scheduler = tool.optimizer, tool.scheduler
    ema = ModelEMA(model)
    tool.ema = ema
    stopper = EarlyStopping(patience=spec.patience)
    tool.stopper = stopper

    validator = None
    if rank == 0:
        tool.test_loader = tool.get_dataloader(tool.data["val"], batch_size=per_worker * 2, rank=-1, mode="val")
        internals.check_max_det(hyp, {"train": train_loader.dataset, "val": tool.test_loader.dataset})
        unwrap_model(model).set_head_attr(max_det=hyp.max_det)
        validator_class = internals.keypoint_pixel_validator_class() if spec.task == "pose" else yolo.detect.DetectionValidator
        validator = validator_class(tool.test_loader, save_dir=work, args=copy(hyp), _callbacks=tool.callbacks)

    start_epoch, best_fitness, history = 0, None, []
    checkpoint = session.latest_checkpoint()
    if checkpoint is not None:
        state = torch.load(Path(checkpoint) / STATE_FILE, map_location=device, weights_only=False)
        unwrap_model(model).load_state_dict(state["model"])
        ema.ema.load_state_dict(state["ema"])
        ema.updates = state["updates"]
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, best_fitness, history = state["epoch"] + 1, state["best_fitness"], state["history"]
        stopper.best_fitness, stopper.best_epoch = state["stopper"]
        if rank == 0:
            session.say(f"deepbehavior train: resuming after epoch {start_epoch} of {spec.epochs} from {checkpoint}")
    scheduler.last_epoch = start_epoch - 1

    warmup = round(min(hyp.warmup_epochs, max(spec.epochs - 1, 0)) * nb) if hyp.warmup_epochs > 0 else 0
    mosaic_closed = not hyp.close_mosaic
    last_step = -1
    metrics: dict[str, Any] = dict(history[-1]) if history else {}
    if start_epoch >= spec.epochs and rank == 0:
        session.say(f"deepbehavior train: all {spec.epochs} epochs were already done; nothing to train")
    epoch_seconds: list[float] = []
    if rank == 0 and start_epoch < spec.epochs:
        session.say(f"deepbehavior train: ready in {time.perf_counter() - started:.0f} s "
                    f"({len(train_loader.dataset)} training images); epoch {start_epoch + 1}/{spec.epochs} running")
    for epoch in range(start_epoch, spec.epochs):
        # Seeding per epoch makes a resumed run draw the same augmentations as an unbroken one.
        _seed(spec.seed + 1000 * epoch)
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scheduler.step()
        model.train()
        if hasattr(train_loader.sampler, "set_epoch"):
            train_loader.sampler.set_epoch(epoch)
        if not mosaic_closed and epoch >= spec.epochs - hyp.close_mosaic:
            mosaic_closed = True
            internals.close_dataloader_mosaic(tool)
            train_loader.reset()
        mean_loss, images = None, 0
        for i, batch in enumerate(train_loader):
            ni = i + nb * epoch
            if warmup and ni <= warmup:
                accumulate_now = max(1, int(np.interp(ni, [0, warmup], [1, accumulate]).round()))
                for group in optimizer.param_groups:
                    start = hyp.warmup_bias_lr if group.get("param_group") == "bias" else 0.0
                    group["lr"] = float(np.interp(ni, [0, warmup], [start, group["initial_lr"] * tool.lf(epoch)]))
                    if "momentum" in group:
                        group["momentum"] = float(np.interp(ni, [0, warmup], [hyp.warmup_momentum, hyp.momentum]))
            else:
                accumulate_now = accumulate
            with torch.autocast(device.type, enabled=spec.amp and device.type == "cuda"):
                batch = tool.preprocess_batch(batch)
                loss, loss_items = model(batch)
                # DDP averages gradients over workers; ultralytics scales the loss to sum them instead.
                loss = loss.sum() * world
            loss.backward()
            items = {k: float(v) for k, v in loss_items.items()}
            mean_loss = items if mean_loss is None else {k: (mean_loss[k] * i + items[k]) / (i + 1) for k in items}
            images += batch["img"].shape[0]
            if ni - last_step >= accumulate_now:
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
                optimizer.step()
                optimizer.zero_grad()
                ema.update(model)
                last_step = ni
        criterion = unwrap_model(model).criterion
        if hasattr(criterion, "update"):
            criterion.update()
        ema.update_attr(model, include=["yaml", "nc", "args", "names", "stride", "class_weights"])
        train_seconds = time.perf_counter() - started
        if world > 1:
            import torch.distributed as dist

            totals = torch.tensor([*mean_loss.values(), float(images)], dtype=torch.float64, device=device)
            dist.all_reduce(totals)
            totals = totals.cpu()
            mean_loss = {k: float(v) / world for k, v in zip(mean_loss, totals[:-1])}
            images = int(totals[-1])
        lr = {f"lr/pg{j}": g["lr"] for j, g in enumerate(optimizer.param_groups)}

        stop = False
        metrics = {"epoch": epoch}
        if rank == 0:
            tool.loss_items = {k: torch.as_tensor(v) for k, v in loss_items.items()}
            tool.epoch = epoch
            tool.loss_names = tuple(loss_items)
            val = validator(tool)
            fitness = float(val.pop("fitness", 0.0))
            extra = {}
            if spec.task == "pose" and validator.pixel_errors:
                k = unwrap_model(model).kpt_shape[0]
                errors = np.concatenate([e.reshape(-1, k) for e in validator.pixel_errors])
                scales = np.concatenate(validator.pixel_scales)
                extra = summarize_keypoint_errors(errors, scales, pck_threshold=spec.pck_threshold)
            metrics = {"epoch": epoch, "time_s": round(train_seconds, 3), "images": images,
                       "images_per_s": images / train_seconds,
                       **{f"train/{k}": v for k, v in mean_loss.items()}, **val, **extra, **lr,
                       "fitness": fitness}
            improved = best_fitness is None or fitness >= best_fitness
            best_fitness = fitness if improved else best_fitness
            stop = stopper(epoch + 1, fitness) or epoch + 1 >= spec.epochs
            history.append(metrics)
            weights = out / WEIGHTS_DIR
            _save_weights(weights / "last.pt", ema=ema.ema, args=hyp, epoch=epoch, best_fitness=best_fitness,
                          metrics=metrics, history=history)
            if improved:
                shutil.copyfile(weights / "last.pt", weights / "best.tmp")
                os.replace(weights / "best.tmp", weights / "best.pt")
            write_report(history, out, plot=stop)  # the figure once, at the last epoch
            epoch_seconds.append(time.perf_counter() - started)
            remaining = 0 if stop else spec.epochs - epoch - 1
            session.say(epoch_line(metrics, epochs=spec.epochs,
                                   seconds_left=remaining * float(np.mean(epoch_seconds))))
            with tempfile.TemporaryDirectory(prefix="deepbehavior-ckpt-") as tmp:
                torch.save({"model": unwrap_model(model).state_dict(), "ema": ema.ema.state_dict(),
                            "updates": ema.updates, "optimizer": optimizer.state_dict(), "epoch": epoch,
                            "best_fitness": best_fitness, "history": history,
                            "stopper": (stopper.best_fitness, stopper.best_epoch)}, Path(tmp) / STATE_FILE)
                session.report(_scalars(metrics), Path(tmp))
        else:
            session.report({"epoch": epoch}, None)
        if broadcast(stop, world):
            break
    return metrics if rank == 0 else {}


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and math.isfinite(float(v))}


def train_locally(spec: LoopSpec, *, storage: Path) -> dict[str, Any]:
    """Run the loop in this process without Ray (one worker, CPU); checkpoints under ``storage``."""
    with process_state_kept():
        return train_loop(spec, LocalSession(storage=Path(storage)))


def spec_as_dict(spec: LoopSpec) -> dict[str, Any]:
    return asdict(spec)


def _is_topdown_checkpoint(model: str) -> bool:
    from .topdown import is_checkpoint

    return is_checkpoint(model)


def make_spec(train: Any, *, task: str, data: str | os.PathLike, out: str | os.PathLike):
    """The loop's settings from a :class:`deepbehavior.config.TrainConfig` and a checked dataset.

    ``task`` is the dataset's (``"pose"`` with ``kpt_shape``). A keypoint dataset with ``model``
    ``auto`` or ``topdown``, or a top-down checkpoint to fine-tune, gives a
    :class:`~deepbehavior.models.topdown_train.TopDownSpec`; anything else a :class:`LoopSpec` of
    ultralytics. A detection architecture YAML given for a keypoint dataset (or the reverse) is an
    error, except ``yolo11n.yaml``, which becomes ``yolo11n-pose.yaml``.
    """
    model = str(train.model)
    if model == "topdown" and task != "pose":
        raise ValueError(f"Expected a keypoint dataset (kpt_shape in data.yaml) for train.model=topdown, but got "
                         f"a {task} dataset")
    if task == "pose" and (model in ("auto", "topdown") or _is_topdown_checkpoint(model)):
        from .topdown_train import spec_from_config

        return spec_from_config(train, data=data, out=out)
    if model == "auto":
        model = "yolo11n.yaml"
    if model.endswith((".yaml", ".yml")):
        is_pose = "-pose" in Path(model).stem
        if task == "pose" and not is_pose:
            if Path(model).name != "yolo11n.yaml":
                raise ValueError(f"Expected a keypoint architecture (e.g. yolo11n-pose.yaml) for a dataset with "
                                 f"kpt_shape, but got train.model={model}")
            model = "yolo11n-pose.yaml"
        elif task == "detect" and is_pose:
            raise ValueError(f"Expected a detection architecture for a dataset without kpt_shape, but got "
                             f"train.model={model}")
    overrides = {"imgsz": train.imgsz, "lr0": train.lr0, "optimizer": train.optimizer,
                 "close_mosaic": train.close_mosaic, "workers": train.workers,
                 **({} if train.augment else NO_AUGMENTATION),
                 # train.time is in hours, as ultralytics' own
                 **({} if getattr(train, "time", None) is None else {"time": float(train.time)}),
                 **dict(train.overrides)}
    return LoopSpec(data=str(data), out=str(out), task=task, model=model, epochs=train.epochs, batch=train.batch,
                    seed=train.seed, patience=train.patience, amp=train.amp, pck_threshold=train.pck_threshold,
                    overrides=overrides)
