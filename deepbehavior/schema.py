"""The data model: names of dimensions and variables, construction and validation of datasets.

Datasets are ``movement`` (0.15) datasets, so that a store opened with :func:`xarray.open_zarr`
passes straight to movement's kinematics, filters and exporters:

- poses: ``position (time, space, keypoints, individuals[, view])``,
  ``confidence (time, keypoints, individuals[, view])``
- boxes: ``position (time, space, individuals[, view])`` (box centre, pixels),
  ``shape (time, space, individuals[, view])`` (width, height, pixels),
  ``confidence (time, individuals[, view])`` and ``class_index (time, individuals[, view])``
  (float, NaN where there is no box)

``view`` is a dimension (the last one) only when a dataset holds two or more cameras; a
single-camera dataset keeps its camera name in a scalar (0-d) coordinate ``view``. Code that loops
over cameras calls :func:`with_view` on read, and :func:`drop_single_view` undoes it.

``time`` is in seconds (float64, frame number / fps, ``attrs["time_unit"] == "seconds"``); the
frame numbers, for anything that seeks video, are the int64 coordinate ``frame`` along ``time``
(:func:`frames`). ``attrs["space_unit"]`` is the one unit of positions: ``"px"`` in 2D, the
calibration's unit in 3D. Missing values are NaN. Before tracking, the ``individuals`` axis holds
*slots* (``attrs["individuals_are"] == "slots"``): the k-th most confident detection of a frame,
not an identity. The glossary below names each of these words once (:data:`POSES`, :data:`BOXES`,
:data:`SLOTS`, :data:`IDENTITIES`, :data:`SPACE_UNIT` and its rule).

Pixel convention
----------------
Pixel coordinates in a dataset are continuous, x right and y down, with **the centre of the
top-left pixel at (0, 0)**: pixel (column i, row j) covers [i - 0.5, i + 0.5] x [j - 0.5, j + 0.5]
and a W x H frame spans [-0.5, W - 0.5] x [-0.5, H - 0.5]. It is OpenCV's (drawing, ``remap``,
calibration, hence triangulation and every camera model here), and that of DeepLabCut, SLEAP
(format 1.1 on), OpenPose, movement and NWB, which are read and written unchanged.

Tools that draw boxes put (0, 0) at the top-left *corner* of the top-left pixel (a W x H frame spans
[0, W] x [0, H]): TensorBox, darknet, Yolo_mark, YOLO and COCO boxes, and this project's labels
(:class:`deepbehavior.formats.LabelSet`, the labelling app). The readers of those formats convert
where they build a dataset (:func:`from_corner_origin`: subtract :data:`CORNER_TO_CENTRE_PX` from
positions; sizes are the same in both), and label readers of the centre formats (DeepLabCut)
convert the other way (:func:`to_corner_origin`). Predictors' output has the corner origin of the
labels they learn from; :func:`deepbehavior.models.outputs.prediction_arrays` converts it. Those
are the only conversions: format readers and writers in ``deepbehavior/formats/``, and model output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:  # xarray loads where a dataset is built: a store can be made and written without it
    import xarray as xr

# ---- Glossary: the words of the data model, each defined once ----------------------------------

#: ``attrs["ds_type"]`` of keypoint datasets (movement's word), and a model's ``kind`` for them.
POSES = "poses"
#: ``attrs["ds_type"]`` of box datasets (movement's word, "bboxes"), and a model's ``kind`` for
#: them. A model may still say ``"boxes"`` (:data:`BOXES_ALIAS`); it means the same.
BOXES = "bboxes"
BOXES_ALIAS = "boxes"
DS_TYPES = (POSES, BOXES)

#: ``attrs["individuals_are"]``: what the ``individuals`` axis holds. :data:`SLOTS`: the k-th
#: most confident detection of a frame (a detector's output, names ``slot0``, ...); a slot is not
#: an animal and may hold a different one each frame. :data:`IDENTITIES`: one animal per entry
#: for the whole recording (after ``track``, or from a tool that tracks).
SLOTS = "slots"
IDENTITIES = "identities"
INDIVIDUALS_ARE = (SLOTS, IDENTITIES)

#: ``attrs["time_unit"]``: ``time`` is always in seconds.
TIME_UNIT = "seconds"
#: ``attrs["space_unit"]``, the one unit of every position, size and distance of a dataset. The rule:
#: 2D positions are in :data:`PIXELS` of the video frame (a measure in mm multiplies by the session's
#: ``pixel_size_mm``, and says so in its own unit); 3D positions are in the calibration's unit (its
#: board's ``square_size`` unit, usually ``"mm"``), or :data:`UNKNOWN_UNIT` when it is not known.
#: Variables carry no unit attribute of their own: ``space_unit`` is the only one.
SPACE_UNIT = "space_unit"
PIXELS = "px"
MILLIMETRES = "mm"
UNKNOWN_UNIT = "unknown"


#: Corner-origin minus centre-origin coordinate of the same point, pixels (see the module's
#: "Pixel convention").
CORNER_TO_CENTRE_PX = 0.5


def from_corner_origin(position):
    """Positions (pixels, any shape) of a corner-origin tool in this data model's convention."""
    return np.asarray(position, dtype=np.float64) - CORNER_TO_CENTRE_PX


