"""Calibration readers check values, not only syntax: each damaged file is one ValueError line naming it."""

import re
import shutil

import numpy as np
import pytest

from deepbehavior.geometry.calib_io import load_calibration, save_calibration


def _one_line_error(path, match):
    with pytest.raises(ValueError) as info:
        load_calibration(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message, message
    assert re.search(match, message), message
    return message


def _toml(tmp_path, rig, edit):
    path = save_calibration(rig, tmp_path / "calibration.toml")
    path.write_text(edit(path.read_text()))
    return path


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.replace("[[800.0", "[[nan", 1), r"finite values in matrix"),
    (lambda t: t.replace("[[800.0", "[[inf", 1), r"finite values in matrix"),
    (lambda t: t.replace("[[800.0", "[[1e300", 1), r"focal lengths"),
    (lambda t: t.replace("[[800.0", "[[-3.0", 1), r"focal lengths.*fx=-3"),
    (lambda t: t.replace("[[800.0", "[[0.0", 1), r"focal lengths.*fx=0"),
    (lambda t: t.replace("size = [640, 480]", "size = [1.8e308, 480]", 1), r"size of \[cam_0\]"),
    (lambda t: t.replace("size = [640, 480]", "size = [0, 480]", 1), r"whole pixels"),
    (lambda t: t.replace("[cam_2]", "[cam_3]", 1), r"\[cam_0\] … \[cam_2\]"),
    (lambda t: re.sub(r"translation = \[[^\]]*\]", "translation = [1.0, nan, 2.0]", t, count=1), r"finite.*translation"),
    (lambda t: re.sub(r"rotation = \[[^\]]*\]", "rotation = [1e30, 0.0, 0.0]", t, count=1), r"Rodrigues"),
    (lambda t: re.sub(r"distortions = \[[^\]]*\]", "distortions = [1e300, 0.0, 0.0, 0.0, 0.0]", t, count=1),
     r"distortion"),
    (lambda t: t.replace("name = \"cam1\"", "name = \"cam0\"", 1), r"unique camera names"),
    (lambda t: t.replace("[cam_0]", "[cam_0\n", 1), r"does not parse"),  # a syntax error names the file
])
def test_toml_with_impossible_values_is_refused(tmp_path, rig, edit, match):
    _one_line_error(_toml(tmp_path, rig, edit), match)


def _opencv(tmp_path, rig, edit, suffix=".yml"):
    path = save_calibration(rig, tmp_path / f"calibration{suffix}")
    path.write_text(edit(path.read_text()))
    return path


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.replace("camera_count: 3", "camera_count: 2"), r"camera_count.*\(3\)"),  # no camera dropped
    (lambda t: t.replace("camera_count: 3", "camera_count: 4"), r"camera_count"),
    (lambda t: re.sub(r"   tvec: !!opencv-matrix\n(      .*\n)+?(?=   \S|\S)", "", t, count=1), r"tvec.*pose"),
    (lambda t: t.replace("image_width: 640", "image_width: 1.8e308", 1), r"image_width/image_height"),
    (lambda t: t.replace("data: [ 800.", "data: [ .nan", 1), r"finite values in camera_matrix"),
    (lambda t: t.replace("data: [ 800.", "data: [ -800.", 1), r"focal lengths"),
    (lambda t: t.replace("data: [", "data: [[[", 1), r"could not read it"),  # OpenCV's parser fails
    (lambda t: t.replace("%YAML 1.2", "%YAML 1.2\n\x01: ::: {", 1), r"could not read it"),
])
def test_opencv_yaml_with_impossible_values_is_refused(tmp_path, rig, edit, match):
    path = _opencv(tmp_path, rig, edit)
    assert path.read_text() != save_calibration(rig, tmp_path / "ref.yml").read_text(), "the edit must apply"
    _one_line_error(path, match)


def test_a_damaged_mat_file_is_an_error_not_a_segfault(shared_data, tmp_path):
    # Byte 20736 of this file set to 152 crashes scipy's loadmat with SIGSEGV (found by byte flipping).
    source = shared_data / "stereo-chessboard/bouguet/Calib_Results_left.mat"
    data = bytearray(source.read_bytes())
    data[20736] = 152
    path = tmp_path / "Calib_Results_left.mat"
    path.write_bytes(bytes(data))
    _one_line_error(path, r"MAT-file.*(crashed|damaged|Error)")
    # ... and the undamaged file still loads, with the toolbox's focal length.
    good = tmp_path / "good" / "Calib_Results_left.mat"
    good.parent.mkdir()
    shutil.copy(source, good)
    np.testing.assert_allclose(load_calibration(good).cameras[0].matrix[0, 0], 533.00371, atol=1e-5)


@pytest.mark.parametrize("head", [b"", b"not a mat file at all" * 10, b"MATLAB 7.3 MAT-file, HDF5" + b" " * 120])
def test_a_file_that_is_not_mat_v5_is_refused_from_its_header(tmp_path, head):
    path = tmp_path / "Calib_Results_stereo.mat"
    path.write_bytes(head)
    _one_line_error(path, r"Expected a MATLAB 5.0 MAT-file")


def test_mat_with_non_finite_focal_is_refused(tmp_path):
    from scipy.io import savemat

    path = tmp_path / "Calib_Results_left.mat"
    savemat(path, {"fc": [[np.nan], [533.0]], "cc": [[320.0], [240.0]], "kc": np.zeros((5, 1)),
                   "nx": 640, "ny": 480})
    _one_line_error(path, r"finite values in field 'fc'")
    savemat(path, {"fc": [[533.0], [533.0]], "cc": [[320.0], [240.0]], "kc": np.zeros((5, 1))})
    _one_line_error(path, r"image size.*nx, ny")
