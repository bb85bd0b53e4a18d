"""A node lost mid-run: its shards are run again on the nodes left, within the same run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Extra Ray heads/nodes: CI runs these in a loopback-only namespace, not under strace (see .ci/run).
pytestmark = pytest.mark.ray_cluster

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_killing_a_worker_node_mid_run_still_finishes_every_shard(tmp_path):
    # Ray's sockets must fit 107 bytes, so its temp root is short; RAY_TMPDIR also keeps the
    # cluster's "current cluster" record away from the machine's /tmp/ray.
    ray_tmp = Path(tempfile.mkdtemp(prefix="dbn-"))
    home = ray_tmp / "home"
    home.mkdir()
    (home / "ray_bootstrap_config.yaml").write_text("{}\n")
    env = {**os.environ, "RAY_TMPDIR": str(ray_tmp), "HOME": str(home), "RAY_USAGE_STATS_ENABLED": "0",
           "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), str(REPO)])}
    env.pop("RAY_ADDRESS", None)
    try:
        result = subprocess.run([sys.executable, str(Path(__file__).with_name("_node_loss_driver.py")), str(tmp_path)],
                                env=env, capture_output=True, text=True, timeout=850, cwd=REPO)
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["killed"], "the worker node should have been killed during the run"
    assert out["failures"] == [], out
    assert out["complete"] == {"m0_d1": True, "m1_d1": True}
    assert out["finite_frames"] == {"m0_d1": 160, "m1_d1": 160}  # conf=0: every frame has a box
    assert out["shards_done"] == 8 and out["frames"] == 320  # only frames of shards written are counted
