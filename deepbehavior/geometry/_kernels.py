"""Compiled (numba) kernel of N-view triangulation: one pass over the points does everything.

For each point, :func:`triangulate_views` undistorts every view (Newton's method on the
5-coefficient Brown model, from the series inverse of its radial part), accumulates the
confidence-weighted normal equations, solves the 3x3 system by cofactors, repeats the
depth-reweighted re-solves and, on request, reprojects the point into each view. It follows :func:`deepbehavior.geometry.triangulation.linear_triangulation` rule for
rule (NaN handling, zero weights, fewer than two views, points behind a camera); the NumPy code
stays the reference and the tests check that both agree. Fusing the steps avoids the ten-odd
temporary ``(camera, point)`` arrays of the NumPy version, which dominated its run time.

Cameras whose model has more than five distortion coefficients are undistorted by OpenCV before the
call and passed with an identity camera matrix and no distortion (see :func:`camera_arrays`).

This module imports numba; :mod:`.triangulation` imports it lazily and falls back to NumPy
without it.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import get_num_threads, njit, prange

# Newton on the distortion converges quadratically: from the series inverse of the radial
# distortion, two steps reach ~1e-16 for ordinary lenses (the vectorized loop always does them);
# up to NEWTON_STEPS more finish the rest, for points far out in strong distortion.
NEWTON_STEPS = 20
# a step this small (normalized units) leaves an error of about its square times the curvature
NEWTON_TOLERANCE = 1e-9
# points per block: a block's scratch arrays stay in cache, and it is one parallel task
BLOCK = 1024
# the linear kernel spreads points over threads only from this many on: it takes ~0.1 µs per
# point and view, so waking threads (milliseconds on a busy machine) costs more below
PARALLEL_MIN_POINTS = 65536

# consensus triangulation tries subsets of views: 2**cameras of them at worst
MAX_CONSENSUS_VIEWS = 12

# The kernels may contract ``a * b + c`` into one fused multiply-add (rounding differs from
# the NumPy reference by ~1e-16 relative, far inside what the tests allow); nothing else of
# ``fastmath`` (NaN and infinity keep their meaning: unused views are NaN).
LINEAR_MATH = {"contract"}

# the weights argument when every view weighs 1
_NO_WEIGHTS = np.zeros((0, 0))

# status codes, per point
OK = 0
UNDISTORT_FAILED = 1


def camera_arrays(cameras) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-camera arrays of the kernel.

    Returns
    -------
    intrinsics : numpy.ndarray
        ``(camera, 5)``: fx, skew, cx, fy, cy in pixels.
    dist : numpy.ndarray
        ``(camera, 5)``: k1, k2, p1, p2, k3 (zeros for cameras undistorted beforehand).
    extrinsics : numpy.ndarray
        ``(camera, 3, 4)`` world-to-camera ``[R | t]``.
    opencv : numpy.ndarray
        ``(camera,)`` bool: True where the camera's model has more than 5 coefficients, so its
        pixels must be undistorted by OpenCV first and its intrinsics/dist rows are the identity.
    """
    n = len(cameras)
    intrinsics = np.zeros((n, 5))
    dist = np.zeros((n, 5))
    opencv = np.zeros(n, dtype=bool)
    for i, cam in enumerate(cameras):
        if cam.dist.size > 5:
            opencv[i] = True
            intrinsics[i] = (1.0, 0.0, 0.0, 1.0, 0.0)
            continue
        m = cam.matrix
        intrinsics[i] = (m[0, 0], m[0, 1], m[0, 2], m[1, 1], m[1, 2])
        dist[i] = cam.dist
    extrinsics = np.stack([cam.extrinsics for cam in cameras])
    return intrinsics, dist, extrinsics, opencv


@njit(cache=True, inline="always", error_model="numpy")
def _newton_step(x, y, xd, yd, k1, k2, p1, p2, k3):
    """One Newton step on ``distort(x, y) = (xd, yd)``; returns the new point and the step size."""
    x2 = x * x
    y2 = y * y
    xy = x * y
    r2 = x2 + y2
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    dradial = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
    fx = x * radial + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x2) - xd
    fy = y * radial + p1 * (r2 + 2.0 * y2) + 2.0 * p2 * xy - yd
    a = radial + 2.0 * x2 * dradial + 2.0 * p1 * y + 6.0 * p2 * x
    b = 2.0 * xy * dradial + 2.0 * p1 * x + 2.0 * p2 * y
    d = radial + 2.0 * y2 * dradial + 6.0 * p1 * y + 2.0 * p2 * x
    inv = 1.0 / (a * d - b * b)
    dx = (d * fx - b * fy) * inv
    dy = (a * fy - b * fx) * inv
    return x - dx, y - dy, abs(dx) + abs(dy)


@njit(cache=True, inline="always", error_model="numpy")
def _unfolded(x, y, k1, k2, k3):
    """Whether the radial distortion still grows with the radius at ``(x, y)``.

    Past the fold of a strong barrel lens, Newton can converge to a second, meaningless preimage;
    such points are left to OpenCV's iteration (the NumPy path), as they would be without numba.
    """
    r2 = x * x + y * y
    return 1.0 + r2 * (3.0 * k1 + r2 * (5.0 * k2 + 7.0 * k3 * r2)) > 0.0


