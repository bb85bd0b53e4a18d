"""The cohort manifest: subjects, groups, sessions, camera views and their videos.

A manifest is YAML::

    cohort: reach-2026            # a name (optional)
    views: [front, side]          # every view a session may have (optional; taken from the sessions)
    sessions:
      - subject: m01
        group: control
        session: day1
        videos: {front: videos/m01_d1_front.mp4, side: videos/m01_d1_side.mp4}
        calibration: calib/rig.toml   # optional, for 3D
        pixel_size_mm: 0.2            # optional, for real units in 2D

or CSV with one row per video and the columns ``subject, group, session, view, video`` (and
optionally ``calibration``, ``pixel_size_mm``). Relative paths are relative to the manifest's folder.
"""

from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .video import VideoError, check_video_path


class ManifestError(ValueError):
    """A cohort manifest is malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Session:
    subject: str
    group: str
    session: str
    videos: dict[str, Path]
    calibration: Path | None = None
    pixel_size_mm: float | None = None

    @property
    def key(self) -> str:
        """A name unique in the cohort, safe for file names: ``subject_session``."""
        return f"{self.subject}_{self.session}"


@dataclass(frozen=True)
class Cohort:
    name: str
    views: tuple[str, ...]
    sessions: tuple[Session, ...] = field(default_factory=tuple)
    source: Path | None = None

    def session(self, key: str) -> Session:
        for s in self.sessions:
            if s.key == key:
                return s
        raise KeyError(f"Expected a session named {key!r}, but the cohort has {[s.key for s in self.sessions]}")


def store_path(stores: str | os.PathLike, session: Session) -> Path:
    """Where the store of ``session`` lives in the folder ``stores``: ``<stores>/<session.key>.zarr``
    (as ``infer`` writes them and ``track``, ``triangulate`` and ``analyze`` read them)."""
    return Path(stores) / f"{session.key}.zarr"


_REQUIRED = ("subject", "session", "videos")
# Subject, session and view names become file names (``<subject>_<session>.zarr``): no separators,
# no leading dot, no control characters.
_NAME = re.compile(r"[^/\\\x00-\x1f\x7f.][^/\\\x00-\x1f\x7f]{0,199}")
MAX_PIXEL_SIZE_MM = 1000.0


def _name(value, field: str, where: str) -> str:
    if isinstance(value, (dict, list, bool)) or value is None:
        raise ManifestError(f"{where}: expected '{field}' to be a name, but got {value!r}"[:300])
    text = str(value)
    if not _NAME.fullmatch(text) or text.strip() != text:
        raise ManifestError(f"{where}: expected '{field}' to be a plain name (no '/', '\\', leading '.', "
                            f"control characters or surrounding spaces, at most 200 characters), but got {text[:60]!r}")
    return text


def _pixel_size(value, where: str) -> float:
    number = value
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
            or not 0 < number <= MAX_PIXEL_SIZE_MM:
        raise ManifestError(f"{where}: expected 'pixel_size_mm' a finite number in (0, {MAX_PIXEL_SIZE_MM:g}] mm, "
                            f"but got {value!r}"[:300])
    return float(number)


def _resolve(root: Path, value) -> Path:
    path = Path(str(value)).expanduser()
    return path if path.is_absolute() else (root / path)


def _session(entry: dict, root: Path, where: str) -> Session:
    if not isinstance(entry, dict):
        raise ManifestError(f"{where}: expected a mapping with {', '.join(_REQUIRED)}, but got {entry!r}")
    for key in _REQUIRED:
        if key not in entry or entry[key] in (None, "", {}):
            raise ManifestError(f"{where}: expected a field '{key}', but it is missing")
    unknown = set(entry) - {"subject", "group", "session", "videos", "calibration", "pixel_size_mm"}
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {sorted(unknown)}")
    videos = entry["videos"]
    if not isinstance(videos, dict):
        raise ManifestError(f"{where}: expected 'videos' to map view names to files, but got {videos!r}"[:300])
    for view, video in videos.items():
        _name(view, "videos (view name)", where)
        if not isinstance(video, str) or not video or "\x00" in video:
            raise ManifestError(f"{where}: expected the video of view {view!r} to be a file path, but got {video!r}"[:300])
    pixel = entry.get("pixel_size_mm")
    calibration = entry.get("calibration")
    if calibration is not None and (not isinstance(calibration, str) or "\x00" in calibration):
        raise ManifestError(f"{where}: expected 'calibration' to be a file path, but got {calibration!r}"[:300])
    return Session(
        subject=_name(entry["subject"], "subject", where),
        group=_name(entry.get("group", "all"), "group", where),
        session=_name(entry["session"], "session", where),
        videos={str(view): _resolve(root, path) for view, path in videos.items()},
        calibration=_resolve(root, calibration) if calibration else None,
        pixel_size_mm=_pixel_size(pixel, where) if pixel is not None else None,
    )


def _rows_from_csv(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"subject", "session", "view", "video"} - set(reader.fieldnames or [])
        if missing:
            raise ManifestError(f"{path}: expected columns subject, group, session, view, video; missing {sorted(missing)}")
        merged: dict[tuple[str, str], dict] = {}
        for line, row in enumerate(reader, start=2):
            key = (row["subject"], row["session"])
            entry = merged.setdefault(key, {"subject": row["subject"], "group": row.get("group") or "all",
                                            "session": row["session"], "videos": {}, "_line": line})
            if row["view"] in entry["videos"]:
                raise ManifestError(f"{path}:{line}: view {row['view']!r} of session {key} is listed twice")
            entry["videos"][row["view"]] = row["video"]
            for optional in ("calibration", "pixel_size_mm"):
                if row.get(optional):
                    entry[optional] = row[optional]  # checked with the YAML entries' rules
        return list(merged.values())


def load_cohort(path: str | os.PathLike, *, check_files: bool = True) -> Cohort:
    """Read and validate a cohort manifest (YAML or CSV).

    Raises ``ManifestError`` naming the file and entry for a missing field, a duplicate session, a
    view not declared in ``views``, or (with ``check_files``) a video that does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"Expected a cohort manifest at {path}, but there is no such file")
    root = path.parent
    if path.suffix.lower() == ".csv":
        try:
            raw = {"cohort": path.stem, "sessions": _rows_from_csv(path)}
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ManifestError(f"{path}: expected a UTF-8 CSV manifest, but got: {exc}".replace("\n", " ")) from None
    else:
        try:
            raw = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
            raise ManifestError(f"{path}: not valid YAML ({exc})".replace("\n", " ")[:400]) from None
        if not isinstance(raw, dict) or not isinstance(raw.get("sessions"), list):
            raise ManifestError(f"{path}: expected a mapping with a 'sessions' list, but got {type(raw).__name__}")
        declared = raw.get("views")
        if declared is not None and (not isinstance(declared, list)
                                     or any(isinstance(v, (dict, list)) for v in declared)):
            raise ManifestError(f"{path}: expected 'views' to be a list of names, but got {declared!r}"[:300])
        for view in declared or []:
            _name(view, "views", str(path))
    sessions = []
    seen: dict[str, str] = {}
    for index, entry in enumerate(raw["sessions"]):
        where = f"{path}: line {entry.pop('_line')}" if isinstance(entry, dict) and "_line" in entry else f"{path}: sessions[{index}]"
        session = _session(entry, root, where)
        if session.key in seen:
            raise ManifestError(f"{where}: duplicate session {session.subject}/{session.session} (also at {seen[session.key]})")
        seen[session.key] = where
        sessions.append(session)
    declared = raw.get("views")
    views = tuple(str(v) for v in declared) if declared else tuple(dict.fromkeys(v for s in sessions for v in s.videos))
    for session, where in zip(sessions, seen.values()):
        unknown = set(session.videos) - set(views)
        if unknown:
            raise ManifestError(f"{where}: unknown view(s) {sorted(unknown)}; expected one of {list(views)}")
        if check_files:
            for view, video in session.videos.items():
                if not video.is_file():
                    raise ManifestError(f"{where}: video for view {view!r} not found: {video}")
            if session.calibration is not None and not session.calibration.is_file():
                raise ManifestError(f"{where}: calibration file not found: {session.calibration}")
    if not sessions:
        raise ManifestError(f"{path}: expected at least one session, but the list is empty")
    return Cohort(name=str(raw.get("cohort", path.stem)), views=views, sessions=tuple(sessions), source=path)


