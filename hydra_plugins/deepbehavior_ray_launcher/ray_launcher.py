"""Run the runs of a Hydra sweep in parallel on Ray: one Ray task per run.

Select it with ``hydra/launcher=ray`` on the command line of a sweep, e.g.::

    deepbehavior train -m hydra/launcher=ray hydra.launcher.parallel=2 train.data=data.yaml out=sweep \
        train.lr0=0.002,0.004

Ray is the job's own: the embedded, loopback-only local Ray of ``deepbehavior.runtime.environment``
or the cluster at ``ray.address`` (the job's ``ray`` settings). Each run is a task that reserves
``hydra.launcher.num_cpus``/``num_gpus`` for itself (0 by default: a run only coordinates; its Ray
Train workers reserve their own CPUs/GPUs), at most ``hydra.launcher.parallel`` at a time (0: all).
Runs learn how many run beside them from ``DEEPBEHAVIOR_CONCURRENT_RUNS``, so that a job which
sizes its workers from the cluster (``deepbehavior train`` with ``cpus_per_worker`` unset) takes its
share rather than everything; a one-worker ``train`` on the embedded Ray trains inside its task, on
that share of the machine's CPUs (``runtime.local_training``). Hydra's end-of-sweep callbacks (the train job's comparison table) run
on the driver after every run has ended. ``<sweep dir>/runs.csv`` records where and when each run
ran and how it ended.
"""

# No "from __future__ import annotations": Hydra execs plugin modules outside sys.modules, where
# dataclasses cannot resolve string annotations.

import csv
import io
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

from hydra.core.config_store import ConfigStore
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)

CONCURRENT_RUNS_ENV = "DEEPBEHAVIOR_CONCURRENT_RUNS"
RUNS_CSV = "runs.csv"


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.deepbehavior_ray_launcher.ray_launcher.RayLauncher"
    # Most runs at once (0: all of them).
    parallel: int = 0
    # Resources each run's own task reserves (its Ray Train workers reserve theirs separately).
    num_cpus: float = 0
    num_gpus: float = 0


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="deepbehavior")


def _run_one(hydra_context: HydraContext, task_function: TaskFunction, sweep_config: DictConfig,
             singleton_state: dict[Any, Any]) -> tuple[JobReturn, dict[str, Any]]:
    """One run inside a Ray task: Hydra's own ``run_job`` with the driver's Hydra state."""
    from hydra.core.hydra_config import HydraConfig

    started = time.time()
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    try:
        ret = run_job(hydra_context=hydra_context, task_function=task_function, config=sweep_config,
                      job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
    except SystemExit as exc:  # a job's one-line user error (exit status 2): a failed run, not a dead worker
        ret = JobReturn(cfg=sweep_config, working_dir=os.getcwd(), task_name=sweep_config.hydra.job.name)
        ret.status = JobStatus.FAILED
        ret.return_value = RuntimeError(f"Expected the run to finish, but it exited with status {exc.code}")
    record = {"started": started, "ended": time.time(), "host": socket.gethostname(), "pid": os.getpid()}
    return ret, record


class RayLauncher(Launcher):
    """Hydra launcher: each run of the sweep is a Ray task; results come back in sweep order."""

    def __init__(self, parallel: int = 0, num_cpus: float = 0, num_gpus: float = 0) -> None:
        if parallel < 0:
            raise ValueError(f"Expected hydra.launcher.parallel >= 0 (0: all runs at once), but got {parallel}")
        self.parallel, self.num_cpus, self.num_gpus = parallel, num_cpus, num_gpus
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def _start_ray(self):
        from deepbehavior.config import RayConfig
        from deepbehavior.runtime.environment import start_ray

        settings = self.config.get("ray") if self.config is not None else None
        ray_config = RayConfig(**OmegaConf.to_container(settings, resolve=True)) if settings else RayConfig()
        return start_ray(ray_config)

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        if self.config is None or self.hydra_context is None or self.task_function is None:
            raise RuntimeError("Expected RayLauncher.setup before launch, but it was not called")
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        ray = self._start_ray()
        _ship_checkout_jobs()

        concurrent = min(self.parallel or len(job_overrides), len(job_overrides))
        remote = ray.remote(_run_one).options(
            num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0,
            runtime_env={"env_vars": {CONCURRENT_RUNS_ENV: str(max(concurrent, 1))}})
        singleton_state = Singleton.get_state()
        log.info(f"Launching {len(job_overrides)} runs on Ray, {concurrent} at a time")

        pending: dict[Any, int] = {}
        results: dict[int, tuple[JobReturn, dict[str, Any]]] = {}
        names: dict[int, str] = {}
        queue = list(enumerate(job_overrides))
        while queue or pending:
            while queue and len(pending) < concurrent:
                index, overrides = queue.pop(0)
                idx = initial_job_idx + index
                names[index] = " ".join(filter_overrides(overrides))
                log.info(f"\t#{idx} : {names[index]}")
                sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = idx
                    sweep_config.hydra.job.num = idx
                pending[remote.remote(self.hydra_context, self.task_function, sweep_config, singleton_state)] = index
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    results[index] = ray.get(ref)
                except Exception as exc:  # the task itself died (worker lost, unpicklable result...)
                    ret = JobReturn(task_name=str(self.config.hydra.job.name))
                    ret.status = JobStatus.FAILED
                    ret.return_value = exc
                    results[index] = (ret, {"started": float("nan"), "ended": float("nan"), "host": "", "pid": ""})
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        _write_runs(sweep_dir / RUNS_CSV, [(names[i], *results[i]) for i in sorted(results)])
        return [results[i][0] for i in sorted(results)]


def _ship_checkout_jobs() -> None:
    """Send the jobs' code with each task when it runs from a checkout (``deepbehavior_jobs`` made
    from ``jobs/`` by the CLI, which a worker process cannot import by that name)."""
    import sys

    jobs = sys.modules.get("deepbehavior_jobs")
    if jobs is not None and getattr(jobs, "__from_checkout__", False):
        from ray import cloudpickle

        cloudpickle.register_pickle_by_value(jobs)


def _write_runs(path: Path, rows: list[tuple[str, JobReturn, dict[str, Any]]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["run", "status", "started", "ended", "host", "pid"])
    for name, ret, record in rows:
        writer.writerow([name, ret.status.name, record["started"], record["ended"], record["host"], record["pid"]])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, path)
