"""benchmarks/calibration.py's whole-command part on 5 of the real stereo pairs: `deepbehavior
calibrate` and the plain aniposelib script both run from the same image files to a calibration.toml,
both calibrations measure the 25 mm square, and the ratio is the baseline's median wall time over ours."""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("aniposelib")
pytestmark = pytest.mark.slow  # runs whole jobs in new processes
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import calibration as bench  # noqa: E402

PAIRS = ("01", "02", "03", "04", "05")


@pytest.fixture
def five_pairs(shared_data, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for pair in PAIRS:
        for cam in ("left", "right"):
            shutil.copy(shared_data / "stereo-chessboard/opencv" / f"{cam}{pair}.jpg", folder)
    return folder


def test_whole_command_runs_both_commands_on_the_same_images_and_states_the_ratio(five_pairs, tmp_path):
    out = bench.whole_command(five_pairs, rounds=1, work=tmp_path / "work")
    assert out["images"] == {"left": 5, "right": 5}
    for side in ("deepbehavior", "aniposelib"):
        row = out["check_before_timing"][side]
        assert abs(row["square_mm"] - 25.0) < 1.0  # the board's true square, from each calibration
        assert row["triangulated_rms_px"] < 1.0
    assert (tmp_path / "work" / "ours" / "calibration.toml").is_file()
    assert (tmp_path / "work" / "aniposelib.toml").is_file()
    times = out["whole_command_s"]
    assert set(times) == {"deepbehavior_calibrate", "aniposelib_script"}
    assert all(len(t["rounds"]) == 1 and t["rounds"][0] > 0 for t in times.values())
    ratio = np.median(times["aniposelib_script"]["rounds"]) / np.median(times["deepbehavior_calibrate"]["rounds"])
    assert out["whole_command_ratio"] == pytest.approx(ratio, rel=0.01)


def test_whole_command_refuses_to_time_a_baseline_whose_calibration_is_wrong(five_pairs, tmp_path, monkeypatch):
    # a baseline told the squares are twice their size: its calibration measures 50 mm, and no timing follows
    wrong = bench.PLAIN_CALIBRATE.replace("square_length=square", "square_length=2 * square")
    assert wrong != bench.PLAIN_CALIBRATE
    monkeypatch.setattr(bench, "PLAIN_CALIBRATE", wrong)
    with pytest.raises(RuntimeError, match="disagree"):
        bench.whole_command(five_pairs, rounds=1, work=tmp_path / "work")
