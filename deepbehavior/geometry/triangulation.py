"""Triangulation: 3D points from the 2D observations of several calibrated cameras.

Three methods, all vectorised over points (no Python loop per point):

- ``"dlt"``: N-view linear triangulation. Each camera contributes the two rows
  ``w (x r3 - r1)``, ``w (y r3 - r2)`` of ``[R | t]`` in normalized (undistorted) coordinates,
  weighted by its confidence ``w``; the 4x4 normal equations are solved in closed form with the
  homogeneous coordinate fixed to 1. ``refine`` re-solves with each row divided by the point's
  depth in that camera, which turns the algebraic residual into the normalized reprojection
  residual (Hartley & Sturm's iterative linear method): as cheap as one more solve, more accurate
  than a plain DLT when the cameras see the point at different depths.
- ``"robust"``: the largest subset of a point's views that agree: subsets are tried from all
  views down to pairs, and one agrees when its own ``"dlt"`` fit reprojects within ``max_error``
  pixels in each of its views (the lowest sum of squared errors among agreeing subsets of one
  size wins; when not even a pair agrees, the best pair). A camera that is wrong for every point
  is thus outvoted, rather than masking the outlier and getting the good views dropped, as the
  former "drop the worst view" rule did. When the first pass names a camera as wrong across the
  points (:func:`.diagnostics.flag_cameras`), a second pass breaks ties against it (with three
  cameras a wrong view and a good one can agree by chance as well as the two good ones). Up to
  12 cameras.
- ``"midpoint"``: two cameras only, the midpoint of the shortest segment between the two rays,
  as the Caltech toolbox's ``stereo_triangulation`` (DeepBehavior's 3D).

:func:`triangulate_dataset` applies them lazily (Dask), chunk by chunk along ``time``, to a
multi-view poses or boxes dataset, so a store larger than memory is processed with bounded memory.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from .. import schema, store
from .camera import CameraGroup

#: Triangulation methods (``triangulate.method`` of the job): a branch of :func:`triangulate` each.
METHODS = ("dlt", "robust", "midpoint")
ENGINES = ("auto", "numba", "numpy")


def check_method(method: str) -> None:
    """Raise the one-line error for a ``method`` not in :data:`METHODS` (before any work)."""
    if method not in METHODS:
        raise ValueError(f"Expected triangulate.method one of {', '.join(METHODS)}, but got {method!r}")


def _camera_terms(ext: np.ndarray) -> np.ndarray:
    """Constant ``(4 V, 9)`` matrix mapping per-point features to the normal equations.

    With ``a = x r3 - r1`` and ``b = y r3 - r2`` (rows of ``[R | t]``), one view adds
    ``w² (a aᵀ + b bᵀ) = w²(x² + y²) r3 r3ᵀ - w² x (r3 r1ᵀ + r1 r3ᵀ) - w² y (r3 r2ᵀ + r2 r3ᵀ)
    + w² (r1 r1ᵀ + r2 r2ᵀ)``: four scalars per point times four constant matrices. So the
    normal equations of all points are one matrix product, features ``(P, 4 V)`` times this.
    Columns: the 6 distinct entries of the symmetric 3x3 block, then the 3 of its right-hand side.
    """
    blocks = []
    for r1, r2, r3 in ext:
        for term in (np.outer(r3, r3), -(np.outer(r3, r1) + np.outer(r1, r3)),
                     -(np.outer(r3, r2) + np.outer(r2, r3)), np.outer(r1, r1) + np.outer(r2, r2)):
            blocks.append([term[0, 0], term[0, 1], term[0, 2], term[1, 1], term[1, 2], term[2, 2],
                           -term[0, 3], -term[1, 3], -term[2, 3]])
    return np.asarray(blocks)


def _solve_normal_equations(x: np.ndarray, y: np.ndarray, w: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Least-squares point of the weighted linear system, ``(P, 3)``.

    ``x``, ``y``, ``w``: ``(V, P)`` normalized coordinates and row weights (0 for unused views);
    ``terms`` from :func:`_camera_terms`. The symmetric 3x3 systems are solved by cofactors,
    because a batched LAPACK call per 3x3 system costs ten times more than these array operations.
    """
    w2 = w * w
    features = np.empty((x.shape[0], 4, x.shape[1]))
    np.multiply(w2, x * x + y * y, out=features[:, 0])
    np.multiply(w2, x, out=features[:, 1])
    np.multiply(w2, y, out=features[:, 2])
    features[:, 3] = w2
    m00, m01, m02, m11, m12, m22, b0, b1, b2 = terms.T @ features.reshape(-1, x.shape[1])
    c00 = m11 * m22 - m12 * m12
    c01 = m02 * m12 - m01 * m22
    c02 = m01 * m12 - m02 * m11
    c11 = m00 * m22 - m02 * m02
    c12 = m01 * m02 - m00 * m12
    c22 = m00 * m11 - m01 * m01
    det = m00 * c00 + m01 * c01 + m02 * c02
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / det
        out = np.stack([
            (c00 * b0 + c01 * b1 + c02 * b2) * inv,
            (c01 * b0 + c11 * b1 + c12 * b2) * inv,
            (c02 * b0 + c12 * b1 + c22 * b2) * inv,
        ], axis=-1)
    scale = np.maximum(m00 + m11 + m22, 1e-300)
    out[~(np.abs(det) > 1e-12 * scale ** 3)] = np.nan
    return out


