"""benchmarks/triangulation.py's whole-command part on a few frames: `deepbehavior triangulate` and the
plain aniposelib script both run from the same files, give the same 3D points, and the ratio is the
baseline's median wall time over ours."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("aniposelib")
pytestmark = pytest.mark.slow  # runs whole jobs in new processes
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import triangulation as bench  # noqa: E402


def test_whole_command_runs_both_commands_on_the_same_files_and_states_the_ratio(tmp_path):
    out = bench.whole_command(frames=30, rounds=2, work=tmp_path, figures=False, modes=("fast",))
    check = out["check_before_timing"]
    assert check["points"] == 30 * 14
    assert check["deepbehavior_triangulated"] == check["aniposelib_fast_triangulated"] == 30 * 14
    # both within a mm of the true skeleton (1 px noise, cameras 0.7-0.9 m away, f = 1400 px)
    assert check["deepbehavior_median_error_mm"] < 1.0 and check["aniposelib_fast_median_error_mm"] < 1.0
    assert check["gap_to_aniposelib_fast_mm"]["median"] < 0.5
    assert (tmp_path / "ours" / "poses3d.zarr").is_dir() and (tmp_path / "plain_fast.npy").is_file()
    times = out["whole_command_s"]
    assert set(times) == {"deepbehavior_triangulate", "aniposelib_script_fast"}
    assert all(len(t["rounds"]) == 2 and all(r > 0 for r in t["rounds"]) for t in times.values())
    ratio = np.median(times["aniposelib_script_fast"]["rounds"]) / np.median(times["deepbehavior_triangulate"]["rounds"])
    assert out["whole_command_ratio"] == pytest.approx(ratio, rel=0.01)
    per_round = [a / b for a, b in zip(times["aniposelib_script_fast"]["rounds"], times["deepbehavior_triangulate"]["rounds"])]
    assert out["whole_command_ratio_per_round"]["median"] == pytest.approx(np.median(per_round), rel=0.01)
    assert out["aniposelib_fastest_mode"] == "fast" and out["whole_command_ratio_with_figures"] is None


def test_whole_command_refuses_to_time_commands_whose_results_differ(tmp_path, monkeypatch):
    # a baseline that saves the points shifted by 5 mm: the check before timing must catch it
    monkeypatch.setattr(bench, "PLAIN_TRIANGULATE", bench.PLAIN_TRIANGULATE.replace("np.save(out, p3d", "np.save(out, 5 + p3d"))
    with pytest.raises(RuntimeError, match="disagree"):
        bench.whole_command(frames=20, rounds=1, work=tmp_path, figures=False, modes=("fast",))
