"""Human 3D reaching on an OpenPose-layout poses dataset (BODY_25 names, plus hand keypoints).

The steps of the original MATLAB code, each a function: drop a joint's points whose confidence is
below ``mean − k·SD`` of that joint's confidence (:func:`filter_confidence_sd`), fill the gaps
linearly (:func:`interpolate_gaps`), smooth each joint's track robustly with the smoothing chosen
automatically (:func:`smooth_tracks`), then joint angles (:func:`joint_angle`, degrees) and the
wrist's path length and speed (:func:`measure_human`).

Keypoint names are OpenPose's BODY_25 names (``"RShoulder"``, ``"RElbow"``, ...). The wrist angle
needs a point on the hand; its name is a parameter (default ``"{side}HandMiddleMCP"``, the middle
finger's MCP joint of the hand-21 layout, as named by :mod:`deepbehavior.formats.openpose`), and the angle is left out when the dataset has no such point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from . import cleaning
from .measure_settings import SIDES, check_side  # noqa: F401  (defined in the light settings module)
from .tracks import as_position, fps_of, path_length, point_track, select, speed


def filter_confidence_sd(ds: xr.Dataset, *, k: float = 3.0) -> xr.Dataset:
    """Drop points whose confidence is below ``mean − k·SD`` of their joint's confidence.

    Mean and SD (N − 1, as MATLAB) are taken over time, separately for every keypoint, individual
    and view (:func:`deepbehavior.analysis.cleaning.confidence_outliers`). Dropped points become
    NaN in ``position`` and ``confidence``.

    Parameters
    ----------
    ds
        Poses dataset with ``position`` and ``confidence``.
    k
        Number of standard deviations below the mean (OpenPose pipeline: 3).

    Returns
    -------
    xarray.Dataset
        A new dataset; ``ds`` is not modified.
    """
    # A point that is missing has no confidence to speak of: keep it out of the statistics.
    confidence = ds["confidence"].where(ds["position"].notnull().all("space"))
    position = cleaning.confidence_outliers(ds["position"], confidence, k=k)
    out = ds.copy()
    out["position"] = position.astype(ds["position"].dtype)
    out["confidence"] = ds["confidence"].where(position.notnull().all("space"))
    return out


def interpolate_gaps(position: xr.DataArray, *, max_gap: int | None = None) -> xr.DataArray:
    """Fill missing points linearly along time, gaps of at most ``max_gap`` frames (None: all);
    the ends are left missing (:func:`deepbehavior.analysis.cleaning.interpolate_gaps`)."""
    return cleaning.interpolate_gaps(position, max_gap=max_gap, extrapolate=False).assign_attrs(position.attrs)


def smooth_tracks(position: xr.DataArray) -> xr.DataArray:
    """Smooth every coordinate of every point along time, robustly, with the smoothing chosen by
    generalised cross-validation (:func:`deepbehavior.analysis.cleaning.smooth_robust`, the role
    of MATLAB's ``smoothn``). Gaps inside a series are filled by the smooth curve."""
    return cleaning.smooth_robust(position).assign_attrs(position.attrs)


def joint_angle(position: xr.DataArray, a: str, b: str, c: str) -> xr.DataArray:
    """Angle at keypoint ``b`` between the segments ``b→a`` and ``b→c``, in degrees (0–180).

    Parameters
    ----------
    position
        ``(time, space, keypoints, ...)``, 2D or 3D.
    a, b, c
        Keypoint names; ``b`` is the joint.

    Returns
    -------
    xarray.DataArray
        Dims of ``position`` without ``space`` and ``keypoint``; NaN where a point is missing or
        a segment has zero length.
    """
    names = [str(k) for k in position["keypoints"].values]
    for name in (a, b, c):
        if name not in names:
            raise ValueError(f"Expected keypoint {name!r} in {names}, but it is missing")
    u = position.sel(keypoints=a, drop=True) - position.sel(keypoints=b, drop=True)
    v = position.sel(keypoints=c, drop=True) - position.sel(keypoints=b, drop=True)
    dot = (u * v).sum("space", skipna=False)
    norms = np.sqrt((u**2).sum("space", skipna=False)) * np.sqrt((v**2).sum("space", skipna=False))
    cosine = (dot / norms.where(norms > 0)).clip(-1.0, 1.0)
    return np.degrees(np.arccos(cosine)).rename("angle").assign_attrs(units="deg")




def default_angles(side: str = "R", *, hand_point: str = "{side}HandMiddleMCP") -> dict[str, tuple[str, str, str]]:
    """The joint angles of the reaching analysis, as ``name -> (a, joint, c)`` keypoint names.

    shoulder: elbow–shoulder–hip; elbow: shoulder–elbow–wrist; wrist: elbow–wrist–hand point;
    knee: hip–knee–ankle. ``side`` is ``"R"`` or ``"L"``.
    """
    check_side(side)
    s = side
    return {
        "shoulder": (f"{s}Elbow", f"{s}Shoulder", f"{s}Hip"),
        "elbow": (f"{s}Shoulder", f"{s}Elbow", f"{s}Wrist"),
        "wrist": (f"{s}Elbow", f"{s}Wrist", hand_point.format(side=s)),
        "knee": (f"{s}Hip", f"{s}Knee", f"{s}Ankle"),
    }


def clean_poses(ds: xr.Dataset, *, k: float = 3.0, max_gap: int | None = None,
                smooth: bool = True) -> xr.DataArray:
    """The cleaning of the OpenPose pipeline: confidence filter, interpolation, robust smoothing.

    Returns the cleaned ``position`` (same dims and units as ``ds``).
    """
    # Triangulated datasets may carry no confidence: then there is nothing to filter on.
    filtered = filter_confidence_sd(ds, k=k) if "confidence" in ds else ds
    position = filtered["position"].assign_attrs(ds.attrs)
    position = interpolate_gaps(position, max_gap=max_gap)
    return smooth_tracks(position) if smooth else position


def measure_human(
    position: xr.DataArray,
    *,
    side: str = "R",
    individual: str | None = None,
    angles: Mapping[str, Sequence[str]] | None = None,
    fps: float | None = None,
    unit: str = "mm",
) -> list[tuple[str, float, str]]:
    """Session numbers of human reaching from a (cleaned) position array.

    Parameters
    ----------
    position
        ``(time, space, keypoints[, individuals][, view])``; 3D in mm after triangulation.
    side
        ``"R"`` or ``"L"``: which arm and leg.
    individual
        The person (default: the first, as the original code did).
    angles
        ``name -> (a, joint, c)``; default :func:`default_angles`. Angles whose keypoints are not
        in the dataset are left out.

    Returns
    -------
    list of (measure, value, unit)
        ``<angle>_angle_mean``, ``_min``, ``_max`` (deg); ``wrist_path_length`` (``unit``),
        ``wrist_speed_mean`` and ``wrist_speed_peak`` (``unit``/s).
    """
    fps = fps_of(position, fps)
    position = as_position(position)
    if "individuals" in position.dims:
        position = select(position, "individuals", individual)
    available = {str(k) for k in position["keypoints"].values}
    rows = []
    for name, (a, b, c) in (angles or default_angles(side)).items():
        if not {a, b, c} <= available:
            continue
        values = joint_angle(position, a, b, c).values
        seen = np.isfinite(values).any()
        rows += [(f"{name}_angle_mean", float(np.nanmean(values)) if seen else float("nan"), "deg"),
                 (f"{name}_angle_min", float(np.nanmin(values)) if seen else float("nan"), "deg"),
                 (f"{name}_angle_max", float(np.nanmax(values)) if seen else float("nan"), "deg")]
    wrist = point_track(position, keypoint=f"{side}Wrist")
    wrist_speed = speed(wrist, fps=fps)
    seen = np.isfinite(wrist_speed).any()
    rows += [("wrist_path_length", path_length(wrist), unit),
             ("wrist_speed_mean", float(np.nanmean(wrist_speed)) if seen else float("nan"), f"{unit}/s"),
             ("wrist_speed_peak", float(np.nanmax(wrist_speed)) if seen else float("nan"), f"{unit}/s")]
    return rows