@njit(cache=True, inline="always", error_model="numpy")
def _distorted(v, p, pixels, inv_fx, skew, cx, inv_fy, cy):
    """Normalized distorted coordinates of pixel ``p`` of view ``v`` (1/f precomputed: a product
    instead of a division, the same to one rounding)."""
    yd = (pixels[v, p, 1] - cy) * inv_fy
    return (pixels[v, p, 0] - cx - skew * yd) * inv_fx, yd


@njit(cache=True, error_model="numpy", fastmath=LINEAR_MATH)
def _undistort_view(v, first, n, pixels, weights, min_weight, intrinsics, dist, nx, ny, w, step):
    """Normalized coordinates ``nx, ny`` and weights ``w`` of view ``v``, points ``first`` to
    ``first + n``; returns whether some used point's Newton iteration did not converge.

    Newton starts from the series inverse of the radial distortion (Drap & Lefèvre 2016, three
    terms) applied to the point with its tangential distortion taken off: within ~1e-6 of the
    answer for ordinary lenses, so two Newton steps reach rounding (the fixed-point start needed
    three). The Newton loop has no early exit, so LLVM vectorizes it over points; the points
    that have not converged after two steps (strong lenses, far out) finish in a scalar loop of
    up to :data:`NEWTON_STEPS` steps. A point has converged when its last step was below
    :data:`NEWTON_TOLERANCE` and the lens is not folded there (:func:`_unfolded`).
    """
    weighted = weights.shape[0] > 0
    inv_fx, skew, cx, inv_fy, cy = 1.0 / intrinsics[v, 0], intrinsics[v, 1], intrinsics[v, 2], 1.0 / intrinsics[v, 3], \
        intrinsics[v, 4]
    k1, k2, p1, p2, k3 = dist[v, 0], dist[v, 1], dist[v, 2], dist[v, 3], dist[v, 4]
    for i in range(n):
        p = first + i
        wv = weights[v, p] if weighted else 1.0
        usable = np.isfinite(pixels[v, p, 0]) and np.isfinite(pixels[v, p, 1]) and np.isfinite(wv) and wv > 0.0 \
            and wv > min_weight
        w[v, i] = wv if usable else 0.0
        nx[v, i], ny[v, i] = _distorted(v, p, pixels, inv_fx, skew, cx, inv_fy, cy)
    if k1 == 0.0 and k2 == 0.0 and p1 == 0.0 and p2 == 0.0 and k3 == 0.0:
        return False
    # coefficients of the inverse radial series r = rd (1 + b1 rd² + b2 rd⁴ + b3 rd⁶)
    b1 = -k1
    b2 = 3.0 * k1 * k1 - k2
    b3 = k1 * (8.0 * k2 - 12.0 * k1 * k1) - k3
    # in place (reading the pixels here, a strided 3-d array, would keep LLVM from vectorizing)
    for i in range(n):
        xd = nx[v, i]
        yd = ny[v, i]
        r2 = xd * xd + yd * yd
        xy = xd * yd
        x = xd - (2.0 * p1 * xy + p2 * (r2 + 2.0 * xd * xd))
        y = yd - (p1 * (r2 + 2.0 * yd * yd) + 2.0 * p2 * xy)
        r2 = x * x + y * y
        s = 1.0 + r2 * (b1 + r2 * (b2 + r2 * b3))
        x, y, s = _newton_step(x * s, y * s, xd, yd, k1, k2, p1, p2, k3)
        x, y, s = _newton_step(x, y, xd, yd, k1, k2, p1, p2, k3)
        nx[v, i] = x
        ny[v, i] = y
        step[i] = s if _unfolded(x, y, k1, k2, k3) else np.inf
    failed = False
    for i in range(n):
        if w[v, i] == 0.0 or step[i] < NEWTON_TOLERANCE:
            continue
        xd, yd = _distorted(v, first + i, pixels, inv_fx, skew, cx, inv_fy, cy)
        x = nx[v, i]
        y = ny[v, i]
        s = step[i]
        for _ in range(NEWTON_STEPS):
            x, y, s = _newton_step(x, y, xd, yd, k1, k2, p1, p2, k3)
            if s < NEWTON_TOLERANCE:
                break
        nx[v, i] = x
        ny[v, i] = y
        if not (s < NEWTON_TOLERANCE and _unfolded(x, y, k1, k2, k3)):
            step[i] = np.inf
            failed = True
    return failed


