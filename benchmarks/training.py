"""Our training runners against ultralytics' own ``model.train``: same data, epochs and seed.

Each round (``--rounds``, interleaved so that a drift of the machine's speed hits all alike) trains
four times: ultralytics' ``model.train`` at its default threads (min(8, CPUs - 1)), and at every CPU's
thread (set by a callback: none of its arguments does); ours in this process (``fit_local``, what ``deepbehavior
train`` runs with one worker on the embedded default); ours under Ray Train with one worker
(``fit``, what it runs with ``runner=ray``, several workers, GPUs or a cluster). Writes
``benchmarks/results/training.json`` with, for each (min / median / max over the rounds):

- ``images_per_s``: training images per second of training time (validation excluded), summed over
  all epochs;
- ``map50`` / ``map50_95``: validation of the best epoch (ultralytics: best.pt);
- ``wall_s``: each whole training call, start-up (Ray and its worker for Ray Train), data loading,
  validation and checkpoints included;
- the headline ratios of the default (in-process) runner, and the same for Ray Train
  (``*_ray``); ``device``, ``machine``, ``date``.

The data is the synthetic rectangle dataset (``deepbehavior.synthetic.shapes_dataset``), small enough
for a 2-core CPU machine: ``python benchmarks/training.py [--epochs N] [--images N] [--imgsz N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import psutil
import yaml
from _timing import headline, spread

RESULTS = Path(__file__).resolve().parent / "results" / "training.json"


def machine() -> dict:
    from _machine import cpu_model  # benchmarks/_machine.py

    return {"cpu": cpu_model(), "cores": psutil.cpu_count(),
            "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def run_ultralytics(spec, work: Path, device: str, threads: int | None = None) -> dict:
    """ultralytics' own trainer with the arguments our loop gives it; training time from callbacks.

    ``threads``: torch threads set by a callback as training starts. ultralytics' device selection
    sets min(8, CPUs - 1) (1 on a 2-core machine) and none of its arguments changes that; a callback,
    its documented hook, can.
    """
    from deepbehavior.models.yolo_train import ultralytics_arguments
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    load = round(os.getloadavg()[0], 2)
    args = ultralytics_arguments(spec, save_dir=work / "ultralytics", device=device)
    model = YOLO(args.pop("model"), task=args["task"])
    spans: list[float] = []

    def start(trainer):
        trainer._bench_start = time.perf_counter()

    def end(trainer):
        spans.append(time.perf_counter() - trainer._bench_start)

    if threads:
        model.add_callback("on_pretrain_routine_start", lambda trainer: torch.set_num_threads(threads))
    model.add_callback("on_train_epoch_start", start)
    model.add_callback("on_train_epoch_end", end)
    started = time.perf_counter()
    model.train(**args)
    wall = time.perf_counter() - started
    metrics = model.trainer.metrics
    images = len(model.trainer.train_loader.dataset) * len(spans)
    return {"images_per_s": images / sum(spans), "map50": metrics["metrics/mAP50(B)"],
            "map50_95": metrics["metrics/mAP50-95(B)"], "wall_s": wall, "load": load}


def run_ours(spec, work: Path, use_gpu: bool, cpus: int, *, runner: str) -> dict:
    """One of our runners (``"local"``: in this process; ``"ray"``: Ray Train, one worker)."""
    from deepbehavior.config import RayConfig
    from deepbehavior.runtime.distributed_training import fit
    from deepbehavior.runtime.local_training import fit_local

    load = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    if runner == "local":
        fit_local(spec, storage=work / f"{runner}-checkpoints", threads=cpus)
    else:
        fit(spec, num_workers=1, use_gpu=use_gpu, storage=work / f"{runner}-checkpoints", cpus_per_worker=cpus,
            ray=RayConfig(num_cpus=cpus))
    wall = time.perf_counter() - started
    return {**_epochs_report(spec), "wall_s": wall, "load": load}


def _epochs_report(spec) -> dict:
    import pandas as pd

    table = pd.read_csv(Path(spec.out) / "results.csv")
    best = table.loc[table["fitness"].idxmax()]  # ultralytics reports its best.pt at the end too
    return {"images_per_s": table["images"].sum() / table["time_s"].sum(),
            "map50": float(best["metrics/mAP50(B)"]), "map50_95": float(best["metrics/mAP50-95(B)"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--augment", action="store_true", help="ultralytics' default augmentation (mosaic...)")
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
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
        runs = {"ultralytics": [], "ultralytics_all_threads": [], "local": [], "ray": []}
        for i in range(args.rounds):
            runs["ultralytics"].append(run_ultralytics(LoopSpec(out=str(work / f"u{i}"), **common), work / f"u{i}",
                                                       device))
            runs["ultralytics_all_threads"].append(run_ultralytics(
                LoopSpec(out=str(work / f"ua{i}"), **common), work / f"ua{i}", device, threads=cpus))
            for runner in ("local", "ray"):
                runs[runner].append(run_ours(LoopSpec(out=str(work / f"{runner}{i}"), **common), work / f"{runner}{i}",
                                             use_gpu, cpus, runner=runner))
            print(f"[bench] round {i + 1}/{args.rounds}: " + ", ".join(
                f"{name} {r[-1]['wall_s']:.1f} s {r[-1]['images_per_s']:.1f} img/s" for name, r in runs.items()),
                flush=True)
    med = {name: {key: statistics.median(r[key] for r in rounds) for key in ("images_per_s", "wall_s")}
           for name, rounds in runs.items()}
    theirs = ("ultralytics", "ultralytics_all_threads")
    best_rate = max(med[name]["images_per_s"] for name in theirs)
    best_wall = min(med[name]["wall_s"] for name in theirs)
    result = {
        **headline(best=med["local"]["images_per_s"] / best_rate,
                   best_what="training images/s of `deepbehavior train`'s default runner (in this process, one "
                             "worker, every CPU's thread) over ultralytics' model.train at its best (the faster "
                             "median of its default threads and every CPU's thread), same data, epochs, batch, "
                             "in the epochs' own time",
                   whole=best_wall / med["local"]["wall_s"],
                   whole_what="ultralytics' whole model.train wall time at its best (the faster median of its "
                              "two thread settings) over our whole in-process training call (data, validation, "
                              "checkpoints, reports included; medians)"),
        "ratio_vs_ultralytics_default_threads": round(
            med["local"]["images_per_s"] / med["ultralytics"]["images_per_s"], 3),
        "ratio_vs_baseline_best_ray": round(med["ray"]["images_per_s"] / best_rate, 3),
        "whole_command_ratio_ray": round(best_wall / med["ray"]["wall_s"], 3),
        **{key: {name: spread([r[key] for r in rounds]) for name, rounds in runs.items()}
           for key in ("images_per_s", "wall_s", "map50", "map50_95")},
        "device": torch.cuda.get_device_name(0) if use_gpu else f"cpu ({cpus} threads)",
        "setup": {"model": "yolo11n.yaml (from scratch)", "epochs": args.epochs, "train_images": args.images,
                  "imgsz": args.imgsz, "batch": args.batch, "seed": 0, "workers": 1, "nbs": args.batch,
                  "warmup_epochs": 1, "augment": args.augment, "rounds": args.rounds,
                  "load_average_1min_before": {name: [r["load"] for r in rounds] for name, rounds in runs.items()}},
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
