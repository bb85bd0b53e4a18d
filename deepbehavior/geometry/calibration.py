"""Calibrating cameras from a checkerboard or ChArUco board: detection, intrinsics, extrinsics and a
joint refinement (bundle adjustment) of every camera and board pose.

The world frame is the first camera's. Board units (``square_size``, usually mm) are the units of
the translations and of everything triangulated later.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import coo_matrix

# The board is the calibrate job's config class itself (one type, one validation); imported from here too.
from ..config import Board
from .camera import Camera, CameraGroup, rotation_matrix, rotation_vector


@dataclass(frozen=True)
class Detection:
    """Board corners found in one image: ``ids`` ``(n,)`` into ``Board.object_points`` and
    ``corners`` ``(n, 2)`` pixels."""

    ids: np.ndarray
    corners: np.ndarray


def detect_board(image: np.ndarray, board: Board, *, min_corners: int = 6) -> Detection | None:
    """Find the board's corners in one image (BGR or grey); None where it is not found."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if board.kind == "chessboard":
        size = (board.columns, board.rows)
        found, corners = cv2.findChessboardCorners(
            gray, size, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
        if not found:
            found, corners = cv2.findChessboardCornersSB(gray, size, flags=cv2.CALIB_CB_EXHAUSTIVE)
            if not found:
                return None
        else:
            criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01)
            corners = cv2.cornerSubPix(gray, corners, (11, 11), (-1, -1), criteria)
        corners = corners.reshape(-1, 2).astype(np.float64)
        return Detection(np.arange(len(corners)), corners)
    detector = cv2.aruco.CharucoDetector(board.charuco())
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None or len(ids) < min_corners:
        return None
    return Detection(ids.reshape(-1).astype(np.int64), corners.reshape(-1, 2).astype(np.float64))


def detect_in_images(paths: Sequence[str | os.PathLike], board: Board) -> tuple[list[Detection | None], tuple[int, int]]:
    """Detections in image files (None where not found) and the image ``(width, height)``."""
    detections, size = [], None
    for path in paths:
        image = cv2.imread(str(path))
        if image is None:
            raise FileNotFoundError(f"Expected an image OpenCV can read at {path}, but it could not be read")
        this = (image.shape[1], image.shape[0])
        if size is not None and this != size:
            raise ValueError(f"Expected images of one size {size}, but {path} is {this}")
        size = this
        detections.append(detect_board(image, board))
    if size is None:
        raise ValueError("Expected at least one image, but got none")
    return detections, size


def detect_in_video(path: str | os.PathLike, board: Board, *, every: int = 10) -> tuple[list[Detection | None], tuple[int, int]]:
    """Detections in every ``every``-th frame of a video (frame ``i * every`` is entry ``i``)."""
    from ..video import iter_frames, probe

    info = probe(path)
    detections = [detect_board(frame, board) for i, frame in enumerate(iter_frames(path, 0, info.frames))
                  if i % every == 0]
    return detections, (info.width, info.height)


# --------------------------------------------------------------------------------------------------
# Single cameras


@dataclass
class CalibrationReport:
    """Reprojection errors (pixels) of a calibration, and what was found where."""

    rms: float
    per_camera_rms: dict[str, float]
    frames_used: dict[str, int]
    frames_missing: dict[str, list[int]]
    initial_rms: float | None = None
    bundle_adjusted: bool = False
    extras: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"rms_px": self.rms, "per_camera_rms_px": self.per_camera_rms, "frames_used": self.frames_used,
                "frames_missing": self.frames_missing, "initial_rms_px": self.initial_rms,
                "bundle_adjusted": self.bundle_adjusted, **self.extras}


def calibrate_camera(detections: Sequence[Detection | None], board: Board, size: tuple[int, int], *,
                     name: str = "camera", min_views: int = 3) -> tuple[Camera, float, dict[int, tuple]]:
    """Intrinsics of one camera (OpenCV's ``calibrateCamera``).

    Returns the camera (at the origin), its RMS reprojection error (pixels) and the board pose
    ``(rvec, tvec)`` of each frame index where the board was found.
    """
    frames = [i for i, d in enumerate(detections) if d is not None and len(d.ids) >= 6]
    if len(frames) < min_views:
        raise ValueError(f"Expected the board in at least {min_views} frames of camera {name!r}, "
                         f"but it was found in {len(frames)} of {len(detections)}")
    objects = [board.object_points[detections[i].ids].astype(np.float32) for i in frames]
    images = [detections[i].corners.astype(np.float32).reshape(-1, 1, 2) for i in frames]
    rms, matrix, dist, rvecs, tvecs = cv2.calibrateCamera(objects, images, tuple(size), None, None)
    camera = Camera(name=name, size=size, matrix=matrix, dist=dist.reshape(-1)[:5])
    poses = {i: (np.asarray(r).reshape(3), np.asarray(t).reshape(3)) for i, r, t in zip(frames, rvecs, tvecs)}
    return camera, float(rms), poses


