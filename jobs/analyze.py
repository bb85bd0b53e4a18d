"""Task measures over a cohort: opens each session's store (``stores``, default per session
its complete store in ``<out>/tracked`` when ``track`` wrote one, else ``<out>/stores``,
one ``<subject>_<session>.zarr`` per session of the manifest ``cohort``), runs the configured
``measures`` (locomotion, reaching, regions, social, human; parameters in the ``reaching``,
``regions``, ``social`` and ``human`` groups) on ``workers`` sessions at a time, each store opened
once, and writes one tidy table
``<out>/measures.parquet`` and ``.csv`` (a row per session × measure: subject, group, session,
measure, value, unit, flag: implausible frames of the session, else empty), and
``<out>/measures_fingerprint.json`` (the settings and each input store's fingerprint). Stores of detection
slots (straight from ``infer``) are refused: ``deepbehavior track`` first. With ``figures`` it draws
per-session figures in ``<out>/figures/<session>/`` (units from the store's ``space_unit``, or mm
with a ``pixel_size_mm``; the wrist for human and reaching measures, else the body's centre; frames
faster than ``max_speed`` marked) and a measure-by-group plot per measure in ``<out>/figures/groups/``;
with ``overlay`` the social overlay video of each session in ``<out>/videos/``; with ``movie``, for
each session whose store is 3D (from ``deepbehavior triangulate``), a skeleton movie whose view
rotates, ``<out>/videos/<session>_skeleton3d.mp4``. A session that fails (no store, a damaged
one, detection slots) is named in ``<out>/analyze_report.json`` and on stderr, the others are
measured, and the job exits with status 1.
"""

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.analysis.measure_settings import MeasureSettings
from deepbehavior.config import require
from deepbehavior.runtime.dask_cluster import DaskConfig

from ._hydra import finish, hydra_job


@dataclass(frozen=True)
class AnalyzeJob(MeasureSettings):
    """``deepbehavior analyze``: task measures over a cohort's stores into one table, plus figures.

    The measure settings (``measures``, ``view``, the ``reaching``, ``regions``, ``social`` and
    ``human`` groups, ``max_speed``) are the library's :class:`MeasureSettings`, which this schema
    extends: the job hands itself to the library as those settings.
    """

    # Folder for the measures table (tables/) and figures (figures/).
    out: str = MISSING
    # Cohort manifest whose sessions are analysed.
    cohort: str = MISSING
    # Folder of <subject>_<session>.zarr stores (null: per session, its complete store in <out>/tracked,
    # else <out>/stores).
    stores: Optional[str] = None
    # Sessions analysed at once (threads; figures and videos are drawn one session at a time).
    workers: int = 2
    # Also draw figures per session and for the cohort.
    figures: bool = True
    # Also render videos with the track drawn over the frames.
    overlay: bool = False
    # Frames of each overlay video (null: all).
    overlay_frames: Optional[int] = 300
    # 3D stores: also render a movie of the skeleton (out/videos/), its view turning as it plays.
    movie: bool = False
    # Frames of the 3D movie (null: all).
    movie_frames: Optional[int] = 300
    # Degrees the movie's view turns over the whole movie.
    movie_degrees: float = 360.0
    # Keypoint-name pairs drawn as lines (empty: BODY_25 + hands when so named, else points only).
    movie_edges: list[list[str]] = field(default_factory=list)
    # Where the stores' chunks are read and computed: threads, processes or a scheduler's tcp://HOST:PORT.
    dask: DaskConfig = field(default_factory=DaskConfig)

    def __post_init__(self):
        super().__post_init__()  # measures, human.side, max_speed
        require(self.workers >= 1, f"Expected workers >= 1, but got {self.workers}")
        require(self.movie_frames is None or self.movie_frames >= 1,
                f"Expected movie_frames >= 1 or null, but got {self.movie_frames}")
        require(all(len(e) == 2 for e in self.movie_edges),
                f"Expected movie_edges as pairs of keypoint names, but got {list(self.movie_edges)}")


def write_fingerprint(digests: dict[str, str], cfg: AnalyzeJob, path: Path) -> None:
    """What the table was computed from: each measured session's store fingerprint (``digests``,
    session key → :func:`deepbehavior.fingerprint.source_digest`) and the settings.

    The table is recomputed on every run (nothing is skipped as done), so this is a record to
    compare tables by, not a check.
    """
    import json

    from deepbehavior import fingerprint
    from deepbehavior.config import to_plain
    from deepbehavior.files import write_atomic

    plain = to_plain(cfg)
    settings = {f.name: plain[f.name] for f in dataclasses.fields(MeasureSettings)}
    write_atomic(path, json.dumps({"settings": fingerprint.make(**settings), "stores": digests}, indent=2))


