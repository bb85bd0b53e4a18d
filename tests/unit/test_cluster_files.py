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
    assert "ray start --head" in text and 'ray start --address="$address"' in text
    assert 'deepbehavior "$@" ray.address=' in text


def _shim(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def _slurm_stand_ins(tmp_path: Path, *, nodes_join: bool = True) -> tuple[dict[str, str], Path]:
    """SLURM, Ray and deepbehavior stand-ins that log what they were asked to run.

    ``ray status`` reports one node per ``ray start`` seen so far (none when ``nodes_join`` is false);
    ``ray start --block`` blocks until it is terminated and logs that it was.
    """
    bin_, log = tmp_path / "bin", tmp_path / "calls.log"
    bin_.mkdir()
    _shim(bin_, "scontrol", 'printf "node-a\\nnode-b\\nnode-c\\n"\n')
    _shim(bin_, "srun", f'''node=?
while [[ $1 == -* ]]; do [[ $1 == -w ]] && {{ node=$2; shift; }}; shift; done
if [[ $1 == hostname ]]; then echo 10.1.2.3; exit 0; fi
echo "on $node: $*" >> {log}
export NODE=$node
exec "$@"
''')
    joined = "grep -c 'ray start' " + str(log) if nodes_join else "echo 0"
    _shim(bin_, "ray", f'''if [[ $1 == status ]]; then
  n=$({joined}); echo "status polled" >> {log}  # counted first: a node's line cannot land after the mark
  echo "Active:"; for i in $(seq 1 $n); do echo " 1 node_$i"; done; exit 0
fi
trap 'echo "ray stopped on $NODE" >> {log}; kill $pid; exit 0' TERM
/bin/sleep 30 & pid=$!; wait
''')
    _shim(bin_, "sleep", "/bin/sleep 0.1\n")
    _shim(bin_, "deepbehavior", f'echo "deepbehavior $*" >> {log}\nexit 3\n')
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "activate").write_text("")
    env = {"PATH": f"{bin_}:/usr/bin:/bin", "DEEPBEHAVIOR_REPO": str(tmp_path), "SLURM_JOB_NODELIST": "node-[a-c]",
           "SLURM_CPUS_PER_TASK": "16", "SLURM_GPUS_PER_TASK": "4", "SLURM_SUBMIT_DIR": str(tmp_path)}
    return env, log


def test_slurm_script_starts_the_cluster_runs_the_job_and_passes_its_exit_status_on(tmp_path):
    env, log = _slurm_stand_ins(tmp_path)
    done = subprocess.run(["bash", str(CLUSTER / "slurm.sh"), "infer", "cohort=/shared/cohort.yaml", "out=/shared/run"],
                          env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines()
    assert done.returncode == 3, done.stderr  # the job's failure is the batch job's failure
    assert "on node-a: ray start --head --node-ip-address=10.1.2.3 --port=6379 --dashboard-host=127.0.0.1 " \
           "--num-cpus=16 --num-gpus=4 --block" in calls
    for worker in ("node-b", "node-c"):
        assert f"on {worker}: ray start --address=10.1.2.3:6379 --num-cpus=16 --num-gpus=4 --block" in calls
    job = calls.index("deepbehavior infer cohort=/shared/cohort.yaml out=/shared/run ray.address=10.1.2.3:6379")
    # the job starts only once Ray has been asked and all three nodes had started
    assert calls[job - 1] == "status polled" and sum(c.startswith("on node-") for c in calls[:job]) == 3
    # the cluster is taken down even though the job failed: every node's Ray step is stopped after the job
    assert sorted(calls[job + 1:]) == [f"ray stopped on node-{n}" for n in "abc"]


def test_slurm_script_fails_in_one_line_when_ray_never_comes_up(tmp_path):
    env, log = _slurm_stand_ins(tmp_path, nodes_join=False)
    env["DEEPBEHAVIOR_RAY_TIMEOUT"] = "1"
    done = subprocess.run(["bash", str(CLUSTER / "slurm.sh"), "infer", "out=/shared/run"],
                          env=env, capture_output=True, text=True, timeout=60)
    calls = log.read_text().splitlines()
    assert done.returncode != 0
    assert "Expected 1 Ray node(s) at 10.1.2.3:6379 within 1 s, but 0 joined" in done.stderr
    assert not any(c.startswith("deepbehavior") for c in calls)
    assert calls[-1] == "ray stopped on node-a"  # the head that did start is not left behind
