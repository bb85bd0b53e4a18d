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
difference; a failing session is recorded in the summary and in ``<out>/track_report.json``
and the others finish, then the job exits with status 1 naming it (a session whose earlier tracked
store is still in place keeps that run's summary row, status ``kept``, with this run's error). A store
of identities (tracks imported from SLEAP, DeepLabCut or NWB, or a tracked store) is refused with the
command that re-tracks it. ``deepbehavior analyze`` reads the result (``<out>/tracked`` by default).
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import TrackConfig, require

from ._hydra import finish, hydra_job


@dataclass
class TrackJob:
    """``deepbehavior track``: identities over whole videos, between ``infer`` and ``analyze``.

    Either ``cohort`` (a manifest) with ``stores`` (folder of ``<subject>_<session>.zarr``, default
    ``<out>/stores``), or one ``store``. Writes ``<out>/tracked/<name>.zarr``; done sessions are
    skipped unless ``force``."""

    # Folder for tracked/ stores, reports and figures.
    out: str = MISSING
    # Cohort manifest whose sessions are tracked.
    cohort: Optional[str] = None
    # Folder of <subject>_<session>.zarr stores (null: <out>/stores).
    stores: Optional[str] = None
    # One store to track, instead of cohort=.
    store: Optional[str] = None
    track: TrackConfig = field(default_factory=TrackConfig)
    # Also draw a figure of the identities per session.
    figures: bool = True
    # Redo sessions already tracked.
    force: bool = False

    def __post_init__(self):
        require((self.cohort is None) != (self.store is None),
                f"Expected either cohort= or store=, but got cohort={self.cohort!r} and store={self.store!r}")


SUMMARY_COLUMNS = ("name", "subject", "group", "session", "status", "frames", "swaps_repaired", "swap_frames",
                   "merge_frames", "jump_frames", "missing_frames", "extra_frames", "duplicate_frames",
                   "reacquired_frames", "error")


def summary_columns() -> list[str]:
    """The columns of ``track_summary.csv``: :data:`SUMMARY_COLUMNS`, then a ``<event>_frames`` column for
    every other event of the quality report, so an event added there reaches the summary."""
    from deepbehavior.tracking.report import EVENTS

    listed = [c for c in SUMMARY_COLUMNS if c != "error"]
    return listed + [f"{e}_frames" for e in EVENTS if f"{e}_frames" not in listed] + ["error"]


class _Target:
    """One session's source store and the files tracking writes for it."""

    def __init__(self, key: str, who: dict, source: Path, out: Path, figures: bool):
        self.key, self.who, self.source = key, who, source
        self.tracked = out / "tracked" / f"{key}.zarr"
        self.report_csv = out / "reports" / f"{key}_quality.csv"
        self.figure = out / "figures" / f"{key}_tracks.png" if figures else None


def _made_by(ds, cfg: TrackJob) -> dict:
    """What a tracked store depends on: the detections (the source store's own fingerprint) and the
    tracking settings."""
    from deepbehavior import fingerprint
    from deepbehavior.config import to_plain

    return fingerprint.make(source=fingerprint.source_digest(ds.attrs), track=to_plain(cfg.track))


def _open_source(target: _Target):
    from deepbehavior.store import open_complete

    return open_complete(target.source, what=f"store for session {target.key}")


def _draw(tracked, target: _Target) -> None:
    from deepbehavior.viz.plots import save_figure
    from deepbehavior.viz.tracks import plot_tracks

    save_figure(plot_tracks(tracked, title=target.tracked.stem), target.figure)


def _summary(tracked, report) -> dict:
    from deepbehavior.tracking import summarize_quality

    return summarize_quality(report, frames=tracked.sizes["time"],
                             swaps_repaired=int(tracked.attrs.get("swaps_repaired", 0)))


