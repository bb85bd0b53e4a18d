"""Training a top-down keypoint model (:mod:`.topdown`) from a hundred labelled frames.

The dataset is a YOLO pose ``data.yaml`` (what ``deepbehavior label … export=yolo`` and
:func:`~deepbehavior.models.pose_dataset.write_pose_dataset` write): its ``train`` split trains, its
``val`` split is held out for early stopping on the keypoint error in frame pixels, measured through
the whole pipeline (centroid network, crop, instance network, back to the frame), and a ``test`` split,
when there is one, is scored once at the end with the best weights (``out/test.json``). Before training,
the recipe is chosen from the training labels (:mod:`.recipe`: crop or whole frame, input size,
rotation, left/right pairs, views), printed and stored with the model; ``spec.recipe`` overrides it.

Every sample is augmented as behaviour video varies: rotation (a top-view animal faces any way),
scale, a shift of the crop centre (the centroid network is never exact), brightness and contrast,
and left-right mirroring with the left/right body parts swapped (``flip_idx`` of the dataset). The
loop runs in any :class:`~deepbehavior.models.train_session.Session` (one process, or a Ray Train worker
whose shard of every epoch is its own, with gradients averaged by DDP), checkpoints every epoch and
resumes from the session's latest checkpoint. ``init`` fine-tunes from a previous top-down
checkpoint: every weight whose shape matches is kept (all of them when the body parts are the same).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import cv2
import numpy as np

from ..files import write_atomic
from . import crops
from .dataset_checks import _list_images, check_dataset, label_path
from .keypoint_metrics import animal_size, errors_by_centre, summarize_keypoint_errors
from .topdown import (TopDownModel, TopDownNet, TopDownSettings, animal_centre, checkpoint_dict, frame_geometry,
                      read_checkpoint, to_tensor)
from .heatmap import render_targets
from .recipe import choose_recipe, describe, identity_problems, identity_summary
from .train_report import write_report

STATE_FILE = "state.pt"


@dataclass(frozen=True)
class Augmentation:
    """Random changes of each training sample (uniform within ± the value).

    ``rotation`` degrees; ``scale`` fraction of the window; ``jitter`` shift of the crop centre as a
    fraction of the window; ``flip`` probability of a left-right mirror; ``brightness`` and
    ``contrast`` fractions of the pixel range and of the contrast.
    """

    rotation: float = 180.0
    scale: float = 0.15
    jitter: float = 0.08
    flip: float = 0.5
    brightness: float = 0.2
    contrast: float = 0.25


@dataclass(frozen=True)
class TopDownSpec:
    """Everything a worker needs, as plain values (it travels to Ray workers by pickle)."""

    data: str
    out: str
    settings: dict = field(default_factory=dict)
    augmentation: dict = field(default_factory=dict)
    epochs: int = 50
    samples_per_epoch: int = 256
    batch: int = 16
    lr: float = 3e-3
    patience: int = 10
    seed: int = 0
    init: Optional[str] = None
    max_train_frames: Optional[int] = None
    pck_threshold: float = 0.1
    threads: Optional[int] = None
    # what the labels decide unless set here (keywords of recipe.choose_recipe: mode, flip, flip_pairs, …)
    recipe: dict = field(default_factory=dict)
    # wall-clock budget of the whole run, seconds (None: epochs only)
    time_s: Optional[float] = None


# --------------------------------------------------------------------------------------------------
# Data


@dataclass
class Split:
    """Images of one split in memory: ``images`` (BGR uint8) and per image ``points (n_animals, K, 2)``
    in pixels, NaN where not labelled."""

    paths: list[Path]
    images: list[np.ndarray]
    points: list[np.ndarray]


def read_split(data: dict, split: str, n_keypoints: int) -> Split:
    """Read the images and keypoint labels of ``split`` of a checked, resolved ``data.yaml`` dict."""
    root = Path(data["path"])
    problems: list[str] = []
    entries = data[split] if isinstance(data[split], list) else [data[split]]
    paths = [p for entry in entries for p in _list_images(Path(entry), root, problems)]
    if problems:
        raise ValueError("; ".join(problems))
    images, points = [], []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"{path}: Expected an image OpenCV can read, but got an unreadable file")
        h, w = image.shape[:2]
        label = label_path(path)
        animals = []
        if label.is_file():
            for line in label.read_text().splitlines():
                values = np.array(line.split()[5:], dtype=np.float64)
                if not len(values):
                    continue
                per = values.reshape(n_keypoints, -1)
                xy = per[:, :2] * [w, h]
                missing = (per[:, 2] <= 0) if per.shape[1] == 3 else (per[:, :2] == 0).all(axis=1)
                xy[missing] = np.nan
                animals.append(xy)
        images.append(image)
        points.append(np.array(animals, dtype=np.float64).reshape(-1, n_keypoints, 2))
    return Split(paths, images, points)


def subset(split: Split, n: Optional[int], seed: int) -> Split:
    """The first ``n`` images of a seeded shuffle of ``split`` (all when ``n`` is None)."""
    if n is None or n >= len(split.paths):
        return split
    order = np.random.default_rng(seed).permutation(len(split.paths))[:n]
    return Split([split.paths[i] for i in order], [split.images[i] for i in order], [split.points[i] for i in order])


def make_sample(image: np.ndarray, animals: np.ndarray, which: int, *, settings: TopDownSettings,
                aug: Augmentation, flip_idx, rng: np.random.Generator,
                canvas: tuple[int, int] | None = None) -> tuple[np.ndarray, ...]:
    """One augmented training sample from an image and one of its animals.

    Returns the centroid network's input ``(h, w, 3)`` and target ``(1, h/s, w/s)``, and the
    instance network's crop ``(c, c, 3)`` and targets ``(K, c/s, c/s)``. ``canvas`` (w, h) fixes
    the centroid input's size (for datasets whose images differ in size); default this image's.
    """
    s = settings
    height, width = image.shape[:2]
    angle = rng.uniform(-aug.rotation, aug.rotation)
    flip = rng.random() < aug.flip
    zoom = 1.0 + rng.uniform(-aug.scale, aug.scale)
    gain = 1.0 + rng.uniform(-aug.contrast, aug.contrast)
    bias = rng.uniform(-aug.brightness, aug.brightness) * 255
    order = np.asarray(flip_idx) if flip else np.arange(animals.shape[1])

    # the whole frame, scaled for the centroid network (small turns only: the arena stays the arena)
    scale, canvas_w, canvas_h = frame_geometry(height, width, s.centroid_size)
    if canvas is not None:
        canvas_w, canvas_h = canvas
    if s.centre is not None:  # whole-frame mode has no centroid network to train: a token input
        scale, canvas_w, canvas_h = 16 / max(height, width), 16, 16
    frame_m = crops.affine_matrix((width / 2 - 0.5, height / 2 - 0.5), scale=scale * zoom,
                                  angle=angle if abs(aug.rotation) <= 30 else rng.uniform(-15, 15), flip=flip,
                                  out_centre=(canvas_w / 2 - 0.5, canvas_h / 2 - 0.5))
    frame = crops.cut(image, frame_m, (canvas_w, canvas_h))
    centres = np.array([crops.apply_matrix(frame_m, animal_centre(a)) for a in animals]).reshape(-1, 2)
    h_maps = (canvas_h // s.stride, canvas_w // s.stride)
    seen = np.isfinite(centres).all(axis=1)
    target = render_targets(centres, seen, shape=h_maps, stride=s.stride, sigma=s.sigma).max(axis=0, initial=0.0)

    # one animal, cut around its centre with a shift
    origin = animal_centre(animals[which]) if s.centre is None else np.asarray(s.centre, dtype=np.float64)
    centre = origin + rng.uniform(-aug.jitter, aug.jitter, 2) * s.window
    crop_m = crops.crop_matrix(centre, size=s.window * zoom, out_size=s.crop_size, angle=angle, flip=flip)
    crop = crops.cut(image, crop_m, s.crop_size)
    points = crops.apply_matrix(crop_m, animals[which])[order]
    inside = np.isfinite(points).all(axis=1) & (points >= 0).all(axis=1) & (points <= s.crop_size - 1).all(axis=1)
    c_maps = (s.crop_size // s.stride, s.crop_size // s.stride)
    crop_target = render_targets(points, inside, shape=c_maps, stride=s.stride, sigma=s.sigma)

    def photometric(img):
        return np.clip(img.astype(np.float32) * gain + bias + (1 - gain) * 127.5, 0, 255).astype(np.uint8)

    return photometric(frame), target[None], photometric(crop), crop_target


# --------------------------------------------------------------------------------------------------
# Scoring


def evaluate(model: TopDownModel, split: Split, *, pck_threshold: float = 0.1, max_individuals: int | None = None
             ) -> dict[str, Any]:
    """Held-out keypoint error of ``model`` on ``split`` through the whole pipeline, in frame pixels.

    An animal counts as found when the centroid network put a centre within half its size (at least
    16 px) of the centre of the box around its labelled parts.
    Returns the summary of :func:`~deepbehavior.models.keypoint_metrics.summarize_keypoint_errors`
    (mean and median error of found parts, PCK at ``pck_threshold`` of the animal's size, fraction
    found) plus ``errors (N_animals, K)`` and ``sizes (N_animals,)`` for further statistics.
    """
    slots = max_individuals or max(max((len(p) for p in split.points), default=1), 1)
    all_errors, sizes, matched_pred, matched_truth = [], [], [], []
    for image, truth in zip(split.images, split.points):
        pred = model.predict(image[None], max_individuals=slots)
        if model.settings.centre is None:
            all_errors.append(errors_by_centre(truth, pred["keypoints"][0], pred_centres=pred["centre"][0]))
        else:  # whole-frame mode: one animal, the rig's window always holds it
            all_errors.append(errors_by_centre(truth, pred["keypoints"][0], max_distance=math.inf))
        sizes += [animal_size(p) for p in truth]
        if len(truth) == 1:  # identity checks against the labels: one animal, one prediction
            matched_pred.append(pred["keypoints"][0, 0])
            matched_truth.append(truth[0])
    k = len(model.keypoint_names)
    errors = np.concatenate(all_errors) if all_errors else np.zeros((0, k))
    sizes = np.asarray(sizes, dtype=np.float64)
    summary = summarize_keypoint_errors(errors, sizes, pck_threshold=pck_threshold)
    identities = {"collapsed": {}, "swapped": {}, "frames": 0}
    recipe = model.metadata.get("recipe")
    if recipe and matched_pred:
        identities = identity_problems(np.array(matched_pred), recipe, model.keypoint_names,
                                       truth=np.array(matched_truth))
    return {**summary, "errors": errors, "sizes": sizes, "identities": identities}


# --------------------------------------------------------------------------------------------------
# The loop


def _seed(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def heatmap_loss(logits, target):
    """Binary cross-entropy of heatmap logits against Gaussian targets (0..1), summed over a map and
    averaged over maps.

    Squared error on heatmaps this sparse (a few dozen of thousands of pixels are on) first learns
    to answer zero everywhere and stays there for many epochs; cross-entropy's log penalises a
    missing peak far more than a faint background, so peaks appear within the first epoch (as in
    DeepLabCut's score maps).
    """
    import torch.nn.functional as F

    per_pixel = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return per_pixel.flatten(2).sum(-1).mean() / 100.0


def load_matching(net, state: dict) -> tuple[int, int]:
    """Copy the tensors of ``state`` whose name and shape match ``net``'s; return (copied, total)."""
    own = net.state_dict()
    kept = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    own.update(kept)
    net.load_state_dict(own)
    return len(kept), len(own)


def _save_atomic(obj: Any, path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def train_topdown(spec: TopDownSpec, session) -> dict[str, Any]:
    """Train one worker's share of a top-down model; return the last epoch's metrics (worker 0) or ``{}``.

    Writes ``out/weights/{best,last}.pt`` (top-down checkpoints; best by held-out mean error) and
    ``out/results.csv`` / ``results.png``, and hands a checkpoint to the session every epoch.
    """
    import torch

    rank, world = session.world_rank, session.world_size
    if spec.threads:
        torch.set_num_threads(spec.threads)
    device = session.device()
    summary = check_dataset(spec.data)
    if summary.kpt_shape is None:
        raise ValueError(f"{spec.data}: Expected a keypoint dataset (field kpt_shape), but got none")
    data = summary.data
    k = int(summary.kpt_shape[0])
    names = list((data.get("kpt_names") or {}).get(0, [])) or [f"keypoint{i}" for i in range(k)]
    file_flip = list(data.get("flip_idx") or range(k))
    if sorted(file_flip) != list(range(k)):
        raise ValueError(f"{spec.data}: Expected flip_idx a permutation of 0..{k - 1}, but got {file_flip}")
    # the dataset's own left/right swap (a skeleton's symmetries, exported) comes before names
    symmetries = [(names[i], names[j]) for i, j in enumerate(file_flip) if i < j and file_flip[j] == i]
    train = subset(read_split(data, "train", k), spec.max_train_frames, spec.seed)
    held_out = read_split(data, "val", k) if rank == 0 else None

    settings_values = dict(spec.settings)
    init_state = None
    if spec.init:
        previous = read_checkpoint(spec.init)
        init_state = previous["state_dict"]
        # the same input geometry as the model fine-tuned, unless this run sets it
        settings_values = {**previous["settings"], **settings_values}
        if not spec.settings.get("window"):
            settings_values["window"] = 0.0
    recipe_options = dict(spec.recipe)
    if init_state is not None:  # the fine-tuned model's geometry
        recipe_options.update(mode="frame" if settings_values.get("centre") else "crop",
                              crop_size=int(settings_values.get("crop_size") or 0),
                              window=float(settings_values.get("window") or 0.0))
    elif settings_values.get("window"):
        recipe_options.setdefault("window", float(settings_values["window"]))
    if not recipe_options.get("crop_size") and settings_values.get("crop_size"):
        recipe_options["crop_size"] = int(settings_values["crop_size"])
    recipe = choose_recipe([a for p in train.points for a in p],
                           [(im.shape[1], im.shape[0]) for im in train.images], names,
                           animals_per_frame=max((len(p) for p in train.points), default=1),
                           symmetries=symmetries, margin=float(settings_values.get("margin", 0.2)),
                           stride=int(settings_values.get("stride", 2)), **recipe_options)
    settings_values.update(window=recipe.window, crop_size=recipe.crop_size, stride=recipe.stride,
                           centre=recipe.centre)
    settings = TopDownSettings(**settings_values)
    flip_idx = crops.swap_order(names, recipe.flip_pairs)
    aug = Augmentation(**{**spec.augmentation, **({"rotation": recipe.rotation} if
                                                   "rotation" not in spec.augmentation else {}),
                          **({} if recipe.flip else {"flip": 0.0})})
    if rank == 0:
        session.say(describe(recipe) + f"\n  augmentation rotation +-{aug.rotation:g} deg, mirror p={aug.flip:g}")
        out_folder = Path(spec.out)
        out_folder.mkdir(parents=True, exist_ok=True)
        write_atomic(out_folder / "recipe.json", json.dumps({**recipe.to_dict(), "augmentation": asdict(aug),
                                                             "settings": asdict(settings)}, indent=2) + "\n")

    _seed(spec.seed)
    net = TopDownNet(k, settings)
    if init_state is not None:
        copied, total = load_matching(net, init_state)
        if rank == 0:
            session.say(f"deepbehavior train: fine-tuning from {spec.init} ({copied} of {total} tensors kept)")
    net = net.to(device)
    model = session.prepare_model(net) if world > 1 else net
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=1e-4)
    steps_per_epoch = max(math.ceil(spec.samples_per_epoch / spec.batch), 1)
    # the schedule's length; a time budget shortens it once the first epoch's duration is known
    horizon = {"steps": steps_per_epoch * spec.epochs}
    warmup = min(steps_per_epoch, horizon["steps"] // 10 + 1)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        total_steps = horizon["steps"]
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(step - warmup, total_steps - warmup)
                                                  / max(total_steps - warmup, 1)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    shapes = np.array([frame_geometry(*image.shape[:2], settings.centroid_size)[1:] for image in train.images])
    canvas = (int(shapes[:, 0].max()), int(shapes[:, 1].max()))  # one size for every batch
    instances = [(i, j) for i, p in enumerate(train.points) for j in range(len(p))]
    if not instances:
        raise ValueError(f"{spec.data}: Expected labelled animals in the train split, but got none")

    out = Path(spec.out)
    start_epoch, best, history, since_best = 0, math.inf, [], 0
    elapsed_before = 0.0  # wall seconds of earlier sessions of this run (resumed), for the time budget
    checkpoint = session.latest_checkpoint()
    if checkpoint is not None:
        state = torch.load(Path(checkpoint) / STATE_FILE, map_location=device, weights_only=False)
        _unwrap(model).load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best, history, since_best = state["epoch"] + 1, state["best"], state["history"], state["since_best"]
        elapsed_before = float(state.get("elapsed_s", 0.0))
        horizon["steps"] = int(state.get("horizon_steps", horizon["steps"]))
        if rank == 0:
            session.say(f"deepbehavior train: resuming after epoch {start_epoch} of {spec.epochs} from {checkpoint}")

    metrics: dict[str, Any] = dict(history[-1]) if history else {}
    if start_epoch >= spec.epochs and rank == 0:
        session.say(f"deepbehavior train: all {spec.epochs} epochs were already done; nothing to train")
    per_worker = max(spec.batch // world, 1)
    run_started = time.perf_counter()
    for epoch in range(start_epoch, spec.epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        rng = np.random.default_rng([spec.seed, epoch, rank])
        # the same order on every worker, each taking its own stride of it
        order_rng = np.random.default_rng([spec.seed, epoch])
        picks = np.concatenate([order_rng.permutation(len(instances))
                                for _ in range(math.ceil(steps_per_epoch * spec.batch / len(instances)))])
        picks = picks[: steps_per_epoch * spec.batch][rank::world]
        model.train()
        total_loss, seen = 0.0, 0
        for step in range(steps_per_epoch):
            chosen = picks[step * per_worker:(step + 1) * per_worker]
            if not len(chosen):
                break
            samples = [make_sample(train.images[instances[i][0]], train.points[instances[i][0]], instances[i][1],
                                   settings=settings, aug=aug, flip_idx=flip_idx, rng=rng, canvas=canvas)
                       for i in chosen]
            frames, frame_t, crop_in, crop_t = (np.stack(parts) for parts in zip(*samples))
            pred_f, pred_c = model(to_tensor(frames, device), to_tensor(crop_in, device))
            loss = heatmap_loss(pred_f, torch.from_numpy(frame_t).to(device)) + \
                heatmap_loss(pred_c, torch.from_numpy(crop_t).to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total_loss += float(loss.detach()) * len(chosen)
            seen += len(chosen)
        train_s = time.perf_counter() - started
        if world > 1:
            import torch.distributed as dist

            totals = torch.tensor([total_loss, float(seen)], dtype=torch.float64, device=device)
            dist.all_reduce(totals)
            total_loss, seen = float(totals[0]), int(totals[1])

        stop = False
        if rank == 0:
            trained = TopDownModel(_unwrap(model), settings, tuple(names), tuple(flip_idx),
                                   {"recipe": recipe.to_dict()})
            scored = evaluate(trained, held_out, pck_threshold=spec.pck_threshold)
            identities = scored["identities"]
            cpu_s = time.process_time() - cpu_started  # this process's CPU time: training and validation
            metrics = {"epoch": epoch, "train/heatmap_loss": total_loss / max(seen, 1), "kpt_error_px": scored["kpt_error_px"],
                       "kpt_median_px": scored["kpt_median_px"], "pck": scored["pck"],
                       "kpt_detected": scored["kpt_detected"], "time_s": round(train_s, 3), "cpu_s": round(cpu_s, 3),
                       "epoch_s": round(time.perf_counter() - started, 3),
                       "images": seen, "images_per_s": seen / max(train_s, 1e-9),
                       "lr/pg0": optimizer.param_groups[0]["lr"],
                       "val/collapsed_parts": sum(identities["collapsed"].values()),
                       "val/swapped_pairs": sum(identities["swapped"].values())}
            # fewer parts found is worse whatever their error: rank by error plus a penalty per part missed
            error = scored["kpt_error_px"] if math.isfinite(scored["kpt_error_px"]) else 1e6
            fitness = -(error + 1000.0 * (1.0 - (scored["kpt_detected"] if math.isfinite(scored["kpt_detected"]) else 0)))
            metrics["fitness"] = fitness
            improved = -fitness < best
            best, since_best = (-fitness, 0) if improved else (best, since_best + 1)
            history.append(metrics)
            record = checkpoint_dict(_unwrap(model), settings, names, flip_idx, epoch=epoch, metrics=_plain(metrics),
                                     data=str(spec.data), train_frames=len(train.paths), recipe=recipe.to_dict(),
                                     identities=identities)
            _save_atomic(record, out / "weights" / "last.pt")
            if improved:
                shutil.copyfile(out / "weights" / "last.pt", out / "weights" / "best.tmp")
                os.replace(out / "weights" / "best.tmp", out / "weights" / "best.pt")
            stop = since_best >= spec.patience or epoch + 1 >= spec.epochs
            elapsed = elapsed_before + time.perf_counter() - run_started
            epoch_wall = time.perf_counter() - started
            if spec.time_s is not None:
                if epoch == start_epoch:  # the epochs that fit: the learning-rate schedule ends with them
                    fit = max(int((spec.time_s - elapsed) // max(epoch_wall, 1e-9)) + epoch + 1, epoch + 1)
                    horizon["steps"] = steps_per_epoch * min(fit, spec.epochs)
                if elapsed + epoch_wall > spec.time_s and not stop:
                    stop = True
                    session.say(f"deepbehavior train: stopping after epoch {epoch + 1}: the time budget "
                                f"train.time ({spec.time_s / 3600:g} h) leaves no room for another "
                                f"({epoch_wall:.0f} s) epoch")
            problem = identity_summary(identities)
            if problem:
                session.say(f"deepbehavior train: validation {problem}")
            write_report(history, out, plot=stop)  # the figure once, at the last epoch
            from .train_session import epoch_line

            session.say(epoch_line(metrics, epochs=spec.epochs, seconds_left=None if stop else
                                   (spec.epochs - epoch - 1) * train_s))
            with tempfile.TemporaryDirectory(prefix="deepbehavior-ckpt-") as tmp:
                torch.save({"model": _unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(), "epoch": epoch, "best": best, "history": history,
                            "since_best": since_best, "elapsed_s": elapsed_before + time.perf_counter() - run_started,
                            "horizon_steps": horizon["steps"]}, Path(tmp) / STATE_FILE)
                session.report({k: float(v) for k, v in _plain(metrics).items() if math.isfinite(float(v))}, Path(tmp))
        else:
            session.report({"epoch": epoch}, None)
        from .train_session import broadcast

        if broadcast(stop, world):
            break
    if rank == 0 and data.get("test") and (out / "weights" / "best.pt").is_file():
        metrics = {**metrics, **_score_test(data, k, out, session)}
    return metrics if rank == 0 else {}


def _score_test(data: dict, k: int, out: Path, session) -> dict[str, float]:
    """The best weights on the dataset's ``test`` split (never used for a choice): printed and written
    to ``out/test.json``."""
    from .topdown import load_checkpoint

    split = read_split(data, "test", k)
    if not split.paths:
        return {}
    model = load_checkpoint(out / "weights" / "best.pt")
    scored = evaluate(model, split)
    errors = scored["errors"][~np.isnan(scored["errors"])]
    figures = {"test/mean_px": float(np.mean(errors)) if len(errors) else math.nan,
               "test/median_px": float(np.median(errors)) if len(errors) else math.nan,
               "test/pck_5px": float(np.mean(errors <= 5)) if len(errors) else math.nan,
               "test/frames": len(split.paths)}
    record = {**figures, "identities": scored["identities"]}
    write_atomic(out / "test.json", json.dumps(record, indent=2) + "\n")
    problem = identity_summary(scored["identities"])
    session.say(f"deepbehavior train: test split ({len(split.paths)} frames, used for no choice): median "
                f"{figures['test/median_px']:.2f} px, mean {figures['test/mean_px']:.2f} px, PCK@5px "
                f"{figures['test/pck_5px']:.3f}" + (f"; {problem}" if problem else ""))
    return figures


def _unwrap(model):
    return getattr(model, "module", model)


def _plain(metrics: dict) -> dict:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float, np.floating, np.integer))}


def spec_from_config(train: Any, *, data: str | os.PathLike, out: str | os.PathLike) -> TopDownSpec:
    """The loop's settings from a :class:`deepbehavior.config.TrainConfig` (its ``topdown`` part)."""
    td = train.topdown
    model = str(train.model)
    init = model if model.endswith(".pt") else None
    settings = {"margin": td.margin, "centroid_size": td.centroid_size, "width": td.width, "sigma": td.sigma,
                "stride": td.stride}
    if td.window:
        settings["window"] = td.window
    augmentation = {} if train.augment else {"rotation": 0.0, "scale": 0.0, "jitter": 0.0, "flip": 0.0,
                                             "brightness": 0.0, "contrast": 0.0}
    if train.augment and td.rotation is not None:
        augmentation = {"rotation": td.rotation}
    recipe = {"mode": td.mode, "crop_size": td.crop_size, "min_cells": td.min_cells, "max_crop_size": td.max_crop_size}
    if td.flip is not None:
        recipe["flip"] = td.flip
    if td.flip_pairs is not None:
        recipe["flip_pairs"] = list(td.flip_pairs)
    if td.rotation is not None:
        recipe["rotation"] = td.rotation
    time_h = getattr(train, "time", None)
    return TopDownSpec(data=str(data), out=str(out), settings=settings, augmentation=augmentation,
                       epochs=train.epochs, samples_per_epoch=td.samples_per_epoch, batch=train.batch,
                       lr=td.lr, patience=td.patience, seed=train.seed, init=init,
                       pck_threshold=train.pck_threshold, recipe=recipe,
                       time_s=None if time_h is None else float(time_h) * 3600.0)


def spec_dict(spec: TopDownSpec) -> dict:
    return asdict(spec)
