"""deepbehavior import: other tools' files (TensorBox, darknet, Yolo_mark, OpenPose, DeepLabCut csv/h5,
SLEAP .slp/.h5, NWB, Lightning Pose) into Zarr stores.

- ``source=PATH`` (or a list): each becomes ``out/stores/<name>.zarr`` (``name`` defaults to the
  source's file name without extension).
- ``sources={front: a.slp, side: b.slp}``: one file per camera, joined into one multi-camera store
  ``out/stores/<name>.zarr`` (``name`` defaults to the first file's).
- ``cohort=MANIFEST source='preds/{subject}_{session}_{view}.slp'``: for every session, the files
  of its views (the template filled in) into ``out/stores/<subject>_<session>.zarr``, where
  ``track``, ``triangulate`` and ``analyze`` look for them.

``format`` names the reader or ``auto`` guesses it. Stores are chunked along time, every region
marked done, with the reader's attributes and provenance (config, versions, input fingerprints).
Every file is read and checked (values, frame numbers) before any store is written. Prints where
each store went and a summary: frames, individuals, keypoints, fraction of missing positions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from omegaconf import MISSING

from deepbehavior.config import StoreConfig, require, to_plain

from ._hydra import hydra_job


@dataclass
class ImportJob:
    """``deepbehavior import``: other tools' files into stores.

    ``source`` is one path or a list (one store each); ``sources`` a mapping view -> path (one
    multi-camera store); with ``cohort`` (a manifest), ``source`` is a template such as
    ``preds/{subject}_{session}_{view}.slp`` filled for every session and view of the manifest
    (one store per session, at the path ``infer`` would use). ``format`` a reader name or auto.
    ``fps`` null takes the frame rate from ``video`` when given, else from the file (NWB), else 30 with
    a warning.
    ``options`` go to the reader (e.g. ``+options.people=all`` for OpenPose). ``name`` names the
    store (one source, or ``sources``).
    """

    # Folder the imported stores are written to.
    out: str = MISSING
    source: Any = None
    sources: dict[str, Any] = field(default_factory=dict)
    # A cohort manifest: source is then a template filled for each of its sessions and views.
    cohort: Optional[str] = None
    format: str = "auto"
    fps: Optional[float] = None
    # The video the source was made from: its frame rate, size and path go into the store.
    video: Optional[str] = None
    name: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)
    # A tracked file's tracks (SLEAP, multi-animal DeepLabCut, NWB): identities keeps each track as
    # one animal; slots reads every instance as a detection, for deepbehavior track to link again.
    tracks: str = "identities"
    # Tracks seen in fewer frames are dropped (SLEAP's "delete short tracks"; 1: keep every track).
    min_track_frames: int = 1
    store: StoreConfig = field(default_factory=StoreConfig)
    # Overwrite stores that already exist.
    force: bool = False

    def __post_init__(self):
        require(self.fps is None or self.fps > 0, f"Expected fps > 0 or null, but got {self.fps}")
        require(self.tracks in ("identities", "slots"), f"Expected tracks=identities or tracks=slots, "
                f"but got tracks={self.tracks!r}")
        require(self.min_track_frames >= 1, f"Expected min_track_frames >= 1, but got {self.min_track_frames}")
        given = [k for k in ("source", "sources") if getattr(self, k)]
        require(len(given) == 1, f"Expected source=PATH (or a list), or sources={{view: PATH, ...}}, but got "
                f"{' and '.join(given) if given else 'neither'}")
        require(self.cohort is None or isinstance(self.source, str),
                f"Expected source to be a template such as preds/{{subject}}_{{session}}_{{view}}.slp with "
                f"cohort=, but got {self.source!r}")


def _paths(source) -> list[Path]:
    items = [source] if isinstance(source, (str, Path)) else list(source or [])
    return [Path(str(s)).expanduser() for s in items]


# The frame rate given to a file that records none when neither fps= nor video= says it (with a warning).
ASSUMED_FPS = 30.0
# Formats whose files record their frame rate (NWB's timestamps): no rate is assumed for them.
RATE_IN_FILE = ("nwb",)


def _read(cfg: ImportJob, source: Path, fps: float | None, video_info=None):
    """``source`` read; ``fps`` None: the file's own rate, else :data:`ASSUMED_FPS`, marked in
    ``attrs["fps_assumed"]`` (the job warns, and the store keeps the mark)."""
    if not source.exists():
        raise FileNotFoundError(f"Expected a file or folder at {source}, but there is none")
    from deepbehavior.formats import ALIASES, guess_format, load_file

    # With video=, positions are checked against its frame and frame numbers against its length.
    frame = {} if video_info is None else {"frame_size": (video_info.width, video_info.height),
                                           "frame_count": video_info.frames}
    fmt = guess_format(source) if cfg.format == "auto" else ALIASES.get(cfg.format, cfg.format)
    assumed = fps is None and fmt not in RATE_IN_FILE
    ds = load_file(source, format=fmt, fps=ASSUMED_FPS if assumed else fps, **frame, **dict(cfg.options))
    if assumed:
        ds.attrs["fps_assumed"] = True
    return ds


def assumed_rate_warning(assumed: list[Path]) -> str:
    """The one warning line of a run that gave ``assumed`` files a frame rate nothing stated."""
    more = f" (and {len(assumed) - 1} more files)" if len(assumed) > 1 else ""
    return (f"deepbehavior import: warning: frame rate unknown for {assumed[0]}{more}: the file does not record "
            f"it and neither fps= nor video= was given, so {ASSUMED_FPS:g} frames/s is assumed (times in seconds "
            f"depend on it); pass fps=RATE or video=VIDEO")


def _plan(cfg: ImportJob) -> list[tuple[str, dict[str, Path]]]:
    """``(store name, {view: file})`` for each store to write; one entry ``{"": file}`` for one camera."""
    if cfg.cohort:
        from deepbehavior.cohort import load_cohort

        cohort = load_cohort(cfg.cohort, check_files=False)
        plan = []
        for session in cohort.sessions:
            files = {}
            for view in session.videos:
                try:
                    text = str(cfg.source).format(subject=session.subject, session=session.session, view=view,
                                                  group=session.group, key=session.key)
                except (KeyError, IndexError) as exc:
                    raise ValueError(f"Expected source placeholders among {{subject}}, {{session}}, {{view}}, "
                                     f"{{group}}, {{key}}, but got {exc}") from None
                files[view] = Path(text).expanduser()
            plan.append((session.key, files if len(files) > 1 else {"": next(iter(files.values()))}))
        return plan
    if cfg.sources:
        files = {str(view): Path(str(p)).expanduser() for view, p in dict(cfg.sources).items()}
        name = cfg.name or next(iter(files.values())).name.split(".")[0]
        return [(name, files if len(files) > 1 else {"": next(iter(files.values()))})]
    sources = _paths(cfg.source)
    if cfg.name and len(sources) > 1:
        raise ValueError(f"Expected name= with one source only, but got {len(sources)} sources")
    return [(cfg.name or s.name.split(".")[0], {"": s}) for s in sources]


def _session_attrs(cfg: ImportJob) -> dict[str, dict]:
    """Store name -> the attributes ``infer`` gives a session's store (subject, group, session, videos),
    for the stores of a cohort import; {} without ``cohort``. Exporters read them (NWB's subject and
    session, the video of each camera)."""
    if not cfg.cohort:
        return {}
    from deepbehavior.cohort import load_cohort

    return {s.key: {"subject": s.subject, "group": s.group, "session": s.key,
                    "videos": {v: str(p) for v, p in s.videos.items()}}
            for s in load_cohort(cfg.cohort, check_files=False).sessions}


def _read_tracks(ds, cfg: ImportJob):
    """``ds`` with its tracks read as ``cfg`` says: short ones dropped, then kept as identities or
    read as slots (a file of slots is left as it is)."""
    from deepbehavior.formats.importing import drop_short_tracks, tracks_as_slots

    if ds.attrs.get("individuals_are") != "identities":
        return ds
    if cfg.min_track_frames > 1:
        ds = drop_short_tracks(ds, min_frames=cfg.min_track_frames)
    return tracks_as_slots(ds) if cfg.tracks == "slots" else ds


@hydra_job("import", ImportJob, open_keys=("sources", "options"))
def main(cfg: ImportJob) -> None:
    # Imported here, not at the top: `deepbehavior import --help` answers at once.
    from deepbehavior import provenance, schema
    from deepbehavior.formats import ALIASES, READERS
    from deepbehavior.formats.importing import fragment_note, join_views, summarize, write_store

    if cfg.format not in ("auto", *READERS, *ALIASES):
        raise ValueError(f"Expected format to be auto or one of {', '.join(READERS)}, but got {cfg.format!r}")
    fps, video_info = cfg.fps, None
    if cfg.video:
        from deepbehavior.video import probe

        video_info = probe(cfg.video)
        fps = fps or video_info.fps
    plan = _plan(cfg)
    for _, files in plan:  # every file exists before anything is read
        for path in files.values():
            if not path.exists():
                raise FileNotFoundError(f"Expected a file or folder at {path}, but there is none")
    read, assumed = [], []
    for name, files in plan:  # every file read and checked before any store is written
        datasets = {view: _read(cfg, path, fps, video_info) for view, path in files.items()}
        assumed += [files[view] for view, d in datasets.items() if d.attrs.get("fps_assumed")]
        rate = fps or float(next(iter(datasets.values())).attrs["fps"])
        ds = datasets[""] if "" in datasets else join_views(datasets, fps=rate)
        ds = _read_tracks(ds, cfg)
        ds.attrs["source_format"] = next(iter(datasets.values())).attrs["source_format"]
        read.append((name, files, ds))
    for name, _, _ in read:  # nothing is written while any store is in the way
        path = Path(cfg.out) / "stores" / f"{name}.zarr"
        if path.exists() and not cfg.force:
            raise FileExistsError(f"Expected no store at {path}, but one exists (pass force=true to replace it)")
    if assumed:
        print(assumed_rate_warning(assumed), file=sys.stderr, flush=True)
    sessions = _session_attrs(cfg)
    for name, files, ds in read:
        path = Path(cfg.out) / "stores" / f"{name}.zarr"
        inputs = [p for p in files.values() if p.is_file()]
        extra = {"source": {view or "": str(p.resolve()) for view, p in files.items()},
                 "source_format": ds.attrs["source_format"]}
        if video_info is not None:
            extra["video"] = provenance.file_fingerprint(cfg.video)
            last = int(schema.frames(ds)[-1]) if ds.sizes["time"] else -1
            if last >= video_info.frames:
                raise ValueError(f"{next(iter(files.values()))}: Expected frame numbers below {video_info.frames} "
                                 f"(the frames of {cfg.video}), but got {last}")
        attrs = {"provenance": provenance.record(to_plain(cfg), inputs, **extra), **sessions.get(name, {})}
        if video_info is not None:
            attrs["video"] = str(Path(cfg.video).resolve())
        write_store(ds, path, chunk=cfg.store.chunk, attrs=attrs, overwrite=cfg.force)
        s = summarize(ds)
        shown = ", ".join(f"{v}: {p}" if v else str(p) for v, p in files.items())
        print(f"{shown} ({ds.attrs['source_format']}) -> {path}: {s['kind']}, {s['frames']} frames, "
              f"{s['individuals']} individuals, {s['keypoints']} keypoints, {100 * s['missing_fraction']:.1f}% "
              f"missing, {s['views']} view(s), individuals are {ds.attrs.get('individuals_are')}, "
              f"fps {float(ds.attrs['fps']):g}")
        if ds.attrs.get("dropped_tracks"):
            print(f"{path}: dropped {len(ds.attrs['dropped_tracks'])} short tracks (named in its attrs "
                  f"'dropped_tracks')")
        note = fragment_note(ds)
        if note:
            print(f"{path}: {note}")
        if ds.attrs.get("individuals_are") == "slots":
            import shlex

            from deepbehavior.tracking.layout import animals_in_most_frames

            n = max(animals_in_most_frames(ds), 1)
            print(f"next: {n} {'animal' if n == 1 else 'animals'} in most frames; track them with:\n"
                  f"deepbehavior track store={shlex.quote(str(path))} out={shlex.quote(str(cfg.out))} "
                  f"track.n_identities={n}")