def figure_point(position, cfg: AnalyzeJob) -> str | None:
    """The keypoint a session's figures follow: the hand for human and reaching measures, the
    social ``centre`` for social ones, else the body's centre (None: the mean of the keypoints)."""
    from deepbehavior.analysis.cohort import body_centre

    names = [str(k) for k in position["keypoints"].values] if "keypoints" in position.dims else []
    if "human" in cfg.measures and f"{cfg.human.side}Wrist" in names:
        return f"{cfg.human.side}Wrist"
    if "reaching" in cfg.measures and cfg.reaching.keypoint in names:
        return cfg.reaching.keypoint
    if "social" in cfg.measures:
        return cfg.social.centre
    return body_centre(position)


# Figures and videos are drawn one session at a time (matplotlib's pyplot is not thread-safe);
# the measures of several sessions run at once.
_DRAWING = threading.Lock()


def _draw_session(ds, session, cfg: AnalyzeJob, out: Path) -> None:
    """The figures, overlay video and 3D movie ``cfg`` asks for, of one session's opened store ``ds``."""
    from deepbehavior import schema
    from deepbehavior.analysis.cohort import in_unit, load_position, natural_unit
    from deepbehavior.analysis.kinematics import space_unit
    from deepbehavior.analysis.regions import parse_regions
    from deepbehavior.viz.plots import write_session_figures

    if cfg.figures:
        use_regions = "regions" in cfg.measures and cfg.regions.regions
        position = load_position(ds, view=cfg.view)
        if position.sizes["space"] == 2:  # 3D stays in its calibration's unit
            unit = cfg.regions.unit if use_regions else natural_unit(position, session.pixel_size_mm)
            position = in_unit(position, unit, pixel_size_mm=session.pixel_size_mm, where=f"session {session.key}")
        point = figure_point(position, cfg)
        write_session_figures(
            position, out / "figures" / session.key, fps=float(ds.attrs["fps"]), unit=space_unit(position),
            regions=parse_regions(cfg.regions.regions) if use_regions else (),
            threshold=cfg.social.threshold if "social" in cfg.measures else None,
            min_duration_s=cfg.social.min_duration_s, individuals=cfg.social.individuals or None,
            centre=point, max_speed=cfg.max_speed,
            title=f"{session.subject} {session.session} ({session.group}), {point or 'mean of keypoints'}")
    if cfg.overlay:
        from deepbehavior.viz.overlay import render_social_overlay

        view = cfg.view or schema.view_names(ds)[0]
        if view not in session.videos:
            raise ValueError(f"Expected a video for view {view!r} of session {session.key}, but it has {list(session.videos)}")
        video = render_social_overlay(session.videos[view], ds, out / "videos" / f"{session.key}_overlay.mp4",
                                      view=view, individuals=cfg.social.individuals or None,
                                      keypoint=cfg.social.centre, frames=cfg.overlay_frames)
        print(f"overlay: {video}")
    if cfg.movie:
        from deepbehavior.viz.skeleton import layout_edges
        from deepbehavior.viz.three_d import write_movie_3d

        if ds.sizes.get("space") != 3 or "keypoints" not in ds.dims:
            print(f"movie: {session.key} skipped (not a 3D poses store)")
            return
        if cfg.movie_frames is not None:
            ds = ds.isel(time=slice(0, cfg.movie_frames))
        edges = [tuple(e) for e in cfg.movie_edges] or layout_edges(ds["keypoints"].values)
        movie = write_movie_3d(ds, out / "videos" / f"{session.key}_skeleton3d.mp4", edges=edges,
                               frames=ds.sizes["time"], rotate=cfg.movie_degrees / ds.sizes["time"])
        print(f"movie: {movie}")


def _analyze_session(session, stores: Path, cfg: AnalyzeJob, out: Path) -> tuple[list[dict], str]:
    """One session: its store opened once, measured, drawn; its table rows and its store's fingerprint."""
    from deepbehavior import fingerprint
    from deepbehavior.analysis.cohort import open_session, session_rows

    ds = open_session(stores, session)
    rows = session_rows(ds, session, cfg)  # the job's schema is a MeasureSettings
    if cfg.figures or cfg.overlay or cfg.movie:
        with _DRAWING:
            _draw_session(ds, session, cfg, out)
    return rows, fingerprint.source_digest(ds.attrs)


