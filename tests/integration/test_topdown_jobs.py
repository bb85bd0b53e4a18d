"""The top-down keypoint recipe through the jobs: ``deepbehavior train`` on a keypoint dataset trains it by
default with Ray Train (two workers), a rerun resumes, and ``deepbehavior infer`` runs the checkpoint it
wrote into a poses store. Tiny settings: this checks the wiring, not accuracy (see benchmarks/keypoints.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from deepbehavior import synthetic
from deepbehavior.models.synthetic_dataset import write_synthetic_dataset
from deepbehavior.models.topdown import is_checkpoint, load_checkpoint

REPO = Path(__file__).resolve().parents[2]
TINY = ["train.batch=8", "train.topdown.crop_size=48", "train.topdown.centroid_size=64", "train.topdown.width=8",
        "train.topdown.samples_per_epoch=32", "ray.num_cpus=2"]


def _run(job: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from deepbehavior.cli import main; main()", job, *args],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=600)


def test_train_defaults_to_topdown_resumes_and_infer_uses_it(tmp_path):
    data = write_synthetic_dataset(tmp_path / "data", kind="pose", images=10, val_images=2, size=64)
    out = tmp_path / "model"
    first = _run("train", f"train.data={data}", f"out={out}", "train.epochs=2", "num_workers=2", *TINY)
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-3000:]
    assert "deepbehavior train: epoch 2/2 | loss heatmap" in output
    assert "Reporting training result" not in output
    assert list(pd.read_csv(out / "results.csv")["epoch"]) == [1, 2]
    best = out / "weights" / "best.pt"
    assert is_checkpoint(best) and load_checkpoint(best).keypoint_names == ("top", "left", "right")

    again = _run("train", f"train.data={data}", f"out={out}", "train.epochs=3", "num_workers=2", *TINY)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-3000:]
    assert "resuming after epoch 2 of 3" in output and output.count("| loss heatmap") == 1
    assert list(pd.read_csv(out / "results.csv")["epoch"]) == [1, 2, 3]

    video = synthetic.render_session(tmp_path / "v.mp4", frames=12, width=96, height=64, seed=0, noise=0).video
    run = tmp_path / "run"
    inferred = _run("infer", f"videos=[{video}]", f"model.weights={best}", "model.conf=0", "model.max_individuals=2",
                    f"out={run}", "ray.num_cpus=2")
    assert inferred.returncode == 0, (inferred.stdout + inferred.stderr)[-3000:]
    stores = list((run / "stores").glob("*.zarr"))
    assert len(stores) == 1
    ds = xr.open_zarr(stores[0])
    assert ds.attrs["ds_type"] == "poses"
    keypoints = "keypoints" if "keypoints" in ds.coords else "keypoint"  # the data model's name (issue 13)
    assert list(ds[keypoints].values) == ["top", "left", "right"]
    assert ds["position"].sizes["time"] == 12
    # conf=0: an animal in slot 0 of every frame, with a confidence in 0..1
    confidence = ds["confidence"].values
    first_slot = confidence.reshape(12, 3, -1)[..., 0] if confidence.ndim == 3 else confidence[..., 0, 0]
    assert ((first_slot >= 0) & (first_slot <= 1)).all()

    # the next labelling round: `frames method=uncertain` picks the frames where this model is least sure
    from deepbehavior.labeling.selection import select

    picks = select([video], 3, method="uncertain", stores=[ds], min_gap=0)
    lowest = confidence.reshape(12, -1)
    lowest = np.where(np.isnan(lowest).all(axis=1), 0.0, np.nanmin(np.where(np.isnan(lowest), np.inf, lowest), axis=1))
    expected = sorted(np.argsort(lowest, kind="stable")[:3].tolist())
    assert [f for _, f in picks] == expected
