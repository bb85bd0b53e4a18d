"""Task measures over every session of a cohort, collected in one tidy table.

Each session's store (``<stores>/<session.key>.zarr``) is opened lazily, once; ``workers``
sessions at a time, in threads (:func:`deepbehavior.session_runner.run_sessions`), each loads the one
view it needs and runs the configured measure families on it. The table has a row per session ×
measure with the columns ``subject, group, session, measure, value, unit``; the measure is named
``<family>.<name>`` (``regions.time_in_left``, ``social.interaction_count``).

Measure families: ``locomotion`` (distance travelled and mean speed of each individual),
``reaching`` (:mod:`.reaching`), ``regions`` (:mod:`.regions`), ``social`` (:mod:`.social`),
``human`` (:mod:`.human`). Units: the store's ``attrs["space_unit"]``
(:func:`.kinematics.space_unit`): pixels in 2D, or mm when the session has a ``pixel_size_mm``
(locomotion, and families asking for mm); 3D stores are in their calibration's unit.

Every measure needs identities: a store of more than one slot (detections straight from
``infer``, ``attrs["individuals_are"] == "slots"``) is refused, naming ``deepbehavior track``. The
table's ``flag`` column names a session's physically implausible frames (:mod:`.plausibility`);
it is empty when there are none.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import schema
from ..cohort import Cohort, Session, store_path
from ..session_runner import run_sessions
from ..store import open_complete, write_atomic
from . import plausibility, reaching, regions, social
from .measure_settings import MeasureSettings
from .tracks import as_position, fps_of, path_length, point_track, speed
from .kinematics import scale_to_mm, space_unit

COLUMNS = ("subject", "group", "session", "measure", "value", "unit", "flag")


def in_unit(position: xr.DataArray, unit: str, *, pixel_size_mm: float | None, where: str) -> xr.DataArray:
    """``position`` expressed in ``unit`` ("px" or "mm"), converting px to mm with ``pixel_size_mm``."""
    current = space_unit(position)
    if current == unit:
        return position.assign_attrs(space_unit=unit)
    if current == "px" and unit == "mm":
        if pixel_size_mm is None:
            raise ValueError(f"Expected pixel_size_mm for {where} to measure in mm, but the cohort gives none")
        return scale_to_mm(position.assign_attrs(space_unit="px"), pixel_size_mm)
    raise ValueError(f"Expected positions in {unit} for {where}, but the store holds {current}")


def natural_unit(position: xr.DataArray, pixel_size_mm: float | None) -> str:
    """The unit a session is best measured in: mm for pixels with a known pixel size, else its own."""
    return "mm" if pixel_size_mm and space_unit(position) == "px" else space_unit(position)


def require_identities(ds: xr.Dataset, *, where: str) -> None:
    """Refuse a store whose individuals are detection slots, unless it has a single slot.

    Slot ``k`` of a frame is its k-th most confident detection, a different animal from one
    frame to the next: distances and speeds over slots mix animals and run to impossible values.
    """
    slots = ds.sizes.get(schema.INDIVIDUALS, 1)
    if ds.attrs.get("individuals_are") == schema.SLOTS and slots > 1:
        raise ValueError(f"Expected identities in the store of {where}, but it holds {slots} detection slots "
                         f"(individuals_are='slots'): run `deepbehavior track` first and analyze its stores "
                         f"(stores=<out>/tracked)")


# Keypoint names that stand for the body's centre (MidHip: OpenPose's), in order of preference.
BODY_CENTRES = ("MidHip", "body", "centre", "center", "bodycenter", "body_center", "thorax", "midhip")


def body_centre(position: xr.DataArray, preferred: str | None = None) -> str | None:
    """The keypoint that stands for the body's centre: ``preferred`` if present, else one named as in
    :data:`BODY_CENTRES`, else None (the mean of the keypoints; also for boxes, which have none)."""
    if schema.KEYPOINTS not in position.dims:
        return None
    names = [str(k) for k in position[schema.KEYPOINTS].values]
    for name in ((preferred,) if preferred else ()) + BODY_CENTRES:
        if name in names:
            return name
    return None


def check_plausibility(position: xr.DataArray, fps: float, *, max_speed: float | None = None,
                       keypoint: str | None = None) -> dict[str, plausibility.SpeedCheck]:
    """Individual name → the frames where it moves implausibly fast (:mod:`.plausibility`), in the
    unit of ``position``."""
    names = ([str(v) for v in position[schema.INDIVIDUALS].values] if schema.INDIVIDUALS in position.dims
             else [None])
    keypoint = body_centre(position, keypoint)
    return {name or "individual0": plausibility.check_speed(
                speed(point_track(position, keypoint=keypoint, individual=name), fps=fps),
                name=name or "individual0", unit=space_unit(position), max_speed=max_speed)
            for name in names}


def load_position(ds: xr.Dataset, *, view: str | None = None) -> xr.DataArray:
    """One view's ``position`` of a (lazy) store, loaded into memory, with the store's attrs."""
    return as_position(ds, view=view).load()


def _locomotion(position: xr.DataArray, fps: float, unit: str) -> list[tuple[str, float, str]]:
    rows = []
    names = [str(v) for v in position["individuals"].values] if "individuals" in position.dims else [None]
    for name in names:
        track = point_track(position, individual=name)
        s = speed(track, fps=fps)
        label = name or "individual0"
        rows.append((f"distance_{label}", path_length(track), unit))
        rows.append((f"speed_mean_{label}", float(np.nanmean(s)) if np.isfinite(s).any() else float("nan"),
                     f"{unit}/s"))
    return rows


def measure_session(ds: xr.Dataset, session: Session, settings: MeasureSettings) -> list[tuple[str, float, str]]:
    """Every configured measure of one session's dataset, as ``(measure, value, unit)`` triples.

    Parameters
    ----------
    ds
        The session's poses or boxes dataset (a store, lazy or loaded) with ``attrs["fps"]``;
        identities, or a single slot (:func:`require_identities`).
    session
        Gives ``pixel_size_mm`` and names the session in errors.
    """
    return _measure_session(ds, session, settings)[0]


def _measure_session(ds: xr.Dataset, session: Session, settings: MeasureSettings
                     ) -> tuple[list[tuple[str, float, str]], str]:
    """The measures of one session and its plausibility flag (empty when plausible)."""
    fps = fps_of(ds)
    where = f"session {session.key}"
    require_identities(ds, where=where)
    position = load_position(ds, view=settings.view).assign_attrs(fps=fps)
    natural = in_unit(position, natural_unit(position, session.pixel_size_mm), pixel_size_mm=session.pixel_size_mm,
                      where=where)
    flag = plausibility.flag(check_plausibility(natural, fps, max_speed=settings.max_speed,
                                                keypoint=settings.social.centre))
    rows: list[tuple[str, float, str]] = []
    for family in settings.measures:
        if family == "locomotion":
            found = _locomotion(natural, fps, space_unit(natural))
        elif family == "reaching":
            cfg = settings.reaching
            track = reaching.paw_trajectory(position, keypoint=cfg.keypoint, individual=cfg.individual)
            table = reaching.measure_reaches(track, start_speed=cfg.start_speed, stop_speed=cfg.stop_speed,
                                             min_duration_s=cfg.min_duration_s, fps=fps)
            found = reaching.summarize_reaches(table, unit=space_unit(position))
        elif family == "regions":
            cfg = settings.regions
            scaled = in_unit(position, cfg.unit, pixel_size_mm=session.pixel_size_mm, where=where)
            track = point_track(scaled, keypoint=cfg.keypoint, individual=cfg.individual)
            found = regions.measure_regions(track, regions.parse_regions(cfg.regions), fps=fps, unit=cfg.unit,
                                            count_start=cfg.count_start)
        elif family == "social":
            cfg = settings.social
            scaled = in_unit(position, cfg.unit, pixel_size_mm=session.pixel_size_mm, where=where)
            found = social.measure_social(scaled, threshold=cfg.threshold, min_duration_s=cfg.min_duration_s,
                                          individuals=cfg.individuals or None, centre=cfg.centre,
                                          nose=cfg.nose, tail=cfg.tail, fps=fps, unit=cfg.unit)
        else:  # human: its cleaning needs SciPy's signal tools, imported only here
            from . import human

            cfg = settings.human
            one_view = ds.sel(view=_first_view(ds, settings.view), drop=True) if "view" in ds.dims else ds
            cleaned = human.clean_poses(one_view.load(), k=cfg.k, max_gap=cfg.max_gap, smooth=cfg.smooth)
            found = human.measure_human(cleaned.assign_attrs(fps=fps), side=cfg.side, individual=cfg.individual,
                                        angles=human.default_angles(cfg.side, hand_point=cfg.hand_point),
                                        fps=fps, unit=space_unit(position))
        rows += [(f"{family}.{name}", float(value), unit) for name, value, unit in found]
    return rows, flag


def _first_view(ds: xr.Dataset, view: str | None) -> str:
    return str(np.atleast_1d(ds["view"].values)[0]) if view is None else view


def open_session(stores: str | os.PathLike, session: Session) -> xr.Dataset:
    """The store of ``session`` in the folder ``stores`` (``<session.key>.zarr``), opened lazily.

    Its arrays are read whole on first use, without Dask: the measures load one view's positions into
    memory anyway, and a Dask graph and its threads only added time to that (≈ a third of a session's).
    """
    return open_complete(store_path(stores, session), chunked=False, what=f"store for session {session.key}")


def session_rows(ds: xr.Dataset, session: Session, settings: MeasureSettings) -> list[dict]:
    """The table rows (:data:`COLUMNS`) of one session's opened dataset ``ds``."""
    rows, flag = _measure_session(ds, session, settings)
    return [dict(zip(COLUMNS, (session.subject, session.group, session.session, m, v, u, flag)))
            for m, v, u in rows]


def rows_table(rows: Sequence[dict]) -> pd.DataFrame:
    """Rows of :func:`session_rows` as the tidy table (:data:`COLUMNS`, ``value`` float64)."""
    return pd.DataFrame(list(rows), columns=list(COLUMNS)).astype({"value": "float64", "flag": "str"})


def analyze_cohort(
    cohort: Cohort,
    stores: str | os.PathLike,
    settings: MeasureSettings,
    *,
    workers: int = 2,
    printer: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Run the configured measures over every session of ``cohort``, ``workers`` sessions at a time.

    The first session that fails raises its error (a missing store: FileNotFoundError naming it);
    ``deepbehavior analyze`` instead records each failed session and measures the others
    (:func:`deepbehavior.session_runner.run_sessions` with :func:`open_session` and :func:`session_rows`).

    Parameters
    ----------
    cohort
        The manifest (:func:`deepbehavior.cohort.load_cohort`).
    stores
        Folder with one store per session, ``<session.key>.zarr``.
    workers
        Sessions measured at once, in threads.
    printer
        Where progress lines go.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, group, session, measure, value, unit, flag``; sessions in manifest
        order; ``flag`` names implausible frames of the session, empty when there are none.
    """
    report = run_sessions(cohort.sessions, lambda s: session_rows(open_session(stores, s), s, settings),
                          label="analyze", workers=workers, fail_fast=True, printer=printer)
    return rows_table([row for key in report.done for row in report.results[key]])


def write_table(table: pd.DataFrame, folder: str | os.PathLike, *, name: str = "measures") -> tuple[Path, Path]:
    """Write ``table`` as ``<folder>/<name>.parquet`` and ``<folder>/<name>.csv``, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parquet = folder / f"{name}.parquet"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{parquet.name}.", suffix=".partial")
    os.close(fd)
    try:
        table.to_parquet(tmp, index=False)
        os.replace(tmp, parquet)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    csv = folder / f"{name}.csv"
    write_atomic(csv, table.to_csv(index=False))
    return parquet, csv


def pivot_measures(table: pd.DataFrame, measures: Sequence[str] | None = None) -> pd.DataFrame:
    """The tidy table as one row per session and one column per measure (for a quick look)."""
    wide = table if measures is None else table[table["measure"].isin(measures)]
    return wide.pivot_table(index=["subject", "group", "session"], columns="measure", values="value",
                            aggfunc="first").reset_index()
