"""Cohort analysis on a Dask cluster started through Slurm (dask-jobqueue's ``SLURMCluster``):
``deepbehavior analyze dask.scheduler=<its address>`` gives the in-process table."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.cluster.conftest import REPO
from tests.integration.test_dask_schedulers import _analyze_cohort

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


def _analyze(manifest, stores, out, scheduler, env):
    done = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "analyze", f"out={out}", f"cohort={manifest}",
                           f"stores={stores}", "figures=false", f"dask.scheduler={scheduler}"], cwd=REPO,
                          capture_output=True, text=True, timeout=600,
                          env={**env, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])})
    assert done.returncode == 0, done.stderr[-3000:]
    return pd.read_parquet(out / "measures.parquet")


def test_analyze_on_a_dask_cluster_started_through_slurm_gives_the_in_process_table(slurm, tmp_path, monkeypatch):
    dask_jobqueue = pytest.importorskip("dask_jobqueue", reason="needs dask-jobqueue (extra 'cluster')")
    for name, value in slurm.env.items():  # SLURMCluster runs sbatch, squeue and scancel in this environment
        monkeypatch.setenv(name, value)
    # the worker (a Slurm job) imports the jobs' code from this checkout, as an installed one would
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    manifest = _analyze_cohort(tmp_path)
    local = _analyze(manifest, tmp_path / "stores", tmp_path / "threads", "threads", slurm.env)
    with dask_jobqueue.SLURMCluster(cores=1, processes=1, memory="1GB", walltime="00:15:00", python=sys.executable,
                                    scheduler_options={"host": "127.0.0.1", "dashboard_address": None},
                                    worker_extra_args=["--host", "127.0.0.1"],
                                    log_directory=str(tmp_path / "dask-logs")) as cluster:
        cluster.scale(jobs=1)
        from distributed import Client

        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=180)
            job_ids = [job.job_id for job in cluster.workers.values()]
            assert [slurm.job(j)["JobState"] for j in job_ids] == ["RUNNING"]  # the worker is a Slurm job
            remote = _analyze(manifest, tmp_path / "stores", tmp_path / "slurm", cluster.scheduler_address, slurm.env)
            # the sessions were measured there, not in the analyze job's process
            executed = client.run(lambda dask_worker: dask_worker.state.executed_count)
            assert sum(executed.values()) > 0, executed
    assert len(local) > 0
    pd.testing.assert_frame_equal(local, remote)