def _depths(points: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """Depth ``(V, P)`` of points ``(P, 3)`` in each camera."""
    return ext[:, 2, :3] @ points.T + ext[:, 2, 3][:, None]


def linear_triangulation(
    normalized: np.ndarray,
    extrinsics: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    refine: int = 1,
) -> np.ndarray:
    """Weighted N-view linear triangulation in normalized camera coordinates.

    Parameters
    ----------
    normalized
        ``(camera, point, 2)`` undistorted normalized coordinates; NaN where not seen.
    extrinsics
        ``(camera, 3, 4)`` world-to-camera ``[R | t]``.
    weights
        ``(camera, point)`` non-negative weights (confidence); 1 when omitted, 0 ignores a view.
    refine
        Number of depth-reweighted re-solves (0: plain linear triangulation).

    Returns
    -------
    numpy.ndarray
        ``(point, 3)`` world points; NaN where fewer than two views have positive weight.
    """
    normalized = np.asarray(normalized, dtype=np.float64)
    ext = np.asarray(extrinsics, dtype=np.float64)
    n_views, n_points = normalized.shape[:2]
    if normalized.shape != (n_views, n_points, 2) or ext.shape != (n_views, 3, 4):
        raise ValueError(f"Expected normalized (V, P, 2) and extrinsics (V, 3, 4), but got "
                         f"{normalized.shape} and {ext.shape}")
    w = np.ones((n_views, n_points)) if weights is None else np.array(weights, dtype=np.float64)
    seen = np.isfinite(normalized).all(axis=-1) & np.isfinite(w) & (w > 0)
    w = np.where(seen, w, 0.0)
    x = np.where(seen, normalized[..., 0], 0.0)
    y = np.where(seen, normalized[..., 1], 0.0)
    terms = _camera_terms(ext)
    points = _solve_normal_equations(x, y, w, terms)
    for _ in range(refine):
        depth = _depths(points, ext)
        usable = np.isfinite(depth) & (depth > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            w_refined = np.where(usable, w / np.where(usable, depth, 1.0), 0.0)
        # keep the first solution where reweighting is impossible (a point behind a camera)
        ok = usable.all(axis=0) | ~seen.any(axis=0)
        if ok.any():
            points = np.where(ok[:, None], _solve_normal_equations(x, y, w_refined, terms), points)
    points[seen.sum(axis=0) < 2] = np.nan
    return points


def midpoint_triangulation(normalized: np.ndarray, extrinsics: np.ndarray) -> np.ndarray:
    """Midpoint of the shortest segment between the rays of two cameras (Caltech toolbox).

    Parameters
    ----------
    normalized
        ``(2, point, 2)`` undistorted normalized coordinates of the two cameras.
    extrinsics
        ``(2, 3, 4)`` world-to-camera ``[R | t]``. With the first camera at the origin (as the
        Caltech stereo calibration puts the left camera), the result is in its frame, like the
        toolbox's ``stereo_triangulation``.

    Returns
    -------
    numpy.ndarray
        ``(point, 3)`` world points; NaN where either view is missing or the rays are parallel.
    """
    normalized = np.asarray(normalized, dtype=np.float64)
    ext = np.asarray(extrinsics, dtype=np.float64)
    if normalized.shape[0] != 2 or ext.shape != (2, 3, 4):
        raise ValueError(f"Expected exactly 2 cameras for the midpoint method, but got {normalized.shape[0]}")
    rot, t = ext[:, :, :3], ext[:, :, 3]
    centres = -np.einsum("vji,vj->vi", rot, t)
    rays = np.concatenate([normalized, np.ones(normalized.shape[:2] + (1,))], axis=-1)
    d = np.einsum("vji,vpj->vpi", rot, rays)  # ray directions in the world frame
    d1, d2 = d[0], d[1]
    c = centres[1] - centres[0]
    a11 = np.einsum("pi,pi->p", d1, d1)
    a12 = np.einsum("pi,pi->p", d1, d2)
    a22 = np.einsum("pi,pi->p", d2, d2)
    b1 = d1 @ c
    b2 = d2 @ c
    det = a11 * a22 - a12 * a12
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (b1 * a22 - b2 * a12) / det
        u = (b1 * a12 - b2 * a11) / det
    p1 = centres[0] + s[:, None] * d1
    p2 = centres[1] + u[:, None] * d2
    out = 0.5 * (p1 + p2)
    out[~(np.abs(det) > 1e-12 * a11 * a22)] = np.nan
    return out


def _per_point(group: CameraGroup, pixels, confidence, min_confidence: float, *, prepare: bool = True):
    """Flatten ``(V, ..., 2)`` pixels and ``(V, ...)`` confidence to ``(V, P, …)``.

    With ``prepare``, the confidence becomes the weights of :func:`linear_triangulation` (0 where
    unusable); without, it is only reshaped (None stays None) for the compiled kernel.
    """
    pixels = group._check(pixels)
    shape = pixels.shape[1:-1]
    flat = pixels.reshape(len(group), -1, 2)
    conf = None
    if confidence is not None:
        conf = np.asarray(confidence, dtype=np.float64)
        if conf.shape != pixels.shape[:-1]:
            raise ValueError(f"Expected confidence of shape {pixels.shape[:-1]}, but got {conf.shape}")
        conf = conf.reshape(len(group), -1)
    if prepare:
        conf = _prepared_confidence(flat, conf, min_confidence)
    return flat, conf, shape


def _prepared_confidence(flat: np.ndarray, conf: np.ndarray | None, min_confidence: float) -> np.ndarray:
    """Weights ``(V, P)``: the confidence (1 if None, 0 if NaN) where above ``min_confidence``, else 0."""
    if conf is None:
        conf = np.where(np.isfinite(flat).all(axis=-1), 1.0, 0.0)
    else:
        conf = np.nan_to_num(conf, nan=0.0)
    return np.where(conf > min_confidence, conf, 0.0)


def _engine(engine: str) -> str:
    """``"numba"`` or ``"numpy"``: ``"auto"`` is the compiled kernel when numba imports."""
    if engine not in ENGINES:
        raise ValueError(f"Expected engine to be one of {ENGINES}, but got {engine!r}")
    if engine == "numpy":
        return engine
    try:
        from . import _kernels  # noqa: F401
    except ImportError:
        if engine == "numba":
            raise ImportError("Expected numba for engine='numba', but it is not installed "
                              "(pip install numba, or use engine='numpy')") from None
        return "numpy"
    return "numba"


def _kernel_cameras(group: CameraGroup) -> tuple[np.ndarray, ...]:
    """The compiled kernel's camera arrays (:func:`._kernels.camera_arrays`) and normal-equation
    terms of ``group``, computed once per group (its cameras are immutable) rather than per call."""
    from . import _kernels

    cached = getattr(group, "_kernel_cameras", None)
    if cached is None or cached[0] is not group.cameras:
        intrinsics, dist, ext, opencv = _kernels.camera_arrays(group.cameras)
        cached = (group.cameras, (intrinsics, dist, ext, opencv, _camera_terms(ext)))
        group._kernel_cameras = cached
    return cached[1]


def _compiled_linear(group: CameraGroup, flat: np.ndarray, conf: np.ndarray | None, *, refine: int,
                     errors: bool, min_confidence: float = 0.0) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`linear_triangulation` of distorted pixels ``(V, P, 2)`` by the fused numba kernel.

    ``conf`` ``(V, P)`` (None: 1 for every view) is used where it is above ``min_confidence``;
    the kernel applies that rule itself, so raw confidences need no preparing pass. Returns the
    points ``(P, 3)``, the reprojection errors ``(V, P)`` (None without ``errors``) and the views
    used ``(V, P)``.

    Cameras with more than 5 distortion coefficients are undistorted by OpenCV first (their
    reprojection errors are computed here); points where Newton's undistortion did not converge
    are recomputed with the NumPy path, so the result never depends on the kernel's shortcut.
    """
    from . import _kernels

    intrinsics, dist, ext, opencv, terms = _kernel_cameras(group)
    pixels = flat
    if opencv.any():
        pixels = flat.copy()
        for v in np.flatnonzero(opencv):
            pixels[v] = group.cameras[v].undistort(flat[v])
    points, error, used, status = _kernels.triangulate_views(pixels, conf, intrinsics, dist, ext, terms, refine=refine,
                                                              errors=errors, min_weight=min_confidence)
    if (errors and opencv.any()) or status.any():
        # the rare slow paths need the prepared weights of the NumPy code
        conf = _prepared_confidence(flat, conf, min_confidence)
    if errors and opencv.any():
        for v in np.flatnonzero(opencv):
            error[v] = np.where(used[v], np.linalg.norm(group.cameras[v].project(points) - flat[v], axis=-1), np.nan)
    bad = np.flatnonzero(status != _kernels.OK)
    if bad.size:
        normalized = group.undistort(flat[:, bad])
        points[bad] = linear_triangulation(normalized, ext, conf[:, bad], refine=refine)
        used[:, bad] = ((conf[:, bad] > 0) & np.isfinite(normalized).all(axis=-1) & np.isfinite(flat[:, bad]).all(axis=-1)
                        & np.isfinite(points[bad]).all(axis=-1))
        if errors:
            error[:, bad] = np.where(used[:, bad], group.reprojection_error(points[bad], flat[:, bad]), np.nan)
    return points, error, used


def _consensus_numpy(group: CameraGroup, flat: np.ndarray, conf: np.ndarray, *, refine: int,
                     threshold: float, penalty: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The reference of :func:`._kernels.consensus_views` in NumPy, vectorised over points.

    ``flat`` ``(V, P, 2)`` pixels, ``conf`` ``(V, P)`` prepared weights (0: unusable). Returns the
    points ``(P, 3)``, the reprojection error ``(V, P)`` of every usable view and the views used.
    """
    from ._kernels import MAX_CONSENSUS_VIEWS

    n_views, n_points = conf.shape
    if n_views > MAX_CONSENSUS_VIEWS:
        raise ValueError(f"Expected at most {MAX_CONSENSUS_VIEWS} cameras for method='robust', but got {n_views}")
    normalized = group.undistort(flat)
    ext = group.extrinsics()
    seen = (conf > 0) & np.isfinite(normalized).all(axis=-1) & np.isfinite(flat).all(axis=-1)
    weights = np.where(seen, conf, 0.0)
    points = np.full((n_points, 3), np.nan)
    chosen = np.zeros((n_views, n_points), dtype=bool)
    decided = seen.sum(axis=0) < 2
    fallback_sse = np.full(n_points, np.inf)
    fallback = np.full((n_points, 3), np.nan)
    fallback_views = np.zeros((n_views, n_points), dtype=bool)
    for k in range(n_views, 1, -1):
        best = np.full(n_points, np.inf)
        for subset in itertools.combinations(range(n_views), k):
            subset = list(subset)
            idx = np.flatnonzero(~decided & seen[subset].all(axis=0))
            if not idx.size:
                continue
            mask = np.zeros((n_views, 1), dtype=bool)
            mask[subset] = True
            found = linear_triangulation(normalized[:, idx], ext, np.where(mask, weights[:, idx], 0.0),
                                         refine=refine)
            with np.errstate(invalid="ignore"):
                e = group.subset([group.names[v] for v in subset]).reprojection_error(found, flat[subset][:, idx])
            in_front = (ext[subset, 2, :3] @ found.T + ext[subset, 2, 3][:, None]) > 0
            e = np.where(np.isfinite(e) & in_front, e, np.inf)
            sse = (e * e).sum(axis=0) + (0.0 if penalty is None else penalty[subset].sum())
            ok = np.isfinite(found).all(axis=1)
            if k == 2:
                lower = ok & (sse < fallback_sse[idx])
                fallback_sse[idx[lower]] = sse[lower]
                fallback[idx[lower]] = found[lower]
                fallback_views[:, idx[lower]] = mask
            better = ok & (e.max(axis=0) < threshold) & (sse < best[idx])
            if k > 2 and better.any():
                better &= _others_agree(group, normalized[:, idx], flat[:, idx], weights[:, idx], found, subset,
                                        threshold)
            best[idx[better]] = sse[better]
            points[idx[better]] = found[better]
            chosen[:, idx[better]] = mask
        decided |= np.isfinite(best)
    rest = ~decided & np.isfinite(fallback_sse)
    points[rest] = fallback[rest]
    chosen[:, rest] = fallback_views[:, rest]
    finite = np.isfinite(points).all(axis=1)
    with np.errstate(invalid="ignore"):
        error = group.reprojection_error(points, flat)
    error = np.where(seen & finite & np.isfinite(error), error, np.nan)
    return points, error, chosen & finite


def _others_agree(group: CameraGroup, normalized: np.ndarray, flat: np.ndarray, weights: np.ndarray,
                  found: np.ndarray, subset: list[int], threshold: float) -> np.ndarray:
    """``(P,)``: whether each view of ``subset`` lies within ``threshold`` pixels of the point the
    subset's other views give, their rows weighted by the inverse depth at ``found`` (one linear
    solve each, as the kernel's leave-one-out check)."""
    ext = group.extrinsics()
    depth = _depths(found, ext)
    with np.errstate(invalid="ignore", divide="ignore"):
        reweighted = np.where(depth > 0, weights / np.where(depth > 0, depth, 1.0), np.nan)
    agree = np.isfinite(reweighted[subset]).all(axis=0)
    for v in subset:
        others = np.zeros((len(group), 1), dtype=bool)
        others[[u for u in subset if u != v]] = True
        alone = linear_triangulation(normalized, ext, np.where(others, np.nan_to_num(reweighted), 0.0), refine=0)
        with np.errstate(invalid="ignore"):
            e = group.cameras[v].project(alone) - flat[v]
        agree &= np.linalg.norm(e, axis=-1) < threshold
    return agree


def _suspect_cameras(group: CameraGroup, error: np.ndarray) -> np.ndarray:
    """``(V,)`` bool: the cameras whose median error against the consensus is far above the
    others' (:func:`.diagnostics.flag_cameras`), from the errors ``(V, P)`` of a consensus pass."""
    from .consensus import flag_cameras

    medians = {}
    for name, row in zip(group.names, error.reshape(len(group), -1)):
        finite = row[np.isfinite(row)]
        medians[name] = float(np.median(finite)) if finite.size else float("nan")
    named = set(flag_cameras(medians))
    return np.array([n in named for n in group.names])


def _compiled_consensus(group: CameraGroup, flat: np.ndarray, conf: np.ndarray | None, *, refine: int,
                        threshold: float, min_confidence: float, penalty: np.ndarray | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_consensus_numpy` by the numba kernel; the rare points the kernel cannot undistort
    and the errors of cameras undistorted by OpenCV are redone the NumPy way."""
    from . import _kernels

    intrinsics, dist, ext, opencv, _ = _kernel_cameras(group)
    pixels = flat
    scale = np.ones(len(group))
    if opencv.any():
        pixels = flat.copy()
        for v in np.flatnonzero(opencv):
            pixels[v] = group.cameras[v].undistort(flat[v])
            scale[v] = np.sqrt(abs(np.linalg.det(group.cameras[v].matrix[:2, :2])))
    points, error, used, status = _kernels.consensus_views(pixels, conf, intrinsics, dist, ext, px_scale=scale,
                                                           penalty=penalty, min_weight=min_confidence, refine=refine,
                                                           threshold=threshold)
    if opencv.any():
        for v in np.flatnonzero(opencv):
            observed = np.isfinite(error[v])
            error[v] = np.where(observed, np.linalg.norm(group.cameras[v].project(points) - flat[v], axis=-1), np.nan)
    bad = np.flatnonzero(status != _kernels.OK)
    if bad.size:
        prepared = _prepared_confidence(flat[:, bad], None if conf is None else conf[:, bad], min_confidence)
        points[bad], error[:, bad], used[:, bad] = _consensus_numpy(group, flat[:, bad], prepared, refine=refine,
                                                                    threshold=threshold, penalty=penalty)
    return points, error, used


def triangulate_points(
    group: CameraGroup,
    pixels,
    confidence=None,
    *,
    method: str = "dlt",
    min_confidence: float = 0.0,
    refine: int = 1,
    max_error: float = 20.0,
    engine: str = "auto",
) -> np.ndarray:
    """World points ``(..., 3)`` from pixels ``(camera, ..., 2)``; see :func:`triangulate`."""
    return triangulate(group, pixels, confidence, method=method, min_confidence=min_confidence,
                       refine=refine, max_error=max_error, errors=False, engine=engine)[0]


def triangulate(
    group: CameraGroup,
    pixels,
    confidence=None,
    *,
    method: str = "dlt",
    min_confidence: float = 0.0,
    refine: int = 1,
    max_error: float = 20.0,
    errors: bool = True,
    engine: str = "auto",
) -> tuple[np.ndarray, np.ndarray | None]:
    """Triangulate the observations of a camera group.

    Parameters
    ----------
    group
        The calibrated cameras, in the order of the first axis of ``pixels``.
    pixels
        ``(camera, ..., 2)`` pixel coordinates (distorted, as detected); NaN where not seen.
    confidence
        ``(camera, ...)`` detection confidence, the weight of each view; views at or below
        ``min_confidence`` are not used. All views weigh the same when omitted.
    method
        ``"dlt"``, ``"robust"`` or ``"midpoint"`` (see the module's description).
    refine
        Depth-reweighted re-solves of ``"dlt"``/``"robust"``.
    max_error
        ``"robust"``: inlier threshold, the reprojection error (pixels) above which a view
        disagrees with a point.
    errors
        Whether to compute the reprojection errors (skipping them saves a projection per view).
    engine
        ``"auto"`` (default): the fused numba kernel for ``"dlt"``/``"robust"`` when numba imports,
        else NumPy; ``"numba"`` or ``"numpy"`` to choose (NumPy is the reference implementation;
        both give the same points to rounding).

    Returns
    -------
    points : numpy.ndarray
        ``(..., 3)`` world points in calibration units (usually mm); NaN where fewer than two
        usable views.
    error : numpy.ndarray or None
        ``(camera, ...)`` reprojection error of each used view in pixels, NaN for unused views
        (in ``"robust"`` mode, also for the views rejected as outliers; see
        :func:`triangulate_diagnostics` for their errors).
    """
    points, error, used = triangulate_diagnostics(group, pixels, confidence, method=method,
                                                  min_confidence=min_confidence, refine=refine,
                                                  max_error=max_error, errors=errors, engine=engine)
    if not errors:
        return points, None
    return points, np.where(used, error, np.nan)


def triangulate_diagnostics(
    group: CameraGroup,
    pixels,
    confidence=None,
    *,
    method: str = "dlt",
    min_confidence: float = 0.0,
    refine: int = 1,
    max_error: float = 20.0,
    errors: bool = True,
    engine: str = "auto",
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`triangulate`, with the reprojection error of every usable view and the views used.

    Returns
    -------
    points : numpy.ndarray
        ``(..., 3)`` world points in calibration units.
    error : numpy.ndarray or None
        ``(camera, ...)`` reprojection error (pixels) of the final point in every usable view,
        including views ``"robust"`` rejected as outliers; NaN where a view is unusable or the
        point missing. None when ``errors`` is false (``"robust"`` computes it regardless).
    used : numpy.ndarray
        ``(camera, ...)`` bool: the views each point was computed from.
    """
    check_method(method)
    if method == "midpoint" and len(group) != 2:
        raise ValueError(f"Expected 2 cameras for the midpoint method, but got {len(group)}")
    if not max_error > 0:
        raise ValueError(f"Expected max_error > 0 pixels, but got {max_error}")
    compiled = method != "midpoint" and _engine(engine) == "numba"
    flat, conf, shape = _per_point(group, pixels, confidence, min_confidence, prepare=not compiled)
    error = None
    if method == "robust":
        def consensus(penalty=None):
            if compiled:
                return _compiled_consensus(group, flat, conf, refine=refine, threshold=max_error,
                                           min_confidence=min_confidence, penalty=penalty)
            return _consensus_numpy(group, flat, conf, refine=refine, threshold=max_error, penalty=penalty)

        points, error, used = consensus()
        # a camera the consensus names as wrong (diagnostics.flag_cameras) loses ties: where a pair
        # holding it agrees as well as a pair without it (possible with 3 cameras), the latter wins
        suspect = _suspect_cameras(group, error)
        if suspect.any():
            points, error, used = consensus(np.where(suspect, 1e6 * max_error ** 2, 0.0))
    elif compiled:
        points, error, used = _compiled_linear(group, flat, conf, refine=refine, errors=errors,
                                               min_confidence=min_confidence)
    else:
        normalized = group.undistort(flat)
        ext = group.extrinsics()
        used = (conf > 0) & np.isfinite(normalized).all(axis=-1)
        if method == "midpoint":
            points = midpoint_triangulation(normalized, ext)
            points[~used.all(axis=0)] = np.nan
        else:
            points = linear_triangulation(normalized, ext, conf, refine=refine)
        used &= np.isfinite(points).all(axis=-1)
        if errors:
            with np.errstate(invalid="ignore"):
                error = np.where(used, group.reprojection_error(points, flat), np.nan)
    points = points.reshape(shape + (3,))
    used = used.reshape((len(group),) + shape)
    if error is not None:
        error = error.reshape((len(group),) + shape)
    return points, error, used


# --------------------------------------------------------------------------------------------------
# Datasets and stores


def _as_pose_arrays(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray, list[str]]:
    """Position ``(time, space, keypoints, individuals, view)`` and confidence of poses or boxes."""
    if ds.attrs.get("ds_type") == schema.BOXES:
        position = ds["position"].expand_dims(keypoints=["centre"], axis=2)
        confidence = ds["confidence"].expand_dims(keypoints=["centre"], axis=1)
        return position, confidence, ["centre"]
    return ds["position"], ds["confidence"], [str(k) for k in ds["keypoints"].values]


def _kernel(position: np.ndarray, confidence: np.ndarray, *, group: CameraGroup, options: dict) -> np.ndarray:
    """One time chunk: position ``(time, space, keypoints, individuals, view)`` and confidence
    ``(time, 1, keypoints, individuals, view)`` → ``(time, 6 + 2 view, keypoints, individuals)``
    holding x, y, z, the mean reprojection error (pixels) and the mean confidence of the views
    used, the number of views used, then per view its reprojection error and whether it was used."""
    pixels = np.moveaxis(position.astype(np.float64), (4, 1), (0, -1))  # (view, time, kp, ind, 2)
    conf = np.moveaxis(confidence[:, 0].astype(np.float64), 3, 0)
    points, error, used = triangulate_diagnostics(group, pixels, conf, errors=True, **options)
    n_used = used.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_error = np.where(n_used > 0, np.where(used, error, 0.0).sum(axis=0) / n_used, np.nan)
        mean_conf = np.where(n_used > 0, np.where(used, np.nan_to_num(conf), 0.0).sum(axis=0) / n_used, np.nan)
    valid = np.isfinite(points).all(axis=-1)
    mean_error = np.where(valid, mean_error, np.nan)
    mean_conf = np.where(valid, mean_conf, np.nan)
    out = np.concatenate([np.moveaxis(points, -1, 1), mean_error[:, None], mean_conf[:, None],
                          np.where(valid, n_used, 0)[:, None], np.moveaxis(error, 0, 1),
                          np.moveaxis(used, 0, 1)], axis=1)
    return out.astype(np.float32)


def triangulate_dataset(
    ds: xr.Dataset,
    group: CameraGroup,
    *,
    method: str = "dlt",
    min_confidence: float = 0.0,
    refine: int = 1,
    max_error: float = 20.0,
    chunk: int | None = None,
    engine: str = "auto",
    views: list[str] | None = None,
) -> xr.Dataset:
    """Lazily triangulate a multi-view poses or boxes dataset.

    Parameters
    ----------
    ds
        Poses (``position (time, space, keypoints, individuals, view)``) or boxes (box centres) of
        two or more views, in pixels; its ``view`` labels name cameras of ``group``.
    group
        The calibration.
    chunk
        Frames per chunk when ``ds`` is not already chunked along ``time`` (default: the store's
        ``chunk`` attribute, else 1000).
    views
        The views to use (default: all of ``ds``); e.g. to leave out a camera whose calibration is
        wrong.
    method, min_confidence, refine, max_error, engine
        As in :func:`triangulate`.

    Returns
    -------
    xarray.Dataset
        A poses dataset with ``space`` = x, y, z (calibration units), no ``view`` dimension (scalar
        ``view`` = "3d"), ``confidence`` the mean confidence of the views used, backed by Dask, one
        task per time chunk (boxes give one keypoint, "centre"), and diagnostics:
        ``reprojection_error (time, keypoints, individuals)`` the mean reprojection error of the
        views used (pixels), ``n_views`` the number of views used, ``view_error (time, keypoints,
        individuals, camera)`` the reprojection error of the 3D point in every usable view, used or
        rejected (pixels), and ``view_used`` (bool). The cameras are a ``camera`` dimension, not
        ``view``: a 3D store is one view.
    """
    schema.validate(ds)
    check_method(method)
    available = schema.view_names(ds)
    if views:
        unknown = [v for v in views if v not in available]
        if unknown:
            raise ValueError(f"Expected views= to name views of the store {available}, but got {unknown}")
        ds = ds.sel(view=list(views))
    views = schema.view_names(ds)
    if len(views) < 2:
        raise ValueError(f"Expected a dataset with 2 or more views to triangulate, but got views {views}")
    cameras = group.subset(views)
    position, confidence, keypoints = _as_pose_arrays(ds)
    chunk = int(chunk or ds.attrs.get("chunk", 1000))
    pos = position.data if isinstance(position.data, da.Array) else da.from_array(position.values, chunks=chunk)
    conf = confidence.data if isinstance(confidence.data, da.Array) else da.from_array(confidence.values, chunks=chunk)
    # every dimension but time whole, so each task sees all views of its frames
    pos = pos.rechunk({0: pos.chunks[0], 1: -1, 2: -1, 3: -1, 4: -1})
    # a length-1 space axis lines confidence up with position block for block
    conf = conf.rechunk({0: pos.chunks[0], 1: -1, 2: -1, 3: -1})[:, None]
    n_time, _, n_kp, n_ind, n_views = pos.shape
    packed = da.map_blocks(
        _kernel, pos, conf, group=cameras,
        options={"method": method, "min_confidence": min_confidence, "refine": refine, "max_error": max_error,
                 "engine": _engine(engine)},
        dtype=np.float32, chunks=(pos.chunks[0], (6 + 2 * n_views,), (n_kp,), (n_ind,)), drop_axis=4,
        meta=np.empty((0, 0, 0, 0), dtype=np.float32),
    )
    dims = ("time", "space", "keypoints", "individuals")
    unit = str(group.metadata.get("unit", "calibration units"))
    attrs = {
        **{k: v for k, v in ds.attrs.items() if k not in ("chunk", "class_names")},
        "ds_type": schema.POSES,
        "space_unit": unit,
        "triangulation": {"method": method, "min_confidence": min_confidence, "refine": refine,
                          "max_error_px": max_error, "views": views},
    }
    per_camera = ("time", "keypoints", "individuals", "camera")
    return xr.Dataset(
        {
            "position": (dims, packed[:, :3]),
            "confidence": (dims[:1] + dims[2:], packed[:, 4]),
            "reprojection_error": (("time", "keypoints", "individuals"), packed[:, 3], {"units": "px"}),
            "n_views": (("time", "keypoints", "individuals"), packed[:, 5].astype(np.int8)),
            "view_error": (per_camera, da.moveaxis(packed[:, 6:6 + n_views], 1, 3), {"units": "px"}),
            "view_used": (per_camera, da.moveaxis(packed[:, 6 + n_views:], 1, 3) > 0.5),
        },
        coords={"time": ds["time"].values, "frame": ("time", schema.frames(ds)), "space": list(schema.SPACE_3D),
                "keypoints": keypoints, "individuals": [str(i) for i in ds["individuals"].values], "view": "3d",
                "camera": views},
        attrs=attrs,
    )


def write_3d(ds: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a (lazy) 3D dataset to a Zarr v3 store, chunk by chunk, under its final name at the end.

    Chunks along ``time`` follow the Dask chunks of ``ds`` (the whole length when it is not lazy);
    memory stays bounded by a few chunks.
    """
    time_chunks = ds.chunks.get("time") if ds.chunks else None
    chunk = max(time_chunks) if time_chunks else max(ds.sizes["time"], 1)
    return store.write_dataset(ds, path, chunk=chunk, overwrite=overwrite)
