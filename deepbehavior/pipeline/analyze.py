"""Task measures as a Python step: one dataset, one store, or every session of a cohort."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from ..analysis.measure_settings import MeasureSettings
    from ..cohort import Cohort
    from ..session_runner import SessionFailure


@dataclass(frozen=True)
class AnalyzeReport:
    """What :func:`analyze` measured.

    Attributes
    ----------
    table
        One row per session and measure: ``subject, group, session, measure, value, unit, flag``
        (``flag`` names physically implausible frames, empty when there are none).
    failures
        One :class:`~deepbehavior.session_runner.SessionFailure` per cohort session that could not
        be measured (no store, a damaged one, detection slots); the others are in ``table``.
    """

    table: pd.DataFrame
    failures: list[SessionFailure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every session was measured."""
        return not self.failures


def analyze(
    data: xr.Dataset | str | os.PathLike | Cohort,
    *,
    settings: MeasureSettings | None = None,
    stores: str | os.PathLike | None = None,
    subject: str = "subject",
    group: str = "",
    session: str | None = None,
    pixel_size_mm: float | None = None,
    workers: int = 2,
    printer: Callable[[str], None] = print,
    **options: Any,
) -> AnalyzeReport:
    """Run the configured task measures (locomotion, reaching, regions, social, human).

    Parameters
    ----------
    data
        A tracked dataset (identities, or a single slot), the path of a store or another tool's file
        (:func:`deepbehavior.pipeline.io.load`), or a cohort (:class:`deepbehavior.cohort.Cohort`,
        or the path of its manifest, ``.yaml``/``.yml``/``.csv``) whose stores are in ``stores``.
    settings
        What to measure (:class:`deepbehavior.analysis.measure_settings.MeasureSettings`); None: its
        defaults (locomotion: distance travelled and mean speed of each individual).
    stores
        With a cohort: the folder of ``<subject>_<session>.zarr`` stores.
    subject, group, session
        With one dataset: the names of its rows in the table (``session`` defaults to the store's
        or file's name, else ``"session"``).
    pixel_size_mm
        With one dataset: millimetres per pixel, so that 2D measures come out in mm.
    workers
        With a cohort: sessions measured at once, in threads.
    printer
        Where a cohort's progress lines go.
    **options
        Fields of ``MeasureSettings`` replacing those of ``settings`` (``measures``, ``max_speed``...).

    Returns
    -------
    AnalyzeReport
        The tidy table and, for a cohort, the sessions that failed.

    Examples
    --------
    >>> report = db.analyze(db.track(flies, retrack=True).tracked)  # doctest: +SKIP
    >>> report.table[["measure", "value", "unit"]]  # doctest: +SKIP
    """
    from ..analysis.cohort import open_session, rows_table, session_rows
    from ..analysis.measure_settings import MeasureSettings
    from ..cohort import Cohort, Session, load_cohort
    from ..session_runner import run_sessions
    from ._options import with_options
    from .io import load

    settings = with_options(MeasureSettings, settings, options, where="analyze")
    if isinstance(data, (str, os.PathLike)):
        suffix = Path(data).suffix.lower()
        # a .csv is a manifest only with stores=: DeepLabCut's predictions are CSV files too
        if suffix in (".yaml", ".yml") or (suffix == ".csv" and stores is not None):
            data = load_cohort(data, check_files=False)
    if isinstance(data, Cohort):
        if stores is None:
            raise ValueError("Expected stores= (the folder of the cohort's stores) with a cohort, but got none")
        if not Path(stores).is_dir():
            raise FileNotFoundError(f"Expected a folder of stores at {stores}, but there is none")
        report = run_sessions(data.sessions, lambda s: session_rows(open_session(stores, s), s, settings),
                              label="analyze", workers=workers, printer=printer)
        rows = [row for key in report.done for row in report.results[key]]
        return AnalyzeReport(rows_table(rows), list(report.failures))
    if session is None:
        session = Path(data).stem if isinstance(data, (str, os.PathLike)) else "session"
    ds = load(data) if isinstance(data, (str, os.PathLike)) else data
    who = Session(subject=subject, group=group, session=session, videos={}, pixel_size_mm=pixel_size_mm)
    return AnalyzeReport(rows_table(session_rows(ds, who, settings)))
