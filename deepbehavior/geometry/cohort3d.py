"""3D for every session of a cohort: one 2D store in, one 3D store out, failures kept per session.

Each session's 2D store is ``<stores>/<subject>_<session>.zarr`` (as ``infer`` writes them) and its
3D store ``<out>/<subject>_<session>.zarr``. A session uses its own ``calibration`` from the
manifest, else the cohort-wide one. A session that fails (no store, a bad calibration file, views
the calibration does not name) is recorded with its error and the others go on; a session whose
3D store already exists is skipped unless ``force``, once its fingerprint (2D store, calibration
file, options) matches this run's; otherwise the session fails naming the difference.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import dask

from .. import fingerprint
from ..cohort import Cohort, Session, store_path
from ..config import TriangulateConfig
from ..session_runner import SessionFailure, run_sessions
from ..store import is_complete, open_complete, open_store
from . import people_pairing
from .calib_io import load_calibration
from .diagnostics import CameraCheck, camera_table, check_dataset, plot_camera_errors
from .triangulation import check_method, triangulate_dataset, write_3d


@dataclass
class CohortReport:
    """What :func:`triangulate_cohort` did: session keys written and skipped, the failures (one
    :class:`~deepbehavior.session_runner.SessionFailure` per session, with its ``store`` and
    ``calibration``) and each written session's camera check (:func:`write_diagnostics`)."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[SessionFailure] = field(default_factory=list)
    diagnostics: dict[str, dict] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The report as JSON: failures as ``{"session", "store", "calibration", "error", "kind", "stage"}``."""
        return {"written": self.written, "skipped": self.skipped, "failures": [f.to_json() for f in self.failures],
                "diagnostics": self.diagnostics}


def session_calibration(session: Session, default: str | os.PathLike | None) -> Path:
    """The calibration file of ``session``: its own, else ``default``."""
    path = session.calibration or (Path(default) if default else None)
    if path is None:
        raise ValueError(f"Expected a calibration for session {session.key} (in the manifest or "
                         f"calibration=FILE), but got none")
    return Path(path)


def triangulate_kwargs(settings: TriangulateConfig | None) -> dict:
    """Keyword arguments of :func:`.triangulation.triangulate_dataset` for ``settings`` (None: its
    defaults). The one place the config's names meet the function's (``max_error_px`` is
    ``max_error``); the dict is also what a 3D store's fingerprint records, as it always was."""
    if settings is None:
        return {}
    check_method(settings.method)
    return {"method": settings.method, "min_confidence": settings.min_confidence, "refine": settings.refine,
            "max_error": settings.max_error_px, "views": list(settings.views) if settings.views else None}


def _fingerprint(ds2d, calibration: str | os.PathLike, options: dict) -> dict[str, str]:
    """What a 3D store depends on: the 2D store's fingerprint, the calibration file, the options."""
    return fingerprint.make(source=fingerprint.source_digest(ds2d.attrs) if ds2d is not None else "absent",
                            calibration=fingerprint.file_digest(calibration), triangulate=dict(options))


def triangulate_session(
    source: str | os.PathLike,
    calibration: str | os.PathLike,
    target: str | os.PathLike,
    *,
    settings: TriangulateConfig | None = None,
    chunk: int | None = None,
    overwrite: bool = False,
    workers: int = 2,
) -> Path:
    """Triangulate the 2D store ``source`` with ``calibration`` into the 3D store ``target``.

    ``settings`` are the job's ``triangulate`` group (method, min_confidence, refine, max_error_px,
    views; None: :func:`.triangulation.triangulate_dataset`'s defaults). Memory stays bounded by a few ``time``
    chunks. The store's attrs ``camera_check`` hold each camera's error against the consensus of
    the cameras on a sample of frames (:func:`.diagnostics.check_dataset`) and ``suspect_cameras``
    the cameras named by :func:`.diagnostics.flag_cameras`.
    """
    options = triangulate_kwargs(settings)
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"Expected a 2D store at {source}, but there is none")
    group = load_calibration(calibration)
    ds2d = open_complete(source, what="2D store")
    if people_pairing.is_people_layout(ds2d):  # several people: the same person in every view (read in blocks of frames)
        ds2d = people_pairing.pair_views(ds2d, group.subset([str(v) for v in ds2d["view"].values]))[0]
    ds3d = triangulate_dataset(ds2d, group, chunk=chunk, **options)
    ds3d.attrs[fingerprint.ATTR] = _fingerprint(ds2d, calibration, options)
    views = list(ds3d["camera"].values)
    if len(views) >= 2:
        check = check_dataset(ds2d.sel(view=views), group, min_confidence=options.get("min_confidence", 0.0),
                              max_error=options.get("max_error", 20.0), calibration=str(calibration))
        ds3d.attrs["camera_check"] = check.as_dict()
        ds3d.attrs["suspect_cameras"] = check.suspect
    ds3d.attrs["calibration"] = str(Path(calibration).resolve())
    ds3d.attrs["source_store"] = str(source.resolve())
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    # a distributed scheduler the job set up (dask.scheduler=, deepbehavior.runtime.dask_cluster) computes
    # the chunks; otherwise ``workers`` threads of this process
    distributed = dask.config.get("scheduler", None) == "dask.distributed"
    with contextlib.nullcontext() if distributed else dask.config.set(scheduler="threads", num_workers=workers):
        return write_3d(ds3d, target, overwrite=overwrite)


