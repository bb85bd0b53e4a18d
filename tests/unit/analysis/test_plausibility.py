"""Slots refused, implausible speeds flagged, one unit attribute (issue #15)."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from deepbehavior.analysis.measure_settings import MeasureSettings
from deepbehavior.analysis.cohort import analyze_cohort
from deepbehavior.analysis.plausibility import check_speed, flag
from deepbehavior.cohort import load_cohort
from deepbehavior.config import HumanConfig
from jobs.analyze import AnalyzeJob
from deepbehavior.schema import make_boxes, make_poses
from deepbehavior.store import create_store, regions, write_region

FPS = 30.0
N = 120


def _write(path, ds):
    create_store(path, ds, chunk=50)
    for region in regions(path):
        write_region(path, ds.isel(time=slice(region.start, region.stop)), region)


def _manifest(tmp_path, names):
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"sessions": [
        {"subject": n, "session": "d1", "videos": {"top": f"{n}.mp4"}} for n in names]}))
    return load_cohort(manifest, check_files=False)


def _walk() -> np.ndarray:
    """(time, 2) a mouse walking 2 px a frame (60 px/s) along x."""
    t = np.arange(N, dtype=float)
    return np.stack([100 + 2 * t, 200 + 0 * t], axis=1)


def test_check_speed_counts_frames_above_the_limit():
    speed = np.full(100, 50.0)
    speed[[10, 60]] = 5000.0
    speed[30] = np.nan
    check = check_speed(speed, name="a", unit="px")
    assert check.limit == pytest.approx(25 * 50.0) and check.count == 2
    assert np.flatnonzero(check.too_fast).tolist() == [10, 60]
    assert flag([check]) == "implausible speed (a: 2 of 100 frames faster than 1250 px/s)"
    assert check_speed(speed, name="a", unit="px", max_speed=6000.0).count == 0
    assert flag([check_speed(np.full(10, 50.0), name="a", unit="px")]) == ""


def test_slots_straight_from_infer_are_refused_naming_track(tmp_path):
    """Issue #15: locomotion over untracked slots reported 56,350 px travelled and 9,600 px/s."""
    walk_a, walk_b = _walk(), _walk()[::-1] + [0, 100]
    rng = np.random.default_rng(0)
    both = np.stack([walk_a, walk_b], axis=-1)  # (time, space, animal)
    order = np.array([rng.permutation(2) for _ in range(N)])  # slot k: the k-th most confident box
    slots = np.take_along_axis(both, order[:, None, :], axis=2)
    size = np.full_like(slots, 20.0)
    _write(tmp_path / "stores" / "m1_d1.zarr", make_boxes(slots, size, np.ones((N, 2)), np.zeros((N, 2)),
                                                        fps=FPS))
    cohort = _manifest(tmp_path, ["m1"])
    with pytest.raises(ValueError) as error:
        analyze_cohort(cohort, tmp_path / "stores", MeasureSettings(measures=("locomotion",)))
    message = str(error.value)
    assert "Expected identities in the store of session m1_d1, but it holds 2 detection slots" in message
    assert "run `deepbehavior track` first" in message and "\n" not in message


def test_one_slot_is_measured_and_a_false_detection_is_flagged(tmp_path):
    """One animal, one slot: measured; a frame where the box lands on something else is flagged."""
    walk = _walk()[:, :, None]
    jumped = walk.copy()
    jumped[70] = [[600.0], [20.0]]  # a false positive far away for one frame
    size = np.full_like(walk, 20.0)
    for name, track in (("clean", walk), ("jump", jumped)):
        _write(tmp_path / "stores" / f"{name}_d1.zarr",
               make_boxes(track, size, np.ones((N, 1)), np.zeros((N, 1)), fps=FPS))
    table = analyze_cohort(_manifest(tmp_path, ["clean", "jump"]), tmp_path / "stores",
                           MeasureSettings(measures=("locomotion",)))
    get = table.set_index(["subject", "measure"])
    assert get.loc[("clean", "locomotion.distance_slot0"), "value"] == pytest.approx(2 * (N - 1))
    assert get.loc[("clean", "locomotion.distance_slot0"), "flag"] == ""
    jump_flag = get.loc[("jump", "locomotion.speed_mean_slot0"), "flag"]
    assert jump_flag.startswith("implausible speed (slot0: ") and "px/s" in jump_flag
    assert "of 120 frames faster than 1500 px/s" in jump_flag  # 25 x the 60 px/s walk


