"""Kinematics of trajectories: displacement, velocity, acceleration, speed, path length, heading,
distances, and conversion from pixels to millimetres.

Every function takes an ``xr.DataArray`` of positions with dimensions including ``time`` (seconds,
as in our stores and in ``movement``) and ``space`` (x, y[, z]); any other dimension (``keypoints``,
``individuals``, ``view``) passes through untouched. Arrays may be NumPy- or Dask-backed: with Dask
the result stays lazy and time derivatives see across chunk boundaries (each chunk borrows one
frame from each neighbour), so a whole cohort never has to fit in memory.

Time derivatives are per second: the ``time`` coordinate, or, when the array carries the integer
``frame`` coordinate of our stores and an ``fps`` (keyword argument or ``position.attrs["fps"]``),
frame / fps, whose steps are exact. Units: the unit of space is ``attrs["space_unit"]`` (the one
unit attribute of the data model, :func:`space_unit`); results keep it and add ``attrs["units"]``,
the unit of their own values built from it, e.g. ``"px/s"`` or ``"mm/s^2"``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr

from deepbehavior.analysis.cleaning import fill_along_time, is_dask

__all__ = [
    "compute_displacement",
    "compute_velocity",
    "compute_acceleration",
    "compute_speed",
    "compute_path_length",
    "compute_heading",
    "compute_distance",
    "scale_to_mm",
    "space_unit",
]


# --------------------------------------------------------------------------------------------------
# Validation and bookkeeping


def _check_position(position: xr.DataArray, name: str = "position") -> None:
    if not isinstance(position, xr.DataArray):
        raise TypeError(f"Expected {name} to be an xarray.DataArray, but got {type(position).__name__}")
    for dim in ("time", "space"):
        if dim not in position.dims:
            raise ValueError(f"Expected {name} with a '{dim}' dimension, but got dims {tuple(position.dims)}")
    if "time" not in position.coords:
        raise ValueError(f"Expected {name} with a 'time' coordinate (seconds), but it is missing")


def _resolve_fps(position: xr.DataArray | xr.Dataset, fps: float | None = None) -> float | None:
    """``fps`` or ``position.attrs["fps"]`` (checked), or None when neither is given."""
    if fps is None:
        fps = position.attrs.get("fps")
    if fps is None:
        return None
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"Expected a positive fps, but got {fps}")
    return fps


def space_unit(position: xr.DataArray | xr.Dataset) -> str:
    """The unit of space of positions: ``attrs["space_unit"]``, set by whoever knows it (the
    calibration for 3D, ``scale_to_mm``); without it ``"px"`` in 2D and ``"unknown"`` in 3D, which
    is never taken for pixels or millimetres."""
    unit = position.attrs.get("space_unit")
    if unit:
        return str(unit)
    return "unknown" if position.sizes.get("space", 2) == 3 else "px"


_unit = space_unit


def _float(position: xr.DataArray) -> xr.DataArray:
    return position if np.issubdtype(position.dtype, np.floating) else position.astype(np.float64)


def _clock(position: xr.DataArray, fps: float | None) -> tuple[np.ndarray, float]:
    """Sample instants along ``time`` and the factor that turns them into seconds: the integer
    ``frame`` coordinate and 1 / fps when both are known (exact steps), else ``time`` and 1."""
    if fps is not None and "frame" in position.coords and position["frame"].dims == ("time",):
        return np.asarray(position["frame"].values), 1.0 / fps
    return np.asarray(position["time"].values), 1.0


def _seconds(position: xr.DataArray, fps: float | None) -> np.ndarray:
    ticks, scale = _clock(position, fps)
    seconds = ticks.astype(np.float64) * scale
    if seconds.size > 1 and not np.all(np.diff(seconds) > 0):
        raise ValueError("Expected strictly increasing values in 'time', but got repeats or a decrease")
    return seconds


_STEP_BLOCK = 1 << 16  # frames per pass of the time checks: bounded temporaries for any length


def _uniform_step(position: xr.DataArray, fps: float | None) -> float | None:
    """The time step in seconds when samples are evenly spaced, else None; checks that times
    strictly increase. Works through the time coordinate in blocks, so that a long video
    costs no extra copies of it (whole-array diffs were what made memory grow with length)."""
    ticks, scale = _clock(position, fps)
    if ticks.size < 2:
        return None
    first = float(ticks[1]) - float(ticks[0])
    # frame numbers step exactly; seconds computed as frame / fps carry rounding of ~1e-16 * t
    tolerance = 1e-9 if ticks.dtype.kind in "iu" else 1e-6
    uniform = True
    for start in range(0, ticks.size - 1, _STEP_BLOCK):
        steps = np.diff(ticks[start:start + _STEP_BLOCK + 1]).astype(np.float64)
        if not np.all(steps > 0):
            raise ValueError("Expected strictly increasing values in 'time', but got repeats or a decrease")
        uniform = uniform and bool(np.all(np.abs(steps - first) <= tolerance * first))
    return first * scale if uniform else None


def _wrap(template: xr.DataArray, data, units: str, name: str | None) -> xr.DataArray:
    # A shallow copy shares the coordinates: building a new DataArray from ``coords`` would copy
    # the time index, memory that grows with the length of the video.
    out = template.copy(deep=False, data=data).rename(name)
    out.attrs = {**template.attrs, "units": units}
    return out


# --------------------------------------------------------------------------------------------------
# Kernels on plain arrays (time on ``axis``); used directly for NumPy and per chunk for Dask


def _spacing(times: np.ndarray, axis: int, ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Backward and forward steps ``hd = t[i] - t[i-1]``, ``hs = t[i+1] - t[i]`` for interior i,
    shaped to broadcast against values whose time axis is ``axis``."""
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    shape = [1] * ndim
    shape[axis] = t.size - 2
    return (t[1:-1] - t[:-2]).reshape(shape), (t[2:] - t[1:-1]).reshape(shape)


