#!/usr/bin/env bash
# Creates .venv and installs deepbehavior (editable) with its test tools. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first, pinned to the build that lies on our machines' disk (CUDA build; runs on CPU too).
python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
python -m pip install -q -e ".[test,cluster,docs]"
# model.backend=mediapipe: mediapipe 0.10.21 is the last release whose wheel carries the holistic pose
# + hand models (it runs offline). Its declared requirements (numpy<2, protobuf<5, opencv-contrib-python)
# conflict with this stack (pip: ResolutionImpossible beside numpy 2), and it runs with what we have, so
# it goes in without them; that is why it is no extra of pyproject.toml. The backend says this same
# command when mediapipe is missing (deepbehavior/models/mediapipe_pose.py: INSTALL).
python -m pip install -q --no-deps "mediapipe==0.10.21"
# One OpenCV distribution (ultralytics pulls opencv-python, movement opencv-python-headless, over the
# same cv2/ files): see the script.
bash scripts/one_opencv.sh python
# PyTorch's distributed store (Ray Train, even with one worker) logs the peer it connects to by a
# reverse lookup of ::ffff:127.0.0.1; with no /etc/hosts entry for that address the lookup goes to a
# DNS server, which a machine without network (or our network check) refuses, and training waits on
# it. Naming the address locally is the fix; it changes a system file, so it is said before it is done,
# and DEEPBEHAVIOR_EDIT_HOSTS=0 leaves /etc/hosts alone (training then needs DNS, or the line added by hand).
HOSTS_LINE="::ffff:127.0.0.1 localhost"
if ! grep -qE '^::ffff:127\.0\.0\.1\s' /etc/hosts 2>/dev/null; then
  if [ "${DEEPBEHAVIOR_EDIT_HOSTS:-1}" = "0" ]; then
    echo "setup.sh: /etc/hosts left as it is (DEEPBEHAVIOR_EDIT_HOSTS=0); add '$HOSTS_LINE' to it to keep training off DNS" >&2
  elif [ -w /etc/hosts ]; then
    echo "setup.sh: adding '$HOSTS_LINE' to /etc/hosts, so that PyTorch's distributed store does not ask DNS for" \
         "that address (DEEPBEHAVIOR_EDIT_HOSTS=0 to skip)" >&2
    echo "$HOSTS_LINE" >> /etc/hosts
  else
    echo "setup.sh: note: add '$HOSTS_LINE' to /etc/hosts to keep training off DNS (needs root)" >&2
  fi
fi
