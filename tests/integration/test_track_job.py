"""`deepbehavior track` between infer and analyze: a synthetic two-animal cohort whose animals pass
each other while both are hidden, in slots shuffled every frame, tracked, then measured by
`deepbehavior analyze`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deepbehavior.analysis.social import measure_social
from deepbehavior.config import SocialConfig, TrackConfig
from jobs.analyze import AnalyzeJob
from jobs.track import TrackJob
from deepbehavior.schema import make_boxes, make_poses
from deepbehavior.store import open_store

from tests.helpers.stores import CROSSING_FPS as FPS
from tests.helpers.stores import crossing_truth as _truth, shuffled_slots as _slots, write_by_region as _write

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cohort(tmp_path):
    truth = _truth()
    entries = []
    for k, subject in enumerate(("m01", "m02")):
        entries.append({"subject": subject, "group": ["control", "treated"][k], "session": "d1",
                        "videos": {"top": f"videos/{subject}.mp4"}})
        _write(tmp_path / "stores" / f"{subject}_d1.zarr", _slots(truth, seed=k))
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "pairs", "sessions": entries}))
    return manifest, truth


def test_track_then_analyze_keeps_identities_and_matches_truth(cohort, tmp_path, capsys):
    from jobs.analyze import main as analyze
    from jobs.track import main as track

    manifest, truth = cohort
    out = tmp_path / "run"
    # Velocity carried for 5 of the 11 hidden frames; matching keypoint by keypoint (the animals
    # differ in size and face opposite ways) keeps them apart without the repair.
    track.run(TrackJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"),
                       track=TrackConfig(n_identities=2, names=["a", "b"], max_jump=15, max_extrapolate=5,
                                         merge_distance=5)))
    summary = pd.read_csv(out / "track_summary.csv").set_index("name")
    assert summary.loc["m01_d1", "status"] == "tracked"
    assert summary.loc["m01_d1", "swaps_repaired"] == 0 and summary.loc["m02_d1", "swaps_repaired"] == 0
    assert summary.loc["m01_d1", "missing_frames"] == 11
    assert summary.loc["m01_d1", "extra_frames"] == 0 and summary.loc["m01_d1", "jump_frames"] == 0
    report = pd.read_csv(out / "reports" / "m01_d1_quality.csv")
    assert report.query("event == 'swap'").empty and report.query("event == 'jump'").empty
    assert (out / "figures" / "m01_d1_tracks.png").read_bytes()[:4] == b"\x89PNG"

    tracked = open_store(out / "tracked" / "m01_d1.zarr")
    assert tracked.attrs["individuals_are"] == "identities"
    got = tracked["position"].values
    # The names are arbitrary: animal A is whichever identity starts where A starts.
    a_first = np.allclose(got[0, :, :, 0], truth[0, :, :, 0])
    order = [0, 1] if a_first else [1, 0]
    np.testing.assert_allclose(got, truth[..., order], rtol=1e-6)

    result = tmp_path / "analysis"
    analyze.run(AnalyzeJob(out=str(result), cohort=str(manifest), stores=str(out / "tracked"),
                           measures=["social"], figures=False,
                           social=SocialConfig(threshold=60.0, min_duration_s=0.2)))
    table = pd.read_csv(result / "measures.csv")
    position = make_poses(truth[..., order], fps=FPS, keypoints=["nose", "tail"], individuals=["a", "b"])
    expected = dict((f"social.{m}", v) for m, v, _ in measure_social(
        position["position"], threshold=60.0, min_duration_s=0.2, fps=FPS))
    assert expected["social.interaction_count"] == 2  # frames 80-94 and 106-120: the hidden ones split it
    speeds = sorted([expected["social.speed_mean_a"], expected["social.speed_mean_b"]])
    assert speeds[1] > 1.5 * speeds[0]  # a swap left in place would show in the speeds
    for subject in ("m01", "m02"):
        got = table[table.subject == subject].set_index("measure")["value"]
        assert set(got.index) == set(expected)
        for measure, value in expected.items():
            assert got[measure] == pytest.approx(value, rel=1e-5, nan_ok=True), measure

    # A second run skips what is done; force redoes it.
    track.run(TrackJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"),
                       track=TrackConfig(names=["a", "b"], max_jump=15, max_extrapolate=5, merge_distance=5)))
    summary = pd.read_csv(out / "track_summary.csv").set_index("name")
    assert summary["status"].tolist() == ["skipped", "skipped"] and summary["swaps_repaired"].tolist() == [0, 0]

    # Issue #15: other settings must not be skipped as done, nor may new detections
    # (each session fails alone, named on stderr and in the report; the job exits with status 1)
    with pytest.raises(SystemExit) as exit_info:
        track.run(TrackJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"), figures=False,
                           track=TrackConfig(names=["a", "b"], max_jump=40, max_extrapolate=5, merge_distance=5)))
    assert exit_info.value.code == 1
    assert re.search(r"session m01_d1 failed \(input.*track.max_jump was 15, but this run has 40.*force=true",
                     capsys.readouterr().err)
    shutil.rmtree(tmp_path / "stores" / "m02_d1.zarr")  # infer redone with other weights
    _write(tmp_path / "stores" / "m02_d1.zarr", _slots(truth, seed=7).assign_attrs(fingerprint={"weights": "B"}))
    with pytest.raises(SystemExit):
        track.run(TrackJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"), figures=False,
                           track=TrackConfig(names=["a", "b"], max_jump=15, max_extrapolate=5, merge_distance=5)))
    assert re.search(r"1 of 2 sessions failed: m02_d1;", capsys.readouterr().err)
    failures = json.loads((out / "track_report.json").read_text())["failures"]
    assert [f["session"] for f in failures] == ["m02_d1"] and "source was" in failures[0]["error"]
    track.run(TrackJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"), figures=False,
                       force=True, track=TrackConfig(names=["a", "b"], max_jump=15, merge_distance=5)))
    assert open_store(out / "tracked" / "m02_d1.zarr").attrs["fingerprint"]["source"] != \
        open_store(out / "tracked" / "m01_d1.zarr").attrs["fingerprint"]["source"]


def test_a_failing_session_is_recorded_and_the_others_finish(cohort, tmp_path, capsys):
    from jobs.track import main as track

    manifest, _ = cohort
    spec = yaml.safe_load(manifest.read_text())
    spec["sessions"].append({"subject": "m03", "group": "control", "session": "d1", "videos": {"top": "v.mp4"}})
    manifest.write_text(yaml.safe_dump(spec))
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        track.run(TrackJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"),
                           figures=False, track=TrackConfig(max_jump=15)))
    assert exit_info.value.code == 1
    assert "1 of 3 sessions failed: m03_d1;" in capsys.readouterr().err
    summary = pd.read_csv(out / "track_summary.csv").set_index("name")
    assert summary["status"].to_dict() == {"m01_d1": "tracked", "m02_d1": "tracked", "m03_d1": "failed"}
    assert (out / "tracked" / "m02_d1.zarr").is_dir() and not (out / "tracked" / "m03_d1.zarr").exists()


def test_cli_identity_from_classes(tmp_path):
    # DeepBehavior's social test: class 'body' is one mouse, 'body_mini' the other, in any slot.
    t = np.arange(40, dtype=float)
    big, small = np.stack([10 + t, 20 + 0 * t], axis=1), np.stack([200 - t, 80 + 0 * t], axis=1)
    centre = np.zeros((40, 2, 2))
    cls = np.zeros((40, 2))
    flip = t % 3 == 0
    centre[:, :, 0] = np.where(flip[:, None], small, big)
    centre[:, :, 1] = np.where(flip[:, None], big, small)
    cls[:, 0], cls[:, 1] = np.where(flip, 1, 0), np.where(flip, 0, 1)
    ds = make_boxes(centre, np.full_like(centre, 12.0), np.full((40, 2), 0.9), cls, fps=FPS,
                    class_names=["body", "body_mini"], views=["top"])
    store = tmp_path / "m01_d1.zarr"
    _write(store, ds)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "track", f"store={store}", f"out={tmp_path / 'o'}",
                           "track.classes={body:resident,body_mini:intruder}", "figures=false"],
                          capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    tracked = open_store(tmp_path / "o" / "tracked" / "m01_d1.zarr")
    assert list(tracked["individuals"].values) == ["resident", "intruder"]
    pos = tracked["position"]
    np.testing.assert_allclose(pos.sel(individuals="resident").transpose("time", "space"), big)
    np.testing.assert_allclose(pos.sel(individuals="intruder").transpose("time", "space"), small)
    summary = pd.read_csv(tmp_path / "o" / "track_summary.csv")
    assert summary["swaps_repaired"].tolist() == [0] and summary["missing_frames"].tolist() == [0]


def test_summary_has_every_event_and_a_failed_rerun_keeps_the_earlier_store(cohort, tmp_path, monkeypatch):
    import jobs.track as track_job
    from jobs.track import main as track

    manifest, _ = cohort
    out = tmp_path / "run"
    job = dict(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"))
    track.run(TrackJob(**job, track=TrackConfig(names=["a", "b"], max_jump=15, merge_distance=5)))
    summary = pd.read_csv(out / "track_summary.csv")
    assert {"parts_collapsed_frames", "parts_swapped_frames"} <= set(summary.columns)
    assert summary.columns[-1] == "error"
    before = open_store(out / "tracked" / "m01_d1.zarr").attrs["fingerprint"]

    def broken(tracked, target):
        raise OSError("Expected a writable figures folder, but got a full disk")

    # A rerun that fails after tracking (its figure) must leave the earlier tracked store in place,
    # as the "kept" row says.
    monkeypatch.setattr(track_job, "_draw", broken)
    with pytest.raises(SystemExit):
        track.run(TrackJob(**job, force=True, track=TrackConfig(names=["a", "b"], max_jump=40, merge_distance=5)))
    summary = pd.read_csv(out / "track_summary.csv").set_index("name")
    assert summary["status"].tolist() == ["kept", "kept"] and "full disk" in summary.loc["m01_d1", "error"]
    assert open_store(out / "tracked" / "m01_d1.zarr").attrs["fingerprint"] == before


def test_retrack_advice_names_the_readers_options():
    import xarray as xr

    from jobs.track import retrack_advice

    ds = xr.Dataset(attrs={"individuals_are": "identities", "provenance": {
        "source": {"": "/data/pose.json"}, "source_format": "openpose",
        "config": {"format": "openpose", "options": {"people": "all"}}}})
    advice = retrack_advice(ds, Path("/w/stores/s.zarr"), Path("/w/o"))
    assert "deepbehavior import source=/data/pose.json name=s format=openpose +options.people=all tracks=slots" \
        in advice
