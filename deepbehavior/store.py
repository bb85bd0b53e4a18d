"""Zarr v3 stores of a session: create the arrays, write one region, record progress, open lazily.

A store holds one dataset of :mod:`deepbehavior.schema` (poses or boxes) for one session, every
camera view included: a single-camera store has no ``view`` dimension (its camera name is a scalar
coordinate), a multi-camera store has ``view`` last. Arrays are chunked along ``time`` (``chunk``
frames), every other dimension whole except ``view``, which has one camera per chunk so that the
workers writing different cameras of the same frames never share a chunk. One worker (or the
driver) owns one (view, chunk) region, so writes never collide; a single-camera store's regions are
keyed by its camera name all the same. Zarr writes each chunk file under a temporary name and
renames it, so a chunk on disk is always complete; a region counts as *done* only once its marker
exists, and markers are written after the data. A run that was killed leaves regions that are either done or not done,
never half done.

Markers live beside the store, in ``<store>.progress/``: ``done/<view>.<chunk>`` and
``failed/<view>.<chunk>.json`` (the error text, for the run report).
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from . import schema
from .files import write_atomic  # noqa: F401  (also the name other modules knew it by)


@dataclass(frozen=True)
class Region:
    """Frames ``[start, stop)`` of one view: the unit of work and of writing."""

    view: str
    chunk: int
    start: int
    stop: int

    @property
    def frames(self) -> int:
        return self.stop - self.start

    @property
    def key(self) -> str:
        return f"{self.view}.{self.chunk}"


def chunk_bounds(n_frames: int, chunk: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each time chunk of a store of ``n_frames`` frames."""
    if chunk <= 0:
        raise ValueError(f"Expected a positive chunk length, but got {chunk}")
    return [(s, min(s + chunk, n_frames)) for s in range(0, n_frames, chunk)]


def _progress_dir(path: Path) -> Path:
    return Path(f"{path}.progress")


def _store_chunks(var: xr.DataArray, chunk: int) -> tuple[int, ...]:
    """Chunk shape of a variable in a store: ``chunk`` frames, one view, every other dimension whole."""
    return tuple(min(chunk, n) if d == schema.TIME else 1 if d == schema.VIEW else n
                 for d, n in zip(var.dims, var.shape))


def _frame_encoding(ds: xr.Dataset, chunk: int) -> dict:
    """The ``frame`` coordinate chunked along time like the data (a long video's frame numbers
    are not one block)."""
    if schema.FRAME not in ds.coords:
        return {}
    return {schema.FRAME: {"chunks": (min(chunk, max(ds.sizes[schema.TIME], 1)),)}}


