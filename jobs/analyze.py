"""Task measures over a cohort: opens each session's store (``stores``, default ``<out>/stores``,
one ``<subject>_<session>.zarr`` per session of the manifest ``cohort``), runs the configured
``measures`` (locomotion, reaching, regions, social, human; parameters in the ``reaching``,
``regions``, ``social`` and ``human`` groups) with a local Dask scheduler, and writes one tidy table
``<out>/measures.parquet`` and ``.csv`` (a row per session × measure: subject, group, session,
measure, value, unit, flag: implausible frames of the session, else empty), and
``<out>/measures_fingerprint.json`` (the settings and each input store's fingerprint). Stores of detection
slots (straight from ``infer``) are refused: ``deepbehavior track`` first. With ``figures`` it draws
per-session figures in ``<out>/figures/<session>/`` (units from the store's ``space_unit``, or mm
with a ``pixel_size_mm``; the wrist for human and reaching measures, else the body's centre; frames
faster than ``max_speed`` marked) and a measure-by-group plot per measure in ``<out>/figures/groups/``;
with ``overlay`` the social overlay video of each session in ``<out>/videos/``; with ``movie``, for
each session whose store is 3D (from ``deepbehavior triangulate``), a skeleton movie whose view
rotates, ``<out>/videos/<session>_skeleton3d.mp4``.
"""

from pathlib import Path

from deepbehavior.config import AnalyzeJob
from ._hydra import hydra_job


def write_fingerprint(cohort, stores: Path, cfg: AnalyzeJob, path: Path) -> None:
    """What the table was computed from: each session's store fingerprint and the settings.

    The table is recomputed on every run (nothing is skipped as done), so this is a record to
    compare tables by, not a check.
    """
    import json

    from deepbehavior import fingerprint
    from deepbehavior.cohort import store_path
    from deepbehavior.config import to_plain
    from deepbehavior.store import open_store, write_atomic

    settings = {k: v for k, v in to_plain(cfg).items()
                if k in ("measures", "view", "reaching", "regions", "social", "human", "max_speed")}
    record = {"settings": fingerprint.make(**settings),
              "stores": {s.key: fingerprint.source_digest(open_store(store_path(stores, s)).attrs)
                         for s in cohort.sessions}}
    write_atomic(path, json.dumps(record, indent=2))


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


@hydra_job("analyze", AnalyzeJob, open_keys=("regions.regions",))
def main(cfg: AnalyzeJob) -> None:
    import re

    from deepbehavior.analysis.cohort import (MeasureSettings, analyze_cohort, in_unit, load_position, natural_unit,
                                              write_table)
    from deepbehavior.analysis.kinematics import space_unit
    from deepbehavior.analysis.regions import parse_regions
    from deepbehavior.cohort import load_cohort, store_path
    from deepbehavior import schema
    from deepbehavior.store import open_store
    from deepbehavior.viz.plots import plot_measure_by_group, save_figure, write_session_figures

    out = Path(cfg.out)
    cohort = load_cohort(cfg.cohort, check_files=cfg.overlay)
    stores = Path(cfg.stores) if cfg.stores else out / "stores"
    if not stores.is_dir():
        raise FileNotFoundError(f"Expected a folder of stores at {stores}, but there is none")
    settings = MeasureSettings(measures=tuple(cfg.measures), view=cfg.view, reaching=cfg.reaching,
                               regions=cfg.regions, social=cfg.social, human=cfg.human, max_speed=cfg.max_speed)
    table = analyze_cohort(cohort, stores, settings, workers=cfg.workers)
    parquet, csv = write_table(table, out)
    write_fingerprint(cohort, stores, cfg, out / "measures_fingerprint.json")
    print(f"measures: {len(table)} rows for {len(cohort.sessions)} sessions -> {parquet} and {csv}")

    if cfg.figures:
        use_regions = "regions" in cfg.measures and cfg.regions.regions
        for session in cohort.sessions:
            ds = open_store(store_path(stores, session))
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
        for measure in sorted(table["measure"].unique()):
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", measure)
            save_figure(plot_measure_by_group(table, measure), out / "figures" / "groups" / f"{safe}.png")
        print(f"figures -> {out / 'figures'}")

    if cfg.overlay:
        from deepbehavior.viz.overlay import render_social_overlay

        for session in cohort.sessions:
            ds = open_store(store_path(stores, session))
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

        for session in cohort.sessions:
            ds = open_store(store_path(stores, session))
            if ds.sizes.get("space") != 3 or "keypoints" not in ds.dims:
                print(f"movie: {session.key} skipped (not a 3D poses store)")
                continue
            if cfg.movie_frames is not None:
                ds = ds.isel(time=slice(0, cfg.movie_frames))
            edges = [tuple(e) for e in cfg.movie_edges] or layout_edges(ds["keypoints"].values)
            movie = write_movie_3d(ds, out / "videos" / f"{session.key}_skeleton3d.mp4", edges=edges,
                                   frames=ds.sizes["time"], rotate=cfg.movie_degrees / ds.sizes["time"])
            print(f"movie: {movie}")
