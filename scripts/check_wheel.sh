#!/usr/bin/env bash
# Proves that a non-editable install works: builds the wheel from the repository's files alone,
# installs it (without dependencies) into a fresh venv that borrows .venv's installed dependencies,
# and from outside the checkout runs `deepbehavior --help`, a job's --help, and a small job.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=${PYTHON:-$REPO/.venv/bin/python}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/src"
# The files git knows (tracked, or new and not ignored): nothing built or left over goes in.
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" "$WORK/src"
"$PY" -m venv --without-pip "$WORK/venv"
# The dependencies: .venv's site-packages, after the fresh venv's own (where the wheel goes).
"$PY" -c "import site; print(site.getsitepackages()[0])" \
  > "$("$WORK/venv/bin/python" -c 'import site; print(site.getsitepackages()[0])')/deps-from-dotvenv.pth"
"$PY" -m pip --python "$WORK/venv/bin/python" install -q --no-deps "$WORK"/dist/deepbehavior-*.whl
cd "$WORK"
unset PYTHONPATH
BIN="$WORK/venv/bin"
"$BIN/python" - "$WORK" <<'PY'
import sys
import deepbehavior, deepbehavior_jobs
for module in (deepbehavior, deepbehavior_jobs):
    assert module.__file__.startswith(sys.argv[1]), f"{module.__name__} imported from {module.__file__}, not the wheel"
try:
    import jobs  # noqa: F401
except ImportError:
    pass
else:
    raise AssertionError(f"the wheel installed a bare top-level 'jobs' package: {jobs.__file__}")
PY
# One OpenCV distribution in the environment the wheel runs in (scripts/one_opencv.sh, run by setup.sh):
# several install the same cv2/ files over each other.
"$BIN/python" - <<'PY'
import importlib.metadata as m
found = sorted({d.metadata["Name"] for d in m.distributions() if (d.metadata["Name"] or "").lower().startswith("opencv")})
if len(found) != 1:
    raise SystemExit(f"check_wheel.sh: Expected one OpenCV distribution, but got {found} (bash scripts/one_opencv.sh)")
PY
"$BIN/deepbehavior" --help > help.txt && grep -q "^  infer " help.txt
"$BIN/deepbehavior" infer --help > help.txt && grep -q "^  model.weights " help.txt
if "$BIN/deepbehavior" infer videos=[a.mp4] 2> err.txt; then echo "infer without out= succeeded" >&2; exit 1; fi
grep -q "^deepbehavior infer: error: Expected out=DIR" err.txt
"$BIN/python" -c "
import cv2, numpy as np
writer = cv2.VideoWriter('clip.mp4', cv2.VideoWriter_fourcc(*'mp4v'), 30, (64, 48))
for i in range(30):
    frame = np.full((48, 64, 3), 200, np.uint8); cv2.circle(frame, (10 + i, 24), 5, (40, 40, 40), -1); writer.write(frame)
writer.release()"
"$BIN/deepbehavior" frames out=project videos=[clip.mp4] n=3 > frames.txt
test "$(find project -name '*.png' -o -name '*.jpg' | wc -l)" -eq 3
echo "wheel check: $(basename "$WORK"/dist/*.whl) installs, 'deepbehavior --help' and 'deepbehavior frames' run from outside the checkout"
