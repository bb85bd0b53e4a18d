import cv2
import numpy as np
import pytest

from deepbehavior.geometry import Camera


def test_project_matches_opencv(rig, points):
    for cam in rig.cameras:
        expected, _ = cv2.projectPoints(points, cam.rvec, cam.tvec, cam.matrix, cam.dist)
        np.testing.assert_allclose(cam.project(points), expected.reshape(-1, 2), atol=1e-9)


def test_undistort_inverts_distort(rig):
    pixels = np.random.default_rng(0).uniform([0, 0], [640, 480], size=(5000, 2))
    for cam in rig.cameras:
        np.testing.assert_allclose(cam.distort(cam.undistort(pixels)), pixels, atol=1e-8)


def test_undistort_keeps_nan_and_shape(rig):
    pixels = np.full((3, 4, 2), np.nan)
    pixels[:, 0] = [320.0, 240.0]
    out = rig.undistort(pixels)
    assert out.shape == (3, 4, 2)
    assert np.isnan(out[:, 1:]).all()
    np.testing.assert_allclose(out[:, 0], 0.0, atol=1e-12)  # principal point maps to the axis


def test_point_behind_camera_projects_to_nan():
    cam = Camera(name="a", size=(10, 10), matrix=np.eye(3))
    assert np.isnan(cam.project([[0.0, 0.0, -1.0]])).all()


def test_camera_rejects_bad_matrix():
    with pytest.raises(ValueError, match="Expected a \\(3, 3\\) camera matrix"):
        Camera(name="a", size=(10, 10), matrix=np.eye(2))


def test_group_rejects_duplicate_names():
    cam = Camera(name="a", size=(10, 10), matrix=np.eye(3))
    from deepbehavior.geometry import CameraGroup

    with pytest.raises(ValueError, match="unique camera names"):
        CameraGroup([cam, cam])


def test_centre_is_camera_position(rig):
    for cam in rig.cameras:
        np.testing.assert_allclose(cam.rotation @ cam.centre + cam.tvec, 0.0, atol=1e-9)
