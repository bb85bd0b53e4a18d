"""Cleaning of trajectories: confidence filters, gap filling, and smoothing along time.

Every function takes an ``xr.DataArray`` of positions with dims including ``time`` (frame
numbers) and ``space``; other dims (``keypoint``, ``individual``, ``view``) pass through. A point
is missing when any of its ``space`` values is NaN, and it is then missing as a whole. Dask-backed
input stays lazy: running filters borrow half a window from each neighbouring chunk, gap filling
carries the last and next seen points across chunks, and the robust smoother (which is global in
time) works on one whole time series per task.

The DeepBehavior MATLAB post-processing is reproduced by::

    kept = filter_by_confidence(position, confidence, threshold=0.99)      # TensorBox
    track = interpolate_gaps(kept, extrapolate=True)

    kept = confidence_outliers(position, confidence, k=3)                  # OpenPose, per joint
    track = smooth_robust(interpolate_gaps(kept))                          # the role of smoothn
"""

from __future__ import annotations

import sys

import numpy as np
import xarray as xr

__all__ = [
    "filter_by_confidence",
    "confidence_outliers",
    "interpolate_gaps",
    "median_filter",
    "savgol_filter",
    "smooth_robust",
]


def _check_position(position: xr.DataArray) -> None:
    if not isinstance(position, xr.DataArray):
        raise TypeError(f"Expected position to be an xarray.DataArray, but got {type(position).__name__}")
    for dim in ("time", "space"):
        if dim not in position.dims:
            raise ValueError(f"Expected position with a '{dim}' dimension, but got dims {tuple(position.dims)}")


def _check_confidence(position: xr.DataArray, confidence: xr.DataArray) -> None:
    if not isinstance(confidence, xr.DataArray):
        raise TypeError(f"Expected confidence to be an xarray.DataArray, but got {type(confidence).__name__}")
    extra = set(confidence.dims) - set(position.dims)
    if "space" in confidence.dims or extra:
        raise ValueError(
            f"Expected confidence dims within {tuple(d for d in position.dims if d != 'space')}, "
            f"but got {tuple(confidence.dims)}"
        )


def _float(position: xr.DataArray) -> xr.DataArray:
    return position if np.issubdtype(position.dtype, np.floating) else position.astype(np.float64)


def _whole_points(position: xr.DataArray) -> xr.DataArray:
    """NaN in every ``space`` entry of a point where any entry is NaN."""
    return _float(position).where(position.notnull().all("space"))


def _check_window(window: int, name: str = "window") -> int:
    if isinstance(window, bool) or int(window) != window or window < 1 or window % 2 == 0:
        raise ValueError(f"Expected {name} to be an odd number of frames >= 1, but got {window}")
    return int(window)


