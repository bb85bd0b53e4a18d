"""``sbatch cluster/slurm.sh infer …`` on a real one-node Slurm: Ray started by the recipe, the same
stores as the embedded run, and a cancelled job that resumes when submitted again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests.cluster.conftest import REPO, free_port

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

FRAMES = 240
CHUNK = 20


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from deepbehavior.synthetic.mice import render_session
    from tests.helpers.models import random_yolo

    folder = tmp_path_factory.mktemp("slurm-inputs")
    random_yolo(folder / "w.pt")
    videos = [render_session(folder / f"m{i}.mp4", frames=FRAMES, width=160, height=128, seed=i, noise=0).video
              for i in range(2)]
    return folder / "w.pt", videos


def _job_args(weights: Path, videos: list[Path], out: Path) -> list[str]:
    # conf=0 keeps a random network's (deterministic) boxes, so every frame has something to compare
    return ["infer", f"out={out}", f"videos=[{','.join(str(v) for v in videos)}]", f"model.weights={weights}",
            "model.imgsz=160", "model.conf=0", f"store.chunk={CHUNK}"]


def _sbatch_infer(slurm, args: list[str], log: Path) -> int:
    # the README's command, with this one-node cluster's size: 2 CPUs, no GPU
    return slurm.sbatch("--nodes=1", "--cpus-per-task=2", "--gpus-per-task=0", f"--output={log}",
                        "cluster/slurm.sh", *args, env={"DEEPBEHAVIOR_RAY_PORT": str(free_port()),
                                                        "DEEPBEHAVIOR_RAY_TIMEOUT": "180"})


def _values(out: Path, key: str) -> dict[str, np.ndarray]:
    ds = xr.open_zarr(out / "stores" / f"{key}.zarr")
    return {name: ds[name].values for name in ("position", "shape", "confidence", "class_index")}


def _assert_same_stores(a: Path, b: Path) -> None:
    keys = sorted(p.name for p in (a / "stores").glob("*.zarr"))
    assert keys and keys == sorted(p.name for p in (b / "stores").glob("*.zarr"))
    for key in (k.removesuffix(".zarr") for k in keys):
        va, vb = _values(a, key), _values(b, key)
        assert np.isfinite(va["position"]).all()  # conf=0: every slot of every frame filled
        for name in va:  # Ray and the in-process runner batch frames differently: float rounding only
            np.testing.assert_allclose(va[name], vb[name], rtol=1e-4, atol=1e-3, equal_nan=True, err_msg=name)


@pytest.fixture(scope="module")
def embedded(inputs, tmp_path_factory):
    weights, videos = inputs
    out = tmp_path_factory.mktemp("embedded") / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "deepbehavior.cli", *_job_args(weights, videos, out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_sbatch_recipe_runs_infer_on_ray_and_leaves_the_embedded_stores(slurm, inputs, embedded, tmp_path):
    weights, videos = inputs
    out, log = tmp_path / "run", tmp_path / "job.log"
    job_id = _sbatch_infer(slurm, _job_args(weights, videos, out), log)
    record = slurm.wait(job_id, timeout=600)
    text = log.read_text()
    assert record["JobState"] == "COMPLETED" and record["ExitCode"] == "0:0", text[-3000:]
    assert "Ray ready: 1 node(s)" in text, text[-3000:]
    assert "starting a local Ray" not in text  # the job joined the recipe's Ray, it did not start its own
    report = json.loads((out / "infer_report.json").read_text())
    assert report["frames"] == 2 * FRAMES and report["failures"] == []
    _assert_same_stores(out, embedded)


def test_a_cancelled_job_submitted_again_resumes_where_it_stopped(slurm, inputs, embedded, tmp_path):
    weights, videos = inputs
    out = tmp_path / "run"
    args = _job_args(weights, videos, out)
    first = _sbatch_infer(slurm, args, tmp_path / "first.log")
    done_markers = out / "stores"
    deadline = time.monotonic() + 600
    while len(list(done_markers.glob("*.zarr.progress/done/*"))) < 2:  # a few chunks written, not all
        assert time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-3000:]
        assert slurm.job(first)["JobState"] in ("PENDING", "RUNNING"), (tmp_path / "first.log").read_text()[-3000:]
        time.sleep(0.2)
    assert slurm.run("scancel", str(first)).returncode == 0
    assert slurm.wait(first, timeout=120)["JobState"] == "CANCELLED"
    kept = len(list(done_markers.glob("*.zarr.progress/done/*")))
    chunks = 2 * FRAMES // CHUNK
    assert 2 <= kept < chunks, f"{kept} of {chunks} chunks were done when the job was cancelled"

    second = _sbatch_infer(slurm, args, tmp_path / "second.log")
    record = slurm.wait(second, timeout=600)
    assert record["JobState"] == "COMPLETED", (tmp_path / "second.log").read_text()[-3000:]
    report = json.loads((out / "infer_report.json").read_text())
    # only the chunks without a done marker were predicted again
    assert report["frames"] == 2 * FRAMES - kept * CHUNK and report["failures"] == []
    _assert_same_stores(out, embedded)