def cohort_from_videos(videos: list[str | os.PathLike], *, view: str = "camera",
                       check_files: bool = True) -> Cohort:
    """A cohort of one session per video file (for running on loose videos without a manifest)."""
    sessions = []
    for video in videos:
        video = Path(video)
        if check_files:
            try:
                check_video_path(video)  # a still image or a folder is refused here, saying what to do
            except VideoError as exc:
                raise ManifestError(str(exc)) from None
        sessions.append(Session(subject=video.stem, group="all", session="s1", videos={view: video}))
    return Cohort(name="videos", views=(view,), sessions=tuple(sessions))


def write_cohort(cohort: Cohort, path: str | os.PathLike) -> Path:
    """Write ``cohort`` as a YAML manifest, with video paths relative to its folder where possible."""
    path = Path(path)

    def rel(p: Path) -> str:
        try:
            return str(Path(os.path.relpath(p, path.parent)))
        except ValueError:
            return str(p)

    entries = []
    for s in cohort.sessions:
        entry = {"subject": s.subject, "group": s.group, "session": s.session,
                 "videos": {v: rel(p) for v, p in s.videos.items()}}
        if s.calibration:
            entry["calibration"] = rel(s.calibration)
        if s.pixel_size_mm:
            entry["pixel_size_mm"] = s.pixel_size_mm
        entries.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"cohort": cohort.name, "views": list(cohort.views), "sessions": entries}, sort_keys=False))
    return path
