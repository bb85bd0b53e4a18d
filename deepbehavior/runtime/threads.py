"""How many torch threads a CPU job should run: the CPUs it may use, less those other programs keep busy.

Torch splits every layer among its intra-op threads and waits for the slowest. On a core that another
program keeps busy, that thread runs at a fraction of its speed and the others spin waiting for it, so
on a busy machine more threads are slower than fewer, for inference and for training alike (issue 34;
inference in benchmarks/results/threads.json). On idle cores every core helps. The rule (:func:`threads_for`)
therefore gives one thread per CPU this process may use (:func:`usable_cpus`: its affinity and its
cgroup quota) that is not already busy (:func:`busy_cpus`, measured over a tenth of a second from
``/proc/stat``; the 1-minute load average where that file is missing), rounded to the nearest whole
CPU, at least 1.

The measurement is short and current on purpose: the load average lags a minute, so right after an
earlier run of ours it would still count that run's threads as someone else's work. It is taken once,
as a job starts; ``model.threads`` / ``train.threads`` set a number instead (``auto`` is the rule).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..config import parse_threads

__all__ = ["ThreadChoice", "parse_threads", "threads_for", "usable_cpus", "cgroup_cpu_limit", "busy_cpus",
           "choose_threads"]

#: Seconds over which :func:`busy_cpus` measures how busy the CPUs are.
SAMPLE_S = 0.1


@dataclass(frozen=True)
class ThreadChoice:
    """The torch threads chosen for a job and why: ``usable`` CPUs of which ``busy`` (CPUs' worth,
    fractional) were running other work, measured by ``source`` (``"set"`` when a number was given)."""

    threads: int
    usable: int
    busy: float
    source: str

    def as_dict(self) -> dict:
        """Plain values, for a store's attributes or a report's JSON."""
        return {**asdict(self), "busy": round(self.busy, 2)}


def threads_for(usable: int, busy: float) -> int:
    """Threads for ``usable`` CPUs of which ``busy`` CPUs' worth run other work: the free ones, rounded, in [1, usable].

    Rounded to the nearest, not down: a thread on a core another program uses a third of the time
    still does two thirds of a core's work, more than the spinning it costs its siblings.
    """
    if usable < 1:
        raise ValueError(f"Expected usable CPUs >= 1, but got {usable}")
    free = usable - max(float(busy), 0.0)
    return int(min(max(math.floor(free + 0.5), 1), usable))


def _own_cgroups(proc_cgroup: str | os.PathLike) -> tuple[str, str]:
    """The process's own cgroup paths from ``/proc/self/cgroup``: (the v2 unified one, ``0::/path``;
    the v1 one holding the ``cpu`` controller, ``N:cpu,cpuacct:/path``), ``"/"`` for either not listed."""
    unified = cpu = "/"
    try:
        text = Path(proc_cgroup).read_text()
    except OSError:
        return unified, cpu
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and not parts[1]:
            unified = parts[2] or "/"
        elif "cpu" in parts[1].split(","):
            cpu = parts[2] or "/"
    return unified, cpu


def _up_to_root(base: Path, cgroup: str) -> list[Path]:
    """``base``/``cgroup`` and each folder above it up to ``base`` itself: a parent's quota bounds its children."""
    parts = [p for p in cgroup.strip("/").split("/") if p and p != ".."]
    return [base.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def cgroup_cpu_limit(root: str | os.PathLike = "/sys/fs/cgroup", *,
                     proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """CPUs' worth this process's cgroup may run (its CFS quota over its period), None when unlimited.

    The process's own cgroup is read from ``proc_cgroup``: a batch system or a container manager puts
    the quota on that cgroup (or one above it), not on the root. cgroup v2 (``cpu.max``:
    ``"max 100000"`` or ``"150000 100000"``) and v1 (``cpu.cfs_quota_us``, ``-1`` when unlimited, over
    ``cpu.cfs_period_us``, under ``cpu/`` or ``cpu,cpuacct/``). The tightest quota from the own cgroup
    up to ``root`` counts; folders that are not there (a container sees its own cgroup as the root)
    are skipped.
    """
    root = Path(root)
    unified, cpu = _own_cgroups(proc_cgroup)
    limits: list[float] = []
    found = False
    for folder in _up_to_root(root, unified):
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            found = True
            if quota != "max" and int(period) > 0:
                limits.append(int(quota) / int(period))
        except (OSError, ValueError):
            pass
    if not found:
        for controller in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            for folder in _up_to_root(root / controller, cpu):
                try:
                    quota = int((folder / "cpu.cfs_quota_us").read_text())
                    period = int((folder / "cpu.cfs_period_us").read_text())
                except (OSError, ValueError):
                    continue
                if quota > 0 and period > 0:
                    limits.append(quota / period)
            if limits:
                break
    return min(limits) if limits else None


def affinity() -> set[int]:
    """The CPUs this process may run on (what ``taskset`` or a batch system's allocation narrows)."""
    try:
        return set(os.sched_getaffinity(0)) or {0}
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def usable_cpus(cpus: set[int] | None = None, *, quota: float | None | bool = True) -> int:
    """CPUs this process may use: its affinity (``cpus``, default the process's), capped by its cgroup
    quota rounded up (``quota``: True reads it, None for none, or a number of CPUs)."""
    count = len(affinity() if cpus is None else cpus) or 1
    limit = cgroup_cpu_limit() if quota is True else quota
    if limit:
        count = min(count, max(math.ceil(limit - 1e-9), 1))
    return count


def _cpu_times(stat: str, cpus: set[int]) -> tuple[int, int]:
    """(busy, total) jiffies of ``cpus`` from the text of ``/proc/stat``."""
    busy = total = 0
    for line in stat.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        # user nice system idle iowait irq softirq steal (guest times are already inside user and nice)
        values = [int(v) for v in rest.split()[:8]]
        idle = values[3] + values[4]
        busy += sum(values) - idle
        total += sum(values)
    return busy, total


def busy_cpus(cpus: set[int] | None = None, *, seconds: float = SAMPLE_S,
              stat: str | os.PathLike = "/proc/stat") -> tuple[float, str]:
    """CPUs' worth of ``cpus`` (default this process's) running anything over the next ``seconds``,
    and how it was measured.

    Measured from ``/proc/stat`` while this thread sleeps, less the CPU time this process used meanwhile
    (its own threads are not other programs). Where that file is missing, the 1-minute load average
    (runnable tasks on the whole machine), shared out over ``cpus`` in proportion.
    """
    cpus = affinity() if cpus is None else set(cpus)
    try:
        own = time.process_time()
        started = time.monotonic()
        before = _cpu_times(Path(stat).read_text(), cpus)
        time.sleep(seconds)
        after = _cpu_times(Path(stat).read_text(), cpus)
        own = (time.process_time() - own) / max(time.monotonic() - started, 1e-6)
    except (OSError, ValueError):
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0, "unmeasured"
        return load * len(cpus) / max(os.cpu_count() or 1, len(cpus)), "load average"
    busy, total = after[0] - before[0], after[1] - before[1]
    if total <= 0:
        return 0.0, "unmeasured"
    return max(len(cpus) * busy / total - own, 0.0), f"/proc/stat over {seconds:g} s"


def choose_threads(setting: int | str | None = "auto", *, limit: int | None = None, share: int = 1,
                   name: str = "threads") -> ThreadChoice:
    """The torch threads of a job: ``setting`` when it is a number, else :func:`threads_for` this
    process's usable CPUs (at most ``limit``, e.g. the CPUs a Ray worker reserved) and how busy they
    are, divided among ``share`` runs that start together (a parallel sweep)."""
    chosen = parse_threads(setting, name=name)
    cpus = affinity()
    usable = usable_cpus(cpus)
    if limit:
        usable = max(min(usable, int(limit)), 1)
    if chosen is not None:
        return ThreadChoice(chosen, usable, 0.0, "set")
    busy, source = busy_cpus(cpus)
    busy *= usable / max(len(cpus), 1)  # the busy share of the CPUs this job may actually use
    return ThreadChoice(max(threads_for(usable, busy) // max(int(share), 1), 1), usable, busy, source)
