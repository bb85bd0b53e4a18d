"""3D for every session of a cohort: one 2D store in, one 3D store out, failures kept per session.

Each session's 2D store is ``<stores>/<subject>_<session>.zarr`` (as ``infer`` writes them) and its
3D store ``<out>/<subject>_<session>.zarr``. A session uses its own ``calibration`` from the
manifest, else the cohort-wide one. A session that fails (no store, a bad calibration file, views
the calibration does not name) is recorded with its error and the others go on; a session whose
3D store already exists is skipped unless ``force``, once its fingerprint (2D store, calibration
file, options) matches this run's; otherwise the session fails naming the difference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import dask

from .. import fingerprint
from ..cohort import Cohort, Session, store_path
from ..store import open_store
from .calib_io import load_calibration
from .triangulation import triangulate_dataset, write_3d


@dataclass
class CohortReport:
    """What :func:`triangulate_cohort` did: session keys written, skipped, and failures
    (``{"session", "store", "calibration", "error"}``)."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"written": self.written, "skipped": self.skipped, "failures": self.failures}


def session_calibration(session: Session, default: str | os.PathLike | None) -> Path:
    """The calibration file of ``session``: its own, else ``default``."""
    path = session.calibration or (Path(default) if default else None)
    if path is None:
        raise ValueError(f"Expected a calibration for session {session.key} (in the manifest or "
                         f"calibration=FILE), but got none")
    return Path(path)


def _fingerprint(ds2d, calibration: str | os.PathLike, options: dict | None) -> dict[str, str]:
    """What a 3D store depends on: the 2D store's fingerprint, the calibration file, the options."""
    return fingerprint.make(source=fingerprint.source_digest(ds2d.attrs) if ds2d is not None else "absent",
                            calibration=fingerprint.file_digest(calibration), triangulate=dict(options or {}))


def triangulate_session(
    source: str | os.PathLike,
    calibration: str | os.PathLike,
    target: str | os.PathLike,
    *,
    options: dict | None = None,
    chunk: int | None = None,
    overwrite: bool = False,
    workers: int = 2,
) -> Path:
    """Triangulate the 2D store ``source`` with ``calibration`` into the 3D store ``target``.

    ``options`` are keyword arguments of :func:`.triangulation.triangulate_dataset` (method,
    min_confidence, refine, max_error, engine). Memory stays bounded by a few ``time`` chunks.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"Expected a 2D store at {source}, but there is none")
    group = load_calibration(calibration)
    ds2d = open_store(source)
    ds3d = triangulate_dataset(ds2d, group, chunk=chunk, **(options or {}))
    ds3d.attrs[fingerprint.ATTR] = _fingerprint(ds2d, calibration, options)
    ds3d.attrs["calibration"] = str(Path(calibration).resolve())
    ds3d.attrs["source_store"] = str(source.resolve())
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with dask.config.set(scheduler="threads", num_workers=workers):
        return write_3d(ds3d, target, overwrite=overwrite)


def triangulate_cohort(
    cohort: Cohort,
    stores: str | os.PathLike,
    out: str | os.PathLike,
    *,
    calibration: str | os.PathLike | None = None,
    options: dict | None = None,
    chunk: int | None = None,
    force: bool = False,
    workers: int = 2,
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
    options, chunk, workers
        As in :func:`triangulate_session`.
    force
        Redo sessions whose 3D store exists.
    """
    report = CohortReport()
    for session in cohort.sessions:
        source, target = store_path(stores, session), store_path(out, session)
        calib = None
        try:
            calib = session_calibration(session, calibration)
            if target.exists() and not force:
                # skipped as done only if made from the same 2D store, calibration and options
                recorded = fingerprint.of_store(open_store(target).attrs)
                current = _fingerprint(open_store(source) if source.exists() else None, calib, options)
                if not source.exists() and recorded:  # the 2D store was removed: nothing to compare it to
                    current["source"] = recorded.get("source", "absent")
                fingerprint.check(recorded, current, where=f"3D store {target}", redo="force=true")
                report.skipped.append(session.key)
                continue
            triangulate_session(source, calib, target, options=options, chunk=chunk, overwrite=force,
                                workers=workers)
        except Exception as exc:  # one session's bad input must not stop the cohort
            report.failures.append({"session": session.key, "store": str(source),
                                    "calibration": str(calib) if calib else None,
                                    "error": f"{type(exc).__name__}: {' '.join(str(exc).split())}"})
            continue
        report.written.append(session.key)
    return report