def _plain_strings(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its label coordinates as Python strings: the variable-length type Zarr v3 specifies."""
    out = ds.copy()
    for name, coord in ds.coords.items():
        if coord.dtype.kind == "U":
            out[name] = coord.astype(object)
    return out


def _empty_like(ds: xr.Dataset) -> xr.Dataset:
    """A copy of ``ds`` whose data variables are all NaN, as read-only views of one value (no memory
    per frame). Zarr skips writing a chunk that is all fill value, so writing it writes metadata only."""
    out = _plain_strings(ds)
    for name, var in ds.data_vars.items():
        out[name] = (var.dims, np.broadcast_to(np.array(np.nan, dtype=var.dtype), var.shape), var.attrs)
    return out


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, *, chunk: int, overwrite: bool = False) -> Path:
    """Write a whole dataset as a store at ``path`` (``chunk`` frames along time, one view per chunk),
    atomically. For results computed in one pass (tracks, 3D), which keep no progress markers.

    The store is written under a temporary name beside ``path`` and renamed into place; a store
    it replaces is moved aside first, so ``path`` holds either the old store or the complete new
    one. Lazy variables are computed chunk by chunk, so memory stays bounded by a few chunks.
    """
    path = Path(path)
    if chunk < 1:
        raise ValueError(f"Expected a positive chunk length, but got {chunk}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"Expected no store at {path}, but one exists (pass overwrite=True to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = schema.drop_single_view(ds)
    out = _plain_strings(ds)
    encoding = {}
    for name, var in out.data_vars.items():
        chunks = _store_chunks(var, chunk)
        out[name] = var.chunk(dict(zip(var.dims, chunks)))
        encoding[name] = {"chunks": chunks}
    encoding.update(_frame_encoding(out, chunk))
    out.attrs = {**ds.attrs, "chunk": int(chunk)}
    tmp, old = path.with_name(f".{path.name}.partial"), path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _consolidated_metadata():
            out.to_zarr(tmp, mode="w", zarr_format=3, encoding=encoding, consolidated=True)
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return path


def create_store(
    path: str | os.PathLike,
    template: xr.Dataset,
    *,
    chunk: int,
    attrs: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Create a store shaped like ``template`` with every value missing (NaN) and nothing done.

    ``template`` gives dimensions, coordinates and attributes (its values are not written).
    ``attrs`` are added to the store's attributes (provenance: config, versions, inputs).
    An existing store is kept unless ``overwrite`` is true.
    """
    path = Path(path)
    template = schema.validate(schema.drop_single_view(template))
    if path.exists() and not overwrite:
        raise FileExistsError(f"Expected no store at {path}, but one exists (pass overwrite=True to replace it)")
    if path.exists():
        shutil.rmtree(path)
    shutil.rmtree(_progress_dir(path), ignore_errors=True)
    empty = _empty_like(template)
    empty.attrs = {**template.attrs, **(attrs or {}), "chunk": int(chunk)}
    encoding = {name: {"chunks": _store_chunks(var, chunk)} for name, var in empty.data_vars.items()}
    encoding.update(_frame_encoding(empty, chunk))
    tmp = path.with_name(f".{path.name}.creating")
    shutil.rmtree(tmp, ignore_errors=True)
    # Consolidated metadata is written once here; region writes never change metadata.
    with _consolidated_metadata():
        empty.to_zarr(tmp, mode="w", zarr_format=3, encoding=encoding, consolidated=True, write_empty_chunks=False)
    os.replace(tmp, path)
    return path


def open_store(path: str | os.PathLike, *, chunked: bool = True) -> xr.Dataset:
    """Open a store lazily: as Dask arrays chunked as stored, or with ``chunked=False`` as arrays
    read whole on access, with no Dask graph (what planning and writing use: attributes and layout).

    Raises
    ------
    schema.SchemaError
        When the store has the layout before issue #13 (dims ``individual``/``keypoint``, time
        in frames); the message says how to convert it (:func:`upgrade_store`).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expected a Zarr store at {path}, but there is none")
    with _consolidated_metadata():
        ds = xr.open_zarr(path, zarr_format=3, consolidated=True, chunks={} if chunked else None)
    if schema.is_legacy(ds):
        raise schema.SchemaError(
            f"{path}: Expected dimensions 'individuals'/'keypoints' and time in seconds, but got the old "
            f"layout (dims {tuple(ds.dims)}); convert it with "
            f"deepbehavior.store.upgrade_store('{path}', '<new path>')"
        )
    # frame numbers and the camera name are small: read them now, not on every use
    return ds.assign_coords({name: ds[name].load() for name in (schema.FRAME, schema.VIEW) if name in ds.coords})


def upgrade_store(old: str | os.PathLike, new: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the store at ``old`` (layout before issue #13) in the current layout at ``new``.

    Values are copied unchanged (see :func:`deepbehavior.schema.upgrade_legacy`); the time chunk
    and attributes are kept. Progress markers are not copied: the new store is a finished one.
    """
    with _consolidated_metadata():
        ds = xr.open_zarr(Path(old), zarr_format=3, consolidated=True)
    chunk = int(ds.attrs.get("chunk", ds.sizes[schema.TIME]))
    return write_dataset(schema.upgrade_legacy(ds), new, chunk=chunk, overwrite=overwrite)


@contextmanager
def _consolidated_metadata():
    """Zarr warns at each use of consolidated metadata in format 3, which its specification does not
    cover yet. Stores keep it, knowingly: opening one then reads one file, not one per array."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata is currently not part", category=UserWarning)
        yield


def layout_regions(views: Sequence[str], n_frames: int, chunk: int) -> list[Region]:
    """Every (view, chunk) region of a store of these views, ``n_frames`` frames long, chunked by
    ``chunk`` frames: the regions :func:`regions` reads back once such a store is made."""
    bounds = chunk_bounds(n_frames, chunk)
    return [Region(str(v), i, s, e) for v in views for i, (s, e) in enumerate(bounds)]


def regions(path: str | os.PathLike) -> list[Region]:
    """Every (view, chunk) region of the store at ``path``."""
    ds = open_store(path, chunked=False)
    views = [str(v) for v in np.atleast_1d(ds[schema.VIEW].values)]
    return layout_regions(views, ds.sizes[schema.TIME], int(ds.attrs["chunk"]))


def write_region(path: str | os.PathLike, part: xr.Dataset, region: Region) -> None:
    """Write ``part`` (one view, the frames of ``region``) into the store, then mark it done.

    ``part`` may have a ``view`` dimension of length 1 or none; the store decides whether the
    written array has one (multi-camera stores) or not (single-camera stores).
    """
    write_regions(path, part, [region])


def write_regions(path: str | os.PathLike, part: xr.Dataset, regions: Sequence[Region]) -> None:
    """Write ``part`` (one view, the frames of consecutive ``regions``) into the store in one write,
    then mark each region done.

    A dataset already in memory (an imported file) goes in with one store opening and one write
    instead of one per chunk. ``part`` may have a ``view`` dimension of length 1 or none, as in
    :func:`write_region`.
    """
    path = Path(path)
    regions = list(regions)
    if not regions:
        return
    keys = regions[0].key if len(regions) == 1 else f"{regions[0].key}..{regions[-1].key}"
    if len({r.view for r in regions}) > 1 or any(b.start != a.stop for a, b in zip(regions, regions[1:])):
        raise ValueError(f"Expected consecutive regions of one view for {path}, but got {[r.key for r in regions]}")
    start, stop, view = regions[0].start, regions[-1].stop, regions[0].view
    if part.sizes[schema.TIME] != stop - start:
        raise ValueError(
            f"Expected {stop - start} frames for region {keys} of {path}, but got {part.sizes[schema.TIME]}"
        )
    target = open_store(path, chunked=False)
    store_views = [str(v) for v in np.atleast_1d(target[schema.VIEW].values)]
    if view not in store_views:
        raise ValueError(f"Expected a view of {path} ({store_views}) in region {keys}, but got {view!r}")
    if schema.VIEW in part.dims:
        if part.sizes[schema.VIEW] != 1:
            raise ValueError(f"Expected one view in the part for region {keys} of {path}, "
                             f"but got {part.sizes[schema.VIEW]}")
        part = part.isel({schema.VIEW: 0})
    part = part.drop_vars(list(part.coords))
    part.attrs = {}
    where = {schema.TIME: slice(start, stop)}
    if schema.VIEW in target.dims:
        view_index = store_views.index(view)
        part = part.expand_dims({schema.VIEW: 1}).transpose(..., schema.VIEW)
        where[schema.VIEW] = slice(view_index, view_index + 1)
    part.to_zarr(path, region=where, zarr_format=3, consolidated=False)
    for region in regions:
        mark_done(path, region)


def mark_done(path: Path, region: Region) -> None:
    progress = _progress_dir(path)
    write_atomic(progress / "done" / region.key, f"{region.start} {region.stop}\n")
    (progress / "failed" / f"{region.key}.json").unlink(missing_ok=True)


def record_failure(path: str | os.PathLike, region: Region, error: str) -> None:
    """Record that ``region`` could not be done, with the error, for the run report."""
    text = json.dumps({"view": region.view, "chunk": region.chunk, "start": region.start,
                       "stop": region.stop, "error": error})
    write_atomic(_progress_dir(Path(path)) / "failed" / f"{region.key}.json", text)


def done_keys(path: str | os.PathLike) -> set[str]:
    """Keys (``view.chunk``) of the regions of the store that are done."""
    folder = _progress_dir(Path(path)) / "done"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def failures(path: str | os.PathLike) -> list[dict]:
    """The recorded failures of the store's regions (view, chunk, start, stop, error)."""
    folder = _progress_dir(Path(path)) / "failed"
    if not folder.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def pending(path: str | os.PathLike) -> Iterator[Region]:
    """Regions of the store that are not done yet."""
    done = done_keys(path)
    return (r for r in regions(path) if r.key not in done)


def is_complete(path: str | os.PathLike) -> bool:
    return next(iter(pending(path)), None) is None
