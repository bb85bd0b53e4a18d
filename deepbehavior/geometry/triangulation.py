"""Triangulation: 3D points from the 2D observations of several calibrated cameras.

Three methods, all vectorised over points (no Python loop per point):

- ``"dlt"``: N-view linear triangulation. Each camera contributes the two rows
  ``w (x r3 - r1)``, ``w (y r3 - r2)`` of ``[R | t]`` in normalized (undistorted) coordinates,
  weighted by its confidence ``w``; the 4x4 normal equations are solved in closed form with the
  homogeneous coordinate fixed to 1. ``refine`` re-solves with each row divided by the point's
  depth in that camera, which turns the algebraic residual into the normalized reprojection
  residual (Hartley & Sturm's iterative linear method): as cheap as one more solve, more accurate
  than a plain DLT when the cameras see the point at different depths.
- ``"robust"``: ``"dlt"``, then, while a point seen by three or more cameras has a view whose
  reprojection error exceeds ``max_error`` pixels, that worst view is dropped and the point
  re-solved.
- ``"midpoint"``: two cameras only, the midpoint of the shortest segment between the two rays,
  as the Caltech toolbox's ``stereo_triangulation`` (DeepBehavior's 3D).

:func:`triangulate_dataset` applies them lazily (Dask), chunk by chunk along ``time``, to a
multi-view poses or boxes dataset, so a store larger than memory is processed with bounded memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import dask.array as da
import numpy as np
import xarray as xr

from .. import schema, store
from .camera import CameraGroup

METHODS = ("dlt", "robust", "midpoint")
ENGINES = ("auto", "numba", "numpy")


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


def _compiled_linear(group: CameraGroup, flat: np.ndarray, conf: np.ndarray | None, *, refine: int,
                     errors: bool, min_confidence: float = 0.0) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`linear_triangulation` of distorted pixels ``(V, P, 2)`` by the fused numba kernel.

    ``conf`` ``(V, P)`` (None: 1 for every view) is used where it is above ``min_confidence``;
    the kernel applies that rule itself, so raw confidences need no preparing pass.

    Cameras with more than 5 distortion coefficients are undistorted by OpenCV first (their
    reprojection errors are computed here); points where Newton's undistortion did not converge
    are recomputed with the NumPy path, so the result never depends on the kernel's shortcut.
    """
    from . import _kernels

    intrinsics, dist, ext, opencv = _kernels.camera_arrays(group.cameras)
    pixels = flat
    if opencv.any():
        pixels = flat.copy()
        for v in np.flatnonzero(opencv):
            pixels[v] = group.cameras[v].undistort(flat[v])
    points, error, status = _kernels.triangulate_views(pixels, conf, intrinsics, dist, ext, _camera_terms(ext),
                                                        refine=refine, errors=errors, min_weight=min_confidence)
    if (errors and opencv.any()) or status.any():
        # the rare slow paths need the prepared weights of the NumPy code
        conf = _prepared_confidence(flat, conf, min_confidence)
    if errors and opencv.any():
        for v in np.flatnonzero(opencv):
            used = (conf[v] > 0) & np.isfinite(pixels[v]).all(axis=-1)
            error[v] = np.where(used, np.linalg.norm(group.cameras[v].project(points) - flat[v], axis=-1), np.nan)
    bad = np.flatnonzero(status != _kernels.OK)
    if bad.size:
        normalized = group.undistort(flat[:, bad])
        points[bad] = linear_triangulation(normalized, ext, conf[:, bad], refine=refine)
        if errors:
            used = (conf[:, bad] > 0) & np.isfinite(normalized).all(axis=-1)
            error[:, bad] = np.where(used, group.reprojection_error(points[bad], flat[:, bad]), np.nan)
    return points, error


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
        ``"robust"``: reprojection error (pixels) above which a point's worst view is dropped.
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
        ``(camera, ...)`` reprojection error of each used view in pixels, NaN for unused views.
    """
    if method not in METHODS:
        raise ValueError(f"Expected method to be one of {METHODS}, but got {method!r}")
    if method == "midpoint" and len(group) != 2:
        raise ValueError(f"Expected 2 cameras for the midpoint method, but got {len(group)}")
    compiled = method != "midpoint" and _engine(engine) == "numba"
    flat, conf, shape = _per_point(group, pixels, confidence, min_confidence, prepare=not compiled)
    want_errors = errors or method == "robust"
    error = None
    if compiled:
        points, error = _compiled_linear(group, flat, conf, refine=refine, errors=want_errors,
                                         min_confidence=min_confidence)
        if method == "robust":
            conf = _prepared_confidence(flat, conf, min_confidence)
            used = (conf > 0) & np.isfinite(flat).all(axis=-1)

        def solve(idx, sub_conf):
            return _compiled_linear(group, flat[:, idx], sub_conf, refine=refine, errors=True)
    else:
        normalized = group.undistort(flat)
        ext = group.extrinsics()
        used = (conf > 0) & np.isfinite(normalized).all(axis=-1)
        if method == "midpoint":
            points = midpoint_triangulation(normalized, ext)
            points[~used.all(axis=0)] = np.nan
        else:
            points = linear_triangulation(normalized, ext, conf, refine=refine)
        if want_errors:
            error = np.where(used, group.reprojection_error(points, flat), np.nan)

        def solve(idx, sub_conf):
            found = linear_triangulation(normalized[:, idx], ext, sub_conf, refine=refine)
            return found, np.where(sub_conf > 0, group.reprojection_error(found, flat[:, idx]), np.nan)
    if method == "robust":
        for _ in range(len(group) - 2):
            n_used = used.sum(axis=0)
            # a view of a point with no solution has a NaN error: it is never the worst
            ranked = np.where(used & np.isfinite(error), error, -1.0)
            worst = np.argmax(ranked, axis=0)
            bad = (n_used >= 3) & (np.take_along_axis(ranked, worst[None], 0)[0] > max_error)
            if not bad.any():
                break
            idx = np.flatnonzero(bad)
            used[worst[idx], idx] = False
            points[idx], error[:, idx] = solve(idx, np.where(used[:, idx], conf[:, idx], 0.0))
            error[:, idx] = np.where(used[:, idx], error[:, idx], np.nan)
    points = points.reshape(shape + (3,))
    if error is not None:
        error = error.reshape((len(group),) + shape)
    return points, error if errors else None


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
    ``(time, 1, keypoints, individuals, view)`` → ``(time, 5, keypoints, individuals)`` holding x, y, z,
    the mean reprojection error (pixels) and the mean confidence of the views used."""
    pixels = np.moveaxis(position.astype(np.float64), (4, 1), (0, -1))  # (view, time, kp, ind, 2)
    conf = np.moveaxis(confidence[:, 0].astype(np.float64), 3, 0)
    points, error = triangulate(group, pixels, conf, errors=True, **options)
    used = np.isfinite(error)
    n_used = used.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_error = np.where(n_used > 0, np.nansum(error, axis=0) / n_used, np.nan)
        mean_conf = np.where(n_used > 0, np.where(used, conf, 0.0).sum(axis=0) / n_used, np.nan)
    valid = np.isfinite(points).all(axis=-1)
    mean_error = np.where(valid, mean_error, np.nan)
    mean_conf = np.where(valid, mean_conf, np.nan)
    out = np.concatenate([np.moveaxis(points, -1, 1), mean_error[:, None], mean_conf[:, None]], axis=1)
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
    method, min_confidence, refine, max_error, engine
        As in :func:`triangulate`.

    Returns
    -------
    xarray.Dataset
        A poses dataset with ``space`` = x, y, z (calibration units), no ``view`` dimension (scalar ``view`` = "3d"),
        ``confidence`` the mean confidence of the views used, and ``reprojection_error
        (time, keypoints, individuals)``, the mean reprojection error of the views used in pixels;
        backed by Dask, one task per time chunk (boxes give one keypoint, "centre").
    """
    schema.validate(ds)
    if method not in METHODS:
        raise ValueError(f"Expected method to be one of {METHODS}, but got {method!r}")
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
    n_time, _, n_kp, n_ind, _ = pos.shape
    packed = da.map_blocks(
        _kernel, pos, conf, group=cameras,
        options={"method": method, "min_confidence": min_confidence, "refine": refine, "max_error": max_error,
                 "engine": _engine(engine)},
        dtype=np.float32, chunks=(pos.chunks[0], (5,), (n_kp,), (n_ind,)), drop_axis=4,
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
    return xr.Dataset(
        {
            "position": (dims, packed[:, :3]),
            "confidence": (dims[:1] + dims[2:], packed[:, 4]),
            "reprojection_error": (("time", "keypoints", "individuals"), packed[:, 3]),
        },
        coords={"time": ds["time"].values, "frame": ("time", schema.frames(ds)), "space": list(schema.SPACE_3D),
                "keypoints": keypoints, "individuals": [str(i) for i in ds["individuals"].values], "view": "3d"},
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