def _already_tracked(target: _Target, cfg: TrackJob, rows: dict) -> bool:
    """True when the session's tracked store and report exist and were made from the same detections
    with the same settings (its summary row goes in ``rows``); a FingerprintMismatch when they were
    made otherwise."""
    import pandas as pd

    from deepbehavior import fingerprint
    from deepbehavior.store import is_complete, open_store

    if cfg.force or not (is_complete(target.tracked) and target.report_csv.exists()):
        return False
    made_by = _made_by(_open_source(target), cfg)
    tracked = open_store(target.tracked)
    fingerprint.check(fingerprint.of_store(tracked.attrs), made_by, where=f"tracked store {target.tracked}",
                      redo="force=true")
    rows[target.key] = {"status": "skipped", **_summary(tracked, pd.read_csv(target.report_csv))}
    if target.figure is not None and not target.figure.exists():
        _draw(tracked, target)
    return True


def _quote(value) -> str:
    """A value as typed on a command line (quoted when the shell would split or expand it)."""
    import shlex

    return shlex.quote(str(value))


def retrack_advice(ds, source: Path, out: Path) -> str:
    """Why a store of identities cannot be tracked, and the exact commands that re-track it.

    A store written by ``import`` is imported again from the files its provenance names, with
    ``tracks=slots`` and its other recorded settings; a store written by ``track`` is tracked again
    from its own source store.
    """
    provenance = ds.attrs.get("provenance") or {}
    config = provenance.get("config") or {}
    files = provenance.get("source") or {}
    if ds.attrs.get("source_store"):  # a tracked store: track its detections again
        return (f"Expected detection slots in {source}, but it holds identities already (written by deepbehavior "
                f"track from {ds.attrs['source_store']}); to track again: deepbehavior track "
                f"store={_quote(ds.attrs['source_store'])} out={_quote(out)} force=true")
    if not files:
        return (f"Expected detection slots in {source} (attrs['individuals_are'] 'slots'), but it holds "
                f"{ds.sizes.get('individuals', 0)} identities; read its file again with deepbehavior import "
                f"... tracks=slots, then track that store")
    if list(files) == [""]:
        args = [f"source={_quote(files[''])}"]
    else:
        args = [_quote("sources={" + ",".join(f"{view}:{path}" for view, path in files.items()) + "}")]
    args.append(f"name={_quote(source.name.removesuffix('.zarr'))}")
    for key, default in (("format", "auto"), ("fps", None), ("video", None), ("min_track_frames", 1)):
        if config.get(key) not in (None, default):
            args.append(f"{key}={_quote(config[key])}")
    options = config.get("options") or {}
    args += [_quote(f"+options.{key}={value}") for key, value in options.items()]
    folder = source.parent.parent  # import writes <out>/stores/<name>.zarr
    return (f"Expected detection slots in {source}, but it holds {ds.sizes.get('individuals', 0)} tracks as "
            f"identities (imported from {provenance.get('source_format', 'a file')}); to re-track them: "
            f"deepbehavior import {' '.join(args)} tracks=slots out={_quote(folder)} force=true, then "
            f"deepbehavior track store={_quote(source)} out={_quote(out)}")


def _earlier_rows(csv: Path) -> dict[str, dict]:
    """The rows of an earlier ``track_summary.csv`` that describe a tracked store (status tracked,
    skipped or kept), by session name; none when there is no such file."""
    import pandas as pd

    if not csv.is_file():
        return {}
    table = pd.read_csv(csv, dtype={"name": str, "subject": str, "group": str, "session": str})
    good = table[table["status"].isin(["tracked", "skipped", "kept"])]
    return {str(r["name"]): {k: v for k, v in r.items() if k not in ("name", "subject", "group", "session", "error")}
            for r in good.to_dict("records")}


