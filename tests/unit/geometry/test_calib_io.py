import numpy as np
import pytest
from scipy.io import savemat

from deepbehavior.geometry.calib_io import (
    bouguet_reported_error, load_bouguet, load_bouguet_views, load_calibration, load_opencv, save_calibration)


@pytest.mark.parametrize("suffix", [".toml", ".yml", ".xml"])
def test_round_trip(rig, tmp_path, suffix):
    path = save_calibration(rig, tmp_path / f"rig{suffix}")
    back = load_calibration(path)
    assert back.names == rig.names
    for a, b in zip(rig.cameras, back.cameras):
        assert a.size == b.size
        for field in ("matrix", "dist", "rvec", "tvec"):
            np.testing.assert_allclose(getattr(b, field), getattr(a, field), rtol=1e-12, atol=1e-12)


def test_toml_opens_in_aniposelib(rig, tmp_path, points):
    cameras = pytest.importorskip("aniposelib.cameras")
    path = save_calibration(rig, tmp_path / "calibration.toml")
    theirs = cameras.CameraGroup.load(str(path))
    np.testing.assert_allclose(theirs.project(points), rig.project(points), atol=1e-6)


def test_opencv_sample_intrinsics(shared_data):
    cam = load_opencv(shared_data / "stereo-chessboard/opencv/left_intrinsics.yml").cameras[0]
    assert cam.size == (640, 480)
    np.testing.assert_allclose(cam.matrix[0, 0], 535.91573396163199)
    np.testing.assert_allclose(cam.dist[0], -0.26637260909660682)


@pytest.mark.parametrize("side", ["left", "right"])
def test_bouguet_reprojects_its_corners_with_reported_error(shared_data, side):
    path = shared_data / f"stereo-chessboard/bouguet/Calib_Results_{side}.mat"
    cam = load_bouguet(path).cameras[0]
    views = load_bouguet_views(path)
    assert len(views) == 14
    residuals = []
    for view in views:
        posed = cam.replace(rvec=view["rvec"], tvec=view["tvec"])
        residual = view["image_points"] - posed.project(view["object_points"])
        np.testing.assert_allclose(residual, view["error"], atol=1e-9)  # the toolbox's own residuals
        residuals.append(residual)
    np.testing.assert_allclose(np.concatenate(residuals).std(axis=0, ddof=1), bouguet_reported_error(path), rtol=1e-6)


def test_bouguet_stereo_convention(shared_data, tmp_path):
    """A stereo file built from the two cameras' poses of image 10: X_R = R(om) X_L + T must map the
    board as the right camera saw it."""
    folder = shared_data / "stereo-chessboard/bouguet"
    left, right = (load_bouguet(folder / f"Calib_Results_{s}.mat").cameras[0] for s in ("left", "right"))
    view_l = [v for v in load_bouguet_views(folder / "Calib_Results_left.mat") if v["image"] == 10][0]
    view_r = [v for v in load_bouguet_views(folder / "Calib_Results_right.mat") if v["image"] == 10][0]
    r_l, r_r = left.replace(rvec=view_l["rvec"]).rotation, right.replace(rvec=view_r["rvec"]).rotation
    r = r_r @ r_l.T
    t = view_r["tvec"] - r @ view_l["tvec"]
    import cv2

    fields = {"om": cv2.Rodrigues(r)[0], "T": t[:, None], "nx": 640, "ny": 480}
    for name, cam in (("left", left), ("right", right)):
        fields[f"fc_{name}"] = np.diag(cam.matrix)[:2, None]
        fields[f"cc_{name}"] = cam.matrix[:2, 2:3]
        fields[f"kc_{name}"] = cam.dist[:, None]
        fields[f"alpha_c_{name}"] = 0.0
    savemat(tmp_path / "Calib_Results_stereo.mat", fields)
    group = load_calibration(tmp_path / "Calib_Results_stereo.mat")
    assert group.names == ["left", "right"]
    board_in_left = view_l["object_points"] @ r_l.T + view_l["tvec"]
    expected = right.replace(rvec=view_r["rvec"], tvec=view_r["tvec"]).project(view_r["object_points"])
    np.testing.assert_allclose(group.cameras[1].project(board_in_left), expected, atol=1e-6)
    np.testing.assert_allclose(group.cameras[0].project(board_in_left),
                               left.replace(rvec=view_l["rvec"], tvec=view_l["tvec"]).project(view_l["object_points"]),
                               atol=1e-9)


def test_unknown_suffix_is_a_clear_error(tmp_path):
    path = tmp_path / "calib.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match="Expected a calibration file ending in"):
        load_calibration(path)
