"""Top-down keypoints on every labelled real set: DeepLabCut's open-field mouse and reaching mouse.

Each dataset is split three ways (seed 0): 15 % validation (early stopping and ``best.pt``), 20 %
test (never used for any choice: the figures here), the rest trains (open field 76 / 17 / 23,
reaching 36 / 8 / 11). The top-down recipe is what ``deepbehavior train`` does with its defaults:
the recipe chosen from the training labels (printed, stored in ``recipe``), and ``--time`` as
``train.time``. The best weights are scored on the TEST frames through the whole pipeline (finding
the animal or the rig's window, cropping, body parts, back to frame pixels): mean and median error
(px of the original frames), PCK at 5 and 10 px and at 0.05 / 0.1 of the animal's size, per body part,
parts collapsed onto one spot or swapped with their mirror pair, and training time (wall and CPU).
The baseline a user could write is on the same test frames: each part at its mean training position.
Writes ``benchmarks/results/keypoints.json`` after every run::

    python benchmarks/keypoints.py [--datasets openfield reaching] [--time 0.5] [--curve] [--epochs 50]
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
    # name: (folder, labels); everything else is chosen from the labels, as the job does
    "openfield": ("dlc-openfield", "labeled-data/m4s1/CollectedData_Pranav.csv"),
    "reaching": ("dlc-reaching", "labeled-data/reachingvideo1/CollectedData_Mackenzie.csv"),
}
VAL_FRACTION, TEST_FRACTION = 0.15, 0.2
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
    from deepbehavior.models.pose_dataset import write_pose_dataset

    project, csv = DATASETS[name]
    root = DATA / project
    labels = read_dlc_labels(root / csv)
    bodyparts = labels.keypoints
    unseen = [[np.nan, np.nan]] * len(bodyparts)
    points = {str(image.path): np.array([[np.nan, np.nan] if p is None else p
                                         for p in (image.instances[0]["keypoints"] if image.instances else unseen)],
                                        dtype=float)
              for image in labels.images}
    # no flip_idx: the left/right pairs are the recipe's to find, as for a user's export without symmetries
    return write_pose_dataset(points, folder, keypoint_names=bodyparts, name="mouse", val_fraction=VAL_FRACTION,
                              test_fraction=TEST_FRACTION, seed=SPLIT_SEED)


def _figures(errors: np.ndarray, sizes: np.ndarray, names) -> dict:
    """Error figures of ``errors (N, K)`` px (NaN: not labelled; inf: animal not found)."""
    from deepbehavior.models.keypoint_metrics import summarize_keypoint_errors

    labelled = errors[~np.isnan(errors)]
    out = {"mean_px": float(np.mean(labelled)) if len(labelled) else None,
           "median_px": float(np.median(labelled)) if len(labelled) else None,
           "pck_5px": float(np.mean(labelled <= 5)), "pck_10px": float(np.mean(labelled <= 10)),
           "pck_0.05": summarize_keypoint_errors(errors, sizes, pck_threshold=0.05)["pck"],
           "pck_0.1": summarize_keypoint_errors(errors, sizes, pck_threshold=0.1)["pck"],
           "p95_px": float(np.percentile(labelled, 95)) if len(labelled) else None,
           "max_px": float(np.max(labelled)) if len(labelled) else None}
    out["per_part"] = {}
    for j, part in enumerate(names):
        e = errors[:, j][~np.isnan(errors[:, j])]
        out["per_part"][part] = {"median_px": float(np.median(e)) if len(e) else None,
                                 "mean_px": float(np.mean(e)) if len(e) else None,
                                 "pck_5px": float(np.mean(e <= 5)) if len(e) else None, "labelled": int(len(e))}
    return out


def mean_position_baseline(data_yaml: Path, names) -> dict:
    """Each part predicted at its mean position over the training labels, scored on the test frames."""
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.keypoint_metrics import animal_size
    from deepbehavior.models.topdown_train import read_split

    data = check_dataset(data_yaml).data
    train, test = read_split(data, "train", len(names)), read_split(data, "test", len(names))
    mean = np.nanmean(np.concatenate(train.points), axis=0)
    truth = np.concatenate(test.points)
    errors = np.linalg.norm(truth - mean[None], axis=-1)
    return _figures(errors, np.array([animal_size(p) for p in truth]), names)


def score(weights: Path, data_yaml: Path, split_name: str = "test") -> dict:
    """Figures of a checkpoint on ``split_name`` (the test frames), through the whole pipeline."""
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.topdown import load_checkpoint
    from deepbehavior.models.topdown_train import evaluate, read_split

    model = load_checkpoint(weights)
    summary = check_dataset(data_yaml)
    split = read_split(summary.data, split_name, len(model.keypoint_names))
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
    figures = _figures(errors, sizes, model.keypoint_names)
    for part, row in figures["per_part"].items():
        row["found"] = per_part[part]["found"]
    return {
        "split": split_name, **figures,
        "parts_found": result["kpt_detected"], "frames_found": frames_found,
        "animal_size_px_median": float(np.nanmedian(sizes)), "test_frames": len(split.paths),
        "identities": result["identities"], "window_px": model.settings.window, "crop_size": model.settings.crop_size,
        "predict_frames_per_s": len(split.paths) / predict_s, "uncertainty": selection,
        "recipe": model.metadata.get("recipe"),
    }


def run(name: str, data_yaml: Path, work: Path, *, epochs: int, frames: int | None, ray: bool, threads: int,
        time_h: float | None) -> dict:
    import pandas as pd

    from deepbehavior.config import RayConfig, TrainConfig
    from deepbehavior.models.yolo_train import LocalSession, make_spec

    train = TrainConfig(data=str(data_yaml), epochs=epochs, seed=TRAIN_SEED, time=time_h)
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
                      "settings": spec.settings, "augmentation": spec.augmentation or "from the recipe",
                      "time_budget_h": time_h, "patience": spec.patience, "split_seed": SPLIT_SEED,
                      "train_seed": TRAIN_SEED, "subset_seed": TRAIN_SEED, "runner": "Ray Train, 1 worker" if ray
                      else "one process", "threads": threads}}


def _count(data_yaml: Path, split: str) -> int:
    from deepbehavior.models.dataset_checks import check_dataset

    return int(check_dataset(data_yaml).images[split])


def summary(result: dict) -> str:
    """One line of the test figures of every data set scored so far, beside the mean-position baseline."""
    parts = []
    for dataset in DATASETS:
        test = result.get(dataset, {}).get("test")
        baseline = result.get(dataset, {}).get("baseline_mean_position")
        if test:
            parts.append(f"{dataset} median {test['median_px']:.2f} px, mean {test['mean_px']:.2f} px, "
                         f"PCK@5px {test['pck_5px']:.2f}"
                         + (f" (mean-position baseline: median {baseline['median_px']:.1f} px)" if baseline else ""))
    return "test frames used for nothing else: " + "; ".join(parts) if parts else "not run yet"


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
        result["summary"] = summary(result)
        tmp = OUT.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
        os.replace(tmp, OUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--curve", nargs="*", type=int, default=[], help="training frames of a learning curve")
    parser.add_argument("--epochs", type=int, default=50, help="at most (early stopping); 50 is the job's default")
    parser.add_argument("--time", type=float, default=0.5, help="train.time, hours (0: none)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the training worker")
    parser.add_argument("--ray", action="store_true", help="train the main run under Ray Train (one worker) "
                        "instead of in this process (what runner=auto does for one worker)")
    args = parser.parse_args()
    for name in args.datasets:
        if not (DATA / DATASETS[name][0]).is_dir():
            raise SystemExit(f"Expected the real data at {DATA / DATASETS[name][0]}, but it is absent")
    common = {}
    baseline = RESULTS / "training_dlc_openfield.json"
    if baseline.is_file():
        old = json.loads(baseline.read_text())
        common["baseline_openfield_bottom_up"] = {
            "what": "yolo11n-pose.yaml from scratch, whole frame at 320 px, an older 80/20 split of the open field "
                    "(training_dlc_openfield.json), quoted, not re-run: not the test split here",
            "mean_px": old["test_error_px"], "median_px": old["test_median_error_px"], "pck_0.1": old["test_pck_0.1"],
            "parts_found": old["test_detected"], "train_wall_s": old["train_time_s"]}
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    common.update({"machine": machine(), "date": now,
                   "split_note": "figures are on the TEST split, never used for early stopping or best.pt"})
    _save(common)
    time_h = args.time or None
    with tempfile.TemporaryDirectory(prefix="deepbehavior-keypoints-") as tmp:
        work = Path(tmp)
        for name in args.datasets:
            data_yaml = write_dataset(name, work / f"{name}-data")
            split = {"train": _count(data_yaml, "train"), "val": _count(data_yaml, "val"),
                     "test": _count(data_yaml, "test"), "val_fraction": VAL_FRACTION, "test_fraction": TEST_FRACTION,
                     "seed": SPLIT_SEED}
            names = _names(data_yaml)
            _save({name: {"split": split, "baseline_mean_position": mean_position_baseline(data_yaml, names)}})
            print(f"[{name}] {split}", flush=True)
            figures = run(name, data_yaml, work, epochs=args.epochs, frames=None, ray=args.ray,
                          threads=args.threads, time_h=time_h)
            _save({"test": figures}, name)
            print(json.dumps({k: figures[k] for k in ("mean_px", "median_px", "pck_5px", "pck_10px", "parts_found",
                                                      "identities", "train_wall_s", "train_cpu_s", "epochs_run")}),
                  flush=True)
            for n in args.curve:
                if n >= split["train"]:
                    continue
                print(f"[{name}] {n} training frames", flush=True)
                curve = run(name, data_yaml, work, epochs=args.epochs, frames=n, ray=False, threads=args.threads,
                            time_h=time_h)
                _save({str(n): {k: curve[k] for k in ("mean_px", "median_px", "pck_5px", "pck_10px")}}, name,
                      "learning_curve")
    print(f"results: {OUT}")


def _names(data_yaml: Path) -> list[str]:
    from deepbehavior.models.dataset_checks import check_dataset

    return list(check_dataset(data_yaml).data["kpt_names"][0])


if __name__ == "__main__":
    main()
