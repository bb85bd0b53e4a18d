"""The synthetic reaching person and its two-camera rig: anatomy, closed forms, observations, store."""

import numpy as np
import pytest

from deepbehavior import synthetic_human as sh
from deepbehavior.analysis.human import joint_angle
from deepbehavior.geometry.calib_io import load_calibration, save_calibration
from deepbehavior.models.pose_layout import KEYPOINT_NAMES
from deepbehavior.store import is_complete, open_store


@pytest.fixture(scope="module")
def person():
    return sh.human_reach_3d(fps=30.0, duration_s=4.0)


def _point(ds, name):
    return ds["position"].isel(individuals=0).sel(keypoints=name).transpose("time", "space").values


def test_layout_units_and_no_missing_points(person):
    assert list(person["keypoints"].values) == list(KEYPOINT_NAMES)
    assert person.sizes["time"] == 120 and list(person["space"].values) == ["x", "y", "z"]
    assert np.isfinite(person["position"].values).all() and person.attrs["space_unit"] == "mm"


def test_anatomy_is_sensible(person):
    first = {name: _point(person, name)[0] for name in KEYPOINT_NAMES}
    # Standing upright: head over shoulders over hips over knees over ankles (z up, mm).
    assert first["Nose"][2] > first["Neck"][2] > first["MidHip"][2] > first["RKnee"][2] > first["RAnkle"][2]
    # The person's right is +x; Neck and MidHip are the midpoints OpenPose's layout implies.
    for side, sign in (("R", 1), ("L", -1)):
        for joint in ("Shoulder", "Hip", "Knee", "Ankle", "Eye", "Ear", "HandWrist"):
            assert sign * first[f"{side}{joint}"][0] > 0, (side, joint)
    np.testing.assert_allclose(first["Neck"], (first["RShoulder"] + first["LShoulder"]) / 2)
    np.testing.assert_allclose(first["MidHip"], (first["RHip"] + first["LHip"]) / 2)
    # Bones keep their length while the arm moves; each hand's wrist is the arm's wrist.
    upper = np.linalg.norm(_point(person, "RElbow") - _point(person, "RShoulder"), axis=1)
    fore = np.linalg.norm(_point(person, "RWrist") - _point(person, "RElbow"), axis=1)
    np.testing.assert_allclose(upper, sh.UPPER_ARM_MM, rtol=1e-5)
    np.testing.assert_allclose(fore, sh.FOREARM_MM, rtol=1e-5)
    np.testing.assert_allclose(_point(person, "RHandWrist"), _point(person, "RWrist"), atol=1e-3)
    hand = np.linalg.norm(_point(person, "RHandMiddleTip") - _point(person, "RHandWrist"), axis=1)
    assert 150 < hand.min() and hand.max() < 220


def test_joint_angles_of_the_skeleton_are_the_closed_form(person):
    reach = sh.Reach()
    angles = sh.reach_angles(person["time"].values, reach)
    position = person["position"].isel(individuals=0)
    np.testing.assert_allclose(joint_angle(position, "RElbow", "RShoulder", "RHip"), angles["shoulder"], atol=1e-3)
    np.testing.assert_allclose(joint_angle(position, "RShoulder", "RElbow", "RWrist"), angles["elbow"], atol=1e-3)
    np.testing.assert_allclose(joint_angle(position, "RElbow", "RWrist", "RHandMiddleMCP"), 165.0, atol=1e-3)
    # Rest, reach out, hold, return: the profile's ends and plateau are the configured angles.
    assert angles["shoulder"][0] == pytest.approx(reach.shoulder_rest_deg)
    assert angles["elbow"].max() == pytest.approx(reach.elbow_reach_deg)
    hold = (person["time"].values > 1.5) & (person["time"].values < 1.8)
    np.testing.assert_allclose(angles["shoulder"][hold], reach.shoulder_reach_deg)


def test_wrist_velocity_is_the_derivative_of_its_position():
    t = np.linspace(0.0, 4.0, 40001)
    position, velocity = sh.wrist_motion(t)
    numeric = np.gradient(position, t, axis=0)
    np.testing.assert_allclose(velocity[1:-1], numeric[1:-1], atol=1e-3)
    assert np.linalg.norm(velocity, axis=1).max() > 300.0  # a brisk reach, mm/s
    np.testing.assert_allclose(velocity[t < 0.5], 0.0)  # still before the onset


def test_truth_measures(person):
    truth = sh.reach_truth(person)
    assert truth["shoulder_angle_min"] == pytest.approx(15.0) and truth["shoulder_angle_max"] == pytest.approx(80.0)
    assert truth["elbow_angle_min"] == pytest.approx(100.0) and truth["elbow_angle_max"] == pytest.approx(165.0)
    # Out and back between two fixed wrist positions: the path is at least twice their distance.
    wrist = _point(person, "RWrist")
    span = np.linalg.norm(wrist[45] - wrist[0])
    assert 2 * span <= truth["wrist_path_length"] < 2 * span * 1.3
    assert truth["wrist_speed_mean"] == pytest.approx(truth["wrist_path_length"] / 4.0, rel=0.02)


