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
