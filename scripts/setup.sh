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
