"""The train job end to end: killed mid-run and rerun it resumes, under either runner (in this process or
Ray Train), and Ray Train resumes a local run; a worker that dies is restarted within the run; the console shows our
per-epoch lines, not Ray's; a Hydra sweep ends with one table, also when its runs run in parallel on Ray."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset

REPO = Path(__file__).resolve().parents[2]
TINY = ["train.imgsz=64", "train.batch=8", "train.augment=false", "train.optimizer=AdamW",
        "+train.overrides.warmup_epochs=0", "+train.overrides.nbs=8", "ray.num_cpus=2"]
# Ray Train's own console output that the job hides unless verbose=true.
NOISE = ("Reporting training result", "Checkpoint successfully created", "PlacementGroupCleaner",
         "Found multiple active Ray instances", "Started training worker group", "PreemptionWatcher")
FAST = ["train.imgsz=128", "train.batch=8", "train.augment=false", "train.optimizer=AdamW", "train.lr0=0.002",
        "+train.overrides.warmup_epochs=0", "+train.overrides.nbs=8", "ray.num_cpus=2"]


def _command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from deepbehavior.cli import main; main()", "train", *args]


def _environment() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


@pytest.mark.parametrize("first, second", [("ray", "ray"), ("local", "local"), ("local", "ray")])
def test_killed_run_resumes_from_last_checkpoint(tmp_path, first, second):
    # Ray Train continues a local run too: the same epoch_NNNN folders under storage/name. (Not tested the other
    # way: on a quiet machine a 3-epoch Ray run writes its last checkpoint before its record shows the first.)
    data = write_synthetic_dataset(tmp_path / "data", images=16, val_images=4)
    out = tmp_path / "out"
    args = _command(f"train.data={data}", f"out={out}", "train.epochs=3", *FAST)
    run_folder = out / "checkpoints" / "train"
    snapshot = run_folder / "checkpoint_manager_snapshot.json"  # Ray Train's record of the run

    def checkpointed() -> bool:
        if first == "ray":
            return snapshot.is_file() and "epoch_0001" in snapshot.read_text()
        return (run_folder / "epoch_0001").is_dir()

    log = open(tmp_path / "first.log", "w")
    started = subprocess.Popen([*args, f"runner={first}"], stdout=log, stderr=subprocess.STDOUT,
                               env=_environment(), start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and started.poll() is None and not checkpointed():
            time.sleep(0.5)
        assert started.poll() is None, "the first run ended early:\n" + (tmp_path / "first.log").read_text()
        assert checkpointed(), "no checkpoint within the time limit"
    finally:
        os.killpg(started.pid, signal.SIGKILL)  # the whole session: driver, Ray and its workers
        started.wait()
        log.close()
    first_log = (tmp_path / "first.log").read_text()
    assert ("training in this process" in first_log) == (first == "local"), first_log[-2000:]
    rows_before = len(pd.read_csv(out / "results.csv"))
    assert 1 <= rows_before < 3

    resumed = subprocess.run([*args, f"runner={second}"], capture_output=True, text=True, env=_environment(),
                             timeout=500)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    output = resumed.stdout + resumed.stderr
    assert ("training in this process" in output) == (second == "local")
    assert "resuming after epoch" in output
    resumed_at = int(output.split("resuming after epoch ")[1].split()[0])
    assert resumed_at >= 1  # continued from a checkpoint, not from epoch 0
    assert "deepbehavior train: epoch 3/3 | loss box" in output  # our own line per epoch
    assert not [n for n in NOISE if n in output], output[-3000:]
    table = pd.read_csv(out / "results.csv")
    assert list(table["epoch"]) == [1, 2, 3]
    assert (out / "weights" / "best.pt").is_file()


def test_sweep_compares_runs_and_bad_dataset_fails_with_one_message(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data", images=8, val_images=2)
    out = tmp_path / "sweep"
    result = subprocess.run(_command("-m", f"train.data={data}", f"out={out}", "train.epochs=1",
                                     *[a for a in FAST if not a.startswith("train.lr0")],
                                     "train.lr0=0.002,0.004"),
                            capture_output=True, text=True, env=_environment(), timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    comparison = pd.read_csv(out / "comparison.csv")
    assert len(comparison) == 2
    assert sorted(comparison["settings"]) == ["train.lr0=0.002", "train.lr0=0.004"]
    assert {"metrics/mAP50(B)", "fitness", "best_epoch"} <= set(comparison.columns)

    (tmp_path / "data" / "labels" / "train" / "train0003.txt").write_text("5 0.5 0.5 0.1 0.1\n")
    bad = subprocess.run(_command(f"train.data={data}", f"out={tmp_path / 'bad'}"),
                         capture_output=True, text=True, env=_environment(), timeout=120)
    assert bad.returncode == 2
    assert "train0003.txt:1: Expected a class id in 0..0" in bad.stderr


@pytest.mark.gpu
def test_gpu_run_trains_on_cuda(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data", images=16, val_images=4)
    result = subprocess.run(_command(f"train.data={data}", f"out={tmp_path / 'out'}", "train.epochs=2",
                                     "use_gpu=true", *FAST), capture_output=True, text=True,
                            env=_environment(), timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "out" / "weights" / "best.pt").is_file()


def test_worker_that_dies_is_restarted_within_the_run(tmp_path):
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()  # before ultralytics is imported, or its import looks for the network
    from ultralytics import YOLO

    data = write_synthetic_dataset(tmp_path / "data", images=16, val_images=4)
    out, marker = tmp_path / "out", tmp_path / "failed-once"
    result = subprocess.run(_command(f"train.data={data}", f"out={out}", "train.epochs=3", "max_failures=1",
                                     *TINY, "train.lr0=0.002"),
                            capture_output=True, text=True, timeout=500,
                            env={**_environment(), "DEEPBEHAVIOR_TRAIN_FAIL_ONCE": f"1:{marker}",
                                 # the fault injection lives in the test helpers, not in the library
                                 "PYTHONPATH": os.pathsep.join([str(REPO / "tests" / "helpers" / "train_faults"),
                                                                str(REPO)])})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert marker.read_text().startswith("worker")  # worker 0 really died during epoch 2 (index 1)
    assert "resuming after epoch 1 of 3" in output  # restarted from the epoch-1 checkpoint, same run
    assert output.count("deepbehavior train: epoch 1/3 |") == 1  # epoch 1 was not trained again
    assert list(pd.read_csv(out / "results.csv")["epoch"]) == [1, 2, 3]
    model = YOLO(str(out / "weights" / "best.pt"))
    assert model.task == "detect" and model.names == {0: "rectangle"}


def test_sweep_runs_in_parallel_on_ray_and_compares_runs(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data", images=8, val_images=2)
    out = tmp_path / "sweep"
    result = subprocess.run(_command("-m", "hydra/launcher=ray", "hydra.launcher.parallel=2", f"train.data={data}",
                                     f"out={out}", "train.epochs=1", *TINY, "train.lr0=0.002,0.004"),
                            capture_output=True, text=True, env=_environment(), timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = pd.read_csv(out / "runs.csv")
    assert list(runs["status"]) == ["COMPLETED", "COMPLETED"]
    assert runs["pid"].nunique() == 2
    assert runs["started"].max() < runs["ended"].min()  # both runs were running at the same time
    comparison = pd.read_csv(out / "comparison.csv")
    assert sorted(comparison["settings"]) == ["train.lr0=0.002", "train.lr0=0.004"]
    assert {"metrics/mAP50(B)", "fitness", "best_epoch"} <= set(comparison.columns)
