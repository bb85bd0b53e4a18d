"""Byte-level mutation of real calibration files (OpenCV YAML/XML, Caltech .mat, our TOML)."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.geometry.calib_io import MAX_IMAGE_SIDE, load_calibration, load_opencv, save_calibration


def _check(path):
    """Load ``path``: a one-line error naming it, or cameras whose every value is finite and sane."""
    try:
        group = load_calibration(path)
    except (ValueError, OSError) as exc:
        message = str(exc)
        assert "\n" not in message, message
        assert str(path) in message, message
        return "refused"
    for cam in group.cameras:
        for field in ("matrix", "dist", "rvec", "tvec"):
            assert np.all(np.isfinite(getattr(cam, field))), (path, field)
        assert cam.matrix[0, 0] > 0 and cam.matrix[1, 1] > 0, path
        assert all(1 <= v <= MAX_IMAGE_SIDE for v in cam.size), path
    return "accepted"


def _fuzz(source: bytes, suffix: str, tmp_path, rng, n: int, mutate) -> dict:
    outcomes = {"refused": 0, "accepted": 0}
    for i in range(n):
        path = tmp_path / f"case{i}{suffix}"
        path.write_bytes(mutate(source, rng))
        outcomes[_check(path)] += 1
    return outcomes


@pytest.mark.parametrize("name", ["opencv/left_intrinsics.yml", "opencv/stereo_calib.xml"])
def test_mutated_opencv_files(shared_data, tmp_path, rng, name, fuzz):
    source = shared_data / "stereo-chessboard" / name
    outcomes = _fuzz(source.read_bytes(), source.suffix, tmp_path, rng, fuzz.cases(150), fuzz.mutate)
    assert sum(outcomes.values()) == fuzz.cases(150)


def test_mutated_opencv_multi_camera_yaml(shared_data, tmp_path, rng, fuzz):
    # a two-camera file as ours are written, from the real intrinsics
    left = load_opencv(shared_data / "stereo-chessboard/opencv/left_intrinsics.yml").cameras[0]
    from deepbehavior.geometry import CameraGroup

    group = CameraGroup([left.replace(name="left"), left.replace(name="right", tvec=[-60.0, 0.0, 0.0])])
    source = save_calibration(group, tmp_path / "rig.yml").read_bytes()
    _fuzz(source, ".yml", tmp_path, rng, fuzz.cases(150), fuzz.mutate)


def test_mutated_toml_written_by_us(shared_data, tmp_path, rng, fuzz):
    left = load_opencv(shared_data / "stereo-chessboard/opencv/left_intrinsics.yml").cameras[0]
    from deepbehavior.geometry import CameraGroup

    group = CameraGroup([left.replace(name="left"), left.replace(name="right", tvec=[-60.0, 0.0, 0.0])],
                        metadata={"unit": "mm", "error": 0.39})
    source = save_calibration(group, tmp_path / "calibration.toml").read_bytes()
    outcomes = _fuzz(source, ".toml", tmp_path, rng, fuzz.cases(200), fuzz.mutate)
    assert outcomes["refused"] > 0 and outcomes["accepted"] > 0  # the mutations reach both outcomes


@pytest.mark.parametrize("side", ["left", "right"])
def test_mutated_caltech_mat_files(shared_data, tmp_path, rng, side, fuzz):
    # each case costs a child process (the guard against loadmat's crashes): fewer cases
    source = (shared_data / f"stereo-chessboard/bouguet/Calib_Results_{side}.mat").read_bytes()
    _fuzz(source, ".mat", tmp_path, rng, fuzz.cases(8), fuzz.mutate)
