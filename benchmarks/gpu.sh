#!/usr/bin/env bash
# One-GPU benchmark, offline, within 8 minutes: inference fp32/fp16, decoding, training, pose
# backend against ultralytics on the same GPU, into benchmarks/results/gpu.json.
#
#   bash benchmarks/gpu.sh [--parts decode,inference,pose,training] [--batch 64] [--out FILE]
#
# Python: $PYTHON if set, else this checkout's .venv, else python3. It must import torch,
# ultralytics, ray and this package's dependencies; if it does not and a folder of wheels is at
# $WHEELS (default: ./wheels), they are installed from there with --no-index (nothing is
# downloaded). Everything runs offline (ultralytics, Hugging Face and Ray usage stats told so).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
WHEELS=${WHEELS:-$ROOT/wheels}
# before anything imports ultralytics, which otherwise looks for the network as it loads
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=False HF_HUB_OFFLINE=1 RAY_USAGE_STATS_ENABLED=0 TQDM_DISABLE=1 MPLBACKEND=Agg
check='import torch, ultralytics, ray, zarr, xarray, cv2, hydra'
if ! "$PYTHON" -c "$check" 2>/dev/null; then
  if [[ -d "$WHEELS" ]]; then
    echo "[gpu-bench] installing from $WHEELS (offline)"
    "$PYTHON" -m pip install --quiet --no-index --find-links "$WHEELS" -e "$ROOT"
  else
    echo "gpu.sh: error: Expected $PYTHON to import torch, ultralytics, ray, zarr, xarray, cv2 and hydra," \
         "but it does not, and there is no wheels folder at $WHEELS" >&2
    exit 2
  fi
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
"$PYTHON" -c 'import torch; print("[gpu-bench] torch", torch.__version__, "cuda:", torch.cuda.is_available(),
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# 470 s for everything by default (GPU_BENCH_TIMEOUT): the parts' own timeouts sum to less (benchmarks/gpu.py).
exec timeout "${GPU_BENCH_TIMEOUT:-470}" "$PYTHON" benchmarks/gpu.py "$@"
