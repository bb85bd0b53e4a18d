"""What ``model.bfloat16=true`` changes in the detections of a trained detector, against float32 and
against the true boxes.

    python benchmarks/bfloat16.py [--weights trained.pt] [--epochs 20] [--images 64] [--test 200]

Without ``--weights`` it first trains yolo11n from scratch with ultralytics on the synthetic shapes
dataset (``deepbehavior.synthetic.shapes_dataset``: a rectangle on noise in a 128 px image), the
recipe of ``benchmarks/training.py`` (batch 8, one optimizer step a batch, no augmentation), which
reaches mAP50 ≈ 0.99 in 20 epochs. It then draws ``--test`` new images (another seed) with their
true boxes and runs our predictor on them in float32 and in bfloat16, twice:

``native``: the 128 px images at ``imgsz`` 128;
``large_canvas``: each image pasted into the bottom-right corner of a 640x480 frame of the same
noise (``MARGIN`` px from its edges), at ``imgsz`` 640, so that box corners lie out to x ≈ 630 px,
where a bfloat16 coordinate would be rounded to 4 px (the head and the decoding stay in float32;
this is what checks it).

For each: true boxes found (IoU >= 0.5, same class) and their mean IoU, by each precision; and the
float32 and bfloat16 detections matched to each other (same class, greatest IoU): how many have no
partner, and their corner differences (px, median / 99th percentile / max) and confidence
differences. The speed of bfloat16 is in ``inference.json``. Writes
``benchmarks/results/bfloat16.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from _machine import cpu_model  # noqa: E402
from _timing import headline  # noqa: E402

CANVAS = (480, 640)
MARGIN = 8  # px between the pasted image and the canvas' right and bottom edges


def train(work: Path, *, epochs: int, images: int, size: int) -> Path:
    """yolo11n trained from scratch by ultralytics on the shapes dataset; the best weights."""
    from deepbehavior.models.yolo_train import NO_AUGMENTATION
    import yaml

    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.offline import offline_ultralytics
    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset

    offline_ultralytics()
    from ultralytics import YOLO

    summary = check_dataset(write_synthetic_dataset(work / "data", images=images, val_images=max(images // 4, 8),
                                                    size=size, seed=3))
    data = work / "data.resolved.yaml"
    data.write_text(yaml.safe_dump(summary.data))
    model = YOLO("yolo11n.yaml", task="detect")
    model.train(data=str(data), epochs=epochs, imgsz=size, batch=8, nbs=8, warmup_epochs=1, device="cpu", workers=0,
                project=str(work), name="run", exist_ok=True, plots=False, verbose=False, amp=False,
                pretrained=False, seed=0, **NO_AUGMENTATION)
    return Path(model.trainer.best)


def test_images(work: Path, *, count: int, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """``count`` new images (BGR, uint8) and each one's true boxes ``(class, x1, y1, x2, y2)`` in px."""
    import cv2

    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset

    write_synthetic_dataset(work / "test", images=count, val_images=0, size=size, seed=11)
    images, truths = [], []
    for label in sorted((work / "test" / "labels" / "train").glob("*.txt")):
        images.append(cv2.imread(str(work / "test" / "images" / "train" / f"{label.stem}.png")))
        rows = np.loadtxt(label, ndmin=2)
        cx, cy, w, h = (rows[:, 1:5] * size).T
        truths.append(np.stack([rows[:, 0], cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
    return np.stack(images), truths


def on_canvas(images: np.ndarray, truths: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The images pasted into 640x480 frames of the same kind of noise, and their boxes moved along."""
    rng = np.random.default_rng(5)
    n, h, w = images.shape[:3]
    left, top = CANVAS[1] - w - MARGIN, CANVAS[0] - h - MARGIN
    canvas = rng.integers(0, 40, size=(n, *CANVAS, 3), dtype=np.uint8)
    canvas[:, top:top + h, left:left + w] = images
    shift = np.array([0, left, top, left, top], dtype=float)
    return canvas, [t + shift for t in truths]


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (n, 4) with every box in ``b`` (m, 4), xyxy."""
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def detections(predictor, images: np.ndarray, batch: int = 8) -> list[np.ndarray]:
    """Per image, the kept detections ``(class, x1, y1, x2, y2, conf)``."""
    out = []
    for first in range(0, len(images), batch):
        part = images[first:first + batch]
        result = predictor({"frames": part, "frame": np.arange(len(part))})
        for boxes, conf, cls in zip(result["boxes"], result["box_conf"], result["class_index"]):
            keep = np.isfinite(conf)
            out.append(np.column_stack([cls[keep], boxes[keep], conf[keep]]))
    return out


def found(dets: list[np.ndarray], truths: list[np.ndarray]) -> dict:
    """True boxes found at IoU >= 0.5 by a detection of their class, and the mean IoU of those found."""
    hits, ious, total = 0, [], 0
    for det, truth in zip(dets, truths):
        total += len(truth)
        if not len(det):
            continue
        overlap = iou(truth[:, 1:5], det[:, 1:5]) * (truth[:, :1] == det[None, :, 0])
        best = overlap.max(axis=1)
        hits += int((best >= 0.5).sum())
        ious += best[best >= 0.5].tolist()
    return {"true_boxes": total, "found_iou50": hits, "recall_iou50": round(hits / total, 4),
            "mean_iou_of_found": round(float(np.mean(ious)), 4) if ious else None}


def agreement(a: list[np.ndarray], b: list[np.ndarray]) -> dict:
    """float32 (``a``) and bfloat16 (``b``) detections paired by class and greatest IoU."""
    corners, confs, unpaired, total = [], [], 0, 0
    for da, db in zip(a, b):
        total += max(len(da), len(db))
        if not len(da) or not len(db):
            unpaired += max(len(da), len(db))
            continue
        overlap = iou(da[:, 1:5], db[:, 1:5]) * (da[:, :1] == db[None, :, 0])
        for i, j in enumerate(overlap.argmax(axis=1)):
            if overlap[i, j] < 0.5:
                unpaired += 1
                continue
            corners.append(np.abs(da[i, 1:5] - db[j, 1:5]).max())
            confs.append(abs(da[i, 5] - db[j, 5]))
        unpaired += max(len(db) - len(da), 0)
    corners, confs = np.array(corners), np.array(confs)
    stat = lambda x: {"median": round(float(np.median(x)), 4), "p99": round(float(np.quantile(x, 0.99)), 4),  # noqa: E731
                      "max": round(float(x.max()), 4)} if len(x) else None
    return {"detections": total, "paired": len(corners), "unpaired": unpaired,
            "largest_corner_difference_px": stat(corners), "confidence_difference": stat(confs)}


def compare(weights: Path, images: np.ndarray, truths: list[np.ndarray], imgsz: int, threads: int) -> dict:
    from deepbehavior.models.yolo import YoloPredictor

    common = dict(imgsz=imgsz, conf=0.25, max_individuals=10, device="cpu", threads=threads)
    fp32 = detections(YoloPredictor(str(weights), **common), images)
    bf16 = detections(YoloPredictor(str(weights), bfloat16=True, **common), images)
    return {"imgsz": imgsz, "frame": list(images.shape[1:3][::-1]), "float32": found(fp32, truths),
            "bfloat16": found(bf16, truths), "float32_vs_bfloat16": agreement(fp32, bf16)}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="a trained detector of the shapes (default: train one)")
    parser.add_argument("--about", default="", help="how the --weights were trained, for the JSON")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--images", type=int, default=64, help="training images")
    parser.add_argument("--size", type=int, default=128, help="image side, px")
    parser.add_argument("--test", type=int, default=200, help="test images")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--out", default=str(HERE / "results" / "bfloat16.json"))
    args = parser.parse_args(argv)
    import torch

    amx = "amx_bf16" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else False
    with tempfile.TemporaryDirectory(prefix="bench-bf16-") as tmp:
        work = Path(tmp)
        weights = Path(args.weights) if args.weights else train(work, epochs=args.epochs, images=args.images,
                                                                   size=args.size)
        images, truths = test_images(work, count=args.test, size=args.size)
        native = compare(weights, images, truths, args.size, args.threads)
        large = compare(weights, *on_canvas(images, truths), 640, args.threads)
    result = {
        **headline(best=None, best_what="an accuracy check of bfloat16 against float32 and the true boxes, no speed: "
                                        "bfloat16's speed against ultralytics is in inference.json",
                   whole=None, whole_what="no command of its own: `deepbehavior infer model.bfloat16=true` is timed "
                                          "in inference.json"),
        "model": (f"given weights: {args.about or args.weights}" if args.weights else
                  f"yolo11n from scratch, {args.epochs} epochs on {args.images} synthetic shapes images of "
                  f"{args.size} px (one rectangle each), batch 8, no augmentation"),
        "test_images": args.test, "native": native, "large_canvas": large,
        "machine": {"cpu": cpu_model(), "amx_bf16": amx, "cores": os.cpu_count(), "torch": torch.__version__,
                    "python": platform.python_version()},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
