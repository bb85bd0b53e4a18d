"""Identities over whole videos, between ``infer`` and ``analyze``: opens each session's store of
per-frame detections (``cohort`` manifest with ``stores``, default ``<out>/stores``, one
``<subject>_<session>.zarr`` per session; or one ``store``), turns its slots into identities for the
whole video whatever the inference shards were (from the class with ``track.classes``, else from
motion with the other ``track`` settings) and writes ``<out>/tracked/<name>.zarr`` atomically,
``<out>/reports/<name>_quality.csv`` (frames with a swap undone, a merge, a jump, a missing animal,
or a detection no identity holds: extra, duplicate; see ``deepbehavior.tracking.quality_report``), one
``<out>/track_summary.csv`` over all sessions and, with ``figures``, ``<out>/figures/<name>_tracks.png``.
Sessions already tracked are skipped unless ``force``, once their fingerprint (the source store's
fingerprint and the ``track`` settings) matches this run's; otherwise the session fails naming the
difference; a failing session is recorded in the summary
and the others finish, then the job fails naming it. ``deepbehavior analyze stores=<out>/tracked``
reads the result.
"""

from pathlib import Path

from deepbehavior.config import TrackJob
from ._hydra import hydra_job

SUMMARY_COLUMNS = ("name", "subject", "group", "session", "status", "frames", "swaps_repaired", "swap_frames",
                   "merge_frames", "jump_frames", "missing_frames", "extra_frames", "duplicate_frames",
                   "reacquired_frames", "error")


def _track_one(source: Path, target: Path, report_csv: Path, figure: Path | None, cfg: TrackJob) -> dict:
    import pandas as pd

    from deepbehavior import fingerprint
    from deepbehavior.config import to_plain
    from deepbehavior.store import open_store, write_atomic
    from deepbehavior.tracking import quality_report, summarize_quality, track_session, write_tracked

    ds = open_store(source)
    # What the tracked store depends on: the detections (the source store's own fingerprint) and
    # the tracking settings.
    made_by = fingerprint.make(source=fingerprint.source_digest(ds.attrs), track=to_plain(cfg.track))
    if target.exists() and report_csv.exists() and not cfg.force:
        tracked, status = open_store(target), "skipped"
        fingerprint.check(fingerprint.of_store(tracked.attrs), made_by, where=f"tracked store {target}",
                          redo="force=true")
        report = pd.read_csv(report_csv)
    else:
        tracked = track_session(ds, cfg.track)
        tracked.attrs["source_store"] = str(source.resolve())
        tracked.attrs[fingerprint.ATTR] = made_by
        report = quality_report(tracked, merge_distance=cfg.track.merge_distance, max_jump=cfg.track.max_jump)
        write_tracked(tracked, target, chunk=int(ds.attrs.get("chunk", 1000)), overwrite=True)
        write_atomic(report_csv, report.to_csv(index=False))
        status = "tracked"
    if figure is not None and (status == "tracked" or not figure.exists()):
        from deepbehavior.viz.plots import save_figure
        from deepbehavior.viz.tracks import plot_tracks

        save_figure(plot_tracks(tracked, title=target.stem), figure)
    return {"status": status, **summarize_quality(report, frames=tracked.sizes["time"],
                                                  swaps_repaired=int(tracked.attrs.get("swaps_repaired", 0)))}


@hydra_job("track", TrackJob, open_keys=("track.classes",))
def main(cfg: TrackJob) -> None:
    import pandas as pd

    from deepbehavior.cohort import load_cohort, store_path
    from deepbehavior.store import write_atomic
    from deepbehavior.tracking.motion import check_method

    check_method(cfg.track.method)  # the methods are defined once, next to their code
    out = Path(cfg.out)
    if cfg.store is not None:
        source = Path(cfg.store)
        if not source.exists():
            raise FileNotFoundError(f"Expected a store at {source}, but there is none")
        name = source.name.removesuffix(".zarr")
        jobs = [(name, {"subject": "", "group": "", "session": name}, source)]
    else:
        cohort = load_cohort(cfg.cohort, check_files=False)
        stores = Path(cfg.stores) if cfg.stores else out / "stores"
        if not stores.is_dir():
            raise FileNotFoundError(f"Expected a folder of stores at {stores}, but there is none")
        jobs = [(s.key, {"subject": s.subject, "group": s.group, "session": s.session}, store_path(stores, s))
                for s in cohort.sessions]
    rows, failed = [], []
    for name, who, source in jobs:
        row = {"name": name, **who}
        try:
            if not source.exists():
                raise FileNotFoundError(f"Expected a store for session {name} at {source}, but there is none")
            figure = out / "figures" / f"{name}_tracks.png" if cfg.figures else None
            row.update(_track_one(source, out / "tracked" / f"{name}.zarr",
                                  out / "reports" / f"{name}_quality.csv", figure, cfg))
            print(f"{name}: {row['status']}, {row['swaps_repaired']} swaps repaired, "
                  f"{row['merge_frames']} merge, {row['missing_frames']} missing-animal, {row['jump_frames']} jump "
                  f"and {row['extra_frames']} extra-detection frames")
        except Exception as exc:  # one bad session must not stop the others
            row.update(status="failed", error=" ".join(f"{type(exc).__name__}: {exc}".split()))
            failed.append(f"{name} ({row['error']})")
            print(f"{name}: failed: {row['error']}")
        rows.append(row)
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    csv = out / "track_summary.csv"
    write_atomic(csv, summary.to_csv(index=False))
    print(f"tracked stores -> {out / 'tracked'}; summary -> {csv}")
    if failed:
        raise ValueError(f"Expected every session to be tracked, but {len(failed)} failed: {'; '.join(failed)}")