def test_rig_sees_the_person_from_the_front_with_distortion(person):
    rig = sh.two_camera_rig()
    assert rig.names == ["cam1", "cam2"] and all(np.any(c.dist) for c in rig.cameras)
    pixels = rig.project(person["position"].isel(individuals=0).transpose("time", "keypoints", "space").values)
    for cam, view in zip(rig.cameras, pixels):
        width, height = cam.size
        assert ((view[..., 0] > 0) & (view[..., 0] < width - 1) & (view[..., 1] > 0) & (view[..., 1] < height - 1)).all()
        right, left = (view[0, KEYPOINT_NAMES.index(n)] for n in ("RShoulder", "LShoulder"))
        assert right[0] < left[0]  # facing the camera: the right shoulder on the image's left
        nose, ankle = (view[0, KEYPOINT_NAMES.index(n)] for n in ("Nose", "RAnkle"))
        assert nose[1] < ankle[1]  # head up


@pytest.mark.parametrize("suffix", ["toml", "yml"])
def test_rig_round_trips_through_calibration_files(tmp_path, suffix, person):
    rig = sh.two_camera_rig()
    back = load_calibration(save_calibration(rig, tmp_path / f"rig.{suffix}"))
    world = person["position"].isel(individuals=0, time=50).transpose("keypoints", "space").values
    np.testing.assert_allclose(back.project(world), rig.project(world), atol=1e-6)


def test_observe_adds_known_noise_dropouts_and_outliers(person):
    rig = sh.two_camera_rig()
    world = person["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
    exact = rig.project(world)
    obs = sh.observe(person, rig, noise_px=2.0, dropout=0.05, outlier_frames=(10, 30), outlier_px=50.0, seed=3)
    assert obs.pixels.shape == (2, 120, 67, 2) and obs.confidence.shape == (2, 120, 67)
    clean = ~obs.dropouts & ~obs.outliers[None]
    residual = (obs.pixels - exact)[clean]
    assert np.std(residual) == pytest.approx(2.0, rel=0.05)
    assert obs.dropouts.mean() == pytest.approx(0.05, abs=0.01)
    assert np.isnan(obs.pixels[obs.dropouts]).all() and np.isnan(obs.confidence[obs.dropouts]).all()
    assert ((obs.confidence[clean] >= 0.75) & (obs.confidence[clean] <= 0.95)).all()
    assert obs.outliers.sum() == 6 and set(np.nonzero(obs.outliers)[0]) == {10, 30}
    for t, k in zip(*np.nonzero(obs.outliers)):
        shift = np.linalg.norm(obs.pixels[:, t, k] - exact[:, t, k], axis=-1)
        moved = int(np.argmax(shift))  # one view is thrown off by ~50 px, with a low confidence
        assert shift[moved] == pytest.approx(50.0, abs=10.0) and shift[1 - moved] < 10.0
        assert obs.confidence[moved, t, k] < 0.2


def test_pose_store_is_written_like_inference(tmp_path, person):
    rig = sh.two_camera_rig()
    obs = sh.observe(person, rig, seed=1)
    path = sh.write_pose_store(tmp_path / "s.zarr", obs, fps=30.0, views=rig.names, chunk=50,
                               subject="p1", session="d1")
    assert is_complete(path)
    ds = open_store(path).load()
    assert ds.sizes == {"time": 120, "space": 2, "keypoints": 67, "individuals": 1, "view": 2}
    assert ds.attrs["individuals_are"] == "slots" and list(ds["individuals"].values) == ["slot0"]
    assert ds.attrs["model"]["layout"] == "openpose_body25_hands" and ds.attrs["session"] == "p1_d1"
    assert ds.attrs["fps"] == 30.0 and ds.attrs["chunk"] == 50
    got = ds["position"].isel(individuals=0).transpose("view", "time", "keypoints", "space").values
    np.testing.assert_array_equal(got, obs.pixels)
    np.testing.assert_array_equal(ds["confidence"].isel(individuals=0).transpose("view", "time", "keypoints").values,
                                  obs.confidence)
    with pytest.raises(ValueError, match="Expected 2 view names"):
        sh.write_pose_store(tmp_path / "t.zarr", obs, fps=30.0, views=["only"])


def test_write_session_files(tmp_path):
    paths = sh.write_session(tmp_path, duration_s=1.0, outlier_frames=(5,), calibration_format="yml")
    assert paths["calibration"].name == "calibration.yml" and load_calibration(paths["calibration"]).names == ["cam1", "cam2"]
    from deepbehavior.cohort import load_cohort

    cohort = load_cohort(paths["cohort"], check_files=False)
    assert [s.key for s in cohort.sessions] == ["sub01_reach"] and cohort.views == ("cam1", "cam2")
    assert cohort.sessions[0].calibration == paths["calibration"]
    assert paths["store"].name == "sub01_reach.zarr"
    with pytest.raises(ValueError, match="Expected calibration_format"):
        sh.write_session(tmp_path, calibration_format="mat")
