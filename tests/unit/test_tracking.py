"""Identities from classes and from motion: synthetic crossings with known answers, SLEAP flies."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.schema import make_boxes, make_poses
from deepbehavior.tracking import identities_from_classes, quality_report, reference_points, track_identities


def _crossing(n=200, hide=None, seed=0):
    """Two animals crossing on a line; slots shuffled in every frame. Returns (dataset, truth)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype=np.float64)
    a = np.stack([50 + 2 * t, 100 + 10 * np.sin(t / 15)], axis=1)
    b = np.stack([450 - 2 * t, 103 - 10 * np.sin(t / 15)], axis=1)
    truth = np.stack([a, b], axis=2)  # (time, space, animal)
    order = np.array([rng.permutation(2) for _ in range(n)])
    slots = np.take_along_axis(truth, order[:, None, :], axis=2)
    if hide is not None:
        slots[hide] = np.nan
    return make_boxes(slots, np.full_like(slots, 10.0), fps=30.0), truth


def _frames_wrong(result, truth) -> int:
    """Frames whose identities differ from the truth, under the best global relabelling."""
    pos = result["position"].values
    seen = np.isfinite(pos).all(axis=1).all(axis=1)
    wrong = [(~np.isclose(pos, truth[:, :, list(p)]).all(axis=(1, 2)) & seen).sum() for p in ([0, 1], [1, 0])]
    return int(min(wrong))


def test_shuffled_slots_of_crossing_animals_are_untangled():
    ds, truth = _crossing()
    out = track_identities(ds, n_identities=2, max_jump=15, names=["m1", "m2"])
    assert out.attrs["individuals_are"] == "identities"
    assert list(out["individuals"].values) == ["m1", "m2"]
    assert _frames_wrong(out, truth) == 0
    assert out["position"].notnull().all()
    # The shape and confidence travel with their slot.
    np.testing.assert_allclose(out["shape"], 10.0)
    assert ds.attrs["individuals_are"] == "slots"  # input untouched


def test_swap_while_hidden_is_repaired():
    # Both animals are hidden for 11 frames while they cross: the frame-by-frame pass, which
    # stops extrapolating after 5 frames, swaps them; the segment repair puts them back.
    ds, truth = _crossing(hide=slice(95, 106), seed=1)
    greedy = track_identities(ds, n_identities=2, max_jump=15, max_extrapolate=5, repair=False)
    assert _frames_wrong(greedy, truth) > 50
    repaired = track_identities(ds, n_identities=2, max_jump=15, max_extrapolate=5)
    assert _frames_wrong(repaired, truth) == 0
    assert repaired.attrs["swaps_repaired"] == 1
    assert repaired.attrs["swap_frames"] == {"view0": [106]}
    report = quality_report(repaired, merge_distance=5, max_jump=15)
    assert report.query("event == 'swap'")["time"].tolist() == [106]
    assert report.query("event == 'swap'")["value"].iloc[0] >= 2.0  # the evidence: log-likelihood gained
    # Nothing jumps: across the hidden frames each animal moved its 2 px a frame.
    assert report.query("event == 'jump'").empty
    # Carrying the velocity 15 frames, the frame-by-frame pass gets it right by itself.
    assert _frames_wrong(track_identities(ds, n_identities=2, max_jump=15, repair=False), truth) == 0
    missing = report.query("event == 'missing'")
    assert sorted(set(missing["time"])) == list(range(95, 106)) and len(missing) == 22


def test_jump_check_sees_across_gaps():
    # One animal at 2 px a frame, unseen in frames 10-19 and 30-39; after the second gap it is
    # 300 px away (another animal taken for it). Before: no jump at frame 20 (it moved 22 px in 11
    # frames); at frame 40, 300 px in 11 frames at most 15 px a frame is a jump.
    n = 60
    x = 2.0 * np.arange(n)
    x[40:] += 300
    pos = np.stack([x, np.full(n, 50.0)])[None].repeat(1, 0).transpose(2, 1, 0)[..., None]  # (time, space, 1, 1)
    pos[10:20] = np.nan
    pos[30:40] = np.nan
    ds = make_poses(pos, fps=30.0, keypoints=["c"], individuals=["a"])
    report = quality_report(ds, merge_distance=1.0, max_jump=15.0)
    jumps = report.query("event == 'jump'")
    assert jumps["time"].tolist() == [40]
    assert jumps["value"].iloc[0] == pytest.approx(322.0)
    assert len(report.query("event == 'missing'")) == 20


