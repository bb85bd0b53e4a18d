"""A Hydra sweep on a real one-node Slurm with the official submitit launcher
(``-m hydra/launcher=submitit_slurm``): each sweep point is a Slurm job, its run folder and results
the same as with Hydra's local launcher."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from tests.cluster.conftest import REPO

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from deepbehavior.synthetic.mice import render_session
    from tests.helpers.models import random_yolo

    folder = tmp_path_factory.mktemp("sweep-inputs")
    random_yolo(folder / "w.pt")
    render_session(folder / "m1.mp4", frames=40, width=160, height=128)
    return folder


def _sweep(inputs: Path, out: Path, *launcher: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    # paths in the settings (out, videos, model.weights) must not reach the run folders' names
    return subprocess.run([sys.executable, "-m", "deepbehavior.cli", "infer", "-m", *launcher, f"out={out}",
                           f"videos=[{inputs / 'm1.mp4'}]", f"model.weights={inputs / 'w.pt'}", "model.imgsz=128",
                           "model.conf=0,0.5"], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])})


def _runs(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))


def test_submitit_sweep_runs_each_point_as_a_slurm_job_with_the_local_launchers_results(slurm, inputs, tmp_path):
    local = _sweep(inputs, tmp_path / "local", env=dict(os.environ))
    assert local.returncode == 0, local.stderr[-3000:]
    on_slurm = _sweep(inputs, tmp_path / "slurm", "hydra/launcher=submitit_slurm", "hydra.launcher.mem_gb=1",
                      "hydra.launcher.timeout_min=15", env=slurm.env)
    assert on_slurm.returncode == 0, on_slurm.stdout[-3000:] + on_slurm.stderr[-3000:]

    runs = ["0_model.imgsz=128,model.conf=0", "1_model.imgsz=128,model.conf=0.5"]
    assert _runs(tmp_path / "local") == runs == _runs(tmp_path / "slurm")
    # each point ran as its own Slurm job (a task of one job array: <array job>_<index>), and completed
    tasks = sorted(p.name for p in (tmp_path / "slurm" / ".submitit").iterdir() if re.fullmatch(r"\d+_\d+", p.name))
    assert [t.split("_")[1] for t in tasks] == ["0", "1"]
    # the results come back when each job has written them, a moment before the job itself ends
    records = [slurm.wait(t, timeout=60) for t in tasks]
    assert [r["JobState"] for r in records] == ["COMPLETED", "COMPLETED"]
    assert len({r["JobId"] for r in records}) == 2
    for run in runs:
        a, b = (xr.open_zarr(tmp_path / where / run / "stores" / "m1_s1.zarr") for where in ("local", "slurm"))
        for name in ("position", "confidence"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=f"{run}: {name}")
    confident = [np.isfinite(xr.open_zarr(tmp_path / "slurm" / run / "stores" / "m1_s1.zarr")["confidence"].values).sum()
                 for run in runs]
    assert confident[0] > confident[1]  # the points really differ: conf=0.5 keeps fewer boxes than conf=0
