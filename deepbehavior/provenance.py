"""Provenance recorded in every store: package versions, input files, the resolved config."""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import os
import platform
from pathlib import Path

PACKAGES = ("deepbehavior", "numpy", "opencv-python-headless", "torch", "ultralytics", "ray", "zarr",
            "xarray", "dask", "hydra-core")
_SAMPLE = 1 << 20


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape our results."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def file_fingerprint(path: str | os.PathLike) -> dict:
    """Size and a SHA-256 of a file's size, first MiB and last MiB.

    Hashing whole videos of a cohort would read terabytes; head, tail and size tell two recordings
    apart just as surely and cost two reads.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(_SAMPLE))
        if size > _SAMPLE:
            handle.seek(max(size - _SAMPLE, _SAMPLE))
            digest.update(handle.read(_SAMPLE))
    return {"path": str(path.resolve()), "size_bytes": size, "sha256_size_head_tail_1MiB": digest.hexdigest()}


def record(config: dict | None = None, inputs: list[str | os.PathLike] = (), **extra) -> dict:
    """The ``provenance`` attribute of a store."""
    return {
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
        "config": config or {},
        "inputs": [file_fingerprint(p) for p in inputs],
        **extra,
    }
