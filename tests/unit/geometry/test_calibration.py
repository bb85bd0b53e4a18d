import cv2
import numpy as np
import pytest

from deepbehavior.geometry import CameraGroup
from deepbehavior.geometry.calibration import Board, Detection, calibrate_group, detect_board, detect_in_images
from deepbehavior.geometry.camera import rotation_matrix
from deepbehavior.geometry.triangulation import triangulate


def _stereo_images(folder):
    storage = cv2.FileStorage(str(folder / "stereo_calib.xml"), cv2.FILE_STORAGE_READ)
    node = storage.getNode("imagelist")
    names = [node.at(i).string() for i in range(node.size())]
    return [folder / n for n in names[0::2]], [folder / n for n in names[1::2]]


def test_opencv_stereo_pairs(shared_data):
    folder = shared_data / "stereo-chessboard/opencv"
    board = Board(columns=9, rows=6, square_size=25.0)
    left, right = _stereo_images(folder)
    found_l, size_l = detect_in_images(left, board)
    found_r, size_r = detect_in_images(right, board)
    group, report = calibrate_group({"left": found_l, "right": found_r}, board, {"left": size_l, "right": size_r})
    assert report.rms < 0.5 and report.bundle_adjusted
    assert report.rms <= report.initial_rms
    spacing = []
    for a, b in zip(found_l, found_r):
        if a is None or b is None:
            continue
        grid = triangulate(group, np.stack([a.corners, b.corners]))[0].reshape(6, 9, 3)
        spacing += [np.linalg.norm(np.diff(grid, axis=1), axis=-1).ravel(),
                    np.linalg.norm(np.diff(grid, axis=0), axis=-1).ravel()]
    spacing = np.concatenate(spacing)
    assert abs(spacing.mean() - 25.0) < 0.5
    assert abs(np.linalg.norm(group.cameras[1].tvec) - 83.4) < 5  # the rig's baseline, mm (about)


def _synthetic_detections(group, board, n_frames=12, seed=0):
    rng = np.random.default_rng(seed)
    detections = {name: [] for name in group.names}
    centre = board.object_points.mean(axis=0)
    for _ in range(n_frames):
        rvec = rng.normal(scale=0.35, size=3)
        tvec = rng.normal(scale=40, size=3)
        world = (board.object_points - centre) @ rotation_matrix(rvec).T + tvec
        for cam in group.cameras:
            pixels = cam.project(world)
            inside = np.isfinite(pixels).all(axis=1) & (pixels >= 0).all(axis=1) & (pixels < cam.size).all(axis=1)
            detections[cam.name].append(Detection(np.arange(len(world)), pixels) if inside.all() else None)
    return detections


def test_bundle_adjustment_recovers_a_known_rig(rig_factory):
    scene = rig_factory(3, radius=600.0)
    board = Board(columns=9, rows=6, square_size=30.0)
    detections = _synthetic_detections(scene, board, n_frames=8)
    noisy = {n: [None if d is None else Detection(d.ids, d.corners + np.random.default_rng(i).normal(scale=0.2, size=d.corners.shape))
                 for i, d in enumerate(dets)] for n, dets in detections.items()}
    # calibration puts the world frame at camera 0
    first = scene.cameras[0]
    cams = []
    for cam in scene.cameras:
        r = cam.rotation @ first.rotation.T
        cams.append(cam.replace(rvec=cv2.Rodrigues(r)[0], tvec=cam.tvec - r @ first.tvec))
    truth = CameraGroup(cams)
    sizes = {c.name: c.size for c in truth.cameras}
    group, report = calibrate_group(noisy, board, sizes)
    assert report.rms < 0.35  # pixel noise of 0.2 px per axis gives ~0.28 px
    for got, want in zip(group.cameras, truth.cameras):
        # a 24 cm board seen obliquely at 60-80 cm with 0.2 px noise: positions to a few %
        np.testing.assert_allclose(got.centre, want.centre, atol=0.025 * np.linalg.norm(want.centre) + 1e-9)
        np.testing.assert_allclose(got.rotation, want.rotation, atol=0.03)
        np.testing.assert_allclose(np.diag(got.matrix)[:2], np.diag(want.matrix)[:2], rtol=0.02)
        # the principal point trades off against rotation with so small a board: loosely
        np.testing.assert_allclose(got.matrix[:2, 2], want.matrix[:2, 2], atol=25.0)


def test_too_few_views_is_a_clear_error(rig):
    board = Board(columns=7, rows=5, square_size=20.0)
    detections = {n: [None] * 5 for n in rig.names}
    with pytest.raises(ValueError, match="Expected the board in at least 3 frames"):
        calibrate_group(detections, board, {c.name: c.size for c in rig.cameras})


def test_charuco_board_is_detected():
    board = Board(kind="charuco", columns=5, rows=4, square_size=40.0, marker_size=30.0)
    image = board.charuco().generateImage((500, 400), marginSize=20)
    found = detect_board(image, board)
    assert found is not None and len(found.ids) == 12  # (5 - 1) x (4 - 1) inner corners
    # the corners sit on the rendered squares: 4 rows of squares fill 400 - 2 * 20 px, 90 px each
    ordered = found.corners[np.argsort(found.ids)].reshape(3, 4, 2)
    np.testing.assert_allclose(np.linalg.norm(np.diff(ordered, axis=1), axis=-1), 90.0, atol=0.5)
    np.testing.assert_allclose(np.linalg.norm(np.diff(ordered, axis=0), axis=-1), 90.0, atol=0.5)


def test_missing_board_is_none():
    assert detect_board(np.full((120, 160), 128, np.uint8), Board(columns=9, rows=6, square_size=25.0)) is None
