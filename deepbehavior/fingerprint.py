"""Fingerprints of what determines a store's content, and the check that a resume still matches.

A fingerprint is a flat mapping of names to short strings: the model weights' hash, the backend
and every option that changes predictions (imgsz, conf, iou, max_individuals, half, …), each input
file's size and hash, the schema version, and for derived stores the source store's fingerprint
and the step's settings. It is kept in the store's ``attrs["fingerprint"]``. A job that would
resume a store, or skip one as done, first compares the fingerprint it would write with the one
recorded, and stops on any difference (:func:`check`) unless told to redo the store.

Inputs are hashed by size, first MiB and last MiB (:func:`deepbehavior.provenance.file_fingerprint`):
two recordings or two weight files differ there, and whole videos of a cohort are not re-read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from .provenance import file_fingerprint

ATTR = "fingerprint"
# Version of the store layout (dimensions, variables, attributes): a store written under another
# layout is never resumed into.
SCHEMA_VERSION = "2"
# Options that change where or how fast predictions run but not what they are.
NOT_CONTENT = frozenset({"device", "threads", "channels_last", "batch_size"})


class FingerprintMismatch(ValueError):
    """An existing output was made from other inputs or settings than the current run's."""


def file_digest(path: str | os.PathLike) -> str:
    """``"<size> bytes sha256:<first 16 hex>"`` of a file (size, first and last MiB)."""
    found = file_fingerprint(path)
    return f"{found['size_bytes']} bytes sha256:{found['sha256_size_head_tail_1MiB'][:16]}"


def _text(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def make(**parts) -> dict[str, str]:
    """A fingerprint from named parts (values made JSON text), with the schema version.

    A part that is a mapping is flattened with dotted names, so that a difference names the one
    setting that changed (``options.imgsz``), not the whole group.
    """
    out = {"schema_version": SCHEMA_VERSION}
    for name, value in parts.items():
        if isinstance(value, Mapping):
            for key in sorted(value):
                out[f"{name}.{key}"] = _text(value[key])
        else:
            out[name] = _text(value)
    return out


def predictor_fingerprint(backend: str, options: Mapping, videos: Mapping[str, str | os.PathLike], *,
                          chunk: int) -> dict[str, str]:
    """What determines an ``infer`` store: backend, content options, weights, videos, chunk.

    Parameters
    ----------
    backend
        Backend name (``yolo``, ``yolo_pose``, ``mediapipe_pose``, or ``module:Class``).
    options
        The backend's constructor arguments; ``weights`` given as a file is replaced by its hash,
        options in :data:`NOT_CONTENT` (device, threads) are left out.
    videos
        View name → video file of the session.
    chunk
        Frames per time chunk of the store (the unit of resuming).
    """
    content = {k: v for k, v in options.items() if k not in NOT_CONTENT}
    weights = content.pop("weights", None)
    parts: dict = {"backend": backend, "options": content, "chunk": int(chunk)}
    if weights:
        parts["weights"] = file_digest(weights) if Path(weights).is_file() else str(weights)
    # a missing video fails its session when it is planned; its fingerprint says so, not raises
    parts["video"] = {view: file_digest(path) if Path(path).is_file() else "missing" for view, path in videos.items()}
    return make(**parts)


def numeric_variant(options: Mapping, *, frames_per_batch: int) -> dict[str, str]:
    """The settings a run used that the fingerprint leaves out (:data:`NOT_CONTENT`: device, torch
    threads, batch sizes) but that still change predictions in their last digits (up to 1.5e-5 px
    measured for batch size and threads).

    A resume with other values is allowed (``threads`` follows the machine's load), so each chunk
    records the values it was predicted with (in its done marker, :func:`deepbehavior.store.mark_done`)
    and the run says when a store mixes them (:func:`variant_notice`).

    Parameters
    ----------
    options
        The backend's constructor arguments as run (``threads`` filled in).
    frames_per_batch
        Frames per predictor call.
    """
    out = {key: _text(options[key]) for key in sorted(NOT_CONTENT) if key in options}
    out["frames_per_batch"] = str(int(frames_per_batch))
    return out


def variant_notice(recorded: Mapping[str, Mapping[str, str] | None], current: Mapping[str, str], *,
                   where: str) -> str | None:
    """One line when chunks already done in a store (``recorded``: chunk key → its
    :func:`numeric_variant`, None where not recorded) were made with other values than this run's
    ``current``; None when they all match (or none is recorded)."""
    other = {key: variant for key, variant in recorded.items() if variant and differences(variant, current)}
    if not other:
        return None
    first = min(other)
    name, old, new = differences(other[first], current)[0]
    return (f"{where}: {len(other)} of its {len(recorded)} done chunks were predicted with {name}={old}, this run "
            f"uses {new}; values may differ in their last digits between chunks (each chunk's settings are "
            f"recorded in its done marker; force=true redoes the store with one setting)")


def digest(fingerprint: Mapping[str, str]) -> str:
    """One short hash of a whole fingerprint (for a derived store to name its source)."""
    text = json.dumps(dict(fingerprint), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def of_store(attrs: Mapping) -> dict[str, str] | None:
    """The fingerprint recorded in a store's attrs, or None for a store made before fingerprints."""
    found = attrs.get(ATTR)
    if isinstance(found, str):  # some writers keep attrs as JSON text
        found = json.loads(found)
    return dict(found) if found else None


def source_digest(attrs: Mapping) -> str:
    """The digest of a source store's fingerprint; ``"none"`` for a store made before fingerprints."""
    found = of_store(attrs)
    return digest(found) if found else "none"


def differences(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """``(name, recorded value, current value)`` of every part that differs (``"absent"`` if missing)."""
    names = sorted(set(recorded) | set(current))
    return [(n, str(recorded.get(n, "absent")), str(current.get(n, "absent")))
            for n in names if not _same(recorded.get(n), current.get(n))]


def _numbers_as_float(value):
    if isinstance(value, bool):
        return ("bool", value)  # True == 1.0 in Python; a switch is not a number
    if not isinstance(value, (int, float, list, dict)):
        return value
    if isinstance(value, list):
        return [_numbers_as_float(v) for v in value]
    if isinstance(value, dict):
        return {k: _numbers_as_float(v) for k, v in value.items()}
    return float(value)


def _same(recorded: str | None, current: str | None) -> bool:
    """Equal texts, or JSON texts equal once numbers are compared as numbers (``15`` is ``15.0``:
    the same setting given from Python as an int and from the command line as a float)."""
    if recorded == current:
        return True
    if recorded is None or current is None:
        return False
    try:
        return _numbers_as_float(json.loads(recorded)) == _numbers_as_float(json.loads(current))
    except (ValueError, TypeError):
        return False


def check(recorded: Mapping[str, str] | None, current: Mapping[str, str], *, where: str, redo: str) -> None:
    """Raise :class:`FingerprintMismatch` unless ``recorded`` equals ``current``.

    The message is one line: the output (``where``), the first differing part with both values
    (and how many others differ), and ``redo``, what to pass to replace the output.
    """
    if recorded is None:
        raise FingerprintMismatch(
            f"{where}: Expected a fingerprint of the settings that made it, but it has none (made by an "
            f"older version); {redo} to redo it")
    diff = differences(recorded, current)
    if not diff:
        return
    name, old, new = diff[0]
    more = f" (and {len(diff) - 1} more: {', '.join(d[0] for d in diff[1:])})" if len(diff) > 1 else ""
    raise FingerprintMismatch(
        f"{where} was made with other settings: {name} was {old}, but this run has {new}{more}; "
        f"use another out= or {redo} to redo it")