def to_corner_origin(position):
    """Positions (pixels, any shape) of this data model in a corner-origin tool's convention."""
    return np.asarray(position, dtype=np.float64) + CORNER_TO_CENTRE_PX


def default_space_unit(n_space: int) -> str:
    """The ``space_unit`` of a dataset with ``n_space`` space entries when its source names none:
    :data:`PIXELS` in 2D, :data:`UNKNOWN_UNIT` in 3D."""
    return PIXELS if n_space == 2 else UNKNOWN_UNIT

TIME = "time"
SPACE = "space"
KEYPOINTS = "keypoints"
INDIVIDUALS = "individuals"
VIEW = "view"
FRAME = "frame"

SPACE_2D = ("x", "y")
SPACE_3D = ("x", "y", "z")

# Dimensions of a single-camera dataset (movement's); a multi-camera one appends VIEW.
POSE_DIMS = {
    "position": (TIME, SPACE, KEYPOINTS, INDIVIDUALS),
    "confidence": (TIME, KEYPOINTS, INDIVIDUALS),
}
BOX_DIMS = {
    "position": (TIME, SPACE, INDIVIDUALS),
    "shape": (TIME, SPACE, INDIVIDUALS),
    "confidence": (TIME, INDIVIDUALS),
    "class_index": (TIME, INDIVIDUALS),
}

# Names of the layout before issue #13 (singular, frame-numbered time, view always present).
_LEGACY_NAMES = {"individual": INDIVIDUALS, "keypoint": KEYPOINTS}
UPGRADE_HINT = (
    "convert it with deepbehavior.store.upgrade_store(old, new) "
    "(or deepbehavior.schema.upgrade_legacy(xarray.open_zarr(old)) for the dataset)"
)


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


def _frames(time, count: int) -> np.ndarray:
    if time is None:
        return np.arange(count, dtype=np.int64)
    time = np.asarray(time)
    if time.shape != (count,):
        raise SchemaError(f"Expected {count} frame numbers in time, but got shape {time.shape}")
    if time.dtype.kind == "f":
        if not np.all(np.isfinite(time)) or np.any(time != np.round(time)):
            raise SchemaError(f"Expected whole frame numbers in time, but got {time[:5]}...")
    elif time.dtype.kind not in "iu":
        raise SchemaError(f"Expected integer frame numbers in time, but got dtype {time.dtype}")
    return time.astype(np.int64)


def _check_fps(fps: float) -> float:
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise SchemaError(f"Expected a positive fps, but got {fps}")
    return fps


def time_coords(frame_numbers, fps: float) -> dict:
    """The ``time`` (seconds) and ``frame`` coordinates for ``frame_numbers`` at ``fps``.

    Use as ``ds.assign_coords(schema.time_coords(frames, fps))`` when building a dataset by hand.
    """
    frame_numbers = np.asarray(frame_numbers, dtype=np.int64)
    fps = _check_fps(fps)
    return {TIME: frame_numbers.astype(np.float64) / fps, FRAME: (TIME, frame_numbers)}


