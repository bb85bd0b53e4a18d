#!/usr/bin/env bash
# SLURM: start a Ray head on the first allocated node and a Ray worker on every other one, wait until
# Ray reports every node, then run a deepbehavior job against that cluster. Submit with, e.g.:
#   sbatch cluster/slurm.sh infer cohort=/shared/cohort.yaml model.weights=/shared/best.pt out=/shared/run
# Everything after the script name is passed to `deepbehavior`. Options given to sbatch override the
# #SBATCH lines below (e.g. `sbatch --nodes=1 --cpus-per-task=8 --gpus-per-task=0 cluster/slurm.sh …`).
# A job stopped part way (scancel, a pre-empted allocation, a lost node) resumes when submitted again.
# Environment (all optional):
#   DEEPBEHAVIOR_REPO         the checkout with its .venv on the shared file system (default: where sbatch ran)
#   DEEPBEHAVIOR_RAY_PORT     the Ray head's port (default 6379)
#   DEEPBEHAVIOR_RAY_TIMEOUT  seconds to wait for every Ray node to join (default 300)
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
port=${DEEPBEHAVIOR_RAY_PORT:-6379}
address="$head_ip:$port"
deadline=$((SECONDS + ${DEEPBEHAVIOR_RAY_TIMEOUT:-300}))
export RAY_USAGE_STATS_ENABLED=0

# Ray's own processes live in these job steps: stopping the steps stops Ray on every node (and only
# this job's Ray: `ray stop` would also stop any other Ray of this user on the batch node).
steps=()
stop_ray() {
  if [ ${#steps[@]} -gt 0 ]; then
    kill -TERM "${steps[@]}" 2>/dev/null || true
    wait "${steps[@]}" 2>/dev/null || true
  fi
}
trap stop_ray EXIT

# Wait until Ray at $address reports $1 live nodes; fail once the deadline has passed.
wait_for_nodes() {
  local want=$1 have=0
  while true; do
    have=$(timeout 30 ray status --address="$address" 2>/dev/null | grep -cE '^ +[0-9]+ node_' || true)
    [ "$have" -ge "$want" ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      echo "Expected $want Ray node(s) at $address within ${DEEPBEHAVIOR_RAY_TIMEOUT:-300} s, but $have joined" >&2
      return 1
    fi
    sleep 2
  done
}

echo "Ray head on $head ($address); ${#nodes[@]} nodes"
srun --nodes=1 --ntasks=1 -w "$head" \
  ray start --head --node-ip-address="$head_ip" --port="$port" --dashboard-host=127.0.0.1 \
  --num-cpus="$SLURM_CPUS_PER_TASK" --num-gpus="${SLURM_GPUS_PER_TASK:-0}" --block &
steps+=($!)
wait_for_nodes 1

for node in "${nodes[@]:1}"; do
  srun --nodes=1 --ntasks=1 -w "$node" \
    ray start --address="$address" \
    --num-cpus="$SLURM_CPUS_PER_TASK" --num-gpus="${SLURM_GPUS_PER_TASK:-0}" --block &
  steps+=($!)
done
wait_for_nodes "${#nodes[@]}"
echo "Ray ready: ${#nodes[@]} node(s) after $SECONDS s"

# The job runs on this (the batch) node and joins the cluster; Ray places work on every node.
status=0
deepbehavior "$@" ray.address="$address" || status=$?
exit $status
