"""Atomic file writes: a file appears complete or not at all, even when the process is killed.

Each write goes to a temporary file in the target's folder (same file system, so the final
``os.replace`` is atomic) and is renamed over the target only once it is complete. The file gets
the permissions of any file the user creates (``0o666`` less the umask), not ``mkstemp``'s 0600.

Use :func:`write_atomic` for text, and :func:`atomic_path` for writers that want a path of their
own (``fig.savefig``, ``DataFrame.to_parquet``, ``cv2.VideoWriter``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["write_atomic", "atomic_path"]


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` sets it, racing other threads)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename; parent folders are created.

    The file gets the permissions of any file the user creates (``0o666`` less the umask).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path next to ``path`` to write to; renamed to ``path`` when the block ends
    without an error, removed otherwise.

    The temporary name keeps ``path``'s suffix (writers such as ``savefig`` choose the format by
    it) and starts with a dot. Parent folders are created; the file gets ``0o666`` less the umask.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".partial{path.suffix}")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
