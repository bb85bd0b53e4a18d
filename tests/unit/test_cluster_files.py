"""The cluster starting points parse and run the job this package installs."""

import subprocess
from pathlib import Path

import yaml

from deepbehavior.cli import JOBS

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"


def test_ray_cluster_launcher_yaml():
    config = yaml.safe_load((CLUSTER / "ray-cluster.yaml").read_text())
    assert {"cluster_name", "provider", "available_node_types", "head_node_type", "setup_commands"} <= set(config)
    assert config["head_node_type"] in config["available_node_types"]
    assert any("scripts/setup.sh" in c for c in config["setup_commands"])
    assert any("--head" in c for c in config["head_start_ray_commands"])


def test_kuberay_rayjob_manifest():
    job = yaml.safe_load((CLUSTER / "kuberay-job.yaml").read_text())
    assert job["apiVersion"] == "ray.io/v1" and job["kind"] == "RayJob"
    entry = job["spec"]["entrypoint"].split()
    assert entry[0] == "deepbehavior" and entry[1] in JOBS and "ray.address=auto" in entry
    spec = job["spec"]["rayClusterSpec"]
    assert spec["headGroupSpec"]["template"]["spec"]["containers"]
    assert spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]


def test_slurm_script_is_valid_bash_and_starts_a_head_and_workers():
    script = CLUSTER / "slurm.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert "#SBATCH --nodes=" in text
    assert "ray start --head" in text and 'ray start --address="$head_ip:$port"' in text
    assert 'deepbehavior "$@" ray.address=' in text
