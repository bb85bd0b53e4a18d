"""Bundle adjustment of cameras and calibration-board poses: Levenberg–Marquardt on the Schur
complement.

The unknowns are, per camera, 15 parameters (Rodrigues rotation, translation, fx, fy, cx, cy and
the five Brown coefficients k1, k2, p1, p2, k3) and, per board frame, 6 (its pose). Each board
corner seen by a camera gives two pixel residuals that depend on one camera and one frame only,
so the normal equations have a small dense camera block, a block-diagonal (6 x 6 per frame) board
block and a sparse coupling between them. Eliminating the board poses (the Schur complement)
leaves a ``15 cameras`` square system per iteration, whatever the number of frames: this is what
makes it fast, where a general sparse least-squares solver (scipy's ``least_squares`` with
``jac_sparsity``: finite differences over column groups and LSMR steps) spends seconds per
iteration on the same problem. The Jacobian is taken by central differences, one vectorised
projection per parameter of a camera or a frame (21 pairs), not per parameter of the problem.

Damping is Marquardt's (``λ diag(JᵀJ)``), which makes the steps independent of the parameters'
scales (pixels of focal length against unitless distortion), as ``x_scale="jac"`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_CAMERA = 15  # rvec (3), tvec (3), fx, fy, cx, cy, k1, k2, p1, p2, k3
N_BOARD = 6  # rvec (3), tvec (3)


def rodrigues(rvecs: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(M, 3, 3)`` of Rodrigues vectors ``(M, 3)``."""
    theta = np.linalg.norm(rvecs, axis=1)
    safe = np.where(theta > 1e-12, theta, 1.0)
    k = rvecs / safe[:, None]
    kx = np.zeros((len(rvecs), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx -= kx.transpose(0, 2, 1)
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3) + s * kx + (1 - c) * (kx @ kx)


def board_to_world(boards: np.ndarray, frame_idx: np.ndarray, points: np.ndarray) -> np.ndarray:
    """World coordinates ``(N, 3)`` of board points ``(N, 3)`` for board poses ``(F, 6)``."""
    return np.einsum("nij,nj->ni", rodrigues(boards[:, :3])[frame_idx], points) + boards[frame_idx, 3:]


def project(cameras: np.ndarray, cam_idx: np.ndarray, world: np.ndarray) -> np.ndarray:
    """Pixels ``(N, 2)`` of world points ``(N, 3)``, observation ``n`` seen by camera
    ``cam_idx[n]`` of ``cameras`` ``(C, 15)``."""
    cam = np.einsum("nij,nj->ni", rodrigues(cameras[:, :3])[cam_idx], world) + cameras[cam_idx, 3:6]
    x, y = cam[:, 0] / cam[:, 2], cam[:, 1] / cam[:, 2]
    fx, fy, cx, cy, k1, k2, p1, p2, k3 = cameras[cam_idx, 6:].T
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([fx * xd + cx, fy * yd + cy], axis=1)


@dataclass
class Result:
    """Refined ``cameras`` ``(C, 15)`` and ``boards`` ``(F, 6)``, the final residuals ``(N, 2)``
    (pixels), the iterations run and the initial and final RMS (pixels)."""

    cameras: np.ndarray
    boards: np.ndarray
    residuals: np.ndarray
    iterations: int
    initial_rms: float
    rms: float


def _jacobians(cameras, boards, cam_idx, frame_idx, points):
    """Central-difference Jacobian blocks ``(N, 2, 15)`` and ``(N, 2, 6)`` of each observation.

    An observation depends on one camera and one frame, so moving parameter ``j`` of every camera
    (or frame) at once gives column ``j`` of every block in one projection.
    """
    world = board_to_world(boards, frame_idx, points)
    jc = np.empty((len(points), 2, N_CAMERA))
    jb = np.empty((len(points), 2, N_BOARD))
    for j in range(N_CAMERA):
        h = 1e-6 * np.maximum(1.0, np.abs(cameras[:, j]))
        plus, minus = cameras.copy(), cameras.copy()
        plus[:, j] += h
        minus[:, j] -= h
        jc[:, :, j] = (project(plus, cam_idx, world) - project(minus, cam_idx, world)) / (2 * h[cam_idx, None])
    for j in range(N_BOARD):
        h = 1e-6 * np.maximum(1.0, np.abs(boards[:, j]))
        plus, minus = boards.copy(), boards.copy()
        plus[:, j] += h
        minus[:, j] -= h
        jb[:, :, j] = (project(cameras, cam_idx, board_to_world(plus, frame_idx, points))
                       - project(cameras, cam_idx, board_to_world(minus, frame_idx, points))) / (2 * h[frame_idx, None])
    return jc, jb


def adjust(cameras: np.ndarray, boards: np.ndarray, cam_idx: np.ndarray, frame_idx: np.ndarray, points: np.ndarray,
           pixels: np.ndarray, *, fixed: np.ndarray | None = None, max_iterations: int = 100,
           tolerance: float = 1e-10) -> Result:
    """Minimise the squared pixel residuals of every observation over cameras and board poses.

    Parameters
    ----------
    cameras
        ``(C, 15)`` initial camera parameters.
    boards
        ``(F, 6)`` initial board-to-world poses.
    cam_idx, frame_idx
        ``(N,)`` camera and frame of each observation.
    points
        ``(N, 3)`` board-frame corner of each observation (board units).
    pixels
        ``(N, 2)`` detected corner (pixels).
    fixed
        ``(C, 15)`` bool: parameters held at their initial value (e.g. the first camera's pose,
        which defines the world frame).
    max_iterations
        Levenberg–Marquardt iterations at most.
    tolerance
        Stop when an accepted step lowers the cost by less than this fraction.
    """
    cameras = np.array(cameras, dtype=np.float64)
    boards = np.array(boards, dtype=np.float64)
    n_cams, n_frames = len(cameras), len(boards)
    fixed = np.zeros_like(cameras, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    free = np.flatnonzero(~fixed.ravel())
    # observations sorted by (camera, frame) pair, so sums per pair are contiguous
    pair = cam_idx * n_frames + frame_idx
    order = np.argsort(pair, kind="stable")
    cam_idx, frame_idx, points, pixels = cam_idx[order], frame_idx[order], points[order], pixels[order]
    pair = pair[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    pair_cam, pair_frame = cam_idx[starts], frame_idx[starts]

    def residuals(cams, brds):
        return project(cams, cam_idx, board_to_world(brds, frame_idx, points)) - pixels

    r = residuals(cameras, boards)
    cost = float(np.sum(r * r))
    initial_rms = float(np.sqrt(cost / len(r)))
    lam = 1e-3
    iteration = 0
    for iteration in range(1, max_iterations + 1):
        jc, jb = _jacobians(cameras, boards, cam_idx, frame_idx, points)
        jc = np.where(fixed[cam_idx][:, None, :], 0.0, jc)
        u_pair = np.add.reduceat(np.einsum("nki,nkj->nij", jc, jc), starts)
        w_pair = np.add.reduceat(np.einsum("nki,nkj->nij", jc, jb), starts)
        v_pair = np.add.reduceat(np.einsum("nki,nkj->nij", jb, jb), starts)
        gc_pair = np.add.reduceat(np.einsum("nki,nk->ni", jc, r), starts)
        gb_pair = np.add.reduceat(np.einsum("nki,nk->ni", jb, r), starts)
        u = np.zeros((n_cams, N_CAMERA, N_CAMERA))
        np.add.at(u, pair_cam, u_pair)
        v = np.zeros((n_frames, N_BOARD, N_BOARD))
        np.add.at(v, pair_frame, v_pair)
        gc = np.zeros((n_cams, N_CAMERA))
        np.add.at(gc, pair_cam, gc_pair)
        gb = np.zeros((n_frames, N_BOARD))
        np.add.at(gb, pair_frame, gb_pair)
        w = np.zeros((n_frames, n_cams, N_CAMERA, N_BOARD))
        w[pair_frame, pair_cam] = w_pair
        w = w.reshape(n_frames, n_cams * N_CAMERA, N_BOARD)
        diag_u = np.maximum(np.einsum("cii->ci", u), 1e-12)
        diag_v = np.maximum(np.einsum("fii->fi", v), 1e-12)
        while True:
            v_damped = v + lam * np.einsum("fi,ij->fij", diag_v, np.eye(N_BOARD))
            v_inv = np.linalg.inv(v_damped)
            y = w @ v_inv  # (F, 15C, 6)
            s = np.zeros((n_cams * N_CAMERA, n_cams * N_CAMERA))
            for c in range(n_cams):
                block = slice(c * N_CAMERA, (c + 1) * N_CAMERA)
                s[block, block] = u[c] + lam * np.diag(diag_u[c])
            s -= np.tensordot(y, w, axes=([0, 2], [0, 2]))
            rhs = -gc.ravel() + np.einsum("fai,fi->a", y, gb)
            step_c = np.zeros(n_cams * N_CAMERA)
            try:
                step_c[free] = np.linalg.solve(s[np.ix_(free, free)], rhs[free])
            except np.linalg.LinAlgError:
                lam *= 10
                if lam > 1e12:
                    break
                continue
            step_b = np.einsum("fij,fj->fi", v_inv, -gb - np.einsum("fai,a->fi", w, step_c))
            new_cams = cameras + step_c.reshape(n_cams, N_CAMERA)
            new_boards = boards + step_b
            new_r = residuals(new_cams, new_boards)
            new_cost = float(np.sum(new_r * new_r)) if np.isfinite(new_r).all() else np.inf
            if new_cost < cost:
                break
            lam *= 5
            if lam > 1e12:
                break
        if not new_cost < cost:
            break
        decrease = (cost - new_cost) / max(cost, 1e-300)
        cameras, boards, r, cost = new_cams, new_boards, new_r, new_cost
        lam = max(lam / 3, 1e-12)
        if decrease < tolerance:
            break
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return Result(cameras, boards, r[inverse], iteration, initial_rms, float(np.sqrt(cost / len(r))))
