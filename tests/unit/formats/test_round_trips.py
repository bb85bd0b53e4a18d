"""Our readers and writers against movement, sleap-io and pandas, on the real files in ../shared/data.

Ground truth is the other library's reading of the same file (or of the file we wrote), never our
own reader alone.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from deepbehavior import schema
from deepbehavior.formats import load_file, save_file
from deepbehavior.formats._movement import frames, to_movement
from deepbehavior.formats.importing import join_views


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def openfield(shared_data):
    return shared_data / "dlc-openfield" / "labeled-data" / "m4s1"


@pytest.fixture(scope="module")
def flies(shared_data):
    return shared_data / "sleap-flies"


def _pos(ds):
    """position (time, space, keypoints, individuals) and confidence of a single-view dataset."""
    m = to_movement(ds)
    return m["position"].values, m["confidence"].values


@pytest.mark.parametrize("folder, scorer", [("dlc-openfield/labeled-data/m4s1", "Pranav"),
                                            ("dlc-reaching/labeled-data/reachingvideo1", "Mackenzie")])
def test_dlc_h5_equals_pandas_and_the_csv(shared_data, folder, scorer):
    h5 = shared_data / folder / f"CollectedData_{scorer}.h5"
    table = pd.read_hdf(h5)
    ds = load_file(h5)
    assert ds.attrs["source_format"] == "dlc" and ds.attrs["scorer"] == scorer
    position, confidence = _pos(ds)
    for k, part in enumerate(ds[[d for d in ds.dims if d.startswith("keypoint")][0]].values):
        for s, axis in enumerate("xy"):
            np.testing.assert_allclose(position[:, s, k, 0], table[(scorer, part, axis)].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(np.isnan(confidence), np.isnan(position).any(axis=1))
    csv = load_file(h5.with_suffix(".csv"))
    np.testing.assert_array_equal(_pos(csv)[0], position)


@pytest.mark.parametrize("suffix", [".csv", ".h5"])
def test_dlc_export_reads_back_in_movement(openfield, tmp_path, suffix):
    from movement.io import load_poses

    ours = load_file(openfield / "CollectedData_Pranav.h5", fps=30)
    path = save_file(ours, tmp_path / f"out{suffix}", "dlc")
    theirs = load_poses.from_dlc_file(path, fps=30)
    position, confidence = _pos(ours)
    np.testing.assert_array_equal(theirs["position"].values, position)
    np.testing.assert_array_equal(theirs["confidence"].values, confidence)
    np.testing.assert_allclose(theirs["time"].values, frames(ours) / 30)
    again = load_file(path, fps=30)
    np.testing.assert_array_equal(_pos(again)[0], position)


def test_dlc_export_keeps_frame_numbers_as_rows(tmp_path):
    rng = np.random.default_rng(0)
    position = rng.uniform(0, 600, (5, 2, 3, 2))
    ds = schema.make_poses(position, rng.uniform(0, 1, (5, 3, 2)), fps=25, time=np.arange(100, 105),
                           keypoints=["a", "b", "c"], individuals=["m1", "m2"])
    back = load_file(save_file(ds, tmp_path / "p.csv", "dlc"), fps=25)
    np.testing.assert_array_equal(frames(back), np.arange(105))  # one row per frame from 0
    got = _pos(back)[0]
    assert np.isnan(got[:100]).all()
    np.testing.assert_array_equal(got[100:], position.astype(np.float32))


def test_sleap_h5_and_slp_hold_the_same_predictions(flies):
    import sleap_io as sio

    slp, h5 = load_file(flies / "centered_pair_predictions.slp"), load_file(flies / "centered_pair_predictions.h5")
    assert slp.attrs["individuals_are"] == h5.attrs["individuals_are"] == "identities"
    np.testing.assert_array_equal(_pos(slp)[0], _pos(h5)[0])
    np.testing.assert_array_equal(_pos(slp)[1], _pos(h5)[1])
    # sleap-io's own arrays: (frame, track, node, xy+score)
    arr = sio.load_slp(str(flies / "centered_pair_predictions.slp"), open_videos=False).numpy(return_confidence=True)
    position, confidence = _pos(slp)
    np.testing.assert_allclose(position, arr[..., :2].transpose(0, 3, 2, 1), rtol=1e-6)
    visible = ~np.isnan(arr[..., 0])
    np.testing.assert_allclose(confidence.transpose(0, 2, 1)[visible], arr[..., 2][visible], rtol=1e-6)


@pytest.mark.parametrize("suffix", [".slp", ".h5"])
def test_sleap_export_reads_back_in_sleap_io_and_movement(flies, tmp_path, suffix):
    from movement.io import load_poses

    ours = load_file(flies / "centered_pair_predictions.slp", min_track_frames=100)
    path = save_file(ours, tmp_path / f"out{suffix}", "sleap")
    theirs = load_poses.from_sleap_file(path, fps=30)
    position, confidence = _pos(ours)
    np.testing.assert_allclose(theirs["position"].values, position, rtol=1e-6)
    visible = ~np.isnan(position).any(axis=1)
    np.testing.assert_allclose(theirs["confidence"].values[visible], confidence[visible], rtol=1e-6)
    assert [str(i) for i in theirs["individuals"].values] == ["1", "2"]
    again = load_file(path)
    np.testing.assert_allclose(_pos(again)[0], position, rtol=1e-6)


def _untracked_copy(flies, tmp_path):
    import sleap_io as sio

    labels = sio.load_slp(str(flies / "centered_pair_predictions.slp"), open_videos=False)
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            inst.track = None
    labels.tracks = []
    path = tmp_path / "untracked.slp"
    sio.save_slp(labels, str(path))
    return path, labels


def test_untracked_sleap_becomes_slots_by_score(flies, tmp_path):
    path, labels = _untracked_copy(flies, tmp_path)
    ds = load_file(path)
    assert ds.attrs["individuals_are"] == "slots"
    position, _ = _pos(ds)
    start = int(frames(ds)[0])
    for lf in labels.labeled_frames[::50]:
        ranked = sorted(lf.instances, key=lambda inst: -inst.score)
        for k, inst in enumerate(ranked):
            np.testing.assert_allclose(position[lf.frame_idx - start, :, :, k], inst.numpy().T, rtol=1e-6)
        assert np.isnan(position[lf.frame_idx - start, :, :, len(ranked):]).all()
    # and slots survive a round trip through a .slp without tracks (ranked again by the written
    # instance score, the mean point confidence, so compare each frame's set of instances)
    back = load_file(save_file(ds, tmp_path / "slots.slp", "sleap"))
    assert back.attrs["individuals_are"] == "slots"
    again = _pos(back)[0]
    assert again.shape == position.shape

    def ordered(p):  # instances of each frame ordered by their mean x, missing ones last
        mean_x = np.nanmean(p[:, 0], axis=1)  # (time, slot)
        key = np.where(np.isnan(mean_x), np.inf, mean_x)
        return np.take_along_axis(p, np.argsort(key, axis=1)[:, None, None, :], axis=3)

    np.testing.assert_allclose(ordered(again), ordered(position), rtol=1e-6)


def test_untracked_sleap_slots_can_be_tracked(flies, tmp_path):
    from deepbehavior.tracking import track_identities

    path, _ = _untracked_copy(flies, tmp_path)
    tracked = track_identities(load_file(path), n_identities=2, max_jump=40.0)
    assert tracked.attrs["individuals_are"] == "identities"
    # Ground truth: SLEAP's own tracks 1 and 2 of the same predictions. Each identity should follow
    # one of them through most frames where both flies are found.
    truth = _pos(load_file(flies / "centered_pair_predictions.slp", min_track_frames=100))[0]
    mine = _pos(tracked)[0]
    centre_truth, centre_mine = np.nanmean(truth, axis=2), np.nanmean(mine, axis=2)  # (time, space, individual)
    both = ~np.isnan(centre_truth).any(axis=(1, 2)) & ~np.isnan(centre_mine).any(axis=(1, 2))
    same = np.linalg.norm(centre_mine[both] - centre_truth[both], axis=1).max(axis=1) < 1.0
    swapped = np.linalg.norm(centre_mine[both] - centre_truth[both][..., ::-1], axis=1).max(axis=1) < 1.0
    assert both.sum() > 500
    assert max(same.mean(), swapped.mean()) > 0.9


def test_nwb_export_reads_back_in_movement(openfield, tmp_path):
    from movement.io import load_poses

    ours = load_file(openfield / "CollectedData_Pranav.h5", fps=30)
    (path,) = save_file(ours, tmp_path / "out.nwb", "nwb")
    theirs = load_poses.from_nwb_file(path)
    position, confidence = _pos(ours)
    theirs = theirs.sel(keypoints=[str(k) for k in to_movement(ours)["keypoints"].values])  # NWB sorts them
    np.testing.assert_array_equal(theirs["position"].values, position)
    np.testing.assert_array_equal(theirs["confidence"].values, confidence)
    again = load_file(path, fps=30)
    np.testing.assert_array_equal(frames(again), frames(ours))
    np.testing.assert_array_equal(to_movement(again).sel(keypoints=theirs["keypoints"].values)["position"].values,
                                  position)


def test_csv_table_has_one_row_per_frame_individual_and_keypoint(flies, tmp_path):
    ours = load_file(flies / "centered_pair_predictions.slp", min_track_frames=100)
    table = pd.read_csv(save_file(ours, tmp_path / "t.csv", "csv"))
    position, confidence = _pos(ours)
    n_t, _, n_k, n_i = position.shape
    assert len(table) == n_t * n_k * n_i
    x = table["x"].to_numpy().reshape(n_t, n_i, n_k)
    np.testing.assert_allclose(x, position[:, 0].transpose(0, 2, 1), rtol=1e-6)
    np.testing.assert_array_equal(table["frame"].to_numpy()[:: n_i * n_k], frames(ours))


def test_join_views_puts_each_camera_on_the_union_of_frames(openfield):
    front = load_file(openfield / "CollectedData_Pranav.csv", fps=30)
    side = front.isel(time=slice(10, 40))
    joined = join_views({"front": front, "side": side})
    assert [str(v) for v in joined["view"].values] == ["front", "side"]
    np.testing.assert_array_equal(frames(joined), frames(front))
    np.testing.assert_array_equal(_pos(joined.sel(view="front"))[0], _pos(front)[0])
    got = _pos(joined.sel(view="side"))[0]
    np.testing.assert_array_equal(got[10:40], _pos(side)[0])
    assert np.isnan(got[:10]).all() and np.isnan(got[40:]).all()


def test_join_views_refuses_different_keypoints(openfield, shared_data):
    front = load_file(openfield / "CollectedData_Pranav.csv")
    other = load_file(shared_data / "dlc-reaching" / "labeled-data" / "reachingvideo1" / "CollectedData_Mackenzie.csv")
    with pytest.raises(ValueError, match=r"CollectedData_Mackenzie\.csv: Expected the keypoints of"):
        join_views({"a": front, "b": other})
