"""A keypoint model trained on real data: DeepLabCut's open-field mouse (116 frames, 4 body parts).

The split is ``keypoints.py``'s (seed 0: 15 % validation for ultralytics' best.pt, 20 % test never used
for a choice); the model (``yolo11n-pose.yaml``, from scratch) is trained with Ray Train (one worker) and
its best weights are scored on the TEST frames: error of each body part in pixels (of the 640x480
frames) and PCK (within 0.1 x the animal's box side). This is the bottom-up baseline of the keypoint benchmark.
Writes ``benchmarks/results/training_dlc_openfield.json``::

    python benchmarks/training_dlc_openfield.py [--epochs 30] [--imgsz 320]
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
import yaml

from _timing import headline  # noqa: E402
from training import machine  # benchmarks/training.py

DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PROJECT = DATA / "dlc-openfield"
RESULTS = Path(__file__).resolve().parent / "results" / "training_dlc_openfield.json"


def held_out_errors(weights: Path, data_yaml: Path, *, imgsz: int) -> dict:
    """Predict the held-out frames with ``YOLO(best.pt)`` and score them against the labels."""
    from deepbehavior.models.keypoint_metrics import keypoint_errors, summarize_keypoint_errors
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(weights))
    data = yaml.safe_load(data_yaml.read_text())
    val_images = sorted((Path(data["path"]) / data["test"]).glob("*.png"))
    all_errors, scales = [], []
    for image in val_images:
        result = model.predict(str(image), imgsz=imgsz, conf=0.01, verbose=False, device="cpu")[0]
        h, w = result.orig_shape
        row = np.array((image.parent.parent.parent / "labels" / "test" / image.with_suffix(".txt").name)
                       .read_text().split(), dtype=float)
        kpts = row[5:].reshape(-1, 3)
        true_kpts = kpts[:, :2] * [w, h]
        xc, yc, bw, bh = row[1:5] * [w, h, w, h]
        true_box = np.array([[xc - bw / 2, yc - bh / 2, xc + bw / 2, yc + bh / 2]])
        pred_kpts = result.keypoints.xy.cpu().numpy() if result.keypoints is not None else np.zeros((0, len(kpts), 2))
        errors, scale = keypoint_errors(true_box, true_kpts[None], (kpts[:, 2] > 0)[None],
                                        result.boxes.xyxy.cpu().numpy(), pred_kpts, result.boxes.conf.cpu().numpy(),
                                        min_iou=0.1)
        all_errors.append(errors)
        scales.append(scale)
    errors = np.concatenate(all_errors)
    summary = summarize_keypoint_errors(errors, np.concatenate(scales), pck_threshold=0.1)
    per_part = {name: float(np.nanmean(np.where(np.isfinite(errors[:, j]), errors[:, j], np.nan)))
                for j, name in enumerate(data["kpt_names"][0])}
    return {**summary, "per_keypoint_error_px": per_part, "held_out_frames": len(val_images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    if not PROJECT.is_dir():
        raise SystemExit(f"Expected the real data at {PROJECT}, but it is absent (see ../shared/data/README.md)")

    import pandas as pd
    import psutil
    import torch

    from deepbehavior.config import RayConfig, TrainConfig
    from deepbehavior.formats.dlc import read_dlc
    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.pose_dataset import write_pose_dataset
    from deepbehavior.models.yolo_train import make_spec
    from deepbehavior.runtime.distributed_training import fit

    labels = read_dlc(PROJECT / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv")
    kp = next(d for d in labels["position"].dims if d.startswith("keypoint"))
    bodyparts = [str(k) for k in labels[kp].values]
    first = {d: 0 for d in labels["position"].dims if d.startswith("individual") or d == "view"}
    xy = labels["position"].isel(first).transpose("time", kp, "space").values  # (image, keypoint, xy)
    points = {str(PROJECT / image): xy[t].astype(float) for t, image in enumerate(labels.attrs["image_paths"])}
    flip = {"leftear": "rightear", "rightear": "leftear"}
    flip_idx = [bodyparts.index(flip.get(b, b)) for b in bodyparts]
    cpus = psutil.cpu_count()
    with tempfile.TemporaryDirectory(prefix="deepbehavior-dlc-") as tmp:
        work = Path(tmp)
        summary = check_dataset(write_pose_dataset(points, work / "dataset", keypoint_names=bodyparts,
                                                   name="mouse", flip_idx=flip_idx, val_fraction=0.15,
                                                   test_fraction=0.2))  # keypoints.py's split
        data = work / "data.resolved.yaml"
        data.write_text(yaml.safe_dump(summary.data))
        train = TrainConfig(data=str(data), model="yolo11n-pose.yaml", epochs=args.epochs, imgsz=args.imgsz,
                            batch=args.batch, overrides={"nbs": args.batch})  # a step per batch: few images
        spec = make_spec(train, task="pose", data=data, out=work / "out")
        started = time.perf_counter()
        fit(spec, num_workers=1, storage=work / "checkpoints", cpus_per_worker=cpus, ray=RayConfig(num_cpus=cpus))
        train_s = time.perf_counter() - started
        table = pd.read_csv(work / "out" / "results.csv")
        best = table.loc[table["fitness"].idxmax()]
        scored = held_out_errors(work / "out" / "weights" / "best.pt", data, imgsz=args.imgsz)
    result = {
        **headline(best=None, best_what="an accuracy benchmark of the former bottom-up keypoint recipe (held-out error in px), kept as keypoints.json's baseline; no speed ratio", whole=None, whole_what='an accuracy benchmark: no whole-command timing'),
        "test_error_px": scored["kpt_error_px"],
        "test_median_error_px": scored["kpt_median_px"],
        "test_pck_0.1": scored["pck"],
        "test_detected": scored["kpt_detected"],
        "per_keypoint_error_px": scored["per_keypoint_error_px"],
        "test_frames": scored["held_out_frames"], "split": "test (val 0.15 chose best.pt, test 0.2, seed 0)",
        "train_frames": summary.images["train"],
        "best_epoch": int(best["epoch"]),
        "val_kpt_error_px_best_epoch": float(best.get("kpt_error_px", float("nan"))),
        "train_time_s": train_s,
        "setup": {"model": "yolo11n-pose.yaml (from scratch)", "epochs": args.epochs, "imgsz": args.imgsz,
                  "batch": args.batch, "nbs": args.batch, "frame_size": "640x480", "workers": 1,
                  "augmentation": "ultralytics default (mosaic off for the last 10 epochs)"},
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"cpu ({cpus} threads)",
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    tmp_path = RESULTS.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_path, RESULTS)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