class Parts(NamedTuple):
    """A dataset of this data model as the three arguments of ``xarray.Dataset``: data variables
    ``{name: (dims, array)}``, coordinates and attributes, as the builders below make them.

    :func:`deepbehavior.store.create_empty_store` makes a store from them with Zarr alone, so that
    inference writes its stores without loading xarray (and, through it, Dask).
    """

    data_vars: dict
    coords: dict
    attrs: dict

    def dataset(self) -> xr.Dataset:
        import xarray as xr

        return xr.Dataset(self.data_vars, coords=self.coords, attrs=self.attrs)


def _assemble(variables: dict, dims: dict, coords: dict, views: list[str], attrs: dict) -> Parts:
    """The parts of a dataset of ``variables`` (arrays with the view axis last), with the view axis
    dropped when there is one camera (its name kept in a scalar coordinate ``view``)."""
    if len(views) == 1:
        data = {name: (dims[name], arr[..., 0]) for name, arr in variables.items()}
        coords = {**coords, VIEW: views[0]}
    else:
        data = {name: ((*dims[name], VIEW), arr) for name, arr in variables.items()}
        coords = {**coords, VIEW: views}
    return Parts(data, coords, attrs)


def make_poses(position, confidence=None, **kwargs) -> xr.Dataset:
    """Build a poses dataset: :func:`pose_parts` (the same parameters) as an ``xarray.Dataset``."""
    return pose_parts(position, confidence, **kwargs).dataset()


def pose_parts(
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
    individuals_are: str = IDENTITIES,
    space_unit: str | None = None,
) -> Parts:
    """The parts of a poses dataset (:func:`make_poses` builds it).

    Parameters
    ----------
    position
        Array ``(time, space, keypoints, individuals)`` or, with cameras,
        ``(time, space, keypoints, individuals, view)``; pixels (2D) or calibrated units (3D).
    confidence
        Array ``(time, keypoints, individuals[, view])`` in [0, 1]; NaN where position is NaN when
        omitted, 1 elsewhere.
    fps
        Frames per second of the source video.
    keypoints, individuals, views
        Names along each axis (default ``keypoint0``…, ``individual0``…, ``view0``…).
    time
        Frame numbers ``(time,)`` (default 0, 1, …); they become the ``frame`` coordinate and
        ``time`` = frame / fps seconds.
    space_unit
        Unit of positions; default ``"px"`` in 2D and ``"unknown"`` in 3D.

    Returns
    -------
    Parts
        ``view`` is a dimension (the last) only when there are two or more views.
    """
    position = np.asarray(position, dtype=np.float32)
    if position.ndim == 4:
        position = position[..., None]
    position = _as_float(position, "position (time, space, keypoints, individuals, view)", 5)
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
    fps = _check_fps(fps)
    coords = {
        **time_coords(_frames(time, n_time), fps),
        SPACE: list(space),
        KEYPOINTS: _names(keypoints, n_kp, "keypoint"),
        INDIVIDUALS: _names(individuals, n_ind, "individual"),
    }
    attrs = {
        "ds_type": POSES,
        "fps": fps,
        "time_unit": TIME_UNIT,
        SPACE_UNIT: space_unit or default_space_unit(n_space),
        "source_software": source_software,
        "individuals_are": individuals_are,
    }
    return _assemble({"position": position, "confidence": confidence}, POSE_DIMS, coords,
                     _names(views, n_view, "view"), attrs)


def make_boxes(centre, shape, confidence=None, class_index=None, **kwargs) -> xr.Dataset:
    """Build a boxes dataset (movement's ``bboxes``): :func:`box_parts` (the same parameters) as an
    ``xarray.Dataset``."""
    return box_parts(centre, shape, confidence, class_index, **kwargs).dataset()


