#!/usr/bin/env bash
# One-GPU benchmark, offline, within 8 minutes: decoding, inference per precision and batch size,
# end to end, ultralytics' exported model, accuracy of fp16/bf16 on a trained model, training and the
# pose backend, against ultralytics on the same GPU, into benchmarks/results/gpu.json.
#
#   bash benchmarks/gpu.sh [--parts decode,inference,end_to_end,export,accuracy,pose,training] [--batch 64] [--out FILE]
#
# Python: $PYTHON if set, else this checkout's .venv, else python3. It must import torch,
# ultralytics, ray and this package's dependencies; if it does not and a folder of wheels is at
# $WHEELS (default: ./wheels), they are installed from there with --no-index (nothing is
# downloaded); otherwise it stops at once with one line naming the command that sets it up.
# Optional: torchcodec (pip install -e '.[gpu-decode]') for GPU decoding, tensorrt for ultralytics' export.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WHEELS=${WHEELS:-$ROOT/wheels}
# before anything imports ultralytics, which otherwise looks for the network as it loads
export YOLO_CONFIG_DIR=${YOLO_CONFIG_DIR:-${TMPDIR:-/tmp}/deepbehavior-gpu-bench-yolo} YOLO_OFFLINE=1 YOLO_AUTOINSTALL=False HF_HUB_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0 TQDM_DISABLE=1 MPLBACKEND=Agg
check='import torch, ultralytics, ray, zarr, xarray, cv2, hydra'
if ! "$PYTHON" -c "$check" 2>/dev/null; then
  if [[ -d "$WHEELS" ]]; then
    echo "[gpu-bench] installing from $WHEELS (offline)"
    "$PYTHON" -m pip install --quiet --no-index --find-links "$WHEELS" -e "$ROOT"
  else
    missing=$("$PYTHON" -c "$check" 2>&1 | tail -1 || true)
    echo "gpu.sh: error: Expected a Python that imports torch, ultralytics, ray, zarr, xarray, cv2 and hydra," \
         "but $PYTHON does not (${missing:-not found}) and there are no wheels at $WHEELS; set it up with:" \
         "bash scripts/setup.sh (creates $ROOT/.venv), or run with PYTHON=/path/to/python" >&2
    exit 2
  fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c 'import torch; print("[gpu-bench] torch", torch.__version__, "cuda:", torch.cuda.is_available(),
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# 470 s for everything by default (GPU_BENCH_TIMEOUT): the parts' own timeouts sum to less (benchmarks/gpu.py).
exec timeout "${GPU_BENCH_TIMEOUT:-470}" "$PYTHON" benchmarks/gpu.py "$@"
