"""Ray Train (one worker) against ultralytics' own ``model.train``: same data, epochs and seed.

Writes ``benchmarks/results/training.json`` with:

- ``ray_images_per_s`` / ``ultralytics_images_per_s``: training images per second of training time
  (validation excluded), summed over all epochs;
- ``ray_map50`` / ``ultralytics_map50`` (and mAP50-95): validation of the best epoch (ultralytics: best.pt);
- ``throughput_ratio`` (ray / ultralytics): training images per second, the steady rate;
- ``whole_run_ratio`` (ultralytics' wall time / ours, > 1: ours faster): each whole training call,
  start-up (Ray and its worker for ours), data loading, validation and checkpoints included;
- wall times, ``device``, ``machine``, ``date``.

The data is the synthetic rectangle dataset (``deepbehavior.synthetic.shapes_dataset``), small enough
for a 2-core CPU machine: ``python benchmarks/training.py [--epochs N] [--images N] [--imgsz N]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from _timing import headline

RESULTS = Path(__file__).resolve().parent / "results" / "training.json"


def machine() -> dict:
    from _machine import cpu_model  # benchmarks/_machine.py

    return {"cpu": cpu_model(), "cores": psutil.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def run_ultralytics(spec, work: Path, device: str) -> dict:
    """ultralytics' own trainer with the arguments our loop gives it; training time from callbacks."""
    from deepbehavior.models.yolo_train import ultralytics_arguments
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    from ultralytics import YOLO

    load = round(os.getloadavg()[0], 2)
    args = ultralytics_arguments(spec, save_dir=work / "ultralytics", device=device)
    model = YOLO(args.pop("model"), task=args["task"])
    spans: list[float] = []

    def start(trainer):
        trainer._bench_start = time.perf_counter()

    def end(trainer):
        spans.append(time.perf_counter() - trainer._bench_start)

    model.add_callback("on_train_epoch_start", start)
    model.add_callback("on_train_epoch_end", end)
    started = time.perf_counter()
    model.train(**args)
    wall = time.perf_counter() - started
    metrics = model.trainer.metrics
    images = len(model.trainer.train_loader.dataset) * len(spans)
    return {"images_per_s": images / sum(spans), "map50": metrics["metrics/mAP50(B)"],
            "map50_95": metrics["metrics/mAP50-95(B)"], "wall_s": wall, "load": load}


def run_ray(spec, work: Path, use_gpu: bool, cpus: int) -> dict:
    import pandas as pd

    from deepbehavior.config import RayConfig
    from deepbehavior.runtime.distributed_training import fit

    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    fit(spec, num_workers=1, use_gpu=use_gpu, storage=work / "ray-checkpoints", cpus_per_worker=cpus,
        ray=RayConfig(num_cpus=cpus))
    wall = time.perf_counter() - started
    table = pd.read_csv(Path(spec.out) / "results.csv")
    best = table.loc[table["fitness"].idxmax()]  # ultralytics reports its best.pt at the end too
    return {"images_per_s": table["images"].sum() / table["time_s"].sum(),
            "map50": float(best["metrics/mAP50(B)"]), "map50_95": float(best["metrics/mAP50-95(B)"]),
            "wall_s": wall, "load": load}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--augment", action="store_true", help="ultralytics' default augmentation (mosaic...)")
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()

    import torch

    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset
    from deepbehavior.models.yolo_train import NO_AUGMENTATION, LoopSpec

    use_gpu = torch.cuda.is_available()
    device = "0" if use_gpu else "cpu"
    cpus = psutil.cpu_count()
    torch.set_num_threads(cpus)
    with tempfile.TemporaryDirectory(prefix="deepbehavior-bench-train-") as tmp:
        work = Path(tmp)
        summary = check_dataset(write_synthetic_dataset(work / "data", images=args.images,
                                                        val_images=max(args.images // 4, 4), size=args.imgsz))
        data = work / "data.resolved.yaml"
        data.write_text(yaml.safe_dump(summary.data))
        common = dict(data=str(data), task="detect", model="yolo11n.yaml", epochs=args.epochs, batch=args.batch,
                      seed=0, overrides={"imgsz": args.imgsz, "workers": 0, "warmup_epochs": 1,
                                         # one optimizer step per batch: a short run must learn something
                                         "nbs": args.batch, **({} if args.augment else NO_AUGMENTATION)})
        reference = run_ultralytics(LoopSpec(out=str(work / "u"), **common), work, device)
        ours = run_ray(LoopSpec(out=str(work / "ray"), **common), work, use_gpu, cpus)
    result = {
        **headline(best=ours["images_per_s"] / reference["images_per_s"], best_what="training images/s of Ray Train (1 worker) over ultralytics' model.train, same data, epochs, batch, threads, in the epochs' own time",
                   whole=reference["wall_s"] / ours["wall_s"], whole_what="ultralytics' whole model.train wall time over our whole Ray Train run (start-up, data, validation, checkpoints)"),
        "ray_images_per_s": ours["images_per_s"],
        "ultralytics_images_per_s": reference["images_per_s"],
        "throughput_ratio": ours["images_per_s"] / reference["images_per_s"],
        "ray_map50": ours["map50"],
        "ultralytics_map50": reference["map50"],
        "ray_map50_95": ours["map50_95"],
        "ultralytics_map50_95": reference["map50_95"],
        "whole_run_ratio": reference["wall_s"] / ours["wall_s"],
        "ray_wall_s": ours["wall_s"],
        "ultralytics_wall_s": reference["wall_s"],
        "device": torch.cuda.get_device_name(0) if use_gpu else f"cpu ({cpus} threads)",
        "setup": {"model": "yolo11n.yaml (from scratch)", "epochs": args.epochs, "train_images": args.images,
                  "imgsz": args.imgsz, "batch": args.batch, "seed": 0, "workers": 1, "nbs": args.batch,
                  "warmup_epochs": 1, "augment": args.augment,
                  "load_average_1min_before": {"ultralytics": reference["load"], "ray": ours["load"]}},
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = RESULTS.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_path, RESULTS)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
