"""The worked examples of the docs (``docs/examples/*.py``) run as a user runs them, and print what
their docstrings promise, on the real recordings in ``../shared/data``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "docs" / "examples"


def _run(script: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                            timeout=900, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_every_example_is_tested_here():
    tested = set(re.findall(r'_run\("([a-z_0-9]+\.py)"', Path(__file__).read_text()))
    assert tested == {p.name for p in EXAMPLES.glob("*.py")}


def test_flies_track_kinematics(shared_data):
    out = _run("flies_track_kinematics.py", str(shared_data))
    assert "27 SLEAP tracks -> 2 identities" in out
    assert out.count("locomotion.distance_individual") == 2


def test_stereo_calibrate_triangulate(shared_data):
    out = _run("stereo_calibrate_triangulate.py", str(shared_data))
    rms = float(re.search(r"reprojection RMS ([0-9.]+) px", out).group(1))
    spacing = float(re.search(r"corner spacing: median ([0-9.]+) mm", out).group(1))
    assert rms < 1.0 and abs(spacing - 25.0) < 0.25  # the printed board's squares are 25 mm


def test_synthetic_train_infer(tmp_path):
    out = _run("synthetic_train_infer.py", str(tmp_path))
    assert "90 frames predicted, failures: []" in out
    assert (tmp_path / "model" / "weights" / "best.pt").is_file()
    assert (tmp_path / "run" / "stores" / "new_s1.zarr").is_dir()
    # against the rendered mouse's true box centre (a run here: 100 % of frames, 4.5 px median)
    found = re.search(r"mouse found in (\d+)% of frames, median centre error ([0-9.]+) px", out)
    assert int(found.group(1)) >= 80 and float(found.group(2)) < 15.0