@njit(cache=True, error_model="numpy", fastmath=LINEAR_MATH)
def _accumulate(v, n, nx, ny, w, terms, acc):
    """Add view ``v``'s share of the normal equations of points ``0..n`` to ``acc`` ``(9, point)``.

    ``terms`` ``(camera, 4, 9)``: per camera, the constant matrices that the features
    ``w² (x² + y²), w² x, w² y, w²`` of a point multiply (``triangulation._camera_terms``). The
    36 terms are held in locals (they stay in registers) and each point's features are formed
    once for the 9 sums.
    """
    t = terms[v]
    a0, a1, a2, a3, a4, a5, a6, a7, a8 = t[0, 0], t[0, 1], t[0, 2], t[0, 3], t[0, 4], t[0, 5], t[0, 6], t[0, 7], t[0, 8]
    b0, b1, b2, b3, b4, b5, b6, b7, b8 = t[1, 0], t[1, 1], t[1, 2], t[1, 3], t[1, 4], t[1, 5], t[1, 6], t[1, 7], t[1, 8]
    c0, c1, c2, c3, c4, c5, c6, c7, c8 = t[2, 0], t[2, 1], t[2, 2], t[2, 3], t[2, 4], t[2, 5], t[2, 6], t[2, 7], t[2, 8]
    d0, d1, d2, d3, d4, d5, d6, d7, d8 = t[3, 0], t[3, 1], t[3, 2], t[3, 3], t[3, 4], t[3, 5], t[3, 6], t[3, 7], t[3, 8]
    for i in range(n):
        f3 = w[v, i] * w[v, i]
        f1 = f3 * nx[v, i]
        f2 = f3 * ny[v, i]
        f0 = f1 * nx[v, i] + f2 * ny[v, i]
        acc[0, i] += f0 * a0 + f1 * b0 + f2 * c0 + f3 * d0
        acc[1, i] += f0 * a1 + f1 * b1 + f2 * c1 + f3 * d1
        acc[2, i] += f0 * a2 + f1 * b2 + f2 * c2 + f3 * d2
        acc[3, i] += f0 * a3 + f1 * b3 + f2 * c3 + f3 * d3
        acc[4, i] += f0 * a4 + f1 * b4 + f2 * c4 + f3 * d4
        acc[5, i] += f0 * a5 + f1 * b5 + f2 * c5 + f3 * d5
        acc[6, i] += f0 * a6 + f1 * b6 + f2 * c6 + f3 * d6
        acc[7, i] += f0 * a7 + f1 * b7 + f2 * c7 + f3 * d7
        acc[8, i] += f0 * a8 + f1 * b8 + f2 * c8 + f3 * d8


@njit(cache=True, error_model="numpy", fastmath=LINEAR_MATH)
def _solve(n, acc, ok, X, Y, Z):
    """Solve the summed normal equations ``acc`` of points ``0..n`` into ``X, Y, Z`` where ``ok``,
    by cofactors. A singular system gives NaN, as in the NumPy reference."""
    for i in range(n):
        m00 = acc[0, i]
        m01 = acc[1, i]
        m02 = acc[2, i]
        m11 = acc[3, i]
        m12 = acc[4, i]
        m22 = acc[5, i]
        b0 = acc[6, i]
        b1 = acc[7, i]
        b2 = acc[8, i]
        c00 = m11 * m22 - m12 * m12
        c01 = m02 * m12 - m01 * m22
        c02 = m01 * m12 - m02 * m11
        c11 = m00 * m22 - m02 * m02
        c12 = m01 * m02 - m00 * m12
        c22 = m00 * m11 - m01 * m01
        det = m00 * c00 + m01 * c01 + m02 * c02
        scale = max(m00 + m11 + m22, 1e-300)
        inv = 1.0 / det if abs(det) > 1e-12 * scale * scale * scale else np.nan
        if ok[i]:
            X[i] = (c00 * b0 + c01 * b1 + c02 * b2) * inv
            Y[i] = (c01 * b0 + c11 * b1 + c12 * b2) * inv
            Z[i] = (c02 * b0 + c12 * b1 + c22 * b2) * inv


