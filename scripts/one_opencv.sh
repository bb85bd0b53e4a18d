#!/usr/bin/env bash
# Leaves one OpenCV distribution in an environment: opencv-python-headless.
#
# ultralytics requires opencv-python, movement (through pyvideoreader) opencv-python-headless, and
# mediapipe declares opencv-contrib-python. All of them install the same cv2/ folder, each over the
# others' files: which cv2 runs then depends on the order pip happened to install them in, and
# uninstalling one deletes files the other needs. The headless build is kept (nothing here opens a
# window; it needs no Qt or libGL on a server); the others are removed and the headless one is
# reinstalled over the folder so that every cv2 file is its own. pip check then names ultralytics'
# requirement of opencv-python, which the headless build fulfils (same cv2 module).
#
# usage: scripts/one_opencv.sh [PYTHON]   (default: python on PATH)
set -euo pipefail
PY=${1:-python}
keep=$("$PY" -c "import importlib.metadata as m; print(m.version('opencv-python-headless'))")
others=$("$PY" - <<'PY'
import importlib.metadata as m
for name in ("opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless"):
    try:
        m.version(name)
        print(name)
    except m.PackageNotFoundError:
        pass
PY
)
if [ -n "$others" ]; then
  # shellcheck disable=SC2086  # one name per word
  "$PY" -m pip uninstall -q -y $others
  "$PY" -m pip install -q --force-reinstall --no-deps "opencv-python-headless==$keep"
fi
"$PY" - <<'PY'
import importlib.metadata as m
import cv2  # noqa: F401  (whole again)
found = sorted({d.metadata["Name"] for d in m.distributions() if (d.metadata["Name"] or "").lower().startswith("opencv")})
if found != ["opencv-python-headless"]:
    raise SystemExit(f"one_opencv.sh: Expected opencv-python-headless alone, but got {found}")
PY
