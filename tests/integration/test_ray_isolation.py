"""The embedded Ray is always our own: a foreign head on the machine neither receives nor breaks our job."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Extra Ray heads/nodes: CI runs these in a loopback-only namespace, not under strace (see .ci/run).
pytestmark = pytest.mark.ray_cluster

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")

# A driver like our jobs: start_ray with the default config, run one task, report where it ran.
DRIVER = """
import json, sys
from deepbehavior.config import RayConfig
from deepbehavior.runtime.environment import start_ray, stop_ray, ray_temp_dir
address = sys.argv[1] if len(sys.argv) > 1 else None
ray = start_ray(RayConfig(num_cpus=1, address=address))
gcs = ray.get_runtime_context().gcs_address
square = ray.remote(lambda x: x * x)
value = ray.get(square.remote(7))
temp = str(ray_temp_dir())
stop_ray()
print(json.dumps({"gcs": gcs, "value": value, "temp": temp}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def foreign_head():
    """Someone else's ``ray start --head`` on loopback, recorded as the machine's current cluster.

    It lives in a temp folder of the test's own (``RAY_TMPDIR``: Ray's default temp root, where the
    "current cluster" record is written) and in its own process group, which is stopped afterwards
    (never ``ray stop``, which would stop every Ray of this user on a shared machine).
    """
    root = Path(tempfile.mkdtemp(prefix="dbf-"))  # short: Ray's socket paths must fit 107 bytes
    home = root / "home"
    home.mkdir()
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")
    port = _free_port()
    env = {**os.environ, "RAY_TMPDIR": str(root), "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    env.pop("RAY_ADDRESS", None)
    head = subprocess.Popen(
        [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
         "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    record = root / "ray" / "ray_current_cluster"
    deadline = time.monotonic() + 90
    while not record.exists() and time.monotonic() < deadline and head.poll() is None:
        time.sleep(0.5)
    try:
        if not record.exists():
            pytest.fail(f"the foreign Ray head did not start (exit {head.poll()})")
        yield {"address": f"127.0.0.1:{port}", "root": root, "env": env, "process": head}
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(head.pid, sig)
            except ProcessLookupError:
                break
            try:
                head.wait(timeout=20)
                time.sleep(1)  # let the group's other members (raylet, gcs) go too
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        shutil.rmtree(root, ignore_errors=True)


def _drive(env, *args):
    run_env = {**env, "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", DRIVER, *args], env=run_env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(600)
def test_default_job_starts_its_own_ray_beside_a_foreign_head(foreign_head):
    # Both ways Ray would otherwise find the foreign cluster are live: the recorded current cluster
    # under RAY_TMPDIR and RAY_ADDRESS.
    env = {**foreign_head["env"], "RAY_ADDRESS": foreign_head["address"]}
    ours = _drive(env)
    assert ours["value"] == 49
    assert ours["gcs"] != foreign_head["address"]
    assert not ours["temp"].startswith(str(foreign_head["root"]))
    assert not Path(ours["temp"]).exists(), "our Ray's temp folder should be removed at stop_ray"
    assert foreign_head["process"].poll() is None, "the foreign head should still be running"
    # The explicit way to join the machine's cluster still works, and finds the foreign one.
    joined = _drive(env, "auto")
    assert joined["value"] == 49
    assert joined["gcs"] == foreign_head["address"]
