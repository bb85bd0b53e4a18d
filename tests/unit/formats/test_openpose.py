import json
import shutil

import numpy as np
import pytest
import xarray as xr

from deepbehavior import schema
from deepbehavior.formats import BODY_25, LEFT_HAND, OPENPOSE_KEYPOINTS, RIGHT_HAND, load_file, save_openpose
from deepbehavior.formats.openpose import read_openpose


@pytest.fixture(scope="module")
def cam1(shared_data):
    return shared_data / "deepbehavior-formats" / "openpose_cam1"


def test_keypoint_names():
    assert len(OPENPOSE_KEYPOINTS) == 67 and len(set(OPENPOSE_KEYPOINTS)) == 67
    assert BODY_25[4] == "RWrist" and BODY_25[8] == "MidHip" and BODY_25[24] == "RHeel"
    assert LEFT_HAND[0] == "LHandWrist" and RIGHT_HAND[20] == "RHandPinkyTip"


def test_sample_follows_the_closed_form(cam1):
    ds = load_file(cam1, fps=25)
    assert ds.attrs["source_format"] == "openpose" and ds.attrs["fps"] == 25
    assert list(ds["keypoints"].values) == list(OPENPOSE_KEYPOINTS)
    n = ds.sizes["time"]
    np.testing.assert_array_equal(ds["frame"].values, np.arange(n))
    i = np.arange(n)[:, None].astype(float)
    k = np.arange(25)[None, :].astype(float)
    body = ds["position"].sel(keypoints=list(BODY_25)).values[..., 0]  # (time, space, keypoint)
    conf = ds["confidence"].sel(keypoints=list(BODY_25)).values[..., 0]
    seen = np.ones((n, 25), bool)
    seen[:, 19:22] = False  # left foot written as 0, 0, 0
    seen[13] = False  # no person
    np.testing.assert_allclose(body[:, 0][seen], np.broadcast_to(600 + 10 * k + 5 * np.sin(i / 4 + k), (n, 25))[seen],
                               atol=1e-3)
    np.testing.assert_allclose(body[:, 1][seen], np.broadcast_to(200 + 12 * k, (n, 25))[seen])
    np.testing.assert_allclose(conf[seen], 0.9, rtol=1e-6)
    assert np.isnan(body[:, :, ~seen[0]]).all() and np.isnan(conf[~seen]).all()
    j = np.arange(21)[None, :]
    for names, x0 in ((LEFT_HAND, 700), (RIGHT_HAND, 500)):
        hand = ds["position"].sel(keypoints=list(names)).values[..., 0]
        rows = np.delete(np.arange(n), 13)
        np.testing.assert_allclose(hand[rows, 0], np.broadcast_to(x0 + i + 3 * j, (n, 21))[rows])
        np.testing.assert_allclose(hand[rows, 1], np.broadcast_to(400 + 2 * j, (n, 21))[rows])
    assert np.isnan(ds["position"].values[13]).all() and np.isnan(ds["confidence"].values[13]).all()


def test_round_trip_is_exact(cam1, tmp_path):
    ds = read_openpose(cam1)
    written = save_openpose(ds, tmp_path, video_name="cam1")
    assert [p.name for p in written][:2] == ["cam1_000000000000_keypoints.json", "cam1_000000000001_keypoints.json"]
    assert json.loads(written[13].read_text()) == {"version": 1.2, "people": []}
    xr.testing.assert_identical(read_openpose(tmp_path).drop_attrs(), ds.drop_attrs())
    assert not list(tmp_path.glob("*.partial"))


def test_round_trip_of_several_people_keeps_their_order(tmp_path):
    rng = np.random.default_rng(0)
    position = rng.uniform(0, 500, (4, 2, len(OPENPOSE_KEYPOINTS), 3)).astype(np.float32)
    confidence = rng.uniform(0.1, 1, (4, len(OPENPOSE_KEYPOINTS), 3)).astype(np.float32)
    position[1, :, :, 0] = np.nan  # first person absent, second present: order must survive
    confidence[1, :, 0] = np.nan
    position[2, :, 5, 2] = np.nan
    confidence[2, 5, 2] = np.nan
    position[3, :, :, 1:] = np.nan  # trailing people absent
    confidence[3, :, 1:] = np.nan
    ds = schema.make_poses(position, confidence, fps=30, keypoints=OPENPOSE_KEYPOINTS, time=[10, 11, 12, 13],
                           individuals=["person0", "person1", "person2"], individuals_are="slots")
    save_openpose(ds, tmp_path, video_name="v")
    assert len(json.loads((tmp_path / "v_000000000013_keypoints.json").read_text())["people"]) == 1
    back = read_openpose(tmp_path, people="all")
    xr.testing.assert_identical(back.drop_attrs(), ds.drop_attrs())
    first = read_openpose(tmp_path)
    assert first.sizes["individuals"] == 1
    np.testing.assert_array_equal(first["position"].values[..., 0], ds["position"].values[..., 0])


def test_missing_frame_files_become_nan_frames(cam1, tmp_path):
    folder = tmp_path / "cam"
    shutil.copytree(cam1, folder)
    (folder / "cam1_000000000004_keypoints.json").unlink()
    ds = read_openpose(folder)
    assert ds.sizes["time"] == 30 and ds.attrs["missing_frames"] == 1
    assert np.isnan(ds["position"].isel(time=4).values).all()
    assert not np.isnan(ds["position"].isel(time=5).sel(keypoints="Nose").values).any()


def test_wrong_number_of_values_names_file_and_person(tmp_path):
    doc = {"version": 1.2, "people": [{"pose_keypoints_2d": [1.0] * 54}]}  # COCO-18, not BODY_25
    (tmp_path / "v_000000000000_keypoints.json").write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"v_000000000000_keypoints\.json, person 0, 'pose_keypoints_2d': "
                                         r"Expected 75 values .* but got 54 values"):
        read_openpose(tmp_path)


def test_invalid_json_names_the_line(tmp_path):
    (tmp_path / "v_000000000000_keypoints.json").write_text('{"version":1.2,\n"people": [,]}')
    with pytest.raises(ValueError, match=r"line 2 column 12: Expected valid JSON"):
        read_openpose(tmp_path)


def test_two_videos_need_a_name(cam1, tmp_path):
    for name in ("a", "b"):
        shutil.copy(cam1 / "cam1_000000000000_keypoints.json", tmp_path / f"{name}_000000000000_keypoints.json")
    with pytest.raises(ValueError, match=r"one video \(pass video_name\), but got videos \['a', 'b'\]"):
        read_openpose(tmp_path)
    assert read_openpose(tmp_path, video_name="b").attrs["video_name"] == "b"