def default_stores(out: Path, sessions) -> dict[str, Path]:
    """The folder each session's store is read from when ``stores`` is not given: ``<out>/tracked``
    (what ``track`` writes) where that session's tracked store is there and complete, else
    ``<out>/stores`` (what ``infer`` and ``import`` write); by session key."""
    from deepbehavior.cohort import store_path
    from deepbehavior.store import is_complete

    tracked = out / "tracked"
    return {s.key: tracked if is_complete(store_path(tracked, s)) else out / "stores" for s in sessions}


def _say_stores(folders: dict[str, Path], out: Path, given: bool) -> None:
    """One line naming the folder the stores are read from, or a line per session when some sessions
    are read tracked and others not."""
    chosen = set(folders.values())
    if given or len(chosen) == 1:
        stores = next(iter(chosen))
        how = "stores=" if given else ("the tracked stores (track's output; stores= reads others)"
                                       if stores == out / "tracked" else
                                       "the default (no tracked stores in <out>/tracked yet)")
        print(f"[analyze] reading stores from {stores}: {how}", flush=True)
        return
    print(f"[analyze] reading each session's tracked store where it has a complete one (track's output), "
          f"else its store of detections (stores= reads one folder):", flush=True)
    for key, folder in folders.items():
        kind = "tracked" if folder == out / "tracked" else "not tracked"
        print(f"[analyze]   {key}: {folder} ({kind})", flush=True)


@hydra_job("analyze", AnalyzeJob, open_keys=("regions.regions",))
def main(cfg: AnalyzeJob) -> None:
    import json
    import re

    import xarray as xr

    from deepbehavior.analysis.cohort import rows_table, write_table
    from deepbehavior.analysis.regions import parse_regions
    from deepbehavior.cohort import load_cohort
    from deepbehavior.files import write_atomic
    from deepbehavior.session_runner import run_sessions

    out = Path(cfg.out)
    cohort = load_cohort(cfg.cohort, check_files=cfg.overlay)
    if cfg.stores:
        folders = {s.key: Path(cfg.stores) for s in cohort.sessions}
    else:
        folders = default_stores(out, cohort.sessions)
    if not any(folder.is_dir() for folder in folders.values()):  # else a session without its store fails alone
        raise FileNotFoundError(f"Expected a folder of stores at {Path(cfg.stores) if cfg.stores else out / 'stores'}, "
                                f"but there is none")
    _say_stores(folders, out, given=bool(cfg.stores))
    if "regions" in cfg.measures:
        parse_regions(cfg.regions.regions)  # bad regions are the user's input: one line before any work
    # xarray would JIT-compile numbagg's kernels for its NaN reductions, about 3 s of every job's CPU
    # before the first session is measured; bottleneck and NumPy give the same values at once.
    from deepbehavior.runtime.dask_cluster import dask_scheduler, on_scheduler

    with xr.set_options(use_numbagg=False), dask_scheduler(cfg.dask.scheduler, workers=cfg.workers):
        measure = on_scheduler(_analyze_session)  # a task per session on a distributed scheduler
        report = run_sessions(cohort.sessions, lambda s: measure(s, folders[s.key], cfg, out),
                              label="analyze", workers=cfg.workers)
    table = rows_table([row for key in report.done for row in report.results[key][0]])
    parquet, csv = write_table(table, out)
    write_fingerprint({key: report.results[key][1] for key in report.done}, cfg, out / "measures_fingerprint.json")
    report_json = out / "analyze_report.json"
    write_atomic(report_json, json.dumps(report.to_json(), indent=2))
    print(f"measures: {len(table)} rows for {len(report.done)} of {len(cohort.sessions)} sessions -> {parquet} "
          f"and {csv}; report: {report_json}")
    if cfg.figures:
        from deepbehavior.viz.plots import plot_measure_by_group, save_figure  # matplotlib: only for figures

        for measure in sorted(table["measure"].unique()):
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", measure)
            save_figure(plot_measure_by_group(table, measure), out / "figures" / "groups" / f"{safe}.png")
        print(f"figures -> {out / 'figures'}")
    finish("analyze", report.failures, report_json, sessions=len(cohort.sessions))
