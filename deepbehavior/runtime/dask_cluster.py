"""Where a job's Dask computations run: this process's threads, a local multi-process cluster, or a
running ``dask.distributed`` scheduler (one started by dask-jobqueue on Slurm, say).

``deepbehavior analyze`` and ``deepbehavior triangulate`` take ``dask.scheduler=``:

- ``threads`` (default): a thread pool of the job's own process, ``workers`` threads.
- ``processes``: a ``dask.distributed`` ``LocalCluster`` of ``workers`` single-threaded worker
  processes on this machine, listening on 127.0.0.1 only, closed when the job ends.
- ``tcp://HOST:PORT`` (or ``HOST:PORT``): the scheduler running there; its workers must read the
  stores at the same paths (a shared file system). The scheduler is left running.

With a distributed scheduler, ``triangulate`` computes each 3D store's chunks on its workers and
``analyze`` measures each session there (:func:`on_scheduler`); the job's own process plans the work
and writes the tables. Whichever runs them, the tables and stores are the same. A worker lost
mid-run is replaced by ``dask.distributed``, which reruns its tasks (up to its
``distributed.scheduler.allowed-failures``); a store is marked complete only after all its chunks
are written (:mod:`deepbehavior.store`), so a run that stops part way leaves no half store that
counts as done.

``processes`` and addresses need ``dask.distributed`` (``pip install 'deepbehavior[cluster]'``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

SCHEDULERS = ("threads", "processes")
T = TypeVar("T")
# Seconds to wait for a scheduler at an address before failing.
CONNECT_TIMEOUT_S = 30


@dataclass(frozen=True)
class DaskConfig:
    """Where the job's Dask computations run (see :mod:`deepbehavior.runtime.dask_cluster`)."""

    # threads (this process), processes (a local multi-process cluster) or a scheduler's tcp://HOST:PORT
    scheduler: str = "threads"

    def __post_init__(self) -> None:
        check_scheduler(self.scheduler)


def check_scheduler(setting: str) -> str:
    """``setting`` if it names a scheduler; else a one-line ValueError.

    Examples
    --------
    >>> check_scheduler("tcp://10.0.0.5:8786")
    'tcp://10.0.0.5:8786'
    """
    if setting in SCHEDULERS or ":" in str(setting):
        return setting
    raise ValueError(f"Expected dask.scheduler threads, processes or a scheduler address (tcp://HOST:PORT), "
                     f"but got {setting!r}")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ValueError("Expected dask.distributed for dask.scheduler=processes or an address "
                         "(pip install 'deepbehavior[cluster]'), but it is not installed") from exc
    return distributed


@contextlib.contextmanager
def dask_scheduler(setting: str = "threads", *, workers: int = 2) -> Iterator[Any]:
    """Run the Dask computations of the ``with`` block on the scheduler ``setting`` names.

    Parameters
    ----------
    setting
        ``threads``, ``processes`` or a scheduler address (see the module's description).
    workers
        Threads (``threads``) or worker processes (``processes``); unused for an address.

    Yields
    ------
    distributed.Client or None
        The client of a distributed scheduler, None for ``threads``.
    """
    import dask

    check_scheduler(setting)
    if setting == "threads":
        with dask.config.set(scheduler="threads", num_workers=workers):
            yield None
        return
    distributed = _distributed()
    with contextlib.ExitStack() as stack:
        if setting == "processes":
            # loopback only, no dashboard: nothing of the job listens beyond this machine
            cluster = stack.enter_context(distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                dashboard_address=None, silence_logs=40))
            address = cluster.scheduler_address
        else:
            address = setting if "://" in setting else f"tcp://{setting}"
        try:
            client = stack.enter_context(distributed.Client(address, timeout=CONNECT_TIMEOUT_S,
                                                            set_as_default=True))
        except OSError as exc:
            raise OSError(f"Expected a Dask scheduler at {address}, but could not connect: {exc}") from exc
        yield client


def distributed_is_active() -> bool:
    """Whether a ``dask.distributed`` client is the default scheduler now (without importing it)."""
    import dask

    return dask.config.get("scheduler", None) == "dask.distributed"


def on_scheduler(work: Callable[..., T]) -> Callable[..., T]:
    """``work`` run as one task of the current distributed scheduler, if the job set one up, else as is.

    For work that reads its input without Dask (``analyze`` measures a session from arrays read
    whole): each call becomes a task on a worker, and the caller (a thread of the job's session loop)
    waits for its result; an error raised there is raised here. ``work`` and its arguments must pickle,
    and its module must be importable on the workers.
    """
    if not distributed_is_active():
        return work
    client = _distributed().get_client()

    def remote(*args: Any) -> T:
        return client.submit(work, *args, pure=False).result()

    return remote