def write_diagnostics(path: str | os.PathLike, prefix: str | os.PathLike, *, figure: bool = True) -> dict:
    """Per-camera, per-keypoint table of the 3D store at ``path`` as ``<prefix>_cameras.csv`` and,
    with ``figure``, ``<prefix>_cameras.png``; returns ``{"table", "figure", "suspect",
    "warnings", "median_error_px"}`` (file paths as strings, the warning lines to print)."""
    from ..files import write_atomic

    ds = open_store(path)
    table = camera_table(ds)
    prefix = Path(prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    csv = prefix.with_name(prefix.name + "_cameras.csv")
    write_atomic(csv, table.to_csv(index=False, float_format="%.4g"))
    checked = ds.attrs.get("camera_check")
    check = None
    if checked:
        check = CameraCheck.from_dict(checked)
    result = {"table": str(csv), "figure": None, "suspect": check.suspect if check else [],
              "warnings": check.warnings([str(c) for c in ds["camera"].values]) if check else [],
              "median_error_px": check.median_error_px if check else {}}
    if figure:
        fig = plot_camera_errors(table, check, title=Path(path).name)
        png = prefix.with_name(prefix.name + "_cameras.png")
        tmp = png.with_name(f".{png.name}.partial.png")
        fig.savefig(tmp, dpi=100)
        tmp.replace(png)
        import matplotlib.pyplot as plt

        plt.close(fig)
        result["figure"] = str(png)
    return result


def triangulate_cohort(
    cohort: Cohort,
    stores: str | os.PathLike,
    out: str | os.PathLike,
    *,
    calibration: str | os.PathLike | None = None,
    settings: TriangulateConfig | None = None,
    chunk: int | None = None,
    force: bool = False,
    workers: int = 2,
    figure: bool = True,
    printer=print,
) -> CohortReport:
    """Triangulate every session of ``cohort``; see the module's description.

    Parameters
    ----------
    cohort
        The manifest; sessions' ``calibration`` fields override ``calibration``.
    stores
        Folder of the 2D stores, ``<subject>_<session>.zarr``.
    out
        Folder of the 3D stores (created), ``<subject>_<session>.zarr``.
    settings, chunk, workers
        As in :func:`triangulate_session`.
    force
        Redo sessions whose 3D store exists.
    figure
        Draw each session's camera figure beside its table in ``<out>/../diagnostics3d/``.
    printer
        Where progress and failure lines go (:func:`deepbehavior.session_runner.run_sessions`).
    """
    options = triangulate_kwargs(settings)  # a bad method fails here, before any session

    def is_done(session: Session) -> bool:
        # skipped as done only if made from the same 2D store, calibration and options
        target = store_path(out, session)
        if force or not is_complete(target):  # a 3D store whose writing was stopped is redone
            return False
        source = store_path(stores, session)
        recorded = fingerprint.of_store(open_store(target).attrs)
        current = _fingerprint(open_store(source) if source.exists() else None,
                               session_calibration(session, calibration), options)
        if not source.exists() and recorded:  # the 2D store was removed: nothing to compare it to
            current["source"] = recorded.get("source", "absent")
        fingerprint.check(recorded, current, where=f"3D store {target}", redo="force=true")
        return True

    def work(session: Session) -> dict:
        target = store_path(out, session)
        unfinished = target.exists() and not is_complete(target)  # a run stopped while writing it: redo it
        triangulate_session(store_path(stores, session), session_calibration(session, calibration), target,
                            settings=settings, chunk=chunk, overwrite=force or unfinished, workers=workers)
        return write_diagnostics(target, Path(out).parent / "diagnostics3d" / session.key, figure=figure)

    def details(session: Session) -> dict:
        calib = session.calibration or calibration
        return {"store": str(store_path(stores, session)), "calibration": str(calib) if calib else None}

    done = run_sessions(cohort.sessions, work, is_done=is_done, label="triangulate", details=details,
                        printer=printer)
    return CohortReport(written=done.done, skipped=done.skipped, failures=done.failures, diagnostics=done.results)
