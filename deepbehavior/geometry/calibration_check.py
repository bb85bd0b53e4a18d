"""Check an existing calibration on new board images or videos, before a cohort is triangulated.

Two errors per camera, both in pixels:

- ``board_rms_px``: the camera alone. The board pose of each frame is fitted to its corners
  with the camera's intrinsics and distortion (OpenCV ``solvePnP``); a wrong lens model or image
  size shows here.
- ``consensus``: the camera among the others. The board corners are triangulated from every
  camera by consensus (:func:`.triangulation.triangulate_diagnostics`, ``method="robust"``) and
  each camera's corners compared with the point the cameras agree on; a wrong pose (a camera
  moved, or its parameters copied from another) shows here. A camera far above the others is
  named (:func:`.diagnostics.flag_cameras`).

The measured square size (median distance between neighbouring triangulated corners) checks the
scale of the calibration.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .calibration import Board, Detection
from .camera import CameraGroup
from .diagnostics import camera_check


def corner_pixels(detections: dict[str, Sequence[Detection | None]], board: Board, names: list[str]) -> np.ndarray:
    """``(camera, frame, corner, 2)`` pixels of every board corner, NaN where not detected."""
    n_frames = len(detections[names[0]])
    out = np.full((len(names), n_frames, len(board.object_points), 2), np.nan)
    for c, name in enumerate(names):
        for f, det in enumerate(detections[name]):
            if det is not None:
                out[c, f, det.ids] = det.corners
    return out


def board_rms(camera, detections: Sequence[Detection | None], board: Board) -> tuple[float, int]:
    """RMS reprojection error (pixels) of the board fitted frame by frame with this camera's
    intrinsics, and the number of frames used."""
    squared, count, frames = 0.0, 0, 0
    for det in detections:
        if det is None or len(det.ids) < 6:
            continue
        objects = board.object_points[det.ids]
        ok, rvec, tvec = cv2.solvePnP(objects, det.corners, camera.matrix, camera.dist)
        if not ok:
            continue
        projected, _ = cv2.projectPoints(objects, rvec, tvec, camera.matrix, camera.dist)
        residual = projected.reshape(-1, 2) - det.corners
        squared += float(np.sum(residual ** 2))
        count += len(residual)
        frames += 1
    return (float(np.sqrt(squared / count)) if count else float("nan")), frames


def measured_square(points: np.ndarray, board: Board) -> float:
    """Median distance between horizontally or vertically neighbouring corners of triangulated
    boards ``(frame, corner, 3)``, in calibration units."""
    cols = board.columns if board.kind == "chessboard" else board.columns - 1
    rows = len(board.object_points) // cols
    grid = points.reshape(points.shape[0], rows, cols, 3)
    steps = np.concatenate([np.linalg.norm(np.diff(grid, axis=1), axis=-1).ravel(),
                            np.linalg.norm(np.diff(grid, axis=2), axis=-1).ravel()])
    steps = steps[np.isfinite(steps)]
    return float(np.median(steps)) if steps.size else float("nan")


#: Why two cameras' consensus errors name no camera, as the check prints it beside the numbers that can
#: (triangulate's note, :data:`.diagnostics.TWO_CAMERAS_NOTE`, sends the user to this check instead).
TWO_CAMERAS_NOTE_IN_CHECK = ("2 cameras: their disagreement shows in both, so which one is wrong cannot be told "
                             "from their points; each camera's board error alone and the measured square size "
                             "above can")


def check_calibration(group: CameraGroup, detections: dict[str, Sequence[Detection | None]], board: Board,
                      *, max_error: float = 20.0) -> dict:
    """Per-camera board and consensus errors of ``group`` on synchronised board ``detections``
    (per camera name, one entry per frame); see the module's description.

    Returns
    -------
    dict
        ``cameras`` (per name: ``board_rms_px``, ``board_frames``, ``consensus_median_px``,
        ``consensus_p90_px``, ``outlier_fraction``), ``suspect`` (names), ``warnings`` (lines),
        ``square_size`` (expected) and ``square_size_measured`` (calibration units), ``note``.
    """
    names = [n for n in group.names if n in detections]
    missing = [n for n in detections if n not in group.names]
    if missing:
        raise ValueError(f"Expected cameras named in the calibration {group.names}, but got {missing}")
    if len(names) < 2:
        raise ValueError(f"Expected detections of 2 or more calibrated cameras to check, but got {names}")
    group = group.subset(names)
    pixels = corner_pixels(detections, board, names)
    check = camera_check(group, pixels, max_error=max_error, frames_sampled=pixels.shape[1])
    from .triangulation import triangulate

    points = triangulate(group, pixels, method="robust" if len(group) >= 3 else "dlt", max_error=max_error)[0]
    cameras = {}
    for cam in group.cameras:
        rms, frames = board_rms(cam, detections[cam.name], board)
        cameras[cam.name] = {"board_rms_px": rms, "board_frames": frames,
                             "consensus_median_px": check.median_error_px[cam.name],
                             "consensus_p90_px": check.p90_error_px[cam.name],
                             "outlier_fraction": check.outlier_fraction[cam.name],
                             "corners": check.points[cam.name]}
    return {"cameras": cameras, "suspect": check.suspect, "warnings": check.warnings(names, checking=True),
            "square_size": board.square_size, "square_size_measured": measured_square(points, board),
            "note": TWO_CAMERAS_NOTE_IN_CHECK if check.note else "", "rule": check.as_dict()["rule"]}