@njit(cache=True, error_model="numpy", fastmath=LINEAR_MATH)
def _block(first, n, pixels, weights, min_weight, intrinsics, dist, ext, terms, refine, errors, points, error, used,
           status, nx, ny, w, wr, acc, step, ok, X, Y, Z, seen):
    """Points ``first`` to ``first + n`` (at most the scratch arrays' length), one stage at a time."""
    n_views = pixels.shape[0]
    status[first:first + n] = OK
    seen[:n] = 0
    acc[:, :n] = 0.0
    for v in range(n_views):
        if _undistort_view(v, first, n, pixels, weights, min_weight, intrinsics, dist, nx, ny, w, step):
            for i in range(n):
                if w[v, i] != 0.0 and not step[i] < NEWTON_TOLERANCE:
                    status[first + i] = UNDISTORT_FAILED
        for i in range(n):
            # an unused view must add nothing, not 0 * NaN
            usable = w[v, i] != 0.0 and np.isfinite(nx[v, i]) and np.isfinite(ny[v, i])
            w[v, i] = w[v, i] if usable else 0.0
            nx[v, i] = nx[v, i] if usable else 0.0
            ny[v, i] = ny[v, i] if usable else 0.0
            seen[i] += 1 if usable else 0
        _accumulate(v, n, nx, ny, w, terms, acc)
    ok[:n] = True
    _solve(n, acc, ok, X, Y, Z)
    for _ in range(refine):
        # keep the current solution where reweighting is impossible (a point behind any camera,
        # even an unused one, or no solution), as the NumPy reference does
        ok[:n] = True
        acc[:, :n] = 0.0
        for v in range(n_views):
            e0, e1, e2, e3 = ext[v, 2, 0], ext[v, 2, 1], ext[v, 2, 2], ext[v, 2, 3]
            for i in range(n):
                depth = e0 * X[i] + e1 * Y[i] + e2 * Z[i] + e3
                good = np.isfinite(depth) and depth > 0.0
                wr[v, i] = w[v, i] / depth if good else 0.0
                ok[i] = ok[i] and (good or seen[i] == 0)
            _accumulate(v, n, nx, ny, wr, terms, acc)
        _solve(n, acc, ok, X, Y, Z)
    for i in range(n):
        few = seen[i] < 2
        points[first + i, 0] = np.nan if few else X[i]
        points[first + i, 1] = np.nan if few else Y[i]
        points[first + i, 2] = np.nan if few else Z[i]
        found = not few and np.isfinite(X[i]) and np.isfinite(Y[i]) and np.isfinite(Z[i])
        for v in range(n_views):
            used[v, first + i] = found and w[v, i] != 0.0
    if not errors:
        return
    for v in range(n_views):
        fx, skew, cx, fy, cy = intrinsics[v, 0], intrinsics[v, 1], intrinsics[v, 2], intrinsics[v, 3], intrinsics[v, 4]
        k1, k2, p1, p2, k3 = dist[v, 0], dist[v, 1], dist[v, 2], dist[v, 3], dist[v, 4]
        r00, r01, r02, r03 = ext[v, 0, 0], ext[v, 0, 1], ext[v, 0, 2], ext[v, 0, 3]
        r10, r11, r12, r13 = ext[v, 1, 0], ext[v, 1, 1], ext[v, 1, 2], ext[v, 1, 3]
        r20, r21, r22, r23 = ext[v, 2, 0], ext[v, 2, 1], ext[v, 2, 2], ext[v, 2, 3]
        for i in range(n):
            p = first + i
            px = points[p, 0]
            py = points[p, 1]
            pz = points[p, 2]
            cz = r20 * px + r21 * py + r22 * pz + r23
            inv = 1.0 / cz
            x = (r00 * px + r01 * py + r02 * pz + r03) * inv
            y = (r10 * px + r11 * py + r12 * pz + r13) * inv
            x2 = x * x
            y2 = y * y
            xy = x * y
            r2 = x2 + y2
            radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
            xd = x * radial + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x2)
            yd = y * radial + p1 * (r2 + 2.0 * y2) + 2.0 * p2 * xy
            du = fx * xd + skew * yd + cx - pixels[v, p, 0]
            dv = fy * yd + cy - pixels[v, p, 1]
            e = np.sqrt(du * du + dv * dv)
            # behind the camera the projection is undefined (NaN), as in Camera.project
            error[v, p] = e if (w[v, i] != 0.0 and cz > 0.0) else np.nan


@njit(cache=True, error_model="numpy", fastmath=LINEAR_MATH)
def _points(first, last, pixels, weights, min_weight, intrinsics, dist, ext, terms, refine, errors, points, error,
            used, status):
    """Points ``first`` to ``last`` (exclusive), :data:`BLOCK` at a time; the scratch arrays of a
    block are allocated once for the range (they stay in cache from one block to the next)."""
    n_views = pixels.shape[0]
    size = max(min(BLOCK, last - first), 0)
    nx = np.empty((n_views, size))
    ny = np.empty((n_views, size))
    w = np.empty((n_views, size))
    wr = np.empty((n_views, size))
    acc = np.empty((9, size))
    step = np.empty(size)
    ok = np.empty(size, dtype=np.bool_)
    X = np.empty(size)
    Y = np.empty(size)
    Z = np.empty(size)
    seen = np.empty(size, dtype=np.int64)
    for start in range(first, last, BLOCK):
        _block(start, min(BLOCK, last - start), pixels, weights, min_weight, intrinsics, dist, ext, terms, refine,
               errors, points, error, used, status, nx, ny, w, wr, acc, step, ok, X, Y, Z, seen)


