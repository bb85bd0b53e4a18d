import h5py
import numpy as np
import pytest

from deepbehavior.formats import load_file
from deepbehavior.formats.sleap import read_sleap


@pytest.fixture(scope="module")
def flies(shared_data):
    return shared_data / "sleap-flies" / "centered_pair_predictions.h5"


def test_flies_two_tracks_of_24_nodes(flies):
    ds = load_file(flies, min_track_frames=100)
    assert ds.attrs["source_format"] == "sleap"
    assert ds.sizes["keypoints"] == 24 and ds.sizes["time"] == 1100
    assert list(ds["individuals"].values) == ["1", "2"]
    assert ds.attrs["individuals_are"] == "identities"
    assert len(ds.attrs["dropped_tracks"]) == 25
    every = read_sleap(flies)
    assert every.sizes["individuals"] == 27


def test_flies_values_match_the_raw_tables(flies):
    ds = read_sleap(flies, min_track_frames=100)
    with h5py.File(flies, "r") as f:
        frames, instances, points = f["frames"][:], f["instances"][:], f["pred_points"][:]
    rng = np.random.default_rng(1)
    checked = 0
    for row in rng.choice(len(frames), 20, replace=False):
        frame = frames[row]
        for inst in instances[frame["instance_id_start"]:frame["instance_id_end"]]:
            if inst["track"] not in (0, 1):
                continue
            pts = points[inst["point_id_start"]:inst["point_id_end"]]
            got = ds["position"].set_xindex("frame").sel(frame=int(frame["frame_idx"]), individuals=str(inst["track"] + 1)).values
            np.testing.assert_allclose(got, np.stack([pts["x"], pts["y"]]), rtol=1e-6)
            score = ds["confidence"].set_xindex("frame").sel(frame=int(frame["frame_idx"]), individuals=str(inst["track"] + 1)).values
            # A point with no position has no confidence (SLEAP writes score 0 for it).
            expected = np.where(np.isnan(pts["x"]), np.nan, pts["score"])
            np.testing.assert_allclose(score, expected, rtol=1e-6, equal_nan=True)
            checked += 1
    assert checked >= 20


def test_analysis_file(tmp_path):
    path = tmp_path / "x.analysis.h5"
    tracks = np.arange(2 * 2 * 3 * 4, dtype=float).reshape(2, 2, 3, 4)  # (track, xy, node, frame)
    tracks[1, :, 2, 3] = np.nan
    with h5py.File(path, "w") as f:
        f["tracks"] = tracks
        f["node_names"] = np.array([b"head", b"thorax", b"abdomen"])
        f["track_names"] = np.array([b"female", b"male"])
        f["point_scores"] = np.full((2, 3, 4), 0.5)
    ds = load_file(path, fps=150)
    assert list(ds["keypoints"].values) == ["head", "thorax", "abdomen"]
    assert list(ds["individuals"].values) == ["female", "male"]
    np.testing.assert_array_equal(ds["position"].values[2, :, 1, 0], tracks[0, :, 1, 2])
    assert np.isnan(ds["position"].values[3, :, 2, 1]).all() and np.isnan(ds["confidence"].values[3, 2, 1])
    assert ds["confidence"].values[0, 0, 0] == 0.5


def test_other_hdf5_is_an_error(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["something"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"x\.h5: Expected SLEAP datasets"):
        read_sleap(path)
    with pytest.raises(ValueError, match="could not tell the format"):
        load_file(path)
