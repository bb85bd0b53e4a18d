"""A real one-node Slurm cluster on this machine, for the tests marked ``slurm``.

The session fixture ``slurm`` writes a ``slurm.conf`` in a temporary folder (loopback only: the
controller and the one node, ``localhost``, listen on free ports of 127.0.0.1; no cgroups; state,
spool and logs in that folder), starts ``munged`` with a key made for the session, ``slurmctld`` and
``slurmd``, waits until ``sinfo`` shows the node idle, and stops all of them after the session, with
every process a job left behind. Tests skip, saying why, where Slurm is not installed (Debian:
``apt-get install slurmctld slurmd slurm-client munge``) or the tests do not run as root (``slurmd``
starts each job as its user).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "sinfo", "squeue", "scancel", "scontrol", "srun")
CPUS = 2
REAL_MEMORY_MB = 8000
# Job states after which a job does not change any more (scontrol's JobState).
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                "BOOT_FAIL", "DEADLINE"}


def _daemon_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)  # munged insists that its socket's folder be readable by every user
    return path


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(count: int) -> tuple[list[int], list[socket.socket]]:
    """``count`` different TCP ports of 127.0.0.1 that nothing listens on now, and the sockets that hold
    them: the caller closes those just before its daemons bind the ports. Probing one port and closing
    it before the next lets the system hand out the same port twice."""
    probes: list[socket.socket] = []
    try:
        for _ in range(count):
            probes.append(socket.socket())
            probes[-1].bind(("127.0.0.1", 0))
    except BaseException:
        for probe in probes:
            probe.close()
        raise
    return [probe.getsockname()[1] for probe in probes], probes


def slurm_conf(folder: Path, *, controller_port: int, node_port: int, munge_socket: Path) -> str:
    """The text of a one-node, loopback-only ``slurm.conf`` keeping everything under ``folder``."""
    return "\n".join([
        "ClusterName=deepbehaviortest",
        "SlurmctldHost=localhost(127.0.0.1)",
        f"SlurmctldPort={controller_port}",
        f"SlurmdPort={node_port}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={munge_socket}",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
        # no cgroups: processes are tracked through their parents, tasks are not bound
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "SchedulerType=sched/backfill",
        "ReturnToService=2",
        "InactiveLimit=0",
        "KillWait=10",
        # finished jobs stay visible to scontrol (there is no accounting database for sacct)
        "MinJobAge=600",
        f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory={REAL_MEMORY_MB} State=UNKNOWN",
        "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


@dataclass
class SlurmCluster:
    """A running one-node Slurm: ``env`` points Slurm's commands (and jobs) at it."""

    folder: Path
    conf: Path
    env: dict[str, str]
    daemons: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), cwd=cwd, env={**self.env, **(env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    def sbatch(self, *args: str, cwd: Path = REPO, env: dict[str, str] | None = None) -> int:
        """Submit with ``sbatch --parsable ARGS``; the job's id."""
        done = self.run("sbatch", "--parsable", *args, cwd=cwd, env=env)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.strip().split(";")[0])

    def job(self, job_id: int | str) -> dict[str, str]:
        """``scontrol show job`` as a dict (JobState, ExitCode, StdOut, ...); ``job_id`` may be ``ARRAY_TASK``."""
        done = self.run("scontrol", "show", "job", "-o", str(job_id))
        assert done.returncode == 0, done.stderr
        return dict(item.split("=", 1) for item in done.stdout.split() if "=" in item)

    def wait(self, job_id: int | str, *, timeout: float, states: set[str] = FINAL_STATES) -> dict[str, str]:
        """Wait until the job is in one of ``states``; its record then (the job's log in the error)."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.job(job_id)
            if record["JobState"] in states:
                return record
            if time.monotonic() > deadline:
                log = Path(record.get("StdOut", ""))
                raise AssertionError(f"Expected job {job_id} to reach {sorted(states)} within {timeout} s, but it is "
                                     f"{record['JobState']}; its log:\n{log.read_text()[-3000:] if log.is_file() else ''}")
            time.sleep(1)

    def jobs(self) -> list[int]:
        done = self.run("squeue", "-h", "-o", "%i")
        return [int(j) for j in done.stdout.split()]


def _tail(path: Path, n: int = 2000) -> str:
    return path.read_text(errors="replace")[-n:] if path.is_file() else f"({path} missing)"


def _left_behind(conf: Path) -> list[int]:
    """Processes (not this one) whose environment names this cluster's ``slurm.conf``: jobs' leftovers."""
    marker = f"SLURM_CONF={conf}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="session")
def slurm(tmp_path_factory) -> SlurmCluster:
    """A one-node Slurm cluster (2 CPUs, no GPU) on loopback, for the whole test session."""
    missing = [b for b in BINARIES if shutil.which(b) is None and not Path("/usr/sbin", b).exists()]
    if missing:
        pytest.skip(f"Slurm is not installed (missing {', '.join(missing)}; Debian: "
                    "apt-get install slurmctld slurmd slurm-client munge)")
    if os.geteuid() != 0:
        pytest.skip("the one-node Slurm needs root: slurmd starts each job as its user")
    folder = tmp_path_factory.mktemp("slurm")
    folder.chmod(0o755)
    for name in ("state", "spool", "log"):
        (folder / name).mkdir()
    munge = _daemon_dir(folder / "munge")
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = folder / "slurm.conf"
    (controller_port, node_port), probes = free_ports(2)
    try:
        conf.write_text(slurm_conf(folder, controller_port=controller_port, node_port=node_port,
                                   munge_socket=munge / "munge.socket"))
    finally:
        for probe in probes:  # slurmctld and slurmd bind these ports next
            probe.close()
    sbin = "/usr/sbin"
    env = {**os.environ, "SLURM_CONF": str(conf), "PATH": f"{os.environ.get('PATH', '')}:{sbin}"}
    cluster = SlurmCluster(folder, conf, env)
    daemon_log = (folder / "log" / "daemons.out").open("w")
    try:
        # -f: munged refuses a socket under a world-writable folder (/tmp) unless forced
        cluster.daemons.append(subprocess.Popen(
            ["munged", "-F", "-f", f"--key-file={key}", f"--socket={munge / 'munge.socket'}",
             f"--pid-file={munge / 'munged.pid'}", f"--log-file={folder / 'log' / 'munged.log'}",
             f"--seed-file={munge / 'munged.seed'}", "--origin=127.0.0.1", "--num-threads=2"],
            env=env, stdout=daemon_log, stderr=subprocess.STDOUT))
        _wait_for(lambda: (munge / "munge.socket").exists(), 20, "munged's socket", folder)
        cluster.daemons.append(subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(conf)], env=env,
                                                stdout=daemon_log, stderr=subprocess.STDOUT))
        cluster.daemons.append(subprocess.Popen(["slurmd", "-D", "-N", "localhost", "-f", str(conf)], env=env,
                                                stdout=daemon_log, stderr=subprocess.STDOUT))
        _wait_for(lambda: cluster.run("sinfo", "-h", "-N", "-o", "%T", timeout=20).stdout.strip() == "idle",
                  60, "the node to be idle in sinfo", folder)
        yield cluster
    finally:
        for job_id in (cluster.jobs() if all(d.poll() is None for d in cluster.daemons) else []):
            cluster.run("scancel", str(job_id))
        _wait_for(lambda: not cluster.daemons or cluster.daemons[-1].poll() is not None or not cluster.jobs(),
                  60, "every job to end", folder, fail=False)
        for daemon in reversed(cluster.daemons):
            _stop(daemon)
        daemon_log.close()
        for pid in _left_behind(conf):  # what a job started outside Slurm's tracking (there should be none)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _wait_for(ready, timeout: float, what: str, folder: Path, *, fail: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (subprocess.TimeoutExpired, OSError):
            pass
        time.sleep(0.5)
    if fail:
        logs = "\n".join(f"--- {p.name}\n{_tail(p)}" for p in sorted((folder / "log").glob("*")))
        raise RuntimeError(f"Expected {what} within {timeout} s, but it did not happen; Slurm's logs:\n{logs}")