def _track_one(target: _Target, cfg: TrackJob) -> dict:
    """Track one session's source store; its summary row."""
    from deepbehavior import fingerprint
    from deepbehavior.store import write_atomic
    from deepbehavior.tracking import quality_report, track_session, write_tracked

    ds = _open_source(target)
    if ds.attrs.get("individuals_are") == "identities":
        raise ValueError(retrack_advice(ds, target.source, Path(cfg.out)))
    tracked = track_session(ds, cfg.track)
    tracked.attrs["source_store"] = str(target.source.resolve())
    tracked.attrs[fingerprint.ATTR] = _made_by(ds, cfg)
    report = quality_report(tracked, merge_distance=cfg.track.merge_distance, max_jump=cfg.track.max_jump)
    # The tracked store goes last: until it is replaced, a failure here leaves the earlier run's store,
    # which the summary's "kept" row then truthfully describes.
    write_atomic(target.report_csv, report.to_csv(index=False))
    if target.figure is not None:
        _draw(tracked, target)
    write_tracked(tracked, target.tracked, chunk=int(ds.attrs.get("chunk", 1000)), overwrite=True)
    row = {"status": "tracked", **_summary(tracked, report)}
    print(f"{target.key}: tracked, {row['swaps_repaired']} swaps repaired, {row['merge_frames']} merge, "
          f"{row['missing_frames']} missing-animal, {row['jump_frames']} jump and {row['extra_frames']} "
          f"extra-detection frames", flush=True)
    return row


@hydra_job("track", TrackJob, open_keys=("track.classes",))
def main(cfg: TrackJob) -> None:
    import json

    import pandas as pd

    from deepbehavior.cohort import load_cohort, store_path
    from deepbehavior.files import write_atomic
    from deepbehavior.session_runner import run_sessions
    from deepbehavior.store import is_complete
    from deepbehavior.tracking.motion import check_method

    check_method(cfg.track.method)  # the methods are defined once, next to their code
    out = Path(cfg.out)
    if cfg.store is not None:
        source = Path(cfg.store)
        if not source.exists():
            raise FileNotFoundError(f"Expected a store at {source}, but there is none")
        name = source.name.removesuffix(".zarr")
        targets = [_Target(name, {"subject": "", "group": "", "session": name}, source, out, cfg.figures)]
        ds = _open_source(targets[0])  # one store: its kind is checked now, in one line (exit 2)
        if ds.attrs.get("individuals_are") == "identities":
            raise ValueError(retrack_advice(ds, source, out))
    else:
        cohort = load_cohort(cfg.cohort, check_files=False)
        stores = Path(cfg.stores) if cfg.stores else out / "stores"
        if not stores.is_dir():
            raise FileNotFoundError(f"Expected a folder of stores at {stores}, but there is none")
        targets = [_Target(s.key, {"subject": s.subject, "group": s.group, "session": s.session},
                           store_path(stores, s), out, cfg.figures) for s in cohort.sessions]
    done_rows: dict[str, dict] = {}
    report = run_sessions(targets, lambda t: _track_one(t, cfg), is_done=lambda t: _already_tracked(t, cfg, done_rows),
                          label="track", details=lambda t: {"store": str(t.source)})
    failed = {f.session: f for f in report.failures}
    csv = out / "track_summary.csv"
    earlier = _earlier_rows(csv)
    rows = []
    for target in targets:
        row = {"name": target.key, **target.who}
        if target.key in failed and target.key in earlier and is_complete(target.tracked):
            # A failed rerun leaves the earlier tracked store in place (it is replaced only on success):
            # its row stays, marked, so the summary still describes the store on disk.
            row.update(earlier[target.key], status="kept",
                       error=f"this run failed, the row and tracked store are the earlier run's: "
                             f"{failed[target.key].message}")
        elif target.key in failed:
            row.update(status="failed", error=failed[target.key].message)
        else:
            row.update(report.results.get(target.key) or done_rows[target.key])
        rows.append(row)
    summary = pd.DataFrame(rows, columns=summary_columns())
    write_atomic(csv, summary.to_csv(index=False))
    report_json = out / "track_report.json"
    write_atomic(report_json, json.dumps(report.to_json(), indent=2))
    print(f"tracked stores -> {out / 'tracked'}; summary -> {csv}; report -> {report_json}")
    finish("track", report.failures, report_json, sessions=len(targets))
