"""Small helpers the task measures share: picking one track out of a dataset, speed, runs.

Kept private: the public kinematics live in :mod:`deepbehavior.analysis.kinematics`; these are the
few pieces the measures need in a fixed form (a ``(time, space)`` track and NumPy runs).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .kinematics import _resolve_fps, compute_path_length, compute_speed


def fps_of(data: xr.Dataset | xr.DataArray, fps: float | None = None) -> float:
    """``fps``, else ``data.attrs["fps"]`` (checked positive); an error when neither is given."""
    found = _resolve_fps(data, fps)
    if found is None:
        raise ValueError("Expected fps (keyword argument or attrs['fps']), but got neither")
    return found


def select(array: xr.DataArray, dim: str, label: str | None = None) -> xr.DataArray:
    """``array`` at ``label`` of ``dim`` (None: the first), without that dimension; a label that
    is not there is an error naming the ones that are."""
    labels = [str(v) for v in array[dim].values]
    label = labels[0] if label is None else label
    if label not in labels:
        raise ValueError(f"Expected {'an' if dim[0] in 'aeiou' else 'a'} {dim} in {labels}, but got {label!r}")
    return array.sel({dim: label}, drop=True)


def as_position(data: xr.Dataset | xr.DataArray, *, view: str | None = None) -> xr.DataArray:
    """The ``position`` array of ``data`` with one camera view selected and the ``view`` dimension dropped.

    ``view`` None takes the only view, or the first one when there are several. ``attrs`` of a
    dataset (``fps``) are carried over to the array.
    """
    if isinstance(data, xr.Dataset):
        if "position" not in data:
            raise ValueError(f"Expected a 'position' variable, but the dataset has {list(data.data_vars)}")
        position = data["position"]
        position = position.assign_attrs({**data.attrs, **position.attrs})
    else:
        position = data
    if "view" in position.dims:
        position = select(position, "view", view)
    elif view is not None and "view" in position.coords and str(position["view"].values) != view:
        raise ValueError(f"Expected a view in {[str(position['view'].values)]}, but got {view!r}")
    if "time" not in position.dims or "space" not in position.dims:
        raise ValueError(f"Expected position with dimensions time and space, but got {position.dims}")
    return position


def point_track(
    position: xr.DataArray, *, keypoint: str | None = None, individual: str | None = None
) -> xr.DataArray:
    """One point's track ``(time, space)`` out of ``position``.

    ``keypoint`` None takes the mean of the visible keypoints (the centroid); ``individual`` None
    takes the first individual.
    """
    track = position
    if "individuals" in track.dims:
        track = select(track, "individuals", individual)
    if "keypoints" in track.dims:
        if keypoint is None:
            track = track.mean("keypoints", skipna=True, keep_attrs=True)
        else:
            track = select(track, "keypoints", keypoint)
    extra = set(track.dims) - {"time", "space"}
    if extra:
        raise ValueError(f"Expected a track with dimensions (time, space), but got extra {sorted(extra)}")
    return track.transpose("time", "space")


def speed(track: xr.DataArray, *, fps: float) -> np.ndarray:
    """Speed ``(time,)`` in position units per second (:func:`kinematics.compute_speed`)."""
    if track.sizes["time"] < 2:
        return np.full(track.sizes["time"], np.nan)
    return np.asarray(compute_speed(track, fps=fps).transpose("time").values, dtype=np.float64)


def step_lengths(track: xr.DataArray) -> np.ndarray:
    """Length of each step between consecutive frames ``(time - 1,)``; NaN where either end is missing."""
    values = np.asarray(track.transpose("time", "space").values, dtype=np.float64)
    return np.linalg.norm(np.diff(values, axis=0), axis=1)


def path_length(track: xr.DataArray) -> float:
    """Sum of the steps between consecutive frames where both frames are present (position units)."""
    return float(compute_path_length(track, nan_policy="drop").values)


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) stops of the runs of True in a 1D boolean array."""
    padded = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return edges[0::2], edges[1::2]