def box_parts(
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
    individuals_are: str = SLOTS,
) -> Parts:
    """The parts of a boxes dataset (movement's ``bboxes``; :func:`make_boxes` builds it).

    Parameters
    ----------
    centre, shape
        Arrays ``(time, 2, individuals[, view])``: box centre (x, y) and size (width, height), pixels.
    confidence
        Array ``(time, individuals[, view])``; 1 where the box exists when omitted.
    class_index
        Array ``(time, individuals[, view])`` of indices into ``class_names``; NaN where no box
        (stored as floats so that "missing" is NaN here as everywhere).
    time
        Frame numbers (default 0, 1, …): the ``frame`` coordinate; ``time`` = frame / fps seconds.
    """
    centre = np.asarray(centre, dtype=np.float32)
    shape = np.asarray(shape, dtype=np.float32)
    if centre.ndim == 3:
        centre, shape = centre[..., None], shape[..., None]
    centre = _as_float(centre, "box centre (time, space, individuals, view)", 4)
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
    fps = _check_fps(fps)
    coords = {
        **time_coords(_frames(time, n_time), fps),
        SPACE: list(SPACE_2D),
        INDIVIDUALS: _names(individuals, n_ind, "slot" if individuals_are == SLOTS else "individual"),
    }
    attrs = {
        "ds_type": BOXES,
        "fps": fps,
        "time_unit": TIME_UNIT,
        SPACE_UNIT: PIXELS,
        "source_software": source_software,
        "individuals_are": individuals_are,
        "class_names": list(class_names),
    }
    variables = {"position": centre, "shape": shape, "confidence": confidence, "class_index": class_index}
    return _assemble(variables, BOX_DIMS, coords, _names(views, n_view, "view"), attrs)


def is_legacy(ds: xr.Dataset) -> bool:
    """Whether ``ds`` has the layout before issue #13 (``individual``/``keypoint``, time in frames)."""
    return any(name in ds.dims for name in _LEGACY_NAMES) or (
        ds.attrs.get("time_unit") == "frames" and FRAME not in ds.coords and "ds_type" in ds.attrs
    )


def validate(ds: xr.Dataset) -> xr.Dataset:
    """Check that ``ds`` is a poses or boxes dataset of this project; return it unchanged.

    Single-camera datasets (no ``view`` dimension, a scalar ``view`` coordinate) and multi-camera
    ones (``view`` the last dimension of every variable) are both accepted.

    Raises
    ------
    SchemaError
        Naming the variable, dimension or attribute that is wrong and what was expected.
    """
    if is_legacy(ds):
        raise SchemaError(
            "Expected dimensions 'individuals'/'keypoints' and time in seconds, but got the old layout "
            f"(dims {tuple(ds.dims)}, time_unit {ds.attrs.get('time_unit')!r}); {UPGRADE_HINT}"
        )
    kind = ds.attrs.get("ds_type")
    if kind not in (POSES, BOXES):
        raise SchemaError(f"Expected attrs['ds_type'] to be '{POSES}' or '{BOXES}', but got {kind!r}")
    expected = POSE_DIMS if kind == POSES else BOX_DIMS
    tail = (VIEW,) if VIEW in ds.dims else ()
    for name, dims in expected.items():
        if name not in ds:
            raise SchemaError(f"Expected a variable '{name}' in a {kind} dataset, but it is missing")
        if tuple(ds[name].dims) != dims + tail:
            raise SchemaError(f"Expected '{name}' with dimensions {dims + tail}, but got {tuple(ds[name].dims)}")
    n_space = ds.sizes[SPACE]
    if n_space not in (2, 3):
        raise SchemaError(f"Expected 2 or 3 entries in 'space', but got {n_space}")
    if kind == BOXES and n_space != 2:
        raise SchemaError(f"Expected 2 entries in 'space' for boxes, but got {n_space}")
    fps = ds.attrs.get("fps")
    if fps is None:
        raise SchemaError("Expected attrs['fps'] (frames per second), but it is missing")
    _check_fps(fps)
    if ds.attrs.get("time_unit") != TIME_UNIT:
        raise SchemaError(f"Expected attrs['time_unit'] == '{TIME_UNIT}', but got {ds.attrs.get('time_unit')!r}")
    if FRAME not in ds.coords or ds[FRAME].dims != (TIME,):
        raise SchemaError("Expected a coordinate 'frame' (frame numbers along time), but it is missing")
    if ds[FRAME].dtype.kind not in "iu":
        raise SchemaError(f"Expected integer frame numbers in 'frame', but got dtype {ds[FRAME].dtype}")
    if VIEW not in ds.coords:
        raise SchemaError("Expected a coordinate 'view' (camera name), but it is missing")
    return ds


