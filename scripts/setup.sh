#!/usr/bin/env bash
# Creates .venv and installs deepbehavior (editable) with its test tools. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned to the build that lies on our machines' disk (CUDA build; runs on CPU too).
python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
python -m pip install -q -e ".[test]"
# mediapipe 0.10.21 is the last release whose wheel carries the holistic pose + hand models (it runs
# offline); its declared requirements (numpy<2, protobuf<5, opencv-contrib) would break our stack,
# and it runs with what we have, so it goes in without them.
python -m pip install -q --no-deps "mediapipe==0.10.21"
# PyTorch's distributed store (Ray Train, even with one worker) logs the peer it connects to by a
# reverse lookup of ::ffff:127.0.0.1; with no /etc/hosts entry for that address the lookup goes to a
# DNS server, which a machine without network (or our network check) refuses. Name it locally.
if ! grep -qE '^::ffff:127\.0\.0\.1\s' /etc/hosts 2>/dev/null; then
  if [ -w /etc/hosts ]; then
    echo "::ffff:127.0.0.1 localhost" >> /etc/hosts
  else
    echo "note: add '::ffff:127.0.0.1 localhost' to /etc/hosts to keep training off DNS (needs root)" >&2
  fi
fi
