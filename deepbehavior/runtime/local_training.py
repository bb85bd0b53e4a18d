"""Training in this one process, for a run one machine does anyway: no Ray, no Train controller.

With one worker on the embedded default (no ``ray.address``), Ray Train trains on this machine's
CPUs exactly as one process would, after starting Ray, its Train controller and a worker process,
and it copies every epoch's checkpoint through its storage layer: about 19 s more than this runner
on a 20-epoch run of 45 s (2-core CPU, ``benchmarks/results/training.json``). This runner runs the same loop
(:func:`deepbehavior.models.yolo_train.train_loop` or
:func:`~deepbehavior.models.topdown_train.train_topdown`) with a
:class:`~deepbehavior.models.train_session.LocalSession` whose checkpoints are the folders Ray Train
writes, ``storage/name/epoch_NNNN``: a rerun continues from the last one, and so does a rerun under Ray
Train (a local rerun of a Ray Train run takes the newest such folder).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..models.topdown_train import TopDownSpec, train_topdown
from ..models.train_session import LocalSession, epoch_folders, process_state_kept
from ..models.yolo_train import LoopSpec, train_loop
from .distributed_training import FitResult, concurrent_runs
from ..config import parse_threads
from .threads import choose_threads

__all__ = ["TRAIN_RUNNERS", "choose_train_runner", "fit_local"]

#: The ``runner=`` choices of ``train``: ``auto`` decides by :func:`choose_train_runner`'s rule.
TRAIN_RUNNERS = ("auto", "local", "ray")


def choose_train_runner(runner: str, *, address: str | None, num_workers: int, use_gpu: bool, max_failures: int,
                        storage: str | os.PathLike) -> str:
    """``"local"`` or ``"ray"`` for a training run.

    ``runner`` ``"auto"`` picks the local runner when Ray would only add start-up: one worker on
    this machine's CPUs (``num_workers=1``, no ``address``, no GPU), no worker restarts to manage
    (``max_failures=0``) and checkpoints in a local folder (not a cluster URI); Ray otherwise.
    ``"local"`` with anything only Ray can do is an error.
    """
    if runner not in TRAIN_RUNNERS:
        raise ValueError(f"Expected runner among {', '.join(map(repr, TRAIN_RUNNERS))}, but got {runner!r}")
    needs_ray = {"num_workers": num_workers != 1, "ray.address": bool(address), "use_gpu": use_gpu,
                 "max_failures": max_failures != 0, "storage": "://" in str(storage)}
    if runner == "local" and any(needs_ray.values()):
        what = ", ".join(k for k, v in needs_ray.items() if v)
        raise ValueError(f"Expected runner=ray (or auto) with {what} set, but got runner=local, which trains "
                         "one worker on this machine's CPUs")
    if runner != "auto":
        return runner
    return "ray" if any(needs_ray.values()) else "local"


def fit_local(spec: LoopSpec | TopDownSpec, *, storage: str | os.PathLike, name: str = "train",
              keep_checkpoints: int = 2, threads: int | str | None = None, cpus: int | None = None) -> FitResult:
    """Train ``spec`` in this process; the same outputs and checkpoints as
    :func:`deepbehavior.runtime.distributed_training.fit` with one worker.

    ``threads``: torch threads (a number, or ``"auto"``/None: the spec's if set, else
    :func:`.threads.choose_threads`' rule, the CPUs this process may use, at most ``cpus``, that other
    programs are not keeping busy, shared among the runs of a parallel sweep as ``fit`` shares them).
    The choice is in the result's ``threads``.
    """
    choice = choose_threads(threads if parse_threads(threads) else (spec.threads or "auto"), limit=cpus,
                            share=concurrent_runs(), name="train.threads")
    threads = choice.threads
    spec = replace(spec, threads=threads)
    run_folder = Path(storage).resolve() / name
    run_folder.mkdir(parents=True, exist_ok=True)
    session = LocalSession(storage=run_folder, keep=keep_checkpoints)
    why = "as set" if choice.source == "set" else f"{choice.usable} CPU(s) usable, {choice.busy:.1f} busy with other work"
    print(f"deepbehavior train: training in this process, {threads} CPU thread(s) ({why}) ...", flush=True)
    with process_state_kept():  # the trainer's threads, determinism and environment stay with the run
        metrics = train_topdown(spec, session) if isinstance(spec, TopDownSpec) else train_loop(spec, session)
    saved = epoch_folders(run_folder)
    return FitResult(metrics=dict(metrics or {}), checkpoint=str(saved[-1]) if saved else None,
                     storage=str(run_folder), threads=choice.as_dict())