def _compose(r_a, t_a, r_b, t_b):
    """Pose ``a ∘ b`` (apply b then a) of (rotation matrix, translation) pairs."""
    return r_a @ r_b, r_a @ t_b + t_a


def _relative_poses(poses: list[dict[int, tuple]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """World (first camera) to camera transform of every camera, from board poses in shared frames.

    Cameras are linked through a breadth-first walk over pairs that saw the board together; each
    pair's transform is the median over shared frames (robust to a bad detection).
    """
    n = len(poses)
    result: list[tuple | None] = [None] * n
    result[0] = (np.eye(3), np.zeros(3))
    queue = deque([0])
    while queue:
        a = queue.popleft()
        for b in range(n):
            shared = sorted(set(poses[a]) & set(poses[b]))
            if result[b] is not None or not shared:
                continue
            rvecs, tvecs = [], []
            for f in shared:
                r_a, t_a = rotation_matrix(poses[a][f][0]), poses[a][f][1]
                r_b, t_b = rotation_matrix(poses[b][f][0]), poses[b][f][1]
                r_ba = r_b @ r_a.T  # camera a to camera b
                rvecs.append(rotation_vector(r_ba))
                tvecs.append(t_b - r_ba @ t_a)
            r_ba = rotation_matrix(np.median(rvecs, axis=0))
            t_ba = np.median(tvecs, axis=0)
            result[b] = _compose(r_ba, t_ba, *result[a])
            queue.append(b)
    missing = [i for i, r in enumerate(result) if r is None]
    if missing:
        raise ValueError(f"Expected every camera to share board views with the others, but cameras {missing} "
                         f"never saw the board at the same time as camera 0's group")
    return result


def _rodrigues(rvecs: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(M, 3, 3)`` of Rodrigues vectors ``(M, 3)``."""
    theta = np.linalg.norm(rvecs, axis=1)
    safe = np.where(theta > 1e-12, theta, 1.0)
    k = rvecs / safe[:, None]
    kx = np.zeros((len(rvecs), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx -= kx.transpose(0, 2, 1)
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)


_N_INTRINSIC = 9  # fx, fy, cx, cy, k1, k2, p1, p2, k3


def _project_observations(params, n_cams, n_frames, cam_idx, frame_idx, points):
    ext = np.concatenate([np.zeros(6), params[: 6 * (n_cams - 1)]]).reshape(n_cams, 6)
    intr = params[6 * (n_cams - 1): 6 * (n_cams - 1) + _N_INTRINSIC * n_cams].reshape(n_cams, _N_INTRINSIC)
    boards = params[6 * (n_cams - 1) + _N_INTRINSIC * n_cams:].reshape(n_frames, 6)
    r_board = _rodrigues(boards[:, :3])[frame_idx]
    world = np.einsum("mij,mj->mi", r_board, points) + boards[frame_idx, 3:]
    r_cam = _rodrigues(ext[:, :3])[cam_idx]
    cam = np.einsum("mij,mj->mi", r_cam, world) + ext[cam_idx, 3:]
    x, y = cam[:, 0] / cam[:, 2], cam[:, 1] / cam[:, 2]
    fx, fy, cx, cy, k1, k2, p1, p2, k3 = intr[cam_idx].T
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([fx * xd + cx, fy * yd + cy], axis=1)


def _sparsity(n_cams, n_frames, cam_idx, frame_idx) -> coo_matrix:
    """Which parameters each residual depends on: its camera's extrinsics (not camera 0's) and
    intrinsics, and its frame's board pose."""
    n_obs = len(cam_idx)
    n_params = 6 * (n_cams - 1) + _N_INTRINSIC * n_cams + 6 * n_frames
    rows, cols = [], []
    obs = np.arange(n_obs)
    moving = cam_idx > 0
    blocks = [(obs[moving], 6 * (cam_idx[moving] - 1), 6),
              (obs, 6 * (n_cams - 1) + _N_INTRINSIC * cam_idx, _N_INTRINSIC),
              (obs, 6 * (n_cams - 1) + _N_INTRINSIC * n_cams + 6 * frame_idx, 6)]
    for which, first, width in blocks:
        for axis in (0, 1):
            rows.append(np.repeat(2 * which + axis, width))
            cols.append((first[:, None] + np.arange(width)).ravel())
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    return coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(2 * n_obs, n_params))


def bundle_adjust(group: CameraGroup, observations: list[dict[int, Detection]], board: Board,
                  board_poses: dict[int, tuple[np.ndarray, np.ndarray]], *, max_iterations: int = 200,
                  solver: str = "schur",
                  ) -> tuple[CameraGroup, dict[int, tuple], np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Jointly refine every camera (intrinsics, distortion, extrinsics; the first camera stays the
    world frame) and every board pose by sparse nonlinear least squares on pixel residuals.

    ``solver``: ``"schur"`` (default), Levenberg–Marquardt on the Schur complement of the board
    poses (:mod:`.bundle`); ``"trf"``, scipy's ``least_squares`` with the Jacobian's sparsity
    (the former method, kept for comparison: the same minimum, many times slower).

    ``observations[c][f]`` is camera ``c``'s detection in frame ``f``; ``board_poses[f]`` is the
    board-to-world pose of frame ``f`` (Rodrigues vector, translation). Returns the refined group,
    board poses, the final residuals ``(observation, 2)`` in pixels and the camera index and
    frame of each residual row.
    """
    frames = sorted(board_poses)
    frame_pos = {f: i for i, f in enumerate(frames)}
    cam_idx, frame_idx, points, pixels = [], [], [], []
    for c, per_frame in enumerate(observations):
        for f, det in per_frame.items():
            if f not in frame_pos:
                continue
            cam_idx.append(np.full(len(det.ids), c))
            frame_idx.append(np.full(len(det.ids), frame_pos[f]))
            points.append(board.object_points[det.ids])
            pixels.append(det.corners)
    cam_idx, frame_idx = np.concatenate(cam_idx), np.concatenate(frame_idx)
    points, pixels = np.concatenate(points), np.concatenate(pixels)
    n_cams, n_frames = len(group), len(frames)
    if solver == "schur":
        from . import bundle

        cams0 = np.array([np.concatenate([c.rvec, c.tvec, [c.matrix[0, 0], c.matrix[1, 1], c.matrix[0, 2],
                                                           c.matrix[1, 2]], c.dist[:5]]) for c in group.cameras])
        fixed = np.zeros_like(cams0, dtype=bool)
        fixed[0, :6] = True
        result = bundle.adjust(cams0, np.array([np.concatenate(board_poses[f]) for f in frames]), cam_idx, frame_idx,
                               points, pixels, fixed=fixed, max_iterations=max_iterations)
        cams = [cam.replace(matrix=[[p[6], 0, p[8]], [0, p[7], p[9]], [0, 0, 1]], dist=p[10:], rvec=p[:3], tvec=p[3:6])
                for cam, p in zip(group.cameras, result.cameras)]
        poses = {f: (result.boards[i, :3], result.boards[i, 3:]) for i, f in enumerate(frames)}
        return (CameraGroup(cams, metadata=group.metadata), poses, result.residuals,
                (cam_idx, np.asarray(frames)[frame_idx]))
    if solver != "trf":
        raise ValueError(f"Expected solver 'schur' or 'trf', but got {solver!r}")
    x0 = np.concatenate(
        [np.concatenate([c.rvec, c.tvec]) for c in group.cameras[1:]]
        + [np.array([c.matrix[0, 0], c.matrix[1, 1], c.matrix[0, 2], c.matrix[1, 2], *c.dist[:5]]) for c in group.cameras]
        + [np.concatenate(board_poses[f]) for f in frames]
    )

    def residuals(params):
        return (_project_observations(params, n_cams, n_frames, cam_idx, frame_idx, points) - pixels).ravel()

    result = least_squares(residuals, x0, jac_sparsity=_sparsity(n_cams, n_frames, cam_idx, frame_idx),
                           method="trf", x_scale="jac", max_nfev=max_iterations, loss="linear")
    params = result.x
    cams = []
    for c, cam in enumerate(group.cameras):
        fx, fy, cx, cy, *dist = params[6 * (n_cams - 1) + _N_INTRINSIC * c: 6 * (n_cams - 1) + _N_INTRINSIC * (c + 1)]
        ext = np.zeros(6) if c == 0 else params[6 * (c - 1): 6 * c]
        cams.append(cam.replace(matrix=[[fx, 0, cx], [0, fy, cy], [0, 0, 1]], dist=dist, rvec=ext[:3], tvec=ext[3:]))
    boards = params[6 * (n_cams - 1) + _N_INTRINSIC * n_cams:].reshape(n_frames, 6)
    poses = {f: (boards[i, :3], boards[i, 3:]) for i, f in enumerate(frames)}
    final = residuals(params).reshape(-1, 2)
    return CameraGroup(cams, metadata=group.metadata), poses, final, (cam_idx, np.asarray(frames)[frame_idx])


def _rms(residuals: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(residuals ** 2, axis=1)))) if len(residuals) else float("nan")


def calibrate_group(
    detections: dict[str, Sequence[Detection | None]],
    board: Board,
    sizes: dict[str, tuple[int, int]],
    *,
    bundle_adjustment: bool = True,
    min_views: int = 3,
) -> tuple[CameraGroup, CalibrationReport]:
    """Calibrate 1..N cameras that filmed the same board at the same moments.

    Parameters
    ----------
    detections
        Per camera name, the detections of each synchronised frame (entry ``i`` of every camera
        is the same moment); None where the board was not found (reported, not fatal).
    board
        The board; its ``square_size`` sets the units of the result.
    sizes
        Image ``(width, height)`` of each camera, pixels.
    bundle_adjustment
        Jointly refine all cameras and board poses after the pairwise initialisation.

    Returns
    -------
    group, report
        The cameras (the first one the world frame) and the reprojection errors in pixels.
    """
    names = list(detections)
    singles = [calibrate_camera(detections[n], board, sizes[n], name=n, min_views=min_views) for n in names]
    poses = [s[2] for s in singles]
    relative = _relative_poses(poses)
    cameras = [cam.replace(rvec=rotation_vector(r), tvec=t) for (cam, _, _), (r, t) in zip(singles, relative)]
    metadata = {"unit": "board units", "square_size": board.square_size}
    if len(names) >= 2:
        from .board_view import BOARD_VIEW, board_view_of

        view = board_view_of(detections, board)  # lets every triangulation check the scale
        if view is not None:
            metadata[BOARD_VIEW] = view
    group = CameraGroup(cameras, metadata=metadata)
    # board-to-world pose of each frame from the first camera (in world order) that saw it
    board_poses = {}
    for (r_cw, t_cw), per_frame in zip(relative, poses):
        for f, (rvec, tvec) in per_frame.items():
            if f not in board_poses:
                r, t = _compose(r_cw.T, -r_cw.T @ t_cw, rotation_matrix(rvec), tvec)
                board_poses[f] = (rotation_vector(r), t)
    observations = [{f: d for f, d in enumerate(detections[n]) if d is not None and f in poses[c]}
                    for c, n in enumerate(names)]
    initial = _initial_residuals(group, observations, board, board_poses)
    report = CalibrationReport(
        rms=_rms(np.concatenate(list(initial.values()))),
        per_camera_rms={n: _rms(initial[c]) for c, n in enumerate(names)},
        frames_used={n: len(observations[c]) for c, n in enumerate(names)},
        frames_missing={n: [i for i, d in enumerate(detections[n]) if d is None] for n in names},
        extras={"single_camera_rms_px": {n: s[1] for n, s in zip(names, singles)}},
    )
    if bundle_adjustment and len(names) >= 1:
        report.initial_rms = report.rms
        group, _, final, (cam_idx, _) = bundle_adjust(group, observations, board, board_poses)
        report.rms = _rms(final)
        report.per_camera_rms = {n: _rms(final[cam_idx == c]) for c, n in enumerate(names)}
        report.bundle_adjusted = True
    return group, report


def _initial_residuals(group, observations, board, board_poses) -> dict[int, np.ndarray]:
    out = {}
    for c, cam in enumerate(group.cameras):
        res = []
        for f, det in observations[c].items():
            r, t = rotation_matrix(board_poses[f][0]), board_poses[f][1]
            world = board.object_points[det.ids] @ r.T + t
            res.append(cam.project(world) - det.corners)
        out[c] = np.concatenate(res) if res else np.zeros((0, 2))
    return out


def board_detections_table(detections: dict[str, Iterable[Detection | None]]) -> dict[str, list[bool]]:
    """Per camera, whether the board was found in each frame (for reports)."""
    return {name: [d is not None for d in dets] for name, dets in detections.items()}
