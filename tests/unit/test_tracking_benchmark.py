"""benchmarks/tracking.py's whole-command and steady comparisons on a short session: every command
runs, the outputs have one shape, their ID switches are counted against the true animals, and the
ratios are what the JSON says they are."""

import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

from deepbehavior.offline import offline_ultralytics

offline_ultralytics()  # before ultralytics is imported: its import would otherwise probe DNS servers
pytest.importorskip("ultralytics")
pytest.importorskip("numba")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import tracking as bench  # noqa: E402


def test_slots_of_finds_the_slot_each_animal_was_copied_from():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 500, (6, 4, 3, 2)).astype(np.float32)
    points[2, 1, 0] = np.nan  # a keypoint the detector missed
    chosen = np.array([[0, 1], [3, 2], [1, -1], [2, 0], [-1, -1], [0, 3]])
    animals = np.full((6, 2, 3, 2), np.nan)
    for t in range(6):
        for a in range(2):
            if chosen[t, a] >= 0:
                animals[t, a] = points[t, chosen[t, a]]
    assert bench.slots_of(animals, points).tolist() == chosen.tolist()
    animals[0, 0] += 1.0  # moved keypoints are no copy of any detection
    assert bench.slots_of(animals, points)[0, 0] == -1


def test_whole_command_runs_ours_and_both_plain_scripts_on_one_session(tmp_path):
    out = bench.whole_command(tmp_path, frames=300, rounds=1)
    names = ("deepbehavior_track", "plain_bytetrack", "plain_hungarian")
    assert {tuple(out["outputs"][k]["shape"]) for k in names} == {(300, 3, 13, 2)}
    for k in names:
        assert out["seconds"][k]["rounds"][0] > 0
        assert 0 <= out["outputs"][k]["idf1"] <= 1 and out["outputs"][k]["id_switches"] >= 0
    # the synthetic animals cross; the pose tracker keeps them (true animals, not our own output)
    assert out["outputs"]["deepbehavior_track"]["idf1"] > 0.95
    sec = out["seconds"]
    for plain, key in (("plain_bytetrack", "ratio_vs_plain_bytetrack"), ("plain_hungarian", "ratio_vs_plain_hungarian")):
        assert out[key] == pytest.approx(sec[plain]["median"] / sec["deepbehavior_track"]["median"], rel=0.01)
    head = bench.summary({"whole_command_s": out})
    assert head["whole_command_ratio"] == out["ratio_vs_plain_bytetrack"]
    assert "ID switches" in head["whole_command"]


def test_steady_rates_are_interleaved_and_the_headline_is_pose_over_bytetrack():
    truth = bench.crossing_animals(3, 200, n_keypoints=13)
    points, labels = bench.detections(truth, np.random.default_rng(1), **bench.CONDITIONS["random"])
    out = bench.steady(points, labels, rounds=2)
    for name in ("pose", "bytetrack", "naive"):
        assert len(out[name]["frames_per_s"]["rounds"]) == 2
    med = {k: statistics.median(out[k]["frames_per_s"]["rounds"]) for k in ("pose", "bytetrack")}
    head = bench.summary({"steady": out})
    assert head["ratio_vs_baseline_best"] == pytest.approx(med["pose"] / med["bytetrack"], rel=0.01)
    assert head["whole_command_ratio"] is None
