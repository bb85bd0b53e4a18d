"""Several people crossing before two cameras (:mod:`deepbehavior.synthetic.people_scene`): identities,
hands and two-camera 3D against the generator's truth."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.geometry.people_pairing import pair_people, pairing_costs, triangulate_pairs
from deepbehavior.models import pose_layout as L
from deepbehavior.synthetic.human_reach import two_camera_rig
from deepbehavior.synthetic.people_scene import crossings, observe_people, people_3d
from deepbehavior.tracking.people import track_people


@pytest.fixture(scope="module")
def scene():
    rig = two_camera_rig()
    world = people_3d(fps=30.0, duration_s=4.0)
    return rig, world, observe_people(world, rig, seed=1)


def _truth_of(obs, view: int, slot_of: np.ndarray) -> np.ndarray:
    """(time, identity) the true person each identity holds, -1 where it holds none."""
    person = np.take_along_axis(obs.person[view], np.maximum(slot_of, 0), axis=1)
    return np.where(slot_of >= 0, person, -1)


@pytest.mark.parametrize("view", [0, 1])
def test_every_person_found_and_kept_through_crossings(scene, view):
    rig, world, obs = scene
    n_people = world.shape[1]
    n_crossings = crossings(world, rig)
    assert n_crossings >= 2  # the scene does test crossings
    assert (~obs.visible[view]).any()  # and occlusions (a person hidden in some frames)
    _, slot_of, report = track_people(obs.pixels[view], n_identities=n_people, max_jump=40.0)
    truth = _truth_of(obs, view, slot_of)
    for p in range(n_people):
        found = (truth == p).any(axis=1)
        assert found[obs.visible[view, :, p]].mean() >= 0.95, p
    switches = 0
    for i in range(n_people):
        held = truth[:, i][truth[:, i] >= 0]
        switches += int((np.diff(held) != 0).sum())
    assert switches <= n_crossings
    assert report["max_people_in_frame"] == n_people
    assert len(report["people"]) == n_people
    # every identity seen in a frame is there in the report's count
    assert sum(p["frames"] for p in report["people"]) == int((slot_of >= 0).sum())


def test_hands_travel_with_their_body(scene):
    _, world, obs = scene
    tracks, slot_of, _ = track_people(obs.pixels[0], n_identities=world.shape[1], max_jump=40.0)
    truth = _truth_of(obs, 0, slot_of)
    for i in range(world.shape[1]):
        for t in np.flatnonzero(truth[:, i] >= 0):
            p = truth[t, i]
            for part in (L.LEFT_HAND_SLICE, L.RIGHT_HAND_SLICE):
                seen = np.isfinite(tracks[t, i, part, 0])
                error = np.linalg.norm(tracks[t, i, part][seen] - obs.truth_pixels[0, t, p, part][seen], axis=-1)
                assert (error < 6.0).all(), (t, i, p)  # noise is 1 px; another person's hand is 100s away


def test_two_cameras_pair_people_and_give_each_3d_skeleton(scene):
    rig, world, obs = scene
    n = world.shape[1]
    ta, sa, _ = track_people(obs.pixels[0], n_identities=n, max_jump=40.0)
    tb, sb, _ = track_people(obs.pixels[1], n_identities=n, max_jump=40.0)
    who_a = [np.bincount(_truth_of(obs, 0, sa)[:, i][sa[:, i] >= 0]).argmax() for i in range(n)]
    who_b = [np.bincount(_truth_of(obs, 1, sb)[:, i][sb[:, i] >= 0]).argmax() for i in range(n)]
    costs = pairing_costs(ta, tb, rig)
    pairs = pair_people(ta, tb, rig)
    assert len(pairs) == n
    for i, j, error in pairs:
        assert who_a[i] == who_b[j]
        assert error < 3.0  # 1 px noise
    wrong = [costs[i, j] for i in range(n) for j in range(n) if who_a[i] != who_b[j]]
    assert min(wrong) > 15.0  # a wrong pair disagrees by far more than the noise
    skeletons = triangulate_pairs(ta, tb, rig, pairs)
    assert skeletons.shape == (len(world), n, L.N_KEYPOINTS, 3)
    for k, (i, _, _) in enumerate(pairs):
        error = np.linalg.norm(skeletons[:, k] - world[:, who_a[i]], axis=-1)
        assert np.isfinite(error).mean() > 0.3  # the people behind are hidden or out of view for a while
        assert np.nanmedian(error) < 10.0  # mm; the people are 3-4.5 m away


def test_track_people_refuses_bad_shapes():
    with pytest.raises(ValueError, match="Expected keypoints"):
        track_people(np.zeros((5, 2, 67)), n_identities=2, max_jump=10.0)


def test_pair_views_reorders_a_two_view_dataset_then_triangulates_each_person(scene):
    from deepbehavior import schema
    from deepbehavior.geometry.people_pairing import pair_views
    from deepbehavior.geometry.triangulation import triangulate_dataset

    rig, world, obs = scene
    n = world.shape[1]
    ta, sa, _ = track_people(obs.pixels[0], n_identities=n, max_jump=40.0)
    tb, sb, _ = track_people(obs.pixels[1], n_identities=n, max_jump=40.0)
    who_a = [np.bincount(_truth_of(obs, 0, sa)[:, i][sa[:, i] >= 0]).argmax() for i in range(n)]
    who_b = [np.bincount(_truth_of(obs, 1, sb)[:, i][sb[:, i] >= 0]).argmax() for i in range(n)]
    # number view B's people in another order than its tracker did, so that numbers surely differ
    tb, who_b = tb[:, ::-1], who_b[::-1]
    mixed = [i for i in range(n) if who_a[i] != who_b[i]]
    assert mixed
    position = np.stack([ta, tb], axis=-1).transpose(0, 3, 2, 1, 4)  # (time, space, keypoints, individuals, view)
    ds = schema.make_poses(position, fps=30.0, keypoints=L.KEYPOINT_NAMES, individuals=[f"slot{i}" for i in range(n)],
                           views=rig.names, individuals_are=schema.SLOTS)
    paired, report = pair_views(ds, rig)
    assert paired.attrs["view_pairing"]["reference"] == rig.names[0]
    assert report["views"][rig.names[1]]["median_error_px"] < 3.0  # 1 px noise
    # Wherever a person is seen by both cameras (truth), view B's partner is there and is that person.
    b_paired = paired["position"].sel(view=rig.names[1]).transpose("time", "individuals", "keypoints", "space").values
    for i in range(n):
        p = who_a[i]
        both = np.isfinite(ta[:, i, :25, 0]).any(-1) & obs.visible[1, :, p]
        assert both.sum() > 60
        has = np.isfinite(b_paired[:, i, :25, 0]).any(-1)
        assert has[both].mean() >= 0.95, i
        error = np.linalg.norm(b_paired[has, i] - obs.truth_pixels[1, has, p], axis=-1)
        assert np.nanmedian(error) < 3.0, i
    points = triangulate_dataset(paired, rig).compute()
    for i in range(n):
        xyz = points["position"].isel(individuals=i).transpose("time", "keypoints", "space").values
        error = np.linalg.norm(xyz - world[:, who_a[i]], axis=-1)
        assert np.nanmedian(error) < 10.0  # mm
    # without the pairing, individuals whose numbers differ across views mix two people
    unpaired = triangulate_dataset(ds, rig).compute()
    for i in mixed:
        xyz = unpaired["position"].isel(individuals=i).transpose("time", "keypoints", "space").values
        assert np.nanmedian(np.linalg.norm(xyz - world[:, who_a[i]], axis=-1)) > 100.0


def test_the_triangulate_step_pairs_people_before_triangulating(scene):
    from deepbehavior import schema
    from deepbehavior.pipeline.triangulate import triangulate

    rig, world, obs = scene
    n = world.shape[1]
    ta, sa, _ = track_people(obs.pixels[0], n_identities=n, max_jump=40.0)
    tb, sb, _ = track_people(obs.pixels[1], n_identities=n, max_jump=40.0)
    tb, sb = tb[:, ::-1], sb[:, ::-1]
    who_a = [np.bincount(_truth_of(obs, 0, sa)[:, i][sa[:, i] >= 0]).argmax() for i in range(n)]
    position = np.stack([ta, tb], axis=-1).transpose(0, 3, 2, 1, 4)
    ds = schema.make_poses(position, fps=30.0, keypoints=L.KEYPOINT_NAMES, individuals=[f"slot{i}" for i in range(n)],
                           views=rig.names, individuals_are=schema.SLOTS)
    points = triangulate(ds, rig).points.compute()
    assert "view_pairing" in points.attrs
    for i in range(n):
        xyz = points["position"].isel(individuals=i).transpose("time", "keypoints", "space").values
        assert np.nanmedian(np.linalg.norm(xyz - world[:, who_a[i]], axis=-1)) < 10.0


def test_the_triangulate_job_step_pairs_people_in_a_store(scene, tmp_path):
    from deepbehavior import schema
    from deepbehavior.formats.importing import write_store
    from deepbehavior.geometry.calib_io import save_calibration
    from deepbehavior.geometry.cohort3d import triangulate_session
    from deepbehavior.store import open_store

    rig, world, obs = scene
    n = world.shape[1]
    # straight from the detector: slots in each frame's own order, no tracking
    position = np.stack([obs.pixels[0], obs.pixels[1]], axis=-1).transpose(0, 3, 2, 1, 4)
    ds = schema.make_poses(position, fps=30.0, keypoints=L.KEYPOINT_NAMES, individuals=[f"slot{i}" for i in range(n)],
                           views=rig.names, individuals_are=schema.SLOTS)
    source = write_store(ds, tmp_path / "people2d.zarr", chunk=40)
    calibration = save_calibration(rig, tmp_path / "calibration.toml")
    target = triangulate_session(source, calibration, tmp_path / "people3d.zarr")
    points = open_store(target)
    xyz = points["position"].transpose("time", "individuals", "keypoints", "space").values  # (time, slot, k, 3)
    # each 3D slot is one person of the reference view's slot, in every frame
    for t in range(0, len(world), 7):
        for slot in range(n):
            p = obs.person[0, t, slot]
            if p < 0 or not obs.visible[1, t, p]:
                continue
            error = np.linalg.norm(xyz[t, slot] - world[t, p], axis=-1)
            assert np.nanmedian(error) < 15.0, (t, slot, p)


def test_pairing_in_blocks_of_frames_equals_pairing_all_at_once(scene):
    from deepbehavior import schema
    from deepbehavior.geometry.people_pairing import frame_pairs, pair_views

    rig, world, obs = scene
    n = world.shape[1]
    a, b = obs.pixels[0][:50], obs.pixels[1][:50]
    whole = frame_pairs(a, b, rig, block=None)
    assert (whole[0] >= 0).any()
    for block in (1, 7):  # 7 does not divide 50: a short last block
        partner, error = frame_pairs(a, b, rig, block=block)
        np.testing.assert_array_equal(partner, whole[0])
        np.testing.assert_array_equal(error, whole[1])
    position = np.stack([a, b], axis=-1).transpose(0, 3, 2, 1, 4)
    ds = schema.make_poses(position, fps=30.0, keypoints=L.KEYPOINT_NAMES, individuals=[f"slot{i}" for i in range(n)],
                           views=rig.names, individuals_are=schema.SLOTS)
    expected, expected_report = pair_views(ds, rig, block=len(a))
    for source, block in ((ds, 7), (ds.chunk({"time": 9}), None)):  # None: the time chunk of a lazy store
        paired, report = pair_views(source, rig, block=block)
        assert report == expected_report
        assert (paired["position"].chunks is not None) == (source["position"].chunks is not None)  # a store stays lazy
        for name in ("position", "confidence"):
            np.testing.assert_array_equal(paired[name].values, expected[name].values)
