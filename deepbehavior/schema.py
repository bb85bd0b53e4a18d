"""The data model: names of dimensions and variables, construction and validation of datasets.

Datasets follow the conventions of the ``movement`` package so that our stores open as movement
datasets:

- poses: ``position (time, space, keypoint, individual, view)``,
  ``confidence (time, keypoint, individual, view)``
- boxes: ``position (time, space, individual, view)`` (box centre),
  ``shape (time, space, individual, view)`` (width, height),
  ``confidence (time, individual, view)``, and ``class_index (time, individual, view)``

``view`` is always present (length 1 for a single camera) so that one code path serves one camera
and many. ``time`` holds frame numbers; ``attrs["fps"]`` turns them into seconds. Missing values are
NaN. Before tracking, the ``individual`` axis holds *slots* (``attrs["individuals_are"] ==
"slots"``): the k-th most confident detection of a frame, not an identity.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

POSES = "poses"
BOXES = "bboxes"

SPACE_2D = ("x", "y")
SPACE_3D = ("x", "y", "z")

POSE_DIMS = {
    "position": ("time", "space", "keypoint", "individual", "view"),
    "confidence": ("time", "keypoint", "individual", "view"),
}
BOX_DIMS = {
    "position": ("time", "space", "individual", "view"),
    "shape": ("time", "space", "individual", "view"),
    "confidence": ("time", "individual", "view"),
    "class_index": ("time", "individual", "view"),
}


class SchemaError(ValueError):
    """A dataset does not have the documented dimensions, shapes or attributes."""


def _as_float(array, name: str, ndim: int) -> np.ndarray:
    out = np.asarray(array, dtype=np.float32)
    if out.ndim != ndim:
        raise SchemaError(f"Expected {name} with {ndim} dimensions, but got shape {out.shape}")
    return out


def _names(values: Sequence[str] | None, count: int, prefix: str) -> list[str]:
    if values is None:
        return [f"{prefix}{i}" for i in range(count)]
    values = [str(v) for v in values]
    if len(values) != count:
        raise SchemaError(f"Expected {count} {prefix} names, but got {len(values)}: {values}")
    if len(set(values)) != len(values):
        raise SchemaError(f"Expected unique {prefix} names, but got {values}")
    return values


def _time(time, count: int) -> np.ndarray:
    if time is None:
        return np.arange(count, dtype=np.int64)
    time = np.asarray(time)
    if time.shape != (count,):
        raise SchemaError(f"Expected {count} frame numbers in time, but got shape {time.shape}")
    return time


def _check_fps(fps: float) -> float:
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise SchemaError(f"Expected a positive fps, but got {fps}")
    return fps


def make_poses(
    position,
    confidence=None,
    *,
    fps: float,
    keypoints: Sequence[str] | None = None,
    individuals: Sequence[str] | None = None,
    views: Sequence[str] | None = None,
    time=None,
    space: Sequence[str] | None = None,
    source_software: str = "deepbehavior",
    individuals_are: str = "identities",
) -> xr.Dataset:
    """Build a poses dataset.

    Parameters
    ----------
    position
        Array ``(time, space, keypoint, individual)`` or, with several cameras,
        ``(time, space, keypoint, individual, view)``; pixels (2D) or calibrated units (3D).
    confidence
        Array ``(time, keypoint, individual[, view])`` in [0, 1]; NaN where position is NaN when
        omitted, 1 elsewhere.
    fps
        Frames per second of the source video.
    """
    position = np.asarray(position, dtype=np.float32)
    if position.ndim == 4:
        position = position[..., None]
    position = _as_float(position, "position (time, space, keypoint, individual, view)", 5)
    n_time, n_space, n_kp, n_ind, n_view = position.shape
    if confidence is None:
        confidence = np.where(np.isnan(position).any(axis=1), np.nan, 1.0)
    confidence = np.asarray(confidence, dtype=np.float32)
    if confidence.ndim == 3:
        confidence = confidence[..., None]
    if confidence.shape != (n_time, n_kp, n_ind, n_view):
        raise SchemaError(
            f"Expected confidence of shape {(n_time, n_kp, n_ind, n_view)}, but got {confidence.shape}"
        )
    space = tuple(space) if space is not None else (SPACE_2D if n_space == 2 else SPACE_3D)
    if len(space) != n_space:
        raise SchemaError(f"Expected {n_space} space labels, but got {space}")
    coords = {
        "time": _time(time, n_time),
        "space": list(space),
        "keypoint": _names(keypoints, n_kp, "keypoint"),
        "individual": _names(individuals, n_ind, "individual"),
        "view": _names(views, n_view, "view"),
    }
    ds = xr.Dataset(
        {
            "position": (POSE_DIMS["position"], position),
            "confidence": (POSE_DIMS["confidence"], confidence),
        },
        coords=coords,
        attrs={
            "ds_type": POSES,
            "fps": _check_fps(fps),
            "time_unit": "frames",
            "source_software": source_software,
            "individuals_are": individuals_are,
        },
    )
    return ds


def make_boxes(
    centre,
    shape,
    confidence=None,
    class_index=None,
    *,
    fps: float,
    individuals: Sequence[str] | None = None,
    views: Sequence[str] | None = None,
    class_names: Sequence[str] = ("object",),
    time=None,
    source_software: str = "deepbehavior",
    individuals_are: str = "slots",
) -> xr.Dataset:
    """Build a boxes dataset.

    Parameters
    ----------
    centre, shape
        Arrays ``(time, 2, individual[, view])``: box centre (x, y) and size (width, height), pixels.
    confidence
        Array ``(time, individual[, view])``; 1 where the box exists when omitted.
    class_index
        Array ``(time, individual[, view])`` of indices into ``class_names``; NaN where no box
        (stored as floats so that "missing" is NaN here as everywhere).
    """
    centre = np.asarray(centre, dtype=np.float32)
    shape = np.asarray(shape, dtype=np.float32)
    if centre.ndim == 3:
        centre, shape = centre[..., None], shape[..., None]
    centre = _as_float(centre, "box centre (time, space, individual, view)", 4)
    if shape.shape != centre.shape:
        raise SchemaError(f"Expected box shape of shape {centre.shape}, but got {shape.shape}")
    if centre.shape[1] != 2:
        raise SchemaError(f"Expected 2 space values (x, y) per box, but got {centre.shape[1]}")
    n_time, _, n_ind, n_view = centre.shape
    missing = np.isnan(centre).any(axis=1)
    if confidence is None:
        confidence = np.where(missing, np.nan, 1.0)
    if class_index is None:
        class_index = np.where(missing, np.nan, 0.0)
    confidence = np.asarray(confidence, dtype=np.float32)
    class_index = np.asarray(class_index, dtype=np.float32)
    if confidence.ndim == 2:
        confidence = confidence[..., None]
    if class_index.ndim == 2:
        class_index = class_index[..., None]
    for name, arr in (("confidence", confidence), ("class_index", class_index)):
        if arr.shape != (n_time, n_ind, n_view):
            raise SchemaError(f"Expected {name} of shape {(n_time, n_ind, n_view)}, but got {arr.shape}")
    coords = {
        "time": _time(time, n_time),
        "space": list(SPACE_2D),
        "individual": _names(individuals, n_ind, "slot" if individuals_are == "slots" else "individual"),
        "view": _names(views, n_view, "view"),
    }
    return xr.Dataset(
        {
            "position": (BOX_DIMS["position"], centre),
            "shape": (BOX_DIMS["shape"], shape),
            "confidence": (BOX_DIMS["confidence"], confidence),
            "class_index": (BOX_DIMS["class_index"], class_index),
        },
        coords=coords,
        attrs={
            "ds_type": BOXES,
            "fps": _check_fps(fps),
            "time_unit": "frames",
            "source_software": source_software,
            "individuals_are": individuals_are,
            "class_names": list(class_names),
        },
    )


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` is a poses or boxes dataset of this project; return it unchanged.

    Raises
    ------
    SchemaError
        Naming the variable, dimension or attribute that is wrong and what was expected.
    """
    kind = ds.attrs.get("ds_type")
    if kind not in (POSES, BOXES):
        raise SchemaError(f"Expected attrs['ds_type'] to be '{POSES}' or '{BOXES}', but got {kind!r}")
    expected = POSE_DIMS if kind == POSES else BOX_DIMS
    for name, dims in expected.items():
        if name not in ds:
            raise SchemaError(f"Expected a variable '{name}' in a {kind} dataset, but it is missing")
        if tuple(ds[name].dims) != dims:
            raise SchemaError(f"Expected '{name}' with dimensions {dims}, but got {tuple(ds[name].dims)}")
    n_space = ds.sizes["space"]
    if n_space not in (2, 3):
        raise SchemaError(f"Expected 2 or 3 entries in 'space', but got {n_space}")
    if kind == BOXES and n_space != 2:
        raise SchemaError(f"Expected 2 entries in 'space' for boxes, but got {n_space}")
    fps = ds.attrs.get("fps")
    if fps is None:
        raise SchemaError("Expected attrs['fps'] (frames per second), but it is missing")
    _check_fps(fps)
    return ds


def frame_seconds(ds: xr.Dataset) -> np.ndarray:
    """Times of the frames of ``ds`` in seconds (frame number / fps)."""
    return np.asarray(ds["time"], dtype=np.float64) / float(ds.attrs["fps"])
