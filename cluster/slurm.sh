#!/usr/bin/env bash
# SLURM: start a Ray head on the first allocated node and a Ray worker on every other one, then run
# a deepbehavior job against that cluster. Submit with, e.g.:
#   sbatch cluster/slurm.sh infer cohort=/shared/cohort.yaml model.weights=/shared/best.pt out=/shared/run
# Everything after the script name is passed to `deepbehavior`.
#SBATCH --job-name=deepbehavior
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=16
#SBATCH --gpus-per-task=4
#SBATCH --mem=0
#SBATCH --time=04:00:00
#SBATCH --output=deepbehavior-%j.log
set -euo pipefail

# The checkout with its .venv (made once by scripts/setup.sh) on a file system all nodes share.
REPO=${DEEPBEHAVIOR_REPO:-$SLURM_SUBMIT_DIR}
source "$REPO/.venv/bin/activate"

nodes=($(scontrol show hostnames "$SLURM_JOB_NODELIST"))
head=${nodes[0]}
head_ip=$(srun --nodes=1 --ntasks=1 -w "$head" hostname --ip-address | awk '{print $1}')
port=6379
export RAY_USAGE_STATS_ENABLED=0

echo "Ray head on $head ($head_ip:$port); ${#nodes[@]} nodes"
srun --nodes=1 --ntasks=1 -w "$head" \
  ray start --head --node-ip-address="$head_ip" --port=$port --dashboard-host=127.0.0.1 \
  --num-cpus="$SLURM_CPUS_PER_TASK" --num-gpus="${SLURM_GPUS_PER_TASK:-0}" --block &
sleep 20

for node in "${nodes[@]:1}"; do
  srun --nodes=1 --ntasks=1 -w "$node" \
    ray start --address="$head_ip:$port" \
    --num-cpus="$SLURM_CPUS_PER_TASK" --num-gpus="${SLURM_GPUS_PER_TASK:-0}" --block &
done
sleep 20

# The job runs on this (the batch) node and joins the cluster; Ray places work on every node.
status=0
deepbehavior "$@" ray.address="$head_ip:$port" || status=$?
ray stop || true
exit $status