def test_quality_report_merges_and_jumps():
    ds, truth = _crossing()
    out = track_identities(ds, n_identities=2, max_jump=15)
    report = quality_report(out, merge_distance=5.0, max_jump=3.0)
    merges = report.query("event == 'merge'")
    d = np.linalg.norm(truth[:, :, 0] - truth[:, :, 1], axis=1)
    assert merges["time"].tolist() == np.flatnonzero(d < 5.0).tolist()
    np.testing.assert_allclose(merges["value"], d[d < 5.0], rtol=1e-5)
    step = np.linalg.norm(np.diff(truth, axis=0), axis=1)  # (time-1, animal)
    assert (report["event"] == "jump").sum() == int((step > 3.0).sum())
    assert list(report.columns) == ["view", "time", "event", "individual", "value"]
    with pytest.raises(ValueError, match="identities"):
        quality_report(ds, merge_distance=5)


def test_identities_from_classes():
    # Slot 0 holds whichever mouse was more confident; class says who it is.
    n = 6
    centre = np.full((n, 2, 3), np.nan)
    cls = np.full((n, 3), np.nan)
    conf = np.full((n, 3), np.nan)
    for t in range(n):
        big, small = np.array([10.0 + t, 20]), np.array([100.0, 50 + t])
        rows = [(big, 0, 0.9), (small, 1, 0.8)] if t % 2 else [(small, 1, 0.95), (big, 0, 0.7)]
        if t == 4:
            rows.append((big + 1, 0, 0.5))  # a second, weaker 'body' box: not chosen
        if t == 5:
            rows = rows[:1] if rows[0][1] == 0 else rows[1:]  # only the big mouse
        for k, (c, c_idx, score) in enumerate(rows):
            centre[t, :, k], cls[t, k], conf[t, k] = c, c_idx, score
    ds = make_boxes(centre, np.ones_like(centre), conf, cls, fps=30.0, class_names=["body", "body_mini", "nose"])
    out = identities_from_classes(ds, {"body": "mouse1", "body_mini": "mouse2"})
    assert list(out["individuals"].values) == ["mouse1", "mouse2"]
    pos = out["position"]
    np.testing.assert_allclose(pos.sel(individuals="mouse1", space="x"), 10.0 + np.arange(n))
    np.testing.assert_allclose(pos.sel(individuals="mouse2", space="y")[:5], 50.0 + np.arange(5))
    assert np.isnan(pos.sel(individuals="mouse2")[5]).all()
    np.testing.assert_allclose(out["class_index"].sel(individuals="mouse1"), 0)
    with pytest.raises(ValueError, match="class names"):
        identities_from_classes(ds, {"tail": "mouse1"})


def test_dask_backed_dataset_gives_same_tracks():
    ds, truth = _crossing(n=80)
    eager = track_identities(ds, n_identities=2, max_jump=15)
    lazy = track_identities(ds.chunk(time=25), n_identities=2, max_jump=15)
    assert lazy["position"].chunks is not None
    np.testing.assert_allclose(lazy["position"].values, eager["position"].values)


