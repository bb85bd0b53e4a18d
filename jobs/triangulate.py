"""3D from several views: opens the 2D poses or boxes ``store`` (its ``view`` labels name cameras of
``calibration``: anipose TOML, OpenCV YAML/XML or Caltech .mat), triangulates every keypoint (or box
centre) lazily chunk by chunk with Dask (method, confidence threshold, robust mode and the cameras to
use, ``views``, in ``triangulate``), and writes the 3D poses store ``<out>/<name>`` (``space`` x, y,
z in calibration units; reprojection errors in pixels per point and per camera, views used). It
checks every camera against the consensus of the others on a sample of frames, writes a table per
camera and keypoint ``<out>/<name stem>_cameras.csv`` and its figure ``_cameras.png``, and names a
camera whose error is far above the others' in a warning (also in the store's attrs
``suspect_cameras``). With ``figure`` it draws ``<out>/trajectories3d.png``; with ``movie_frames``
> 0 a short movie ``<out>/skeleton3d.mp4`` of that many frames.

Cohort form: ``cohort=<manifest>`` instead of ``store``, with ``stores`` (default ``<out>/stores``)
holding ``<subject>_<session>.zarr`` per session; each session uses the ``calibration`` of its
manifest entry, else ``calibration=``. Writes ``<out>/stores3d/<subject>_<session>.zarr`` and
``<out>/triangulate_report.json`` (with each session's camera check) and the tables and figures in
``<out>/diagnostics3d/``; sessions already done are skipped (``force=true`` redoes them); a
session that fails is recorded in the report, the others finish, and the job exits non-zero naming
the failed sessions.
"""

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import TriangulateConfig
from deepbehavior.runtime.dask_cluster import DaskConfig

from ._hydra import finish, hydra_job


@dataclass
class TriangulateJob:
    """``deepbehavior triangulate``: 3D from the views of a 2D poses or boxes ``store`` with the
    cameras of ``calibration`` (TOML, OpenCV YAML/XML or Caltech .mat) into ``out``/``name``; or,
    with ``cohort`` (a manifest) instead of ``store``, every session's ``<stores>/<subject>_<session>.zarr``
    (``stores`` default ``<out>/stores``) into ``<out>/stores3d/``, each with the session's own
    ``calibration`` from the manifest, else this ``calibration``."""

    # Folder for the 3D store(s), report and figure.
    out: str = MISSING
    # One 2D store with two or more views.
    store: Optional[str] = None
    # Camera calibration (TOML, OpenCV YAML/XML or Caltech .mat).
    calibration: Optional[str] = None
    # Cohort manifest, instead of store=: every session is triangulated.
    cohort: Optional[str] = None
    # Folder of the cohort's 2D stores (null: <out>/stores).
    stores: Optional[str] = None
    # Name of the 3D store written for store=.
    name: str = "poses3d.zarr"
    triangulate: TriangulateConfig = field(default_factory=TriangulateConfig)
    # Where the 3D chunks are computed: threads, processes or a scheduler's tcp://HOST:PORT.
    dask: DaskConfig = field(default_factory=DaskConfig)
    # Frames per chunk of the 3D store (null: as the 2D store).
    chunk: Optional[int] = None
    # Also draw the reprojection-error figure.
    figure: bool = True
    # Frames of a 3D movie of the result (0: none).
    movie_frames: int = 0
    # Redo sessions whose 3D store exists.
    force: bool = False


def run_cohort(cfg: TriangulateJob) -> None:
    """The cohort form: every session's store, a report, exit status 1 if any session failed."""
    from deepbehavior.cohort import load_cohort
    from deepbehavior.geometry.cohort3d import triangulate_cohort
    from deepbehavior.files import write_atomic

    cohort = load_cohort(cfg.cohort, check_files=False)
    out = Path(cfg.out)
    stores = Path(cfg.stores) if cfg.stores else out / "stores"
    if not stores.is_dir():
        raise FileNotFoundError(f"Expected a folder of 2D stores at {stores}, but there is none")
    if cfg.calibration and not Path(cfg.calibration).is_file():
        raise FileNotFoundError(f"Expected a calibration file at {cfg.calibration}, but there is none")
    from deepbehavior.runtime.dask_cluster import dask_scheduler

    with dask_scheduler(cfg.dask.scheduler):
        report = triangulate_cohort(cohort, stores, out / "stores3d", calibration=cfg.calibration,
                                    settings=cfg.triangulate, chunk=cfg.chunk, force=cfg.force, figure=cfg.figure)
    report_json = out / "triangulate_report.json"
    write_atomic(report_json, json.dumps(report.as_dict(), indent=2))
    for key, diagnostics in report.diagnostics.items():
        for line in diagnostics["warnings"]:
            print(f"[triangulate] WARNING {key}: {line}", file=sys.stderr)
    print(f"[triangulate] {len(report.written)} written, {len(report.skipped)} already done, "
          f"{len(report.failures)} failed -> {out / 'stores3d'}  report: {report_json}")
    finish("triangulate", report.failures, report_json, sessions=len(cohort.sessions))


@hydra_job("triangulate", TriangulateJob)
def main(cfg: TriangulateJob) -> None:
    import numpy as np

    from deepbehavior.geometry.cohort3d import triangulate_session
    from deepbehavior.store import open_store

    if bool(cfg.cohort) == bool(cfg.store):
        raise ValueError("Expected either store=PATH or cohort=MANIFEST, but got "
                         + ("both" if cfg.cohort else "neither"))
    t = cfg.triangulate
    from deepbehavior.geometry.triangulation import check_method

    check_method(t.method)  # the methods are defined once, next to their code
    if cfg.cohort:
        run_cohort(cfg)
        return
    if not cfg.calibration:
        raise ValueError("Expected calibration=FILE for store=, but got none")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    from deepbehavior.runtime.dask_cluster import dask_scheduler

    with dask_scheduler(cfg.dask.scheduler):
        path = triangulate_session(cfg.store, cfg.calibration, out / cfg.name, settings=t, chunk=cfg.chunk,
                                   overwrite=cfg.force)
    result = open_store(path)
    error = result["reprojection_error"].values
    found = np.isfinite(error)
    print(f"triangulated {int(found.sum())} of {found.size} points ({t.method}); median reprojection error "
          f"{np.nanmedian(error) if found.any() else float('nan'):.2f} px -> {path}")
    from deepbehavior.geometry.cohort3d import write_diagnostics

    diagnostics = write_diagnostics(path, out / Path(cfg.name).stem, figure=cfg.figure)
    per_camera = diagnostics["median_error_px"]
    if per_camera:
        print("per camera, median error against the other cameras' consensus: "
              + ", ".join(f"{name} {value:.2f} px" for name, value in per_camera.items())
              + f"  table: {diagnostics['table']}")
    for line in diagnostics["warnings"]:
        print(f"[triangulate] WARNING {line}", file=sys.stderr)
    if cfg.figure or cfg.movie_frames > 0:
        from deepbehavior.files import atomic_path
        from deepbehavior.viz.three_d import plot_trajectories_3d, write_movie_3d

        if cfg.figure:
            fig = plot_trajectories_3d(result)
            with atomic_path(out / "trajectories3d.png") as tmp:
                fig.savefig(tmp, dpi=100)
            print(f"figure -> {out / 'trajectories3d.png'}")
        if cfg.movie_frames > 0:
            movie = write_movie_3d(result, out / "skeleton3d.mp4", frames=cfg.movie_frames)
            print(f"movie -> {movie}")
