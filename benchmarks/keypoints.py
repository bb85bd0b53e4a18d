"""Top-down keypoints on real labelled frames: DeepLabCut's open-field mouse and reaching mouse.

For each dataset, 20 % of the labelled frames are held out (seed 0: 93 train / 23 held out for the
open field, 44 / 11 for reaching). The top-down recipe (the default of ``deepbehavior train`` for
keypoint datasets) is trained through Ray Train (one worker, as the job runs it) and its best weights
are scored on the held-out frames through the whole pipeline (finding the animal, cropping, body
parts, back to frame pixels): mean and median error (px of the original frames), PCK at 0.05 and
0.1 of the animal's size (longer side of the box around its labelled parts), fraction of labelled
parts whose animal was found, per body part, and training time (wall and the worker's CPU time).
A learning curve trains the same recipe on the first 25 and 50 training frames of a seeded shuffle
(in one process, without Ray) and scores them on the same held-out frames. The baseline is the
bottom-up ultralytics model of ``training_dlc_openfield.json`` (same split), quoted, not re-run.
Writes ``benchmarks/results/keypoints.json`` after every run::

    python benchmarks/keypoints.py [--datasets openfield reaching] [--curve 25 50] [--epochs 50]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import headline

DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "keypoints.json"
DATASETS = {
    # name: (folder, labels, rotation: ± degrees of augmentation — a top view turns freely, a side view not)
    "openfield": ("dlc-openfield", "labeled-data/m4s1/CollectedData_Pranav.csv", 180.0),
    "reaching": ("dlc-reaching", "labeled-data/reachingvideo1/CollectedData_Mackenzie.csv", 15.0),
}
SPLIT_SEED, TRAIN_SEED = 0, 0


def machine() -> dict:
    import platform

    import psutil
    from _machine import cpu_model

    return {"cpu": cpu_model(), "cores": psutil.cpu_count(), "gpu": None,
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "note": "shared with other work while measured: wall times are inflated, CPU times are not"}


def write_dataset(name: str, folder: Path) -> Path:
    from deepbehavior.formats.dlc import read_dlc_labels
    from deepbehavior.models.crops import guess_flip_pairs, swap_order
    from deepbehavior.models.pose_dataset import write_pose_dataset

    project, csv, _ = DATASETS[name]
    root = DATA / project
    labels = read_dlc_labels(root / csv)
    bodyparts = labels.keypoints
    unseen = [[np.nan, np.nan]] * len(bodyparts)
    points = {str(image.path): np.array([[np.nan, np.nan] if p is None else p
                                         for p in (image.instances[0]["keypoints"] if image.instances else unseen)],
                                        dtype=float)
              for image in labels.images}
    flip_idx = swap_order(bodyparts, guess_flip_pairs(bodyparts))
    return write_pose_dataset(points, folder, keypoint_names=bodyparts, name="mouse", flip_idx=flip_idx,
                              val_fraction=0.2, seed=SPLIT_SEED)


def score(weights: Path, data_yaml: Path) -> dict:
    """Held-out figures of a checkpoint, through the whole pipeline."""
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.keypoint_metrics import summarize_keypoint_errors
    from deepbehavior.models.topdown import load_checkpoint
    from deepbehavior.models.topdown_train import evaluate, read_split

    model = load_checkpoint(weights)
    summary = check_dataset(data_yaml)
    split = read_split(summary.data, "val", len(model.keypoint_names))
    started = time.perf_counter()
    result = evaluate(model, split)
    predict_s = time.perf_counter() - started
    errors, sizes = result["errors"], result["sizes"]
    found = np.isfinite(errors)
    frames_found = float(np.mean([np.isfinite(row[~np.isnan(row)]).any() for row in errors]))
    per_part = {}
    for j, part in enumerate(model.keypoint_names):
        e = errors[:, j][found[:, j]]
        per_part[part] = {"mean_px": float(e.mean()) if len(e) else None,
                          "median_px": float(np.median(e)) if len(e) else None,
                          "labelled": int((~np.isnan(errors[:, j])).sum()), "found": int(found[:, j].sum())}
    # Is the model's own confidence a guide to its errors (what `frames method=uncertain` relies on)?
    # Per held-out frame: uncertainty as selection.uncertainty_score computes it (1 - lowest part
    # confidence; 1 when nothing was found) against the frame's worst part error.
    from scipy.stats import spearmanr

    uncertainty, worst = [], []
    for image, row in zip(split.images, errors):
        conf = model.predict(image[None], max_individuals=1)["keypoint_conf"][0, 0]
        uncertainty.append(1.0 - float(np.nanmin(conf)) if np.isfinite(conf).any() else 1.0)
        labelled = row[~np.isnan(row)]
        worst.append(float(labelled.max()) if len(labelled) else np.nan)
    uncertainty, worst = np.array(uncertainty), np.array(worst)
    ok = ~np.isnan(worst)
    ranked = np.argsort(-uncertainty[ok], kind="stable")
    top = max(len(ranked) // 4, 1)
    capped = np.minimum(worst[ok], 1e3)  # a missed animal (inf) counts as 1000 px
    selection = {
        "spearman_uncertainty_vs_worst_error": float(spearmanr(uncertainty[ok], capped).statistic),
        "worst_error_median_px_of_most_uncertain_quarter": float(np.median(capped[ranked[:top]])),
        "worst_error_median_px_of_all": float(np.median(capped)),
    }
    return {
        "mean_px": result["kpt_error_px"], "median_px": result["kpt_median_px"],
        "pck_0.05": summarize_keypoint_errors(errors, sizes, pck_threshold=0.05)["pck"],
        "pck_0.1": summarize_keypoint_errors(errors, sizes, pck_threshold=0.1)["pck"],
        "parts_found": result["kpt_detected"], "frames_found": frames_found,
        "animal_size_px_median": float(np.nanmedian(sizes)), "held_out_frames": len(split.paths),
        "per_part": per_part, "window_px": model.settings.window, "crop_size": model.settings.crop_size,
        "predict_frames_per_s": len(split.paths) / predict_s, "uncertainty": selection,
    }


def run(name: str, data_yaml: Path, work: Path, *, epochs: int, frames: int | None, ray: bool, threads: int) -> dict:
    import pandas as pd

    from deepbehavior.config import RayConfig, TopDownConfig, TrainConfig
    from deepbehavior.models.yolo_train import LocalSession, make_spec

    _, _, rotation = DATASETS[name]
    train = TrainConfig(data=str(data_yaml), epochs=epochs, seed=TRAIN_SEED, topdown=TopDownConfig(rotation=rotation))
    out = work / f"{name}-{frames or 'all'}"
    spec = make_spec(train, task="pose", data=data_yaml, out=out)
    from dataclasses import replace

    spec = replace(spec, max_train_frames=frames, threads=threads)
    started, cpu_started = time.perf_counter(), time.process_time()
    if ray:
        from deepbehavior.runtime.distributed_training import fit

        fit(spec, num_workers=1, storage=work / "checkpoints", name=out.name, cpus_per_worker=threads,
            ray=RayConfig(num_cpus=max(threads, 1)))
    else:
        from deepbehavior.models.topdown_train import train_topdown

        train_topdown(spec, LocalSession(storage=work / "checkpoints" / out.name))
    wall = time.perf_counter() - started
    table = pd.read_csv(out / "results.csv")
    best = table.loc[table["fitness"].idxmax()]
    figures = score(out / "weights" / "best.pt", data_yaml)
    return {**figures, "train_frames": int(frames) if frames else _count(data_yaml, "train"),
            "train_wall_s": wall, "train_cpu_s": float(table["cpu_s"].sum()) if ray else time.process_time() - cpu_started,
            "epochs_run": len(table), "best_epoch": int(best["epoch"]),
            "setup": {"recipe": "top-down (centroid + instance heatmap networks, from scratch)",
                      "epochs": epochs, "samples_per_epoch": spec.samples_per_epoch, "batch": spec.batch,
                      "settings": spec.settings, "augmentation": spec.augmentation or "defaults",
                      "rotation_deg": rotation, "patience": spec.patience, "split_seed": SPLIT_SEED,
                      "train_seed": TRAIN_SEED, "subset_seed": TRAIN_SEED, "runner": "Ray Train, 1 worker" if ray
                      else "one process", "threads": threads}}


def _count(data_yaml: Path, split: str) -> int:
    from deepbehavior.models.dataset_checks import check_dataset

    return int(check_dataset(data_yaml).images[split])


def _save(updates: dict, dataset: str | None = None, part: str | None = None) -> None:
    """Merge ``updates`` into the JSON under a lock (several runs of this script may share it)."""
    import fcntl

    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(Path(tempfile.gettempdir()) / "deepbehavior-keypoints-benchmark.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = json.loads(OUT.read_text()) if OUT.is_file() else {}
        result.update(headline(best=None, best_what="an accuracy benchmark (held-out keypoint error in px); no speed ratio: the bottom-up baseline's accuracy is in baseline_openfield_bottom_up", whole=None, whole_what='an accuracy benchmark: no whole-command timing'))
        if dataset is None:
            result.update(updates)
        elif part is None:
            result.setdefault(dataset, {}).update(updates)
        else:
            result.setdefault(dataset, {}).setdefault(part, {}).update(updates)
        tmp = OUT.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
        os.replace(tmp, OUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--curve", nargs="*", type=int, default=[25, 50], help="training frames of the learning curve")
    parser.add_argument("--epochs", type=int, default=50, help="at most (early stopping); 50 is the job's default")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the training worker")
    parser.add_argument("--no-ray", action="store_true", help="train the main run in this process (the same loop "
                        "Ray Train runs), e.g. when an overloaded machine cannot start Ray")
    parser.add_argument("--skip-main", action="store_true", help="only the learning curve (several runs of this "
                        "script can share the machine and the JSON)")
    args = parser.parse_args()
    for name in args.datasets:
        if not (DATA / DATASETS[name][0]).is_dir():
            raise SystemExit(f"Expected the real data at {DATA / DATASETS[name][0]}, but it is absent")
    common = {}
    baseline = RESULTS / "training_dlc_openfield.json"
    if baseline.is_file():
        old = json.loads(baseline.read_text())
        common["baseline_openfield_bottom_up"] = {
            "what": "yolo11n-pose.yaml from scratch, whole frame at 320 px, same split (training_dlc_openfield.json)",
            "mean_px": old["test_error_px"], "median_px": old["test_median_error_px"], "pck_0.1": old["test_pck_0.1"],
            "parts_found": old["test_detected"], "train_wall_s": old["train_time_s"]}
    common.update({"machine": machine(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
    _save(common)
    with tempfile.TemporaryDirectory(prefix="deepbehavior-keypoints-") as tmp:
        work = Path(tmp)
        datasets = {}
        for name in args.datasets:  # every dataset's main run first, then the learning curves
            data_yaml = datasets[name] = write_dataset(name, work / f"{name}-data")
            split = {"train": _count(data_yaml, "train"), "held_out": _count(data_yaml, "val"),
                     "val_fraction": 0.2, "seed": SPLIT_SEED}
            _save({"split": split}, name)
            if args.skip_main:
                continue
            print(f"[{name}] all {split['train']} training frames", flush=True)
            figures = run(name, data_yaml, work, epochs=args.epochs, frames=None, ray=not args.no_ray,
                          threads=args.threads)
            _save({"all": figures}, name)
            _save({"all": {k: figures[k] for k in ("mean_px", "median_px", "pck_0.1", "parts_found")}}, name,
                  "learning_curve")
            print(json.dumps({k: figures[k] for k in ("mean_px", "median_px", "pck_0.05", "pck_0.1",
                                                      "parts_found", "train_wall_s", "train_cpu_s")}), flush=True)
        for name, data_yaml in datasets.items():
            for n in args.curve:
                if n >= _count(data_yaml, "train"):
                    continue
                print(f"[{name}] {n} training frames", flush=True)
                figures = run(name, data_yaml, work, epochs=args.epochs, frames=n, ray=False, threads=args.threads)
                _save({str(n): figures}, name, "learning_curve")
    print(f"results: {OUT}")


if __name__ == "__main__":
    main()