@njit(cache=True, parallel=True, fastmath=LINEAR_MATH, error_model="numpy")
def _run_parallel(pixels, weights, min_weight, intrinsics, dist, ext, terms, refine, errors, points, error, used,
                  status, threads):
    n_points = pixels.shape[1]
    n_blocks = (n_points + BLOCK - 1) // BLOCK
    # a few ranges of whole blocks per thread: the threads share the work evenly and each range
    # allocates its scratch once
    n_ranges = max(min(n_blocks, 4 * threads), 1)
    for r in prange(n_ranges):
        first = (r * n_blocks // n_ranges) * BLOCK
        last = min(((r + 1) * n_blocks // n_ranges) * BLOCK, n_points)
        _points(first, last, pixels, weights, min_weight, intrinsics, dist, ext, terms, refine, errors, points, error,
                used, status)


@njit(cache=True, fastmath=LINEAR_MATH, error_model="numpy")
def _run_serial(pixels, weights, min_weight, intrinsics, dist, ext, terms, refine, errors, points, error, used, status):
    _points(0, pixels.shape[1], pixels, weights, min_weight, intrinsics, dist, ext, terms, refine, errors, points,
            error, used, status)


def triangulate_views(
    pixels: np.ndarray,
    weights: np.ndarray | None,
    intrinsics: np.ndarray,
    dist: np.ndarray,
    extrinsics: np.ndarray,
    terms: np.ndarray,
    *,
    min_weight: float = 0.0,
    refine: int = 1,
    errors: bool = True,
    parallel: bool | None = None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Undistort, triangulate and reproject every point in one compiled pass.

    Parameters
    ----------
    pixels
        ``(camera, point, 2)`` distorted pixels (normalized coordinates for cameras passed with an
        identity ``intrinsics`` row); NaN where not seen.
    weights
        ``(camera, point)`` non-negative weights, or None for 1 everywhere; a view is used where its
        pixel is finite and its weight finite, positive and above ``min_weight``.
    intrinsics, dist, extrinsics
        From :func:`camera_arrays`.
    terms
        ``(4 camera, 9)`` normal-equation terms of ``extrinsics``
        (:func:`deepbehavior.geometry.triangulation._camera_terms`).
    refine
        Depth-reweighted re-solves.
    errors
        Whether to compute the reprojection error of each used view.
    parallel
        Spread points over threads; default: only for :data:`PARALLEL_MIN_POINTS` points or more
        and when called from the main thread (Dask's worker threads already run chunks side by
        side).

    Returns
    -------
    points : numpy.ndarray
        ``(point, 3)`` world points; NaN where fewer than two usable views.
    error : numpy.ndarray or None
        ``(camera, point)`` reprojection error in the units of ``pixels``, NaN for unused views.
    used : numpy.ndarray
        ``(camera, point)`` bool: the views each (finite) point was computed from.
    status : numpy.ndarray
        ``(point,)`` uint8: 0, or 1 where Newton's undistortion of some view did not converge
        (the caller recomputes those points another way).
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.float64)
    if parallel is None:
        parallel = pixels.shape[1] >= PARALLEL_MIN_POINTS and threading.current_thread() is threading.main_thread()
    weights = _NO_WEIGHTS if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    n_views, n_points = pixels.shape[:2]
    points = np.empty((n_points, 3))
    error = np.empty((n_views, n_points) if errors else (0, 0))
    used = np.empty((n_views, n_points), dtype=np.bool_)
    status = np.empty(n_points, dtype=np.uint8)
    args = (pixels, weights, float(min_weight), np.ascontiguousarray(intrinsics, dtype=np.float64),
            np.ascontiguousarray(dist, dtype=np.float64), np.ascontiguousarray(extrinsics, dtype=np.float64),
            np.ascontiguousarray(terms, dtype=np.float64).reshape(n_views, 4, 9), int(refine), bool(errors), points,
            error, used, status)
    if parallel:
        _run_parallel(*args, get_num_threads())
    else:
        _run_serial(*args)
    return points, (error if errors else None), used, status


# --------------------------------------------------------------------------------------------------
# Consensus (RANSAC over views) triangulation


@njit(cache=True, inline="always", error_model="numpy")
def _solve_subset(i, mask, nx, ny, w, ext, refine):
    """Weighted linear triangulation of point ``i`` from the views where ``mask``; NaN when singular.

    Builds the 3x3 normal equations of the rows ``w (x r3 - r1)``, ``w (y r3 - r2)`` directly and
    re-solves ``refine`` times with each view's rows divided by the point's depth there (the rule
    of :func:`deepbehavior.geometry.triangulation.linear_triangulation`).
    """
    X = np.nan
    Y = np.nan
    Z = np.nan
    for it in range(refine + 1):
        m00 = m01 = m02 = m11 = m12 = m22 = b0 = b1 = b2 = 0.0
        behind = False
        for v in range(nx.shape[0]):
            if not mask[v]:
                continue
            wv = w[v, i]
            if it > 0:
                depth = ext[v, 2, 0] * X + ext[v, 2, 1] * Y + ext[v, 2, 2] * Z + ext[v, 2, 3]
                if not (depth > 0.0):
                    behind = True
                    break
                wv = wv / depth
            w2 = wv * wv
            x = nx[v, i]
            y = ny[v, i]
            a0 = x * ext[v, 2, 0] - ext[v, 0, 0]
            a1 = x * ext[v, 2, 1] - ext[v, 0, 1]
            a2 = x * ext[v, 2, 2] - ext[v, 0, 2]
            a3 = x * ext[v, 2, 3] - ext[v, 0, 3]
            c0 = y * ext[v, 2, 0] - ext[v, 1, 0]
            c1 = y * ext[v, 2, 1] - ext[v, 1, 1]
            c2 = y * ext[v, 2, 2] - ext[v, 1, 2]
            c3 = y * ext[v, 2, 3] - ext[v, 1, 3]
            m00 += w2 * (a0 * a0 + c0 * c0)
            m01 += w2 * (a0 * a1 + c0 * c1)
            m02 += w2 * (a0 * a2 + c0 * c2)
            m11 += w2 * (a1 * a1 + c1 * c1)
            m12 += w2 * (a1 * a2 + c1 * c2)
            m22 += w2 * (a2 * a2 + c2 * c2)
            b0 -= w2 * (a0 * a3 + c0 * c3)
            b1 -= w2 * (a1 * a3 + c1 * c3)
            b2 -= w2 * (a2 * a3 + c2 * c3)
        if behind:
            break  # keep the previous solution, as the linear reference does
        c00 = m11 * m22 - m12 * m12
        c01 = m02 * m12 - m01 * m22
        c02 = m01 * m12 - m02 * m11
        c11 = m00 * m22 - m02 * m02
        c12 = m01 * m02 - m00 * m12
        c22 = m00 * m11 - m01 * m01
        det = m00 * c00 + m01 * c01 + m02 * c02
        scale = max(m00 + m11 + m22, 1e-300)
        if not (abs(det) > 1e-12 * scale * scale * scale):
            return np.nan, np.nan, np.nan
        inv = 1.0 / det
        X = (c00 * b0 + c01 * b1 + c02 * b2) * inv
        Y = (c01 * b0 + c11 * b1 + c12 * b2) * inv
        Z = (c02 * b0 + c12 * b1 + c22 * b2) * inv
    return X, Y, Z


@njit(cache=True, error_model="numpy", fastmath=False)
def _solve3(m00, m01, m02, m11, m12, m22, b0, b1, b2):
    """Solution of the symmetric 3x3 system by cofactors; NaN when (nearly) singular."""
    c00 = m11 * m22 - m12 * m12
    c01 = m02 * m12 - m01 * m22
    c02 = m01 * m12 - m02 * m11
    c11 = m00 * m22 - m02 * m02
    c12 = m01 * m02 - m00 * m12
    c22 = m00 * m11 - m01 * m01
    det = m00 * c00 + m01 * c01 + m02 * c02
    scale = max(m00 + m11 + m22, 1e-300)
    if not (abs(det) > 1e-12 * scale * scale * scale):
        return np.nan, np.nan, np.nan
    inv = 1.0 / det
    return ((c00 * b0 + c01 * b1 + c02 * b2) * inv, (c01 * b0 + c11 * b1 + c12 * b2) * inv,
            (c02 * b0 + c12 * b1 + c22 * b2) * inv)


@njit(cache=True, error_model="numpy", fastmath=False)
def _others_agree(i, p, sub, X, Y, Z, nx, ny, w, ext, pixels, intrinsics, dist, px_scale, terms, threshold):
    """Whether every view of ``sub`` lies within ``threshold`` pixels of the point the subset's
    other views give (leave-one-out, each view's rows weighted by the inverse of its depth at the
    subset's point ``X, Y, Z``, one linear solve each).

    A view's error in a fit that includes it understates its disagreement (the fit leans
    towards it); its distance from the others' point does not.
    """
    total = np.zeros(9)
    for v in range(nx.shape[0]):
        if not sub[v]:
            continue
        depth = ext[v, 2, 0] * X + ext[v, 2, 1] * Y + ext[v, 2, 2] * Z + ext[v, 2, 3]
        if not (depth > 0.0):
            return False
        wv = w[v, i] / depth
        w2 = wv * wv
        x = nx[v, i]
        y = ny[v, i]
        a0 = x * ext[v, 2, 0] - ext[v, 0, 0]
        a1 = x * ext[v, 2, 1] - ext[v, 0, 1]
        a2 = x * ext[v, 2, 2] - ext[v, 0, 2]
        a3 = x * ext[v, 2, 3] - ext[v, 0, 3]
        c0 = y * ext[v, 2, 0] - ext[v, 1, 0]
        c1 = y * ext[v, 2, 1] - ext[v, 1, 1]
        c2 = y * ext[v, 2, 2] - ext[v, 1, 2]
        c3 = y * ext[v, 2, 3] - ext[v, 1, 3]
        terms[v, 0] = w2 * (a0 * a0 + c0 * c0)
        terms[v, 1] = w2 * (a0 * a1 + c0 * c1)
        terms[v, 2] = w2 * (a0 * a2 + c0 * c2)
        terms[v, 3] = w2 * (a1 * a1 + c1 * c1)
        terms[v, 4] = w2 * (a1 * a2 + c1 * c2)
        terms[v, 5] = w2 * (a2 * a2 + c2 * c2)
        terms[v, 6] = -w2 * (a0 * a3 + c0 * c3)
        terms[v, 7] = -w2 * (a1 * a3 + c1 * c3)
        terms[v, 8] = -w2 * (a2 * a3 + c2 * c3)
        for k in range(9):
            total[k] += terms[v, k]
    for v in range(nx.shape[0]):
        if not sub[v]:
            continue
        ox, oy, oz = _solve3(total[0] - terms[v, 0], total[1] - terms[v, 1], total[2] - terms[v, 2],
                             total[3] - terms[v, 3], total[4] - terms[v, 4], total[5] - terms[v, 5],
                             total[6] - terms[v, 6], total[7] - terms[v, 7], total[8] - terms[v, 8])
        e = _reprojection(v, ox, oy, oz, pixels[v, p, 0], pixels[v, p, 1], intrinsics, dist, ext) * px_scale[v]
        if not (e < threshold):
            return False
    return True


@njit(cache=True, inline="always", error_model="numpy")
def _reprojection(v, X, Y, Z, u, q, intrinsics, dist, ext):
    """Pixel distance between the projection of ``(X, Y, Z)`` in camera ``v`` and ``(u, q)``;
    inf behind the camera or for a non-finite point."""
    cz = ext[v, 2, 0] * X + ext[v, 2, 1] * Y + ext[v, 2, 2] * Z + ext[v, 2, 3]
    if not (cz > 0.0):
        return np.inf
    x = (ext[v, 0, 0] * X + ext[v, 0, 1] * Y + ext[v, 0, 2] * Z + ext[v, 0, 3]) / cz
    y = (ext[v, 1, 0] * X + ext[v, 1, 1] * Y + ext[v, 1, 2] * Z + ext[v, 1, 3]) / cz
    k1, k2, p1, p2, k3 = dist[v, 0], dist[v, 1], dist[v, 2], dist[v, 3], dist[v, 4]
    x2 = x * x
    y2 = y * y
    xy = x * y
    r2 = x2 + y2
    radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x2)
    yd = y * radial + p1 * (r2 + 2.0 * y2) + 2.0 * p2 * xy
    du = intrinsics[v, 0] * xd + intrinsics[v, 1] * yd + intrinsics[v, 2] - u
    dv = intrinsics[v, 3] * yd + intrinsics[v, 4] - q
    e = np.sqrt(du * du + dv * dv)
    return e if np.isfinite(e) else np.inf


@njit(cache=True, inline="always")
def _popcount(mask):
    count = 0
    while mask:
        count += mask & 1
        mask >>= 1
    return count


@njit(cache=True, error_model="numpy", fastmath=False)
def _consensus_points(first, last, pixels, weights, min_weight, intrinsics, dist, ext, px_scale, penalty, refine,
                      threshold, points, error, used, status):
    """Points ``first`` to ``last``: the largest subset of usable views whose own fit reprojects
    within ``threshold`` in each of its views (the lowest sum of squared errors among those of that
    size); when no pair even qualifies, the pair with the lowest sum of squared errors."""
    n_views = pixels.shape[0]
    n = last - first
    nx = np.empty((n_views, n))
    ny = np.empty((n_views, n))
    w = np.empty((n_views, n))
    step = np.empty(n)
    status[first:last] = OK
    for v in range(n_views):
        if _undistort_view(v, first, n, pixels, weights, min_weight, intrinsics, dist, nx, ny, w, step):
            for i in range(n):
                if w[v, i] != 0.0 and not step[i] < NEWTON_TOLERANCE:
                    status[first + i] = UNDISTORT_FAILED
        for i in range(n):
            usable = w[v, i] != 0.0 and np.isfinite(nx[v, i]) and np.isfinite(ny[v, i])
            w[v, i] = w[v, i] if usable else 0.0
    sub = np.zeros(n_views, dtype=np.bool_)
    terms = np.empty((n_views, 9))
    for i in range(n):
        p = first + i
        seen_mask = 0
        m = 0
        for v in range(n_views):
            if w[v, i] != 0.0:
                seen_mask |= 1 << v
                m += 1
        X = Y = Z = np.nan
        chosen = 0
        fallback = 0
        fallback_sse = np.inf
        fx = fy = fz = np.nan
        for k in range(m, 1, -1):
            best = np.inf
            for mask in range(3, 1 << n_views):
                if mask & ~seen_mask or _popcount(mask) != k:
                    continue
                for v in range(n_views):
                    sub[v] = (mask >> v) & 1 == 1
                hx, hy, hz = _solve_subset(i, sub, nx, ny, w, ext, refine)
                if not (np.isfinite(hx) and np.isfinite(hy) and np.isfinite(hz)):
                    continue
                worst = 0.0
                sse = 0.0
                for v in range(n_views):
                    if sub[v]:
                        ev = _reprojection(v, hx, hy, hz, pixels[v, p, 0], pixels[v, p, 1], intrinsics, dist,
                                           ext) * px_scale[v]
                        worst = max(worst, ev)
                        sse += ev * ev + penalty[v]
                if k == 2 and sse < fallback_sse:
                    fallback_sse = sse
                    fallback = mask
                    fx, fy, fz = hx, hy, hz
                if worst < threshold and sse < best and (
                        k == 2 or _others_agree(i, p, sub, hx, hy, hz, nx, ny, w, ext, pixels, intrinsics, dist,
                                                px_scale, terms, threshold)):
                    best = sse
                    chosen = mask
                    X, Y, Z = hx, hy, hz
            if chosen:
                break
        if not chosen and fallback:
            chosen = fallback
            X, Y, Z = fx, fy, fz
        points[p, 0] = X
        points[p, 1] = Y
        points[p, 2] = Z
        finite = np.isfinite(X) and np.isfinite(Y) and np.isfinite(Z)
        for v in range(n_views):
            used[v, p] = finite and (chosen >> v) & 1 == 1
            ev = np.nan
            if finite and w[v, i] != 0.0:
                ev = _reprojection(v, X, Y, Z, pixels[v, p, 0], pixels[v, p, 1], intrinsics, dist, ext)
                ev = ev if np.isfinite(ev) else np.nan
            error[v, p] = ev


@njit(cache=True, parallel=True, fastmath=False, error_model="numpy")
def _consensus_parallel(pixels, weights, min_weight, intrinsics, dist, ext, px_scale, penalty, refine, threshold, points,
                        error, used, status):
    n_points = pixels.shape[1]
    n_blocks = (n_points + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        _consensus_points(b * BLOCK, min((b + 1) * BLOCK, n_points), pixels, weights, min_weight, intrinsics, dist,
                          ext, px_scale, penalty, refine, threshold, points, error, used, status)


@njit(cache=True, fastmath=False, error_model="numpy")
def _consensus_serial(pixels, weights, min_weight, intrinsics, dist, ext, px_scale, penalty, refine, threshold, points,
                      error, used, status):
    n_points = pixels.shape[1]
    for start in range(0, n_points, BLOCK):
        _consensus_points(start, min(start + BLOCK, n_points), pixels, weights, min_weight, intrinsics, dist, ext,
                          px_scale, penalty, refine, threshold, points, error, used, status)


def consensus_views(
    pixels: np.ndarray,
    weights: np.ndarray | None,
    intrinsics: np.ndarray,
    dist: np.ndarray,
    extrinsics: np.ndarray,
    *,
    px_scale: np.ndarray | None = None,
    penalty: np.ndarray | None = None,
    min_weight: float = 0.0,
    refine: int = 1,
    threshold: float = 20.0,
    parallel: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Triangulate every point from the largest subset of its views that agree.

    Subsets of a point's usable views are tried from the largest down (all views first, so a
    point whose views agree costs one subset); a subset agrees when the weighted linear fit on it
    reprojects within ``threshold`` pixels in each of its views and, for three views or more, each
    view also lies within ``threshold`` of the point its other views give (leave-one-out: a wrong
    view pulls the fit towards itself, which hides part of its error). Among agreeing subsets of the
    largest size, the lowest sum of squared errors wins. When not even a pair agrees, the pair
    with the lowest sum of squared errors is used (its errors show it). At most
    :data:`MAX_CONSENSUS_VIEWS` cameras.

    Parameters
    ----------
    pixels, weights, intrinsics, dist, extrinsics, min_weight, refine, parallel
        As in :func:`triangulate_views`.
    px_scale
        ``(camera,)`` factor from the units of ``pixels`` to pixels (the focal length for cameras
        passed in normalized coordinates; 1 otherwise).
    penalty
        ``(camera,)`` squared pixels added to the score of every subset holding the camera: among
        agreeing subsets of one size, those without a distrusted camera win (default 0).
    threshold
        Inlier reprojection error in pixels.

    Returns
    -------
    points : numpy.ndarray
        ``(point, 3)``; NaN where fewer than two usable views.
    error : numpy.ndarray
        ``(camera, point)`` reprojection error of the final point in every usable view (inliers and
        outliers) in the units of ``pixels``; NaN where the view is unusable or the point missing.
    used : numpy.ndarray
        ``(camera, point)`` bool: the views the final point was fitted on.
    status : numpy.ndarray
        ``(point,)`` uint8 as in :func:`triangulate_views`.
    """
    if parallel is None:
        parallel = threading.current_thread() is threading.main_thread()
    pixels = np.ascontiguousarray(pixels, dtype=np.float64)
    weights = np.zeros((0, 0)) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    n_views, n_points = pixels.shape[:2]
    if n_views > MAX_CONSENSUS_VIEWS:
        raise ValueError(f"Expected at most {MAX_CONSENSUS_VIEWS} cameras for consensus triangulation, "
                         f"but got {n_views}")
    scale = np.ones(n_views) if px_scale is None else np.ascontiguousarray(px_scale, dtype=np.float64)
    points = np.empty((n_points, 3))
    error = np.empty((n_views, n_points))
    used = np.empty((n_views, n_points), dtype=np.bool_)
    status = np.empty(n_points, dtype=np.uint8)
    run = _consensus_parallel if parallel else _consensus_serial
    penalty = np.zeros(n_views) if penalty is None else np.ascontiguousarray(penalty, dtype=np.float64)
    run(pixels, weights, float(min_weight), np.ascontiguousarray(intrinsics, dtype=np.float64),
        np.ascontiguousarray(dist, dtype=np.float64), np.ascontiguousarray(extrinsics, dtype=np.float64), scale,
        penalty, int(refine), float(threshold), points, error, used, status)
    return points, error, used, status