_CACHE_BYTES = 1 << 19  # bytes of one block of the uniform first derivative (input and output): within L2


def _first_derivative(values: np.ndarray, times: np.ndarray, axis: int, uniform: float | None) -> np.ndarray:
    """Like ``np.gradient(values, times, axis=axis)`` (edge order 1), float dtype preserved."""
    v = np.moveaxis(values, axis, 0)
    out = np.empty_like(v)
    n = v.shape[0]
    if n < 2:
        out[...] = np.nan
        return np.moveaxis(out, 0, axis)
    t = None if uniform is not None else np.asarray(times, dtype=np.float64).reshape(-1)
    if uniform is not None:
        # Scalar coefficients keep float32 input in float32: half the memory traffic. Done in blocks of
        # frames that stay in the CPU's cache, so the scaling pass (and _mask_missing's check) reread
        # cached values instead of the whole array from memory, as np.gradient's passes do.
        factor = v.dtype.type(0.5 / uniform)
        step = max(_CACHE_BYTES // max(v[0].nbytes * 3, 1), 1)
        for start in range(1, n - 1, step):
            stop = min(start + step, n - 1)
            block = out[start:stop]
            np.subtract(v[start + 1:stop + 1], v[start - 1:stop - 1], out=block)
            block *= factor
    elif n > 2:
        hd, hs = _spacing(t, 0, v.ndim)
        out[1:-1] = (
            -(hs / (hd * (hd + hs))) * v[:-2] + ((hs - hd) / (hd * hs)) * v[1:-1] + (hd / (hs * (hd + hs))) * v[2:]
        )
    first = uniform if uniform is not None else t[1] - t[0]
    last = uniform if uniform is not None else t[-1] - t[-2]
    out[0] = (v[1] - v[0]) / first
    out[-1] = (v[-1] - v[-2]) / last
    return np.moveaxis(out, 0, axis)


def _second_derivative(values: np.ndarray, times: np.ndarray, axis: int, uniform: float | None) -> np.ndarray:
    """Three-point second derivative, exact for quadratics; the ends repeat their neighbour."""
    v = np.moveaxis(values, axis, 0)
    out = np.empty_like(v)
    if v.shape[0] < 3:
        out[...] = np.nan
        return np.moveaxis(out, 0, axis)
    if uniform is not None:
        out[1:-1] = (v[2:] - 2 * v[1:-1] + v[:-2]) * v.dtype.type(1.0 / uniform**2)
    else:
        hd, hs = _spacing(times, 0, v.ndim)
        out[1:-1] = 2 * (hd * v[2:] - (hd + hs) * v[1:-1] + hs * v[:-2]) / (hd * hs * (hd + hs))
    out[0] = out[1]
    out[-1] = out[-2]
    return np.moveaxis(out, 0, axis)


def _safe_chunks(chunks: tuple[int, ...], minimum: int = 3) -> tuple[int, ...]:
    size = max(minimum, max(chunks))
    total = sum(chunks)
    out = [size] * (total // size)
    rest = total - sum(out)
    if rest:
        if rest < minimum and out:
            out[-1] += rest
        else:
            out.append(rest)
    return tuple(out)


def _mask_missing(values: np.ndarray, result: np.ndarray, space_axis: int) -> np.ndarray:
    """NaN in ``result`` wherever any space entry of the point in ``values`` is NaN."""
    # Every frame is in some frame's stencil, so a NaN anywhere in ``values`` leaves a NaN in ``result``:
    # a result that sums to a number had none, and one reading pass (no temporaries) settles the usual
    # case of complete tracks. Infinities can also sum to NaN; they take the full check below.
    if result.size and not np.isnan(np.sum(result)):
        return result
    lead = (slice(None),) * space_axis
    total = values[lead + (0,)].copy()
    for k in range(1, values.shape[space_axis]):
        total += values[lead + (k,)]  # NaN (or inf - inf) if any entry is NaN: one cheap pass
    missing = np.isnan(total)
    if missing.any():
        np.copyto(result, np.nan, where=np.expand_dims(missing, space_axis))
    return result


def _time_derivative(position: xr.DataArray, fps: float | None, order: int) -> xr.DataArray:
    """Derivative along time; a point missing in any space entry gives NaN at its own frame
    (its neighbours get NaN from the stencil)."""
    position = _float(position)
    uniform = _uniform_step(position, fps)
    # Frame times are only needed (and built) when frames are unevenly spaced.
    seconds = _seconds(position, fps) if uniform is None else None
    n_time = position.sizes["time"]
    derivative = _first_derivative if order == 1 else _second_derivative
    space_axis = position.get_axis_num("space")

    def kernel(values, times, axis, uniform):
        return _mask_missing(values, derivative(values, times, axis, uniform), space_axis)

    axis = position.get_axis_num("time")
    data = position.data
    if is_dask(data):
        import dask.array as dsa

        if data.numblocks[space_axis] > 1:
            data = data.rechunk({space_axis: -1})
        shape = [1] * data.ndim
        shape[axis] = n_time
        chunks = [(1,)] * data.ndim
        chunks[axis] = data.chunks[axis]
        if min(data.chunks[axis]) < 3 and data.numblocks[axis] > 1:
            # Each chunk must hold a 3-point stencil on its own: its neighbour lends only 1 frame.
            data = data.rechunk({axis: _safe_chunks(data.chunks[axis])})
            chunks[axis] = data.chunks[axis]
        depth = {i: (1 if i == axis else 0) for i in range(data.ndim)}
        # Evenly spaced frames need no times in the graph: it stays small for long videos.
        arrays = [data] if uniform is not None else [data, dsa.from_array(seconds.reshape(shape), chunks=tuple(chunks))]
        result = dsa.map_overlap(
            lambda v, t=None: kernel(v, t, axis, uniform),
            *arrays,
            depth=depth,
            boundary="none",
            dtype=data.dtype,
            meta=np.empty((0,) * data.ndim, dtype=data.dtype),
        )
    else:
        result = kernel(np.asarray(data), seconds, axis, uniform)
    return position.copy(deep=False, data=result)


def _point_missing(position: xr.DataArray) -> xr.DataArray:
    return position.isnull().any("space")


# --------------------------------------------------------------------------------------------------
# Public functions


def compute_displacement(position: xr.DataArray) -> xr.DataArray:
    """Displacement from the previous frame, ``position[t] - position[t-1]``.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space`` (pixels or calibrated units).

    Returns
    -------
    xr.DataArray
        Same dims and units as ``position``; the first frame is NaN.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> pos = xr.DataArray(np.array([[0.0, 0], [1, 2], [3, 2]]), dims=("time", "space"),
    ...                    coords={"time": [0, 1, 2], "space": ["x", "y"]})
    >>> compute_displacement(pos).sel(space="x").values.tolist()
    [nan, 1.0, 2.0]
    """
    _check_position(position)
    position = _float(position)
    out = position - position.shift(time=1)
    return _wrap(position, out.data, _unit(position), "displacement")


def compute_velocity(position: xr.DataArray, *, fps: float | None = None) -> xr.DataArray:
    """Velocity by central differences (one-sided at the ends, like ``np.gradient``).

    Time is ``position["time"]`` in seconds (or ``frame / fps``, see the module notes), so frames
    missing from ``time`` are handled.
    A frame whose position is NaN gets a NaN velocity; its neighbours do too, as their central
    difference needs it.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``; unit of space in
        ``attrs["space_unit"]`` (:func:`space_unit`).
    fps
        Frames per second; default ``position.attrs["fps"]``. Only used with a ``frame``
        coordinate; without one ``time`` (seconds) is used as it is.

    Returns
    -------
    xr.DataArray
        Same dims as ``position``, units per second (e.g. ``"px/s"``).
    """
    _check_position(position)
    fps = _resolve_fps(position, fps)
    velocity = _time_derivative(position, fps, order=1)
    return _wrap(position, velocity.data, f"{_unit(position)}/s", "velocity")


def compute_acceleration(position: xr.DataArray, *, fps: float | None = None) -> xr.DataArray:
    """Acceleration by the three-point second difference (exact for constant acceleration).

    The first and last frames repeat the value of their neighbour. NaN positions give NaN at
    themselves and at their neighbours.

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    fps
        Frames per second; default ``position.attrs["fps"]`` (only used with a ``frame`` coordinate).

    Returns
    -------
    xr.DataArray
        Same dims as ``position``, units per second squared (e.g. ``"px/s^2"``).
    """
    _check_position(position)
    fps = _resolve_fps(position, fps)
    acceleration = _time_derivative(position, fps, order=2)
    return _wrap(position, acceleration.data, f"{_unit(position)}/s^2", "acceleration")


def _norm(vector: xr.DataArray) -> xr.DataArray:
    return np.sqrt((vector**2).sum("space", skipna=False))


def compute_speed(position: xr.DataArray, *, fps: float | None = None) -> xr.DataArray:
    """Speed: Euclidean norm of the velocity over ``space``.

    Returns
    -------
    xr.DataArray
        Dims of ``position`` without ``space``; units per second (e.g. ``"px/s"``).
    """
    velocity = compute_velocity(position, fps=fps)
    speed = _norm(velocity)
    speed.attrs = {**position.attrs, "units": velocity.attrs["units"]}
    return speed.rename("speed")


def _ffill(position: xr.DataArray) -> xr.DataArray:
    """Forward-fill whole points (all of ``space``) along time, across Dask chunks."""
    points = position.where(~_point_missing(position))
    return points.copy(data=fill_along_time(points.data, points.get_axis_num("time")))


def compute_path_length(
    position: xr.DataArray,
    *,
    start: float | None = None,
    stop: float | None = None,
    nan_policy: Literal["ffill", "drop"] = "ffill",
) -> xr.DataArray:
    """Total distance travelled between frames ``start`` and ``stop`` (inclusive).

    Parameters
    ----------
    position
        Positions with dims including ``time`` and ``space``.
    start, stop
        First and last times in seconds (values of ``time``), inclusive; default the whole recording.
    nan_policy
        ``"ffill"``: a gap is crossed in a straight line from the last seen to the next seen
        point (positions forward-filled before differencing). ``"drop"``: steps with a missing
        end contribute nothing, so the distance moved during a gap is not counted.

    Returns
    -------
    xr.DataArray
        Dims of ``position`` without ``time`` and ``space``, units of ``position``. 0 where fewer
        than two points were seen.
    """
    _check_position(position)
    if nan_policy not in ("ffill", "drop"):
        raise ValueError(f"Expected nan_policy 'ffill' or 'drop', but got {nan_policy!r}")
    if start is not None and stop is not None and stop < start:
        raise ValueError(f"Expected stop >= start, but got start={start}, stop={stop}")
    window = _float(position).sel(time=slice(start, stop))
    if nan_policy == "ffill":
        window = _ffill(window)
    steps = _norm(window - window.shift(time=1))
    length = steps.astype(np.float64).sum("time", skipna=True)  # float32 sums drift over long videos
    length.attrs = {**position.attrs, "units": _unit(position)}
    return length.rename("path_length")


def compute_heading(
    position: xr.DataArray,
    *,
    from_keypoint: str | None = None,
    to_keypoint: str | None = None,
    fps: float | None = None,
) -> xr.DataArray:
    """Heading angle in radians, in (-pi, pi], measured from +x towards +y.

    In image coordinates (y pointing down) a positive angle turns clockwise on screen.

    Parameters
    ----------
    position
        2D positions with dims including ``time`` and ``space``.
    from_keypoint, to_keypoint
        When both are given: the angle of the body axis from ``from_keypoint`` to ``to_keypoint``
        (e.g. tail base to snout); the ``keypoints`` dim is dropped. When neither is given: the
        direction of the velocity (NaN where the point does not move).
    fps
        Only used for the velocity direction, with a ``frame`` coordinate (the direction does
        not depend on the time unit).

    Returns
    -------
    xr.DataArray
        Dims of ``position`` without ``space`` (and ``keypoints`` for a body axis), ``"rad"``.
    """
    _check_position(position)
    if position.sizes["space"] != 2:
        raise ValueError(f"Expected 2 space coordinates (x, y) for a heading, but got {position.sizes['space']}")
    if (from_keypoint is None) != (to_keypoint is None):
        raise ValueError(
            f"Expected both from_keypoint and to_keypoint or neither, but got {from_keypoint!r} and {to_keypoint!r}"
        )
    if from_keypoint is not None:
        if "keypoints" not in position.dims:
            raise ValueError(f"Expected a 'keypoints' dimension for a body axis, but got dims {tuple(position.dims)}")
        for name in (from_keypoint, to_keypoint):
            if name not in position["keypoints"].values:
                raise ValueError(f"Expected keypoint {name!r} in {list(position['keypoints'].values)}, but it is missing")
        vector = position.sel(keypoints=to_keypoint, drop=True) - position.sel(keypoints=from_keypoint, drop=True)
    else:
        vector = compute_velocity(position, fps=fps)
        vector = vector.where(_norm(vector) > 0)
    heading = np.arctan2(vector.isel(space=1, drop=True), vector.isel(space=0, drop=True))
    heading.attrs = {**position.attrs, "units": "rad"}
    return heading.rename("heading")


def compute_distance(a: xr.DataArray, b: xr.DataArray) -> xr.DataArray:
    """Euclidean distance between two sets of positions, frame by frame.

    ``a`` and ``b`` are selections of the same dataset, e.g. two keypoints
    (``pos.sel(keypoints="snout")``, ``pos.sel(keypoints="tailbase")``) or two individuals; the
    remaining dims broadcast as in xarray. Scalar coordinates that differ between the two (the
    selected keypoint or individual names) are dropped.

    Returns
    -------
    xr.DataArray
        Broadcast dims of ``a`` and ``b`` without ``space``; units of ``a``.
    """
    _check_position(a, "a")
    _check_position(b, "b")
    if _unit(a) != _unit(b):
        raise ValueError(f"Expected a and b in the same units, but got {_unit(a)!r} and {_unit(b)!r}")
    conflicting = [
        name
        for name in set(a.coords) & set(b.coords)
        if a[name].ndim == 0 and b[name].ndim == 0 and not a[name].equals(b[name])
    ]
    a = a.drop_vars(conflicting)
    b = b.drop_vars(conflicting)
    distance = _norm(_float(a) - _float(b))
    distance.attrs = {**a.attrs, "units": _unit(a)}
    return distance.rename("distance")


def scale_to_mm(position: xr.DataArray, pixel_size_mm: float | xr.DataArray) -> xr.DataArray:
    """Convert pixel coordinates to millimetres.

    Parameters
    ----------
    position
        Positions in pixels (``attrs["space_unit"]`` absent or ``"px"``).
    pixel_size_mm
        Millimetres per pixel: a positive number, or a DataArray broadcasting against
        ``position`` (e.g. per ``view`` or per ``space``).

    Returns
    -------
    xr.DataArray
        ``position * pixel_size_mm`` with ``attrs["space_unit"] == "mm"``.
    """
    _check_position(position)
    if _unit(position) != "px":
        raise ValueError(f"Expected position in 'px', but got units {_unit(position)!r}")
    # A Python float keeps float32 positions in float32.
    size = pixel_size_mm if isinstance(pixel_size_mm, xr.DataArray) else float(pixel_size_mm)
    if not bool(np.all(np.isfinite(size)) and np.all(np.asarray(size) > 0)):
        raise ValueError(f"Expected a positive, finite pixel_size_mm, but got {pixel_size_mm}")
    scaled = _float(position) * size
    scaled.attrs = {**{k: v for k, v in position.attrs.items() if k != "units"}, "space_unit": "mm"}
    return scaled.rename(position.name)
