"""deepbehavior import: read other tools' files (TensorBox, darknet, Yolo_mark, OpenPose, DeepLabCut,
SLEAP) into Zarr stores. ``source`` is a file or folder, or a list of them; ``format`` names the
reader or ``auto`` guesses it. Each source becomes ``out/stores/<name>.zarr`` (``name`` defaults to
the source's file name without extension), chunked along time, every region marked done, with the
reader's attributes and provenance (config, versions, input fingerprints). Prints where each store
went and a summary: frames, individuals, keypoints, fraction of missing positions.
"""

from __future__ import annotations

from pathlib import Path

from deepbehavior import provenance, schema
from deepbehavior.config import ImportJob, to_plain
from deepbehavior.formats import READERS, load_file
from deepbehavior.formats.importing import summarize, write_store
from jobs._hydra import hydra_job


def _sources(source) -> list[Path]:
    items = [source] if isinstance(source, (str, Path)) else list(source or [])
    if not items:
        raise ValueError("Expected source=PATH or source=[PATH,...], but got none")
    return [Path(str(s)).expanduser() for s in items]


@hydra_job("import", ImportJob)
def main(cfg: ImportJob) -> None:
    sources = _sources(cfg.source)
    if cfg.format not in ("auto", *READERS):
        raise ValueError(f"Expected format to be auto or one of {', '.join(READERS)}, but got {cfg.format!r}")
    if cfg.name and len(sources) > 1:
        raise ValueError(f"Expected name= with one source only, but got {len(sources)} sources")
    fps, video_info = cfg.fps, None
    if cfg.video:
        from deepbehavior.video import probe

        video_info = probe(cfg.video)
        fps = fps or video_info.fps
    fps = fps or 30.0
    for source in sources:
        if not source.exists():
            raise FileNotFoundError(f"Expected a file or folder at {source}, but there is none")
        ds = load_file(source, format=cfg.format, fps=fps, **dict(cfg.options))
        name = cfg.name or source.name.split(".")[0]
        path = Path(cfg.out) / "stores" / f"{name}.zarr"
        inputs = [source] if source.is_file() else []
        extra = {"source": str(source.resolve()), "source_format": ds.attrs["source_format"]}
        if video_info is not None:
            extra["video"] = provenance.file_fingerprint(cfg.video)
            last = int(schema.frames(ds)[-1]) if ds.sizes["time"] else -1
            if last >= video_info.frames:
                print(f"warning: {source} has frame {last} but {cfg.video} has "
                      f"{video_info.frames} frames")
        attrs = {"provenance": provenance.record(to_plain(cfg), inputs, **extra)}
        if video_info is not None:
            attrs["video"] = str(Path(cfg.video).resolve())
        write_store(ds, path, chunk=cfg.store.chunk, attrs=attrs, overwrite=cfg.force)
        s = summarize(ds)
        print(f"{source} ({ds.attrs['source_format']}) -> {path}: {s['kind']}, {s['frames']} frames, "
              f"{s['individuals']} individuals, {s['keypoints']} keypoints, "
              f"{100 * s['missing_fraction']:.1f}% missing, fps {fps:g}")