def is_dask(data) -> bool:
    """Whether ``data`` is a Dask array. Dask is not imported for this: data loaded into memory (what
    ``deepbehavior analyze`` measures) never needs it, and importing it costs about half a second."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(data, module.Array)


def _along_time(position: xr.DataArray, kernel, *, depth: int) -> xr.DataArray:
    """Apply ``kernel(block, axis) -> block`` along time; Dask chunks borrow ``depth`` frames from
    each neighbour, and the global ends get no halo (the kernel sees them as ends)."""
    axis = position.get_axis_num("time")
    data = position.data
    if is_dask(data):
        import dask.array as dsa

        if depth > 0 and data.numblocks[axis] > 1 and min(data.chunks[axis]) < depth:
            data = data.rechunk({axis: max(depth, max(data.chunks[axis]))})
            if data.chunks[axis][-1] < depth:
                sizes = list(data.chunks[axis])
                sizes[-2] += sizes.pop()
                data = data.rechunk({axis: tuple(sizes)})
        result = dsa.map_overlap(
            lambda block: kernel(block, axis),
            data,
            depth={i: (depth if i == axis else 0) for i in range(data.ndim)},
            boundary="none",
            dtype=data.dtype,
            meta=np.empty((0,) * data.ndim, dtype=data.dtype),
        )
    else:
        result = kernel(np.asarray(data), axis)
    return position.copy(data=result)


# --------------------------------------------------------------------------------------------------
# Confidence


def filter_by_confidence(
    position: xr.DataArray, confidence: xr.DataArray, *, threshold: float = 0.6
) -> xr.DataArray:
    """Set points whose confidence is below ``threshold`` (or NaN) to NaN.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    confidence
        Confidence in [0, 1] with the dims of ``position`` except ``space``.
    threshold
        Points with ``confidence >= threshold`` are kept (TensorBox post-processing: 0.99).

    Returns
    -------
    xr.DataArray
        A new array like ``position``.
    """
    _check_position(position)
    _check_confidence(position, confidence)
    return _float(position).where(confidence >= threshold)


def confidence_outliers(position: xr.DataArray, confidence: xr.DataArray, *, k: float = 3.0) -> xr.DataArray:
    """Drop the points whose confidence is unusually low for their joint.

    For every joint (each series over ``time``: per keypoint, individual and view), points with
    ``confidence < mean - k * SD`` of that series' confidence are set to NaN, as the
    DeepBehavior OpenPose code did (SD with N - 1 in the denominator, as MATLAB's ``std``).
    NaN confidences are ignored in the statistics and their points dropped.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    confidence
        Confidence with the dims of ``position`` except ``space``.
    k
        Number of standard deviations below the mean (>= 0).

    Returns
    -------
    xr.DataArray
        A new array like ``position``.
    """
    _check_position(position)
    _check_confidence(position, confidence)
    if not np.isfinite(k) or k < 0:
        raise ValueError(f"Expected k >= 0, but got {k}")
    mean = confidence.mean("time", skipna=True)
    sd = confidence.std("time", skipna=True, ddof=1)
    return _float(position).where(confidence >= mean - k * sd.fillna(0.0))


# --------------------------------------------------------------------------------------------------
# Gap filling


def _ffill_numpy(values: np.ndarray, axis: int) -> np.ndarray:
    shape = [1] * values.ndim
    shape[axis] = values.shape[axis]
    index = np.where(~np.isnan(values), np.arange(values.shape[axis]).reshape(shape), 0)
    np.maximum.accumulate(index, axis=axis, out=index)
    return np.take_along_axis(values, index, axis=axis)


def fill_along_time(data, axis: int, *, reverse: bool = False):
    """Carry the last non-NaN value forward (or backward with ``reverse``) along ``axis``.

    Works on NumPy and, lazily and across chunks, on Dask arrays. Used by gap filling and path
    length; not part of the public API.
    """
    flip = (slice(None),) * axis + (slice(None, None, -1),)
    if reverse:
        data = data[flip]
    if is_dask(data):
        from dask.array.reductions import cumreduction

        out = cumreduction(
            lambda x, axis, dtype=None: _ffill_numpy(x, axis),
            lambda previous, current: np.where(np.isnan(current), previous, current),
            np.nan,
            data,
            axis=axis,
            dtype=data.dtype,
        )
    else:
        out = _ffill_numpy(np.asarray(data), axis)
    return out[flip] if reverse else out


def _end_line(points: xr.DataArray, rank: xr.DataArray, valid: xr.DataArray, times: xr.DataArray):
    """Value and time of the first (rank 1) and second (rank 2) valid point of each series, as
    reductions so that Dask needs no gather."""
    out = []
    for r in (1, 2):
        chosen = valid & (rank == r)
        out.append((points.where(chosen).sum("time", min_count=1), times.where(chosen).sum("time", min_count=1)))
    return out


def interpolate_gaps(
    position: xr.DataArray, *, max_gap: int | None = None, extrapolate: bool = False
) -> xr.DataArray:
    """Fill missing points by linear interpolation in time.

    Parameters
    ----------
    position
        Positions with dims including ``time`` (frame numbers) and ``space``.
    max_gap
        Longest run of consecutive missing samples that is filled; longer runs stay NaN.
        ``None``: no limit.
    extrapolate
        Also fill the runs before the first and after the last seen point, continuing the line
        through the two nearest seen points (MATLAB ``interp1(..., 'linear', 'extrap')``, as the
        TensorBox post-processing did); ``max_gap`` limits these runs too. ``False`` leaves the
        ends NaN.

    Returns
    -------
    xr.DataArray
        A new array like ``position``; series with fewer than two seen points are left as they are.
    """
    _check_position(position)
    if max_gap is not None and (int(max_gap) != max_gap or max_gap < 0):
        raise ValueError(f"Expected max_gap to be None or a whole number of frames >= 0, but got {max_gap}")
    points = _whole_points(position)
    axis = points.get_axis_num("time")
    valid = points.notnull().all("space")
    shape = [1] * points.ndim
    shape[axis] = points.sizes["time"]
    frames = np.asarray(points["time"].values, dtype=np.float64)
    index = xr.DataArray(np.arange(frames.size, dtype=np.float64), dims="time")
    times = xr.DataArray(frames, dims="time")

    def carried(array: xr.DataArray, reverse: bool) -> xr.DataArray:
        array = array.transpose(*points.dims, missing_dims="ignore")
        ax = array.get_axis_num("time")
        return array.copy(data=fill_along_time(array.data, ax, reverse=reverse))

    seen_index = index.where(valid).transpose(*[d for d in points.dims if d in valid.dims])
    seen_time = times.where(valid).transpose(*seen_index.dims)
    if is_dask(points.data):
        chunks = {d: c for d, c in points.chunksizes.items() if d in seen_index.dims}
        seen_index, seen_time = seen_index.chunk(chunks), seen_time.chunk(chunks)
    prev_p, next_p = carried(points, False), carried(points, True)
    prev_i, next_i = carried(seen_index, False), carried(seen_index, True)
    prev_t, next_t = carried(seen_time, False), carried(seen_time, True)

    span = next_t - prev_t
    fraction = (times - prev_t) / span.where(span > 0)  # 0/0 on seen points would warn
    inside = prev_p + (next_p - prev_p) * fraction
    gap = next_i - prev_i - 1
    fill_inside = ~valid & gap.notnull()
    if max_gap is not None:
        fill_inside &= gap <= max_gap
    out = points.where(~fill_inside, inside)

    if extrapolate:
        count = valid.astype(np.int64).cumsum("time")
        total = count.isel(time=-1, drop=True)
        (first_p, first_t), (second_p, second_t) = _end_line(points, count, valid, times)
        (last_p, last_t), (before_p, before_t) = _end_line(points, total - count + 1, valid, times)
        head = first_p + (second_p - first_p) * (times - first_t) / (second_t - first_t)
        tail = last_p + (last_p - before_p) * (times - last_t) / (last_t - before_t)
        in_head, in_tail = prev_i.isnull(), next_i.isnull()
        if max_gap is not None:
            in_head &= next_i <= max_gap
            in_tail &= (frames.size - 1 - prev_i) <= max_gap
        out = out.where(~in_head, head).where(~in_tail, tail)
    out = out.transpose(*position.dims).astype(points.dtype, copy=False)
    out.attrs = dict(position.attrs)
    return out.rename(position.name)


# --------------------------------------------------------------------------------------------------
# Running filters


# SciPy is imported by the filters that use it: kinematics needs only fill_along_time from here,
# and scipy.signal alone costs about a second of every job's start.
def _median_kernel(window: int):
    import scipy.ndimage

    half = window // 2

    def kernel(block: np.ndarray, axis: int) -> np.ndarray:
        moved = np.moveaxis(block, axis, -1)
        size = [1] * moved.ndim
        size[-1] = window
        # Full windows (no NaN, away from the ends) take the fast filter; the rest nanmedian.
        out = scipy.ndimage.median_filter(moved, size=size, mode="nearest")
        missing = np.isnan(moved)
        partial = scipy.ndimage.maximum_filter1d(missing.view(np.uint8), window, axis=-1, mode="constant", cval=1)
        partial = partial.astype(bool) & ~missing
        if partial.any():
            padded = np.pad(moved, [(0, 0)] * (moved.ndim - 1) + [(half, half)], constant_values=np.nan)
            windows = np.lib.stride_tricks.sliding_window_view(padded, window, axis=-1)
            out[partial] = np.nanmedian(windows[partial], axis=-1)
        out[missing] = np.nan
        return np.moveaxis(out.astype(block.dtype, copy=False), -1, axis)

    return kernel


def median_filter(position: xr.DataArray, *, window: int) -> xr.DataArray:
    """Running median along time, ignoring NaN.

    Each seen point becomes the median of the seen points of the ``window`` frames centred on
    it (fewer at the ends and next to gaps); missing points stay missing.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    window
        Odd number of frames.

    Returns
    -------
    xr.DataArray
        A new array like ``position``, same units.
    """
    _check_position(position)
    window = _check_window(window)
    return _along_time(_whole_points(position), _median_kernel(window), depth=window // 2)


def _savgol_kernel(window: int, polyorder: int):
    import scipy.ndimage
    import scipy.signal

    half = window // 2
    offsets = np.arange(-half, half + 1, dtype=np.float64)

    def kernel(block: np.ndarray, axis: int) -> np.ndarray:
        y = np.moveaxis(block, axis, -1).astype(np.float64)
        seen = ~np.isnan(y)
        y0 = np.where(seen, y, 0.0)
        mask = seen.astype(np.float64)

        def corr(values: np.ndarray, power: int) -> np.ndarray:
            # Sum over the window of offset**power * values: moments of the local least squares.
            return scipy.ndimage.correlate1d(values, offsets**power, axis=-1, mode="constant", cval=0.0)

        # Full windows (no NaN, away from the ends) are the classic Savitzky-Golay convolution.
        full = scipy.ndimage.correlate1d(mask, np.ones(window), axis=-1, mode="constant", cval=0.0) >= window
        classic = scipy.signal.savgol_filter(y0, window, polyorder, axis=-1, mode="nearest")
        partial = seen & ~full
        if not partial.any():
            return np.moveaxis(np.where(seen, classic, np.nan).astype(block.dtype, copy=False), -1, axis)
        count = corr(mask, 0)
        # Windows with a gap or an end: a small least-squares fit each, only where needed.
        solve = partial & (count > polyorder)
        moments = [count[solve]] + [corr(mask, p)[solve] for p in range(1, 2 * polyorder + 1)]
        rhs = np.stack([corr(y0, p)[solve] for p in range(polyorder + 1)], axis=-1)
        gram = np.stack(
            [np.stack([moments[i + j] for j in range(polyorder + 1)], axis=-1) for i in range(polyorder + 1)],
            axis=-2,
        )
        # Offsets scaled to about [-1, 1] (rows and columns divided by half**k) keep gram well conditioned.
        scale = half ** np.arange(polyorder + 1, dtype=np.float64) if half else np.ones(polyorder + 1)
        value = np.where(full & seen, classic, np.nan)
        value[solve] = np.linalg.solve(gram / scale[:, None] / scale[None, :], (rhs / scale)[..., None])[..., 0, 0]
        return np.moveaxis(value.astype(block.dtype, copy=False), -1, axis)

    return kernel


def savgol_filter(position: xr.DataArray, *, window: int, polyorder: int = 2) -> xr.DataArray:
    """Savitzky–Golay smoothing along time, NaN-aware.

    Each seen point becomes the value at its own frame of the polynomial of degree
    ``polyorder`` fitted by least squares to the seen points of the ``window`` frames centred on
    it. Without gaps and away from the ends this equals ``scipy.signal.savgol_filter``; next to
    gaps and at the ends the fit uses the points that exist. Missing points stay missing, and a
    point with no more than ``polyorder`` seen neighbours in its window becomes NaN.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    window
        Odd number of frames, greater than ``polyorder``.
    polyorder
        Degree of the local polynomial (>= 0).

    Returns
    -------
    xr.DataArray
        A new array like ``position``, same units.
    """
    _check_position(position)
    window = _check_window(window)
    if int(polyorder) != polyorder or not 0 <= polyorder < window:
        raise ValueError(f"Expected 0 <= polyorder < window ({window}), but got {polyorder}")
    return _along_time(_whole_points(position), _savgol_kernel(window, int(polyorder)), depth=window // 2)


# --------------------------------------------------------------------------------------------------
# Robust smoothing with automatic smoothing parameter


_BISQUARE = 4.685
_LOG_S_BOUNDS = (-6.0, 10.0)


def _bisquare_weights(residual: np.ndarray, seen: np.ndarray, s: float) -> np.ndarray:
    """Tukey bisquare weights from residuals studentised by their MAD and the leverage."""
    r = residual[seen]
    mad = np.median(np.abs(r - np.median(r)))
    if mad <= 0:
        return seen.astype(np.float64)
    # Leverage of a point for the 1-D second-difference smoother (Garcia 2010, eq. for h).
    h = np.sqrt(1 + 16 * s)
    h = np.sqrt(1 + h) / np.sqrt(2) / h
    u = np.abs(residual / (1.4826 * mad) / np.sqrt(1 - h))
    w = (1 - (u / _BISQUARE) ** 2) ** 2
    return np.where(seen & (u < _BISQUARE), w, 0.0)


def _smooth_series(y: np.ndarray, *, s: float | None, robust: bool, tol: float, max_iter: int) -> np.ndarray:
    import scipy.fft
    import scipy.optimize

    n = y.size
    seen = np.isfinite(y)
    n_seen = int(seen.sum())
    if n_seen < 3 or n < 3:
        return y.copy()
    # Eigenvalues of the second-difference operator with reflective ends, diagonal under DCT-II.
    eig = 2 * (np.cos(np.pi * np.arange(n) / n) - 1)
    eig2 = eig**2
    frames = np.arange(n)
    z = np.interp(frames, frames[seen], y[seen])  # starting guess fills gaps
    y_filled = np.where(seen, y, 0.0)
    weights = seen.astype(np.float64)
    auto = s is None
    log_s = 0.0 if auto else np.log10(s)

    def gcv(log_s_value: float, dct_target: np.ndarray, wtot: np.ndarray) -> float:
        gamma = 1.0 / (1.0 + 10.0**log_s_value * eig2)
        fit = scipy.fft.idct(gamma * dct_target, norm="ortho")
        rss = np.sum(wtot[seen] * (y[seen] - fit[seen]) ** 2)
        trace = gamma.sum()
        return rss / n_seen / (1 - trace / n) ** 2

    for _robust_step in range(4 if robust else 1):
        wtot = weights
        # Over-relaxation speeds up the fixed point when some weights are below 1 (gaps, outliers).
        relax = 1.75 if np.any(wtot < 1) else 1.0
        for _ in range(max_iter):
            target = scipy.fft.dct(wtot * (y_filled - z) + z, norm="ortho")
            if auto:
                result = scipy.optimize.minimize_scalar(
                    gcv, bounds=_LOG_S_BOUNDS, args=(target, wtot), method="bounded", options={"xatol": 0.05}
                )
                log_s = float(result.x)
            gamma = 1.0 / (1.0 + 10.0**log_s * eig2)
            new = relax * scipy.fft.idct(gamma * target, norm="ortho") + (1 - relax) * z
            change = np.linalg.norm(new - z) / max(np.linalg.norm(new), 1e-300)
            z = new
            if change < tol:
                break
        if not robust:
            break
        new_weights = _bisquare_weights(y_filled - z, seen, 10.0**log_s)
        if np.allclose(new_weights, weights, atol=1e-3):
            break
        weights = new_weights
    return z


def smooth_robust(
    position: xr.DataArray,
    *,
    s: float | None = None,
    robust: bool = True,
    tol: float = 1e-4,
    max_iter: int = 100,
) -> xr.DataArray:
    """Robust penalised least-squares smoothing along time (the role of MATLAB's ``smoothn``).

    Each series over ``time`` (every ``space`` entry of every keypoint, individual and view) is
    smoothed on its own by minimising ``sum w (y - z)^2 + s * ||D2 z||^2`` (``D2`` the second
    difference), solved in the discrete cosine basis where ``D2`` is diagonal (Garcia 2010,
    Comput. Stat. Data Anal. 54:1167). With ``s=None`` the smoothing is chosen by minimising
    the generalised cross-validation score. With ``robust`` the weights ``w`` are recomputed from
    the residuals (Tukey bisquare, studentised by the median absolute deviation) so that
    outliers stop pulling the curve. Missing points get weight 0 and are filled by the smooth
    curve. The time coordinate is assumed evenly spaced.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    s
        Smoothing parameter (> 0; larger is smoother); ``None`` chooses it per series by GCV.
    robust
        Down-weight outliers by iterative bisquare reweighting.
    tol, max_iter
        Relative change at which the inner iterations stop, and their maximum number.

    Returns
    -------
    xr.DataArray
        A new array like ``position`` (float64), gaps filled; series with fewer than 3 seen
        points are returned unchanged.
    """
    _check_position(position)
    if s is not None and not (np.isfinite(s) and s > 0):
        raise ValueError(f"Expected s > 0 or None, but got {s}")
    if tol <= 0 or max_iter < 1:
        raise ValueError(f"Expected tol > 0 and max_iter >= 1, but got tol={tol}, max_iter={max_iter}")
    points = _whole_points(position).astype(np.float64)
    axis = points.get_axis_num("time")

    def kernel(block: np.ndarray) -> np.ndarray:
        moved = np.moveaxis(block, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1])
        out = np.stack(
            [_smooth_series(row, s=s, robust=robust, tol=tol, max_iter=max_iter) for row in flat]
        ) if flat.shape[0] else flat.copy()
        return np.moveaxis(out.reshape(moved.shape), -1, axis)

    data = points.data
    if is_dask(data):
        # The smoother is global in time: one whole series per task keeps memory per task small.
        data = data.rechunk({i: (-1 if i == axis else 1) for i in range(data.ndim)})
        result = data.map_blocks(kernel, dtype=np.float64)
    else:
        result = kernel(np.asarray(data))
    out = points.copy(data=result)
    out.attrs = dict(position.attrs)
    return out.rename(position.name)