def _human_3d(space_unit):
    """A person in 3D: hips still, the right wrist reaching 300 mm along x over 2 s."""
    n, fps = 60, 30.0
    names = ["MidHip", "RShoulder", "RElbow", "RWrist", "LWrist"]
    position = np.zeros((n, 3, len(names), 1))
    position[:, :, 1, 0] = [0, 0, 500]
    position[:, :, 2, 0] = [100, 0, 300]
    position[:, 0, 3, 0] = np.linspace(150, 450, n)
    position[:, 2, 3, 0] = 300
    position[:, :, 4, 0] = [-150, 0, 300]
    ds = make_poses(position, fps=fps, keypoints=names, individuals=["person"], space=["x", "y", "z"])
    return ds.assign_attrs(space_unit=space_unit) if space_unit else ds


def _run_figures(tmp_path, monkeypatch, ds, measures):
    import deepbehavior.viz.plots as plots
    from jobs.analyze import main as analyze

    _write(tmp_path / "stores" / "p1_d1.zarr", ds)
    manifest = tmp_path / "c.yaml"
    manifest.write_text(yaml.safe_dump({"sessions": [{"subject": "p1", "session": "d1",
                                                      "videos": {"view0": "x.mp4"}}]}))
    drawn = {}
    original = plots.save_figure
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: (drawn.__setitem__(path.name, fig),
                                                                 original(fig, path))[1])
    analyze.run(AnalyzeJob(out=str(tmp_path / "out"), cohort=str(manifest), stores=str(tmp_path / "stores"),
                           measures=measures, human=HumanConfig(smooth=False)))
    return drawn, pd.read_csv(tmp_path / "out" / "measures.csv")


def test_3d_figures_are_in_the_calibration_unit_and_follow_the_wrist(tmp_path, monkeypatch):
    """Issue #15: 3D human figures labelled mm as px and drew the mean of all keypoints."""
    drawn, table = _run_figures(tmp_path, monkeypatch, _human_3d("mm"), ["human"])
    axes = drawn["trajectory.png"].axes[0]
    assert axes.get_xlabel() == "x (mm)" and axes.get_ylabel() == "y (mm)"
    assert drawn["speed.png"].axes[0].get_ylabel() == "speed (mm/s)"
    assert "RWrist" in axes.get_title()
    x = axes.lines[0].get_xdata()
    np.testing.assert_allclose([x.min(), x.max()], [150, 450])  # the wrist's path, not a mean of points
    units = table["unit"].fillna("")
    assert not units.str.contains("px").any() and (units == "mm").any()


def test_3d_without_a_unit_is_never_called_px(tmp_path, monkeypatch):
    drawn, table = _run_figures(tmp_path, monkeypatch, _human_3d(None), ["locomotion"])
    axes = drawn["trajectory.png"].axes[0]
    assert axes.get_xlabel() == "x (unknown)"
    assert "MidHip" in axes.get_title()  # locomotion: the body's centre
    assert set(table["unit"]) == {"unknown", "unknown/s"}
    record = json.loads((tmp_path / "out" / "measures_fingerprint.json").read_text())
    assert record["settings"]["measures"] == '["locomotion"]' and record["stores"] == {"p1_d1": "none"}


def test_real_flies_tracked_are_plausible_and_the_most_confident_slot_is_not(shared_data):
    """Real SLEAP tracks of two flies: as identities no frame is implausible; reduced to one slot
    holding the more confident fly of each frame (what ``infer`` with one slot gives), the slot
    hops between flies and those hops are flagged. Baseline: the hops counted directly, as frames
    where the slot changes fly while both are seen."""
    from deepbehavior.analysis.tracks import as_position
    from deepbehavior.analysis.cohort import check_plausibility
    from deepbehavior.formats.sleap import read_sleap

    ds = read_sleap(shared_data / "sleap-flies" / "centered_pair_predictions.slp", min_track_frames=500)
    position = as_position(ds).load()
    individuals = "individuals"
    assert position.sizes[individuals] == 2
    tracked = check_plausibility(position, 30.0)
    assert [c.count for c in tracked.values()] == [0, 0]

    keypoints = "keypoints"
    confidence = ds["confidence"].isel(view=0) if "view" in ds["confidence"].dims else ds["confidence"]
    score = confidence.mean(keypoints).fillna(-1).transpose("time", individuals).values
    best = score.argmax(axis=1)
    values = position.transpose("time", "space", keypoints, individuals).values
    slot = values[np.arange(len(best)), :, :, best]  # (time, space, keypoints)
    one_slot = position.transpose("time", "space", keypoints, individuals).isel({individuals: [0]}).copy(
        data=slot[..., None])
    hopped = check_plausibility(one_slot, 30.0)
    both_seen = (score >= 0).all(axis=1)
    hops = int(((np.diff(best) != 0) & both_seen[1:] & both_seen[:-1]).sum())
    assert hops > 5
    count = next(iter(hopped.values())).count
    # central differences flag the frames on both sides of a hop; a hop between nearby flies can stay under
    assert 0.5 * hops <= count <= 2 * hops, (count, hops)
