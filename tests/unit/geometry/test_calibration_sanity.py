"""A wrong calibration says so at triangulation, with two cameras too.

A mouse skeleton (ground truth in mm) is filmed by a two-camera rig of known geometry with 1 px
detection noise; the calibration handed to triangulation is the true one, or one with a camera's
intrinsics ×100, a camera's translation ×100, or every translation ×100 (the whole rig 100× too
big: the same pixels, a 3D result 100× too big, which only a known length can reveal). The
calibration records one view of its own board (25 mm squares, as :func:`calibrate_group` writes
it), which is the known length.
"""

import numpy as np
import pytest

from deepbehavior import schema
from deepbehavior.geometry import CameraGroup
from deepbehavior.geometry.board_view import (
    BOARD_VIEW,
    board_view_of,
    decode_board_view,
    encode_board_view,
    scale_check,
)
from deepbehavior.geometry.diagnostics import MAX_MEDIAN_PX, check_dataset
from deepbehavior.synthetic.camera_rigs import MOUSE_KEYPOINTS, mouse_skeleton, ring_rig

SQUARE_MM = 25.0


def _board(rows: int = 6, columns: int = 9) -> np.ndarray:
    """Corners of a 9×6 board of 25 mm squares, lying in the arena (z = 20 mm), mm."""
    grid = np.stack(np.meshgrid(np.arange(columns), np.arange(rows)), -1).reshape(-1, 2) * SQUARE_MM
    return np.c_[grid - grid.mean(axis=0), np.full(len(grid), 20.0)]


@pytest.fixture(scope="module")
def scene():
    rig = ring_rig(2)
    board = _board()
    corners = rig.project(board)  # what calibration saw of its board
    rig = CameraGroup(rig.cameras, metadata={"unit": "mm", "square_size": SQUARE_MM,
                                             BOARD_VIEW: encode_board_view(board, dict(zip(rig.names, corners)))})
    world = mouse_skeleton(200, seed=3)  # (time, keypoint, 3) mm
    rng = np.random.default_rng(7)
    pixels = rig.project(world) + rng.normal(scale=1.0, size=(2,) + world.shape[:2] + (2,))
    # (view, time, keypoint, 2) -> (time, space, keypoint, individual, view)
    position = np.moveaxis(pixels, (0, 3), (3, 1))[:, :, :, None, :]
    ds = schema.make_poses(position, np.ones(position.shape[:1] + position.shape[2:]), fps=30.0,
                           keypoints=list(MOUSE_KEYPOINTS), views=rig.names)
    return rig, ds, world


def _wrong(rig: CameraGroup, how: str) -> CameraGroup:
    cams = list(rig.cameras)
    if how == "intrinsics x100":
        matrix = cams[1].matrix.copy()
        matrix[:2] *= 100.0
        cams[1] = cams[1].replace(matrix=matrix)
    elif how == "translation x100":
        cams[1] = cams[1].replace(tvec=cams[1].tvec * 100.0)
    elif how == "every translation x100":
        cams = [c.replace(tvec=c.tvec * 100.0) for c in cams]
    return CameraGroup(cams, metadata=rig.metadata)


def test_a_right_calibration_does_not_warn(scene):
    rig, ds, _ = scene
    check = check_dataset(ds, rig, calibration="rig.toml")
    assert check.warnings() == []
    assert max(check.median_error_px.values()) < 2.0  # 1 px noise
    assert check.scale["ratio"] == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("how", ["intrinsics x100", "translation x100"])
def test_two_cameras_with_a_wrong_calibration_warn_naming_the_camera_and_the_error(scene, how):
    rig, ds, _ = scene
    check = check_dataset(ds, _wrong(rig, how), calibration="rig.toml")
    lines = check.warnings()
    assert lines, how
    assert all(line.startswith("calibration rig.toml, ") and "\n" not in line for line in lines)
    # the wrong camera is named with its error in pixels, far above the limit
    named = [line for line in lines if "camera cam1: median reprojection error" in line]
    assert named, lines
    assert check.median_error_px["cam1"] > MAX_MEDIAN_PX
    figure = float(named[0].split("median reprojection error ")[1].split(" px")[0])
    assert figure == pytest.approx(check.median_error_px["cam1"], rel=1e-3)


def test_a_rig_scaled_x100_reprojects_as_well_but_its_board_says_so(scene):
    rig, ds, world = scene
    wrong = _wrong(rig, "every translation x100")
    check = check_dataset(ds, wrong, calibration="rig.toml")
    assert max(check.median_error_px.values()) < 2.0  # the pixels cannot tell
    assert check.scale["ratio"] == pytest.approx(100.0, rel=0.01)
    lines = check.warnings()
    assert len(lines) == 1 and "calibration rig.toml, cameras cam0, cam1:" in lines[0]
    assert "100×" in lines[0] and "instead of 25 mm" in lines[0] and " px" in lines[0]


def test_board_view_round_trips_and_is_found_in_detections():
    from deepbehavior.geometry.calibration import Board, Detection

    board = _board()
    pixels = {"a": np.random.default_rng(0).uniform(0, 600, (len(board), 2)), "b:2": np.ones((len(board), 2))}
    decoded_board, decoded = decode_board_view(encode_board_view(board, pixels))
    assert len(decoded_board) == 24 and set(decoded) == {"a", "b:2"}
    assert np.allclose(decoded["a"], pixels["a"][np.unique(np.linspace(0, 53, 24).round().astype(int))], atol=1e-3)
    with pytest.raises(ValueError, match="Expected rows of 2 finite numbers"):
        decode_board_view("0,0,0;1,0,0 | a:1,nan;2,2")
    real = Board(kind="chessboard", columns=9, rows=6, square_size=SQUARE_MM)
    ids = np.arange(54)
    detections = {"a": [None, Detection(ids, pixels["a"])], "b": [Detection(ids[:10], pixels["a"][:10]),
                                                               Detection(ids[5:], pixels["a"][5:])]}
    view = board_view_of(detections, real)
    assert view is not None
    found_board, found = decode_board_view(view)
    assert len(found_board) == 24 and set(found) == {"a", "b"}  # frame 1: the 49 corners both saw


def test_scale_check_without_a_recorded_board_is_none(scene):
    rig, _, _ = scene
    assert scale_check(CameraGroup(rig.cameras, metadata={"unit": "mm"})) is None


@pytest.mark.parametrize("suffix", [".toml", ".yml"])
def test_triangulating_a_store_with_a_wrong_calibration_file_warns_naming_the_file(scene, tmp_path, suffix):
    from deepbehavior.formats.importing import write_store
    from deepbehavior.geometry.calib_io import save_calibration
    from deepbehavior.geometry.cohort3d import triangulate_session, write_diagnostics

    rig, ds, world = scene
    source = write_store(ds, tmp_path / "poses2d.zarr", chunk=64)
    good = save_calibration(rig, tmp_path / f"good{suffix}")  # the board view survives the file format
    bad = save_calibration(_wrong(rig, "every translation x100"), tmp_path / f"scaled{suffix}")
    results = {}
    for calibration in (good, bad):
        target = triangulate_session(source, calibration, tmp_path / f"{calibration.stem}.zarr")
        results[calibration.stem] = write_diagnostics(target, tmp_path / calibration.stem, figure=False)
    assert results["good"]["warnings"] == []
    lines = results["scaled"]["warnings"]
    assert len(lines) == 1 and lines[0].startswith(f"calibration {bad}, cameras cam0, cam1: ") and "100×" in lines[0]
