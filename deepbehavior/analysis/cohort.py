"""Task measures over every session of a cohort, collected in one tidy table.

Each session's store (``<stores>/<session.key>.zarr``) is opened lazily; one Dask task per session
loads the one view it needs and runs the configured measure families on it. The table has a row
per session × measure with the columns ``subject, group, session, measure, value, unit``; the
measure is named ``<family>.<name>`` (``regions.time_in_left``, ``social.interaction_count``).

Measure families: ``locomotion`` (distance travelled and mean speed of each individual),
``reaching`` (:mod:`.reaching`), ``regions`` (:mod:`.regions`), ``social`` (:mod:`.social`),
``human`` (:mod:`.human`). Units: 2D positions are pixels, or mm when the session has a
``pixel_size_mm`` and a family asks for mm; 3D stores are in their calibration's unit
(``attrs["units"]``, else mm).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import xarray as xr

from ..cohort import Cohort, Session, store_path
from ..config import ANALYZE_MEASURES, HumanConfig, ReachingConfig, RegionsConfig, SocialConfig
from ..store import open_store, write_atomic
from . import human, reaching, regions, social
from ._tracks import as_position, fps_of, path_length, point_track, speed
from .kinematics import scale_to_mm

COLUMNS = ("subject", "group", "session", "measure", "value", "unit")


@dataclass(frozen=True)
class MeasureSettings:
    """What to measure and with which parameters (the sub-configs of the analyze job)."""

    measures: tuple[str, ...] = ("locomotion",)
    view: str | None = None
    reaching: ReachingConfig = ReachingConfig()
    regions: RegionsConfig = RegionsConfig()
    social: SocialConfig = SocialConfig()
    human: HumanConfig = HumanConfig()

    def __post_init__(self):
        unknown = [m for m in self.measures if m not in ANALYZE_MEASURES]
        if unknown:
            raise ValueError(f"Expected measures from {list(ANALYZE_MEASURES)}, but got {unknown}")


def position_unit(position: xr.DataArray) -> str:
    """Unit of a position array: ``attrs["units"]``, else the store's ``attrs["space_unit"]`` when it
    names a unit, else px for 2D and mm for 3D."""
    default = "mm" if position.sizes.get("space", 2) == 3 else "px"
    stored = position.attrs.get("space_unit")
    if stored in (None, "", "unknown", "calibration units"):
        stored = None
    return str(position.attrs.get("units") or stored or default)


def in_unit(position: xr.DataArray, unit: str, *, pixel_size_mm: float | None, where: str) -> xr.DataArray:
    """``position`` expressed in ``unit`` ("px" or "mm"), converting px to mm with ``pixel_size_mm``."""
    current = position_unit(position)
    if current == unit:
        return position.assign_attrs(units=unit)
    if current == "px" and unit == "mm":
        if pixel_size_mm is None:
            raise ValueError(f"Expected pixel_size_mm for {where} to measure in mm, but the cohort gives none")
        return scale_to_mm(position.assign_attrs(units="px"), pixel_size_mm)
    raise ValueError(f"Expected positions in {unit} for {where}, but the store holds {current}")


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
        The session's poses or boxes dataset (a store, lazy or loaded) with ``attrs["fps"]``.
    session
        Gives ``pixel_size_mm`` and names the session in errors.
    """
    fps = fps_of(ds)
    where = f"session {session.key}"
    position = load_position(ds, view=settings.view).assign_attrs(fps=fps)
    rows: list[tuple[str, float, str]] = []
    for family in settings.measures:
        if family == "locomotion":
            unit = "mm" if session.pixel_size_mm and position_unit(position) == "px" else position_unit(position)
            found = _locomotion(in_unit(position, unit, pixel_size_mm=session.pixel_size_mm, where=where), fps, unit)
        elif family == "reaching":
            cfg = settings.reaching
            track = reaching.paw_trajectory(position, keypoint=cfg.keypoint, individual=cfg.individual)
            table = reaching.measure_reaches(track, start_speed=cfg.start_speed, stop_speed=cfg.stop_speed,
                                             min_duration_s=cfg.min_duration_s, fps=fps)
            found = reaching.summarize_reaches(table, unit=position_unit(position))
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
        else:  # human
            cfg = settings.human
            one_view = ds.sel(view=_first_view(ds, settings.view), drop=True) if "view" in ds.dims else ds
            cleaned = human.clean_poses(one_view.load(), k=cfg.k, max_gap=cfg.max_gap, smooth=cfg.smooth)
            found = human.measure_human(cleaned.assign_attrs(fps=fps), side=cfg.side, individual=cfg.individual,
                                        angles=human.default_angles(cfg.side, hand_point=cfg.hand_point),
                                        fps=fps, unit=position_unit(position))
        rows += [(f"{family}.{name}", float(value), unit) for name, value, unit in found]
    return rows


def _first_view(ds: xr.Dataset, view: str | None) -> str:
    return str(np.atleast_1d(ds["view"].values)[0]) if view is None else view


def _session_rows(stores: Path, session: Session, settings: MeasureSettings) -> list[dict]:
    path = store_path(stores, session)
    if not path.exists():
        raise FileNotFoundError(f"Expected a store for session {session.key} at {path}, but there is none")
    ds = open_store(path)
    return [dict(zip(COLUMNS, (session.subject, session.group, session.session, m, v, u)))
            for m, v, u in measure_session(ds, session, settings)]


def analyze_cohort(
    cohort: Cohort,
    stores: str | os.PathLike,
    settings: MeasureSettings,
    *,
    workers: int = 2,
) -> pd.DataFrame:
    """Run the configured measures over every session of ``cohort``, one Dask task per session.

    Parameters
    ----------
    cohort
        The manifest (:func:`deepbehavior.cohort.load_cohort`).
    stores
        Folder with one store per session, ``<session.key>.zarr``.
    workers
        Threads of the local Dask scheduler.

    Returns
    -------
    pandas.DataFrame
        Columns ``subject, group, session, measure, value, unit``; sessions in manifest order.
    """
    stores = Path(stores)
    tasks = [dask.delayed(_session_rows)(stores, s, settings) for s in cohort.sessions]
    results = dask.compute(*tasks, scheduler="threads", num_workers=workers)
    rows = [row for session_rows in results for row in session_rows]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({"value": "float64"})


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
