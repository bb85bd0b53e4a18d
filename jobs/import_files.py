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
    ``fps`` null takes the frame rate from ``video`` (or the cohort's videos) when given, else 30.
    ``options`` go to the reader (e.g. ``+options.people=all`` for OpenPose). ``name`` names the
    store (one source, or ``sources``).
    """

    # Folder the imported stores are written to.
    out: str = MISSING
    source: Any = None
    sources: dict[str, Any] = field(default_factory=dict)
    cohort: Optional[str] = None
    format: str = "auto"
    fps: Optional[float] = None
    video: Optional[str] = None
    name: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)
    store: StoreConfig = field(default_factory=StoreConfig)
    # Overwrite stores that already exist.
    force: bool = False

    def __post_init__(self):
        require(self.fps is None or self.fps > 0, f"Expected fps > 0 or null, but got {self.fps}")
        given = [k for k in ("source", "sources") if getattr(self, k)]
        require(len(given) == 1, f"Expected source=PATH (or a list), or sources={{view: PATH, ...}}, but got "
                f"{' and '.join(given) if given else 'neither'}")
        require(self.cohort is None or isinstance(self.source, str),
                f"Expected source to be a template such as preds/{{subject}}_{{session}}_{{view}}.slp with "
                f"cohort=, but got {self.source!r}")


def _paths(source) -> list[Path]:
    items = [source] if isinstance(source, (str, Path)) else list(source or [])
    return [Path(str(s)).expanduser() for s in items]


def _read(cfg: ImportJob, source: Path, fps: float):
    if not source.exists():
        raise FileNotFoundError(f"Expected a file or folder at {source}, but there is none")
    from deepbehavior.formats import load_file

    return load_file(source, format=cfg.format, fps=fps, **dict(cfg.options))


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


@hydra_job("import", ImportJob, open_keys=("sources", "options"))
def main(cfg: ImportJob) -> None:
    # Imported here, not at the top: `deepbehavior import --help` answers at once.
    from deepbehavior import provenance, schema
    from deepbehavior.formats import ALIASES, READERS
    from deepbehavior.formats.importing import join_views, summarize, write_store

    if cfg.format not in ("auto", *READERS, *ALIASES):
        raise ValueError(f"Expected format to be auto or one of {', '.join(READERS)}, but got {cfg.format!r}")
    fps, video_info = cfg.fps, None
    if cfg.video:
        from deepbehavior.video import probe

        video_info = probe(cfg.video)
        fps = fps or video_info.fps
    fps = fps or 30.0
    plan = _plan(cfg)
    for _, files in plan:  # every file exists before anything is read
        for path in files.values():
            if not path.exists():
                raise FileNotFoundError(f"Expected a file or folder at {path}, but there is none")
    read = []
    for name, files in plan:  # every file read and checked before any store is written
        datasets = {view: _read(cfg, path, fps) for view, path in files.items()}
        ds = datasets[""] if "" in datasets else join_views(datasets, fps=fps)
        ds.attrs["source_format"] = next(iter(datasets.values())).attrs["source_format"]
        read.append((name, files, ds))
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
        attrs = {"provenance": provenance.record(to_plain(cfg), inputs, **extra)}
        if video_info is not None:
            attrs["video"] = str(Path(cfg.video).resolve())
        write_store(ds, path, chunk=cfg.store.chunk, attrs=attrs, overwrite=cfg.force)
        s = summarize(ds)
        shown = ", ".join(f"{v}: {p}" if v else str(p) for v, p in files.items())
        print(f"{shown} ({ds.attrs['source_format']}) -> {path}: {s['kind']}, {s['frames']} frames, "
              f"{s['individuals']} individuals, {s['keypoints']} keypoints, {100 * s['missing_fraction']:.1f}% "
              f"missing, {s['views']} view(s), individuals are {ds.attrs.get('individuals_are')}, fps {fps:g}")