def with_view(ds: xr.Dataset, *, default: str = "view0") -> xr.Dataset:
    """``ds`` with a ``view`` dimension last in every data variable (length 1 for one camera).

    For code that loops over cameras. A single-camera dataset's scalar ``view`` coordinate (or
    ``default`` when it has none) names the one view. :func:`drop_single_view` undoes it.
    """
    if VIEW not in ds.dims:
        if VIEW not in ds.coords:
            ds = ds.assign_coords({VIEW: default})
        ds = ds.expand_dims(VIEW)
    return ds.transpose(..., VIEW)


def drop_single_view(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` without its ``view`` dimension when that has length 1 (the name stays as a scalar
    coordinate); unchanged otherwise. The reverse of :func:`with_view`."""
    if VIEW in ds.dims and ds.sizes[VIEW] == 1:
        return ds.isel({VIEW: 0})
    return ds


def view_names(ds: xr.Dataset | xr.DataArray) -> list[str]:
    """Names of the cameras of ``ds`` (one for a single-camera dataset)."""
    if VIEW not in ds.coords:
        return ["view0"]
    return [str(v) for v in np.atleast_1d(ds[VIEW].values)]


def select_view(ds: xr.Dataset | xr.DataArray, view: str | None = None) -> xr.Dataset | xr.DataArray:
    """One camera of ``ds`` (None: the first) without a ``view`` dimension, its name kept as the
    scalar coordinate ``view``: a single-camera dataset in its own right."""
    names = view_names(ds)
    view = names[0] if view is None else str(view)
    if view not in names:
        raise ValueError(f"Expected a view in {names}, but got {view!r}")
    return ds.isel({VIEW: names.index(view)}) if VIEW in ds.dims else ds


def frames(ds: xr.Dataset | xr.DataArray) -> np.ndarray:
    """Frame numbers (int64) of the ``time`` axis of ``ds``: its ``frame`` coordinate, else
    ``round(time * fps)`` (or ``time`` itself when ``attrs["time_unit"] == "frames"``)."""
    if FRAME in ds.coords:
        return np.asarray(ds[FRAME].values, dtype=np.int64)
    time = np.asarray(ds[TIME].values, dtype=np.float64)
    if ds.attrs.get("time_unit") == "frames" or "fps" not in ds.attrs:
        return np.round(time).astype(np.int64)
    return np.round(time * float(ds.attrs["fps"])).astype(np.int64)


def frame_seconds(ds: xr.Dataset) -> np.ndarray:
    """Times of the frames of ``ds`` in seconds (frame number / fps)."""
    return frames(ds).astype(np.float64) / float(ds.attrs["fps"])


def upgrade_legacy(ds: xr.Dataset) -> xr.Dataset:
    """Convert a dataset of the layout before issue #13 to the current one.

    Renames ``individual``/``keypoint`` to ``individuals``/``keypoints``, turns frame-numbered
    ``time`` into seconds with a ``frame`` coordinate, drops a length-1 ``view`` dimension and sets
    ``space_unit`` (from ``position.attrs["units"]``, else ``"px"`` in 2D). Values are unchanged.
    """
    out = ds.rename({old: new for old, new in _LEGACY_NAMES.items() if old in ds.dims or old in ds.coords})
    fps = _check_fps(out.attrs.get("fps", np.nan))
    if FRAME not in out.coords:
        out = out.assign_coords(time_coords(np.round(out[TIME].values).astype(np.int64), fps))
    unit = out.attrs.get(SPACE_UNIT) or out["position"].attrs.get("units")
    out.attrs = {**out.attrs, "time_unit": TIME_UNIT, SPACE_UNIT: unit or default_space_unit(out.sizes[SPACE])}
    if VIEW in out.dims:
        out = out.transpose(..., VIEW)
    return drop_single_view(out)
