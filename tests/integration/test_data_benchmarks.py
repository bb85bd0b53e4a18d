"""The whole-command parts of benchmarks/kinematics.py, analyze.py and formats.py on tiny inputs: both
commands run, give the same result (checked against the true quantity where there is one), and the
ratio is the baseline's median time over ours."""

import statistics
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import analyze as analyze_bench  # noqa: E402
import formats as formats_bench  # noqa: E402
import kinematics as kinematics_bench  # noqa: E402

pytest.importorskip("movement")


def _median(spread: dict) -> float:
    return statistics.median(spread["rounds"])


def test_kinematics_throughput_times_every_side_every_round():
    rates = kinematics_bench.throughput(n_frames=2000, rounds=3)
    assert set(rates) == {"ours", "movement", "np_gradient"}
    assert all(len(v) == 3 and min(v) > 0 for v in rates.values())


@pytest.mark.slow
def test_kinematics_whole_command_runs_import_analyze_and_the_movement_script_to_the_true_distance(tmp_path):
    out = kinematics_bench.whole_command(tmp_path, n_frames=300, rounds=2)
    seconds = out["whole_command_s"]
    assert all(len(s["rounds"]) == 2 for s in seconds.values())
    total = [a + b for a, b in zip(seconds["deepbehavior_import"]["rounds"], seconds["deepbehavior_analyze"]["rounds"])]
    assert total == pytest.approx(seconds["deepbehavior_import_analyze"]["rounds"], abs=2e-3)
    assert out["ratio"] == pytest.approx(_median(seconds["movement_script"])
                                         / _median(seconds["deepbehavior_import_analyze"]), rel=1e-2)
    # the true distance travelled by the centroid, straight from the DeepLabCut file
    table = pd.read_hdf(tmp_path / "m01_d1.h5")
    xy = np.stack([table.xs(c, axis=1, level="coords").mean(axis=1).to_numpy() for c in ("x", "y")], axis=1)
    true = np.linalg.norm(np.diff(xy, axis=0), axis=1).sum()
    for side in ("deepbehavior", "movement"):
        assert out["same_result"][side]["distance"] == pytest.approx(true, rel=1e-5)
    assert all(out["same_result"]["agree_rtol_1e-5"].values())


@pytest.mark.slow
def test_analyze_compares_every_value_and_refuses_a_table_that_differs(tmp_path):
    cohort, stores = analyze_bench.write_cohort(tmp_path, sessions=2, frames=600)
    inner = analyze_bench.in_process(cohort, stores, rounds=2)
    assert inner["same_result"] == {"values_compared": 40, "all_agree_rtol_1e-5": True}
    assert all(len(v) == 2 for v in inner["times"].values())
    whole = analyze_bench.whole_command(tmp_path, cohort, stores, rounds=1)
    assert whole["same_result"]["values_compared"] == 40
    assert all(len(v) == 1 and v[0] > 0 for v in whole["times"].values())
    ours = pd.read_csv(tmp_path / "ours-0" / "measures.csv", dtype={"session": str})
    plain = pd.read_csv(tmp_path / "plain-0.csv")
    # time in the regions: every frame counted once at most, so never more than the session (20 s)
    time_in = plain[plain["measure"].str.startswith("regions.time_in_")].groupby("session")["value"].sum()
    assert (time_in <= 600 / 30 + 1e-9).all() and (time_in > 0).all()
    plain.loc[plain["measure"] == "social.distance_mean", "value"] *= 1.001
    with pytest.raises(AssertionError, match="values differ"):
        analyze_bench.compare(ours, plain)


@pytest.mark.slow
def test_formats_whole_command_imports_the_real_sleap_file_and_a_dlc_file_like_movement(tmp_path, shared_data):
    dlc = formats_bench.dlc_session(tmp_path / "predictions.h5", n_frames=300)
    slp = shared_data / "sleap-flies" / "centered_pair_predictions.slp"
    out = formats_bench.whole_command(tmp_path, {"sleap_slp": (slp, "sleap"), "dlc_h5": (dlc, "dlc")}, rounds=1)
    assert out["sleap_slp"]["same_result"]["frames"] == 1100  # the file's frames, 24 nodes x 27 tracks each
    assert out["sleap_slp"]["same_result"]["points"] == 1100 * 24 * 27
    assert out["dlc_h5"]["same_result"]["points_seen"] == 300 * 4
    for row in out.values():
        assert row["same_result"]["position"] and row["same_result"]["confidence_where_seen"]
        seconds = row["seconds"]
        assert row["ratio"] == pytest.approx(_median(seconds["movement_script"])
                                             / _median(seconds["deepbehavior_import"]), rel=1e-2)


def test_formats_loaders_against_movement_are_timed_interleaved(tmp_path, shared_data, monkeypatch):
    monkeypatch.setattr(formats_bench, "DATA", shared_data)
    out = formats_bench._against_movement(tmp_path, rounds=2, n_frames=300)
    assert set(out) == {"sleap_slp", "dlc_h5", "dlc_csv"}
    for row in out.values():
        assert len(row["ours_s"]["rounds"]) == len(row["movement_s"]["rounds"]) == 2
        # the spreads are rounded to the millisecond: the ratio lies within what that rounding allows
        theirs, ours = _median(row["movement_s"]), _median(row["ours_s"])
        assert (theirs - 5e-4) / (ours + 5e-4) - 1e-3 <= row["speed_ratio"] <= (theirs + 5e-4) / max(ours - 5e-4, 1e-6) + 1e-3
