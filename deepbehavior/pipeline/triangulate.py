"""Triangulation as a Python step: a multi-view 2D dataset and a calibration in, 3D points out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

    from ..cohort import Cohort
    from ..config import TriangulateConfig
    from ..geometry.camera import CameraGroup
    from ..geometry.cohort3d import CohortReport


@dataclass(frozen=True)
class TriangulateReport:
    """What :func:`triangulate` computed.

    Attributes
    ----------
    points
        Poses with ``space`` = x, y, z in the calibration's unit, lazy (Dask-backed) unless
        written; with the diagnostics ``reprojection_error``, ``n_views``, ``view_error`` and
        ``view_used`` (:func:`deepbehavior.geometry.triangulation.triangulate_dataset`).
    camera_check
        Each camera's reprojection error against the consensus of the others, on a sample of
        frames (:func:`deepbehavior.geometry.diagnostics.check_dataset`, as a dict).
    suspect_cameras
        The cameras whose error is far above the others' (empty when none is).
    path
        The 3D store written, when :func:`triangulate` was given ``out``; else None.
    """

    points: xr.Dataset
    camera_check: dict = field(default_factory=dict)
    suspect_cameras: list[str] = field(default_factory=list)
    path: Path | None = None


def triangulate(
    data: xr.Dataset | str | os.PathLike | Cohort,
    calibration: CameraGroup | str | os.PathLike | None = None,
    *,
    settings: TriangulateConfig | None = None,
    out: str | os.PathLike | None = None,
    stores: str | os.PathLike | None = None,
    overwrite: bool = False,
    **options: Any,
) -> TriangulateReport | CohortReport:
    """Triangulate 2D detections of two or more calibrated cameras.

    Parameters
    ----------
    data
        A multi-view poses or boxes dataset in pixels (its ``view`` labels name cameras of the
        calibration), the path of such a store, or a cohort (:class:`deepbehavior.cohort.Cohort`)
        whose 2D stores are in ``stores``.
    calibration
        A :class:`~deepbehavior.geometry.camera.CameraGroup` or a calibration file (anipose
        ``.toml``, OpenCV ``.yml``/``.xml``, Caltech ``.mat``). With a cohort: the default for
        sessions whose manifest entry names none.
    settings
        :class:`deepbehavior.config.TriangulateConfig` (method ``dlt``, ``robust`` or
        ``midpoint``, ``min_confidence``, ``refine``, ``max_error_px`` in pixels, ``views``).
    out
        Also write the 3D store at this ``*.zarr`` path; with a cohort, the folder of 3D stores
        (required there).
    stores
        With a cohort: the folder of its 2D stores, ``<subject>_<session>.zarr``.
    overwrite
        Replace what is at ``out`` (with a cohort: redo sessions already triangulated).
    **options
        Fields of ``TriangulateConfig`` replacing those of ``settings``.

    Returns
    -------
    TriangulateReport
        The 3D points and camera diagnostics; for a cohort, the
        :class:`~deepbehavior.geometry.cohort3d.CohortReport` (sessions written, skipped, failed).
    """
    from ..cohort import Cohort
    from ..config import TriangulateConfig
    from ..geometry.calib_io import load_calibration
    from ..geometry.cohort3d import triangulate_cohort, triangulate_kwargs
    from ..geometry.diagnostics import check_dataset
    from ..geometry.triangulation import triangulate_dataset, write_3d
    from ._options import with_options
    from .io import load

    settings = with_options(TriangulateConfig, settings, options, where="triangulate")
    if isinstance(data, Cohort):
        if stores is None or out is None:
            raise ValueError(f"Expected stores= and out= folders with a cohort, but got stores={stores!r}, out={out!r}")
        if calibration is not None and not isinstance(calibration, (str, os.PathLike)):
            raise TypeError("Expected a calibration file with a cohort (its path is recorded), but got a CameraGroup")
        return triangulate_cohort(data, stores, out, calibration=calibration, settings=settings, force=overwrite)
    if calibration is None:
        raise ValueError("Expected a calibration (a CameraGroup or a file), but got none")
    kwargs = triangulate_kwargs(settings)  # a bad method fails here, before any work
    group = load_calibration(calibration) if isinstance(calibration, (str, os.PathLike)) else calibration
    ds = load(data) if isinstance(data, (str, os.PathLike)) else data
    ds = _pair_people(ds, group)
    points = triangulate_dataset(ds, group, **kwargs)
    check, suspect = {}, []
    views = [str(v) for v in points["camera"].values]
    if len(views) >= 2:
        found = check_dataset(ds.sel(view=views), group, min_confidence=kwargs.get("min_confidence", 0.0),
                              max_error=kwargs.get("max_error", 20.0))
        check, suspect = found.as_dict(), list(found.suspect)
        points.attrs["camera_check"], points.attrs["suspect_cameras"] = check, suspect
    if isinstance(calibration, (str, os.PathLike)):
        points.attrs["calibration"] = str(Path(calibration).resolve())
    path = None
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        path = write_3d(points, out, overwrite=overwrite)
    return TriangulateReport(points, check, suspect, path)


def _pair_people(ds, group):
    """Several people in the OpenPose layout, numbered by each view on its own: the same person in
    every view (:func:`deepbehavior.geometry.people_pairing.pair_views`). Anything else (one person,
    animals, one view) is returned as it is."""
    from ..geometry.people_pairing import is_people_layout, pair_views

    if not is_people_layout(ds):
        return ds
    return pair_views(ds, group.subset([str(v) for v in ds["view"].values]))[0]
