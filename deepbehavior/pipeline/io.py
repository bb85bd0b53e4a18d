"""Loading and saving datasets: other tools' files (:mod:`deepbehavior.formats`) and our Zarr stores."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import xarray as xr

#: The suffix of our stores (Zarr v3 folders, :mod:`deepbehavior.store`).
STORE_SUFFIX = ".zarr"


def load(path: str | os.PathLike, *, format: str | None = None, **options: Any) -> xr.Dataset:
    """Read a poses or boxes dataset from a file or folder.

    Parameters
    ----------
    path
        One of our stores (a ``*.zarr`` folder; opened lazily, Dask-backed), or another tool's
        predictions: SLEAP ``.slp``/``.h5``, DeepLabCut ``.csv``/``.h5``, NWB, OpenPose folders,
        TensorBox JSON, darknet text, Yolo_mark folders (see :data:`deepbehavior.formats.READERS`).
    format
        A key of :data:`deepbehavior.formats.READERS`, or ``"zarr"``; guessed from the file when None.
    **options
        Passed to the reader, e.g. ``fps`` (frames per second) for files that do not record it.

    Returns
    -------
    xarray.Dataset
        movement's data model: ``position (time, space, keypoints, individuals)`` in pixels and
        ``confidence``; ``time`` in seconds.

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    deepbehavior.store.IncompleteStoreError
        When ``path`` is one of our stores whose writing job has not finished it.
    ValueError
        When the file is not of a known format or its values are invalid (one line naming the file).

    Examples
    --------
    >>> import deepbehavior as db
    >>> flies = db.load("centered_pair_predictions.slp")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expected a file or folder at {path}, but there is none")
    if format == "zarr" or (format is None and path.suffix == STORE_SUFFIX):
        if options:
            raise ValueError(f"Expected no reader options for the Zarr store {path}, but got {sorted(options)}")
        from ..store import open_complete

        return open_complete(path)  # an unfinished store (a stopped job's) is refused, as the jobs refuse it
    from ..formats import load_file

    return load_file(path, format, **options)


def save(ds: xr.Dataset, path: str | os.PathLike, *, format: str | None = None, chunk: int = 1000,
         overwrite: bool = False, **options: Any) -> list[Path]:
    """Write a dataset as one of our stores or in another tool's format.

    Parameters
    ----------
    ds
        A poses or boxes dataset (:mod:`deepbehavior.schema`).
    path
        A ``*.zarr`` path for a store; otherwise the file to write (a multi-camera dataset writes
        one file per camera, ``<stem>_<view><suffix>``, beside it).
    format
        ``"zarr"`` or a key of :data:`deepbehavior.formats.WRITERS` (``dlc``, ``sleap``, ``nwb``,
        ``openpose``, ``lightning_pose``, ``csv``); None: ``"zarr"`` for a ``.zarr`` path, else
        an error (a suffix such as ``.csv`` or ``.h5`` names several tools).
    chunk
        Frames per time chunk of a store.
    overwrite
        Replace what is at the target; otherwise an existing target is an error, before any write.
    **options
        Passed to the writer of another tool's format.

    Returns
    -------
    list of pathlib.Path
        The files or folders written.
    """
    path = Path(path)
    if format is None:
        if path.suffix != STORE_SUFFIX:
            raise ValueError(f"Expected format= for {path} (only a .zarr path needs none), but got none")
        format = "zarr"
    if format == "zarr":
        if options:
            raise ValueError(f"Expected no writer options for the Zarr store {path}, but got {sorted(options)}")
        from ..formats.importing import write_store

        return [write_store(ds, path, chunk=chunk, overwrite=overwrite)]
    from ..formats import WRITERS, save_file
    from ..formats.exporting import export_dataset

    if format not in WRITERS:
        raise ValueError(f"Expected format to be 'zarr' or one of {', '.join(WRITERS)}, but got {format!r}")
    if options:  # a writer's own options: one file of one camera, as the writer takes them
        if path.exists() and not overwrite:
            raise FileExistsError(f"Expected no file at {path}, but there is one (pass overwrite=True to replace it)")
        written = save_file(ds, path, format, **options)
        return [Path(p) for p in written] if isinstance(written, (list, tuple)) else [Path(written or path)]
    return export_dataset(ds, path.parent, name=path.stem if path.suffix else path.name, format=format,
                          suffix=path.suffix or None, overwrite=overwrite)