def _sleap_slots(path, n_slots=5):
    """Predicted instances of a SLEAP .slp/HDF5 file as slots (most confident first), and the
    track id SLEAP gave each slot."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "r") as f:
        frames, inst, pts = f["frames"][:], f["instances"][:], f["pred_points"][:]
    n_time = int(frames["frame_idx"].max()) + 1
    n_nodes = int(inst["point_id_end"][0] - inst["point_id_start"][0])
    pos = np.full((n_time, 2, n_nodes, n_slots), np.nan)
    conf = np.full((n_time, n_nodes, n_slots), np.nan)
    track = np.full((n_time, n_slots), -1)
    for fr in frames:
        rows = inst[fr["instance_id_start"] : fr["instance_id_end"]]
        rows = rows[np.argsort(-rows["score"], kind="stable")][:n_slots]
        for k, r in enumerate(rows):
            p = pts[r["point_id_start"] : r["point_id_end"]]
            t = fr["frame_idx"]
            pos[t, 0, :, k], pos[t, 1, :, k], conf[t, :, k], track[t, k] = p["x"], p["y"], p["score"], r["track"]
    return make_poses(pos, conf, fps=30.0, individuals_are="slots"), track


def test_sleap_flies_two_consistent_identities(shared_data):
    ds, sleap_track = _sleap_slots(shared_data / "sleap-flies" / "centered_pair_predictions.h5")
    assert ds.sizes["time"] == 1100
    out = track_identities(ds, n_identities=2, max_jump=20)
    ref = reference_points(out).values  # (time, space, identity)
    # Two identities seen in (nearly) every frame, and neither ever teleports.
    assert (np.isfinite(ref).all(axis=1).sum(axis=0) >= 1095).all()
    # SLEAP's own tracks 0 and 1 (27 fragments in all) agree on all but a handful of frames.
    slots = reference_points(ds).values
    sleap = np.full(ref.shape, np.nan)
    for k in range(2):
        t, j = np.nonzero(sleap_track == k)
        sleap[t, :, k] = slots[t, :, j]
    agree = max(np.isclose(ref, sleap[:, :, list(p)]).all(axis=(1, 2)).sum() for p in ([0, 1], [1, 0]))
    assert agree >= 1090
    # Shuffling the slots in every frame changes nothing.
    rng = np.random.default_rng(5)
    order = np.array([rng.permutation(5) for _ in range(1100)])
    shuffled = ds.copy(deep=True)
    shuffled["position"].values[:] = np.take_along_axis(ds["position"].values, order[:, None, None, :], axis=3)
    shuffled["confidence"].values[:] = np.take_along_axis(ds["confidence"].values, order[:, None, :], axis=2)
    again = track_identities(shuffled, n_identities=2, max_jump=20)
    ref2 = reference_points(again).values
    assert max(np.isclose(ref2, ref[:, :, list(p)], equal_nan=True).all(axis=(1, 2)).sum() for p in ([0, 1], [1, 0])) >= 1095


# --------------------------------------------------------------------------------------------------
# A whole session: the pieces the track job wires together


def test_track_session_follows_its_config():
    from deepbehavior.config import TrackConfig
    from deepbehavior.tracking import track_session

    ds, truth = _crossing(hide=slice(95, 106), seed=1)
    # Velocity carried for 5 of the 11 hidden frames: the frame-by-frame pass swaps, the repair undoes it.
    out = track_session(ds, TrackConfig(n_identities=2, max_jump=15, max_extrapolate=5, names=["p", "q"]))
    assert list(out["individuals"].values) == ["p", "q"] and _frames_wrong(out, truth) == 0
    assert out.attrs["swaps_repaired"] == 1 and out.attrs["track_config"]["max_jump"] == 15
    unrepaired = track_session(ds, TrackConfig(n_identities=2, max_jump=15, max_extrapolate=5, repair=False))
    assert unrepaired.attrs["swaps_repaired"] == 0 and _frames_wrong(unrepaired, truth) > 50
    # With classes, the class decides whatever the motion says.
    cls = np.where(np.isclose(ds["position"].isel(space=0).values, truth[:, 0, :1]), 0.0, 1.0)
    boxes = ds.assign(class_index=(("time", "individuals"), cls.astype(np.float32)))
    boxes.attrs["class_names"] = ["body", "body_mini"]
    by_class = track_session(boxes, TrackConfig(classes={"body": "resident", "body_mini": "intruder"}))
    got = by_class["position"].values
    seen = ~np.isnan(got).any(axis=(1, 2))
    np.testing.assert_allclose(got[seen], truth[seen])
    assert by_class.attrs["swaps_repaired"] == 0 and by_class.attrs["swap_frames"] == {"view0": []}


def test_summarize_quality_counts_distinct_frames():
    import pandas as pd

    from deepbehavior.tracking import summarize_quality

    report = pd.DataFrame({
        "view": ["v", "v", "v", "v", "w"],
        "time": [3, 3, 4, 9, 3],
        "event": ["missing", "missing", "merge", "swap", "missing"],  # two animals missing in frame 3 of v
        "individual": ["a", "b", "a|b", "a|b", "a"],
        "value": [np.nan, np.nan, 1.0, np.nan, np.nan],
    })
    assert summarize_quality(report, frames=10, swaps_repaired=1) == {
        "frames": 10, "swaps_repaired": 1, "swap_frames": 1, "merge_frames": 1, "jump_frames": 0, "missing_frames": 2,
        "extra_frames": 0, "duplicate_frames": 0, "reacquired_frames": 0, "parts_collapsed_frames": 0,
        "parts_swapped_frames": 0}


def test_write_tracked_is_atomic_and_round_trips(tmp_path):
    from deepbehavior.store import is_complete, open_store
    from deepbehavior.tracking import write_tracked

    ds, _ = _crossing(n=120)
    out = track_identities(ds, n_identities=2, max_jump=15, names=["m1", "m2"])
    path = write_tracked(out, tmp_path / "s.zarr", chunk=50)
    back = open_store(path)
    assert back["position"].chunks[0] == (50, 50, 20)
    np.testing.assert_allclose(back["position"].values, out["position"].values)
    assert list(back["individuals"].values) == ["m1", "m2"] and back.attrs["individuals_are"] == "identities"
    with pytest.raises(FileExistsError, match="Expected no store"):
        write_tracked(out, path, chunk=50)
    shifted = out.assign(position=out["position"] + 1.0)
    write_tracked(shifted, path, chunk=50, overwrite=True)
    np.testing.assert_allclose(open_store(path)["position"].values, out["position"].values + 1.0)
    # no temporary left behind; beside the store, its record of being complete (every region done)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr", "s.zarr.progress"]
    assert is_complete(path)


def test_sleap_flies_through_the_track_job(shared_data, tmp_path):
    from deepbehavior.config import TrackConfig
    from jobs.track import TrackJob
    from deepbehavior.store import create_store, open_store, regions, write_region
    from jobs.track import main as track

    ds, _ = _sleap_slots(shared_data / "sleap-flies" / "centered_pair_predictions.h5")
    store = tmp_path / "flies.zarr"
    create_store(store, ds, chunk=300)  # four shards, as inference would have written them
    for region in regions(store):
        write_region(store, ds.isel(time=slice(region.start, region.stop)), region)
    track.run(TrackJob(out=str(tmp_path / "o"), store=str(store), figures=False,
                       track=TrackConfig(n_identities=2, max_jump=20)))
    tracked = open_store(tmp_path / "o" / "tracked" / "flies.zarr")
    direct = track_identities(ds, n_identities=2, max_jump=20)
    np.testing.assert_allclose(tracked["position"].values, direct["position"].values, equal_nan=True)
    import pandas as pd

    summary = pd.read_csv(tmp_path / "o" / "track_summary.csv")
    assert summary["swaps_repaired"].tolist() == [direct.attrs["swaps_repaired"]]
    assert summary["swap_frames"].tolist() == [len(direct.attrs["swap_frames"]["view0"])]


def test_ultralytics_bytetrack_and_botsort_on_boxes():
    # Two boxes apart (200 px), slots shuffled, one hidden for 5 frames: ultralytics' trackers keep
    # them, and their tracks fold into the two identities.
    rng = np.random.default_rng(0)
    t = np.arange(120, dtype=float)
    truth = np.stack([np.stack([50 + 2 * t, 100 + 0 * t], 1), np.stack([400 - 2 * t, 300 + 0 * t], 1)], axis=2)
    order = np.array([rng.permutation(2) for _ in t])
    slots = np.take_along_axis(truth, order[:, None, :], axis=2)
    slots[60:65, :, 0] = np.nan
    ds = make_boxes(slots, np.full_like(slots, 30.0), fps=30.0)
    for method in ("bytetrack", "botsort"):
        out = track_identities(ds, n_identities=2, max_jump=15, method=method)
        assert out.attrs["identity_from"] == method
        got = out["position"].values
        seen = np.isfinite(got).all(axis=1)
        assert seen.sum() >= 0.95 * np.isfinite(slots).all(axis=1).sum()  # ByteTrack confirms a track after a frame
        best = max(((np.isclose(got, truth[:, :, list(p)]) | ~seen[:, None]).all(axis=(1, 2))).sum()
                   for p in ([0, 1], [1, 0]))
        assert best == len(t)
    with pytest.raises(ValueError, match="Expected track.method in"):
        track_identities(ds, n_identities=2, max_jump=15, method="sort")


def test_naive_method_is_the_baseline():
    from deepbehavior.tracking.matcher import match_naive

    ds, truth = _crossing(n=60)
    out = track_identities(ds, n_identities=2, max_jump=15, method="naive")
    points = ds["position"].transpose("time", "individuals", "space").values[:, :, None, :]
    slot_of = match_naive(points, 2)
    expected = np.take_along_axis(points[:, :, 0, :], slot_of[:, :, None], axis=1)  # (time, identity, space)
    np.testing.assert_allclose(out["position"].transpose("time", "individuals", "space").values, expected)


def test_the_quality_report_names_parts_that_collapsed_or_swapped_sides():
    """Issue 28: a keypoint model's identity checks (kept in the store by the top-down backend) make
    rows of the quality report: two parts on one spot, a left/right pair on the wrong sides."""
    body = np.array([[40.0, 0.0], [28.0, -10.0], [28.0, 10.0], [-60.0, 0.0]]) + [200, 200]  # snout, ears, tail
    track = np.repeat(body[None], 10, axis=0)
    track[3, 1] = track[3, 2] + 1.0  # left ear on the right ear
    track[6, [1, 2]] = track[6, [2, 1]]  # ears swapped
    ds = make_poses(track.transpose(0, 2, 1)[..., None], fps=30.0, keypoints=["snout", "leftear", "rightear", "tail"],
                    individuals=["a"])
    ds.attrs["model"] = {"part_checks": {"keypoints": ["snout", "leftear", "rightear", "tail"],
                                         "collapse_px": [[1, 2, 5.0]],
                                         # the labels' sign of cross(tail->snout... axis p->q, left->right)
                                         "side_checks": [[1, 2, 0, 3, -1]]}}
    report = quality_report(ds, merge_distance=1.0)
    assert report.query("event == 'parts_collapsed'")["time"].tolist() == [3]
    assert report.query("event == 'parts_swapped'")["time"].tolist() == [6]
    del ds.attrs["model"]
    assert not len(report := quality_report(ds, merge_distance=1.0)) or "parts_swapped" not in set(report["event"])
