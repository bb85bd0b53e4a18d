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


def _shim(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def test_slurm_script_starts_the_cluster_runs_the_job_and_passes_its_exit_status_on(tmp_path):
    # SLURM, Ray and deepbehavior stand-ins that log what they were asked to run.
    bin_, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_.mkdir()
    _shim(bin_, "scontrol", 'printf "node-a\\nnode-b\\nnode-c\\n"\n')
    _shim(bin_, "srun", f'''node=?
while [[ $1 == -* ]]; do [[ $1 == -w ]] && {{ node=$2; shift; }}; shift; done
if [[ $1 == hostname ]]; then echo 10.1.2.3; exit 0; fi
echo "on $node: $*" >> {log}
"$@"
''')
    _shim(bin_, "ray", f'echo "ray $*" >> {log}\n')
    _shim(bin_, "sleep", "/bin/sleep 0.3\n")  # long enough for the nodes started in the background
    _shim(bin_, "deepbehavior", f'echo "deepbehavior $*" >> {log}\nexit 3\n')
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "activate").write_text("")
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "DEEPBEHAVIOR_REPO": str(tmp_path), "SLURM_JOB_NODELIST": "node-[a-c]",
           "SLURM_CPUS_PER_TASK": "16", "SLURM_GPUS_PER_TASK": "4", "SLURM_SUBMIT_DIR": str(tmp_path)}
    done = subprocess.run(["bash", str(CLUSTER / "slurm.sh"), "infer", "cohort=/shared/cohort.yaml", "out=/shared/run"],
                          env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines()
    assert done.returncode == 3, done.stderr  # the job's failure is the batch job's failure
    assert "on node-a: ray start --head --node-ip-address=10.1.2.3 --port=6379 --dashboard-host=127.0.0.1 " \
           "--num-cpus=16 --num-gpus=4 --block" in calls
    for worker in ("node-b", "node-c"):
        assert f"on {worker}: ray start --address=10.1.2.3:6379 --num-cpus=16 --num-gpus=4 --block" in calls
    assert "deepbehavior infer cohort=/shared/cohort.yaml out=/shared/run ray.address=10.1.2.3:6379" in calls
    assert calls[-1] == "ray stop"  # the cluster is taken down even though the job failed
