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

Markers live beside the store, in ``<store>.progress/``: ``done/<view>.<chunk>`` (its frames and,
from ``infer``, the settings outside the fingerprint it was predicted with: batch size, threads,
device) and ``failed/<view>.<chunk>.json`` (the error text, for the run report).

*Complete* means one thing for every store, whichever job wrote it: every region has its done
marker. Jobs that fill a store region by region (``infer``, ``import``) mark each region as they
go; a store written in one pass (:func:`write_dataset`: ``track``, ``triangulate``) is marked whole
once it is in place. Every job that reads a store opens it with :func:`open_complete`, which
refuses an unfinished one in one line.

Stores are read through xarray. Inference makes and fills its stores with Zarr alone
(:func:`create_empty_store`, :func:`write_region_arrays`): the same files, byte for byte, as
:func:`create_store` and :func:`write_region`, without the second or two that xarray, Dask and pandas
take to load in a short job. Everything else writes datasets through xarray.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import schema
from .files import write_atomic  # noqa: F401  (also the name other modules knew it by)

if TYPE_CHECKING:  # imported where a store is opened or a dataset written: inference's stores need only Zarr
    import xarray as xr


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


def _store_chunks(dims: Sequence[str], shape: Sequence[int], chunk: int) -> tuple[int, ...]:
    """Chunk shape of a variable in a store: ``chunk`` frames, one view, every other dimension whole."""
    return tuple(min(chunk, n) if d == schema.TIME else 1 if d == schema.VIEW else n for d, n in zip(dims, shape))


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
    atomically. For results computed in one pass (tracks, 3D).

    The store is written under a temporary name beside ``path`` and renamed into place; a store
    it replaces is moved aside first, so ``path`` holds either the old store or the complete new
    one. Once in place, every region is marked done (:func:`is_complete`): the store's old markers
    are cleared before the rename, so a run stopped in between leaves a store that reads as
    unfinished, never one marked complete that is not. Lazy variables are computed chunk by chunk,
    so memory stays bounded by a few chunks.
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
        chunks = _store_chunks(var.dims, var.shape, chunk)
        out[name] = var.chunk(dict(zip(var.dims, chunks)))
        encoding[name] = {"chunks": chunks}
    encoding.update(_frame_encoding(out, chunk))
    out.attrs = {**ds.attrs, "chunk": int(chunk)}
    tmp, old = path.with_name(f".{path.name}.partial"), path.with_name(f".{path.name}.old")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with _consolidated_metadata():
            out.to_zarr(tmp, mode="w", zarr_format=3, encoding=encoding, consolidated=True)
        shutil.rmtree(_progress_dir(path), ignore_errors=True)
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    for region in layout_regions(schema.view_names(out), out.sizes[schema.TIME], chunk):
        mark_done(path, region)
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
    template = schema.validate(schema.drop_single_view(template))
    empty = _empty_like(template)
    empty.attrs = {**template.attrs, **(attrs or {}), "chunk": int(chunk)}
    encoding = {name: {"chunks": _store_chunks(var.dims, var.shape, chunk)} for name, var in empty.data_vars.items()}
    encoding.update(_frame_encoding(empty, chunk))

    def write(tmp: Path) -> None:
        # Consolidated metadata is written once here; region writes never change metadata.
        with _consolidated_metadata():
            empty.to_zarr(tmp, mode="w", zarr_format=3, encoding=encoding, consolidated=True, write_empty_chunks=False)

    return _create_atomically(Path(path), write, overwrite=overwrite)


def create_empty_store(
    path: str | os.PathLike,
    parts: schema.Parts,
    *,
    chunk: int,
    attrs: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """:func:`create_store` of ``parts.dataset()``, written with Zarr alone: the same files, byte for
    byte, without loading xarray (which loads Dask), for inference's new stores.

    ``parts`` (:class:`deepbehavior.schema.Parts`) are those of the schema's builders (float data
    variables, the ``time``/``frame``/label/``view`` coordinates), whose encoding this writes as
    xarray's Zarr backend does: a float's ``_FillValue`` as the base64 of a float64 NaN, the
    non-dimension coordinates named in each data variable's ``coordinates``, ``frame`` chunked along
    time like the data, other coordinates chunked as Zarr chooses. ``tests/unit/test_store.py``
    compares every file with :func:`create_store`'s.
    """
    variables = {name: (tuple(dims), np.asarray(array).dtype) for name, (dims, array) in parts.data_vars.items()}
    sizes = {d: n for name, (dims, array) in parts.data_vars.items() for d, n in zip(dims, np.shape(array))}
    coords = {name: _coordinate(name, value) for name, value in parts.coords.items()}
    attrs = {**parts.attrs, **(attrs or {}), "chunk": int(chunk)}

    def write(tmp: Path) -> None:
        import zarr

        group = zarr.open_group(tmp, mode="w", zarr_format=3, attributes=attrs)
        for name, (dims, values) in coords.items():
            text = values.dtype.kind in "OU"
            array = group.create_array(
                name, shape=values.shape, dtype=str if text else values.dtype,
                chunks=(min(chunk, max(sizes[schema.TIME], 1)),) if name == schema.FRAME else "auto",
                fill_value=np.nan if values.dtype.kind == "f" else None,
                attributes={"_FillValue": _NAN_FILL} if values.dtype.kind == "f" else {},
                dimension_names=dims or None,
            )
            array[...] = values.astype(object) if text else values
        for name, (dims, dtype) in variables.items():
            others = sorted(c for c, (c_dims, _) in coords.items() if c not in sizes and set(c_dims) <= set(dims))
            shape = tuple(sizes[d] for d in dims)
            group.create_array(
                name, shape=shape, dtype=dtype, chunks=_store_chunks(dims, shape, chunk), fill_value=np.nan,
                attributes={"coordinates": " ".join(others), "_FillValue": _NAN_FILL}, dimension_names=dims,
            )
        with _consolidated_metadata():
            zarr.consolidate_metadata(tmp, zarr_format=3)

    return _create_atomically(Path(path), write, overwrite=overwrite)


#: A float variable's ``_FillValue`` attribute as xarray writes it in Zarr v3: a float64 NaN, base64.
_NAN_FILL = base64.standard_b64encode(struct.pack("<d", np.nan)).decode()


def _coordinate(name: str, value) -> tuple[tuple[str, ...], np.ndarray]:
    """A coordinate of :class:`schema.Parts` (values, or ``(dims, values)``) as dims and an array."""
    dims, values = value if isinstance(value, tuple) else (((name,), value) if np.ndim(value) else ((), value))
    return ((dims,) if isinstance(dims, str) else tuple(dims)), np.asarray(values)


def _create_atomically(path: Path, write: Callable[[Path], None], *, overwrite: bool) -> Path:
    """Make a store at ``path`` by ``write(tmp)`` beside it and a rename, its old progress cleared."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"Expected no store at {path}, but one exists (pass overwrite=True to replace it)")
    if path.exists():
        shutil.rmtree(path)
    shutil.rmtree(_progress_dir(path), ignore_errors=True)
    tmp = path.with_name(f".{path.name}.creating")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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
    import xarray as xr

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
    import xarray as xr

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
    return _regions_of(open_store(path, chunked=False))


def _regions_of(ds: xr.Dataset) -> list[Region]:
    """Every (view, chunk) region of an opened store (a store without ``chunk`` in its attrs, written
    by other code, is one chunk)."""
    n_frames = ds.sizes[schema.TIME]
    return layout_regions(schema.view_names(ds), n_frames, int(ds.attrs.get("chunk", max(n_frames, 1))))


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


def write_region_arrays(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], region: Region, *,
                        variant: Mapping[str, str] | None = None) -> None:
    """Write one view's values for the frames of ``region`` with Zarr alone, then mark it done.

    ``arrays`` holds every data variable of the store, each ``(frames, …)`` in the store's dimension
    order less ``view`` (as :func:`deepbehavior.models.outputs.prediction_arrays` gives them). The
    chunks written are those :func:`write_region` writes for the dataset of these arrays; this path
    loads neither xarray nor Dask, which is most of a short inference job's writing time. ``variant``
    goes into the region's done marker (:func:`mark_done`).
    """
    import zarr

    path = Path(path)
    with _consolidated_metadata():
        group = zarr.open_group(path, mode="r+", zarr_format=3)
    kind = group.attrs.get("ds_type")
    expected = schema.POSE_DIMS if kind == schema.POSES else schema.BOX_DIMS if kind == schema.BOXES else None
    if expected is None:
        raise schema.SchemaError(f"{path}: Expected attrs['ds_type'] '{schema.POSES}' or '{schema.BOXES}', "
                                 f"but got {kind!r}")
    if set(arrays) != set(expected):
        raise ValueError(f"Expected the variables {sorted(expected)} for region {region.key} of {path}, "
                         f"but got {sorted(arrays)}")
    view = group[schema.VIEW]
    store_views = [str(v) for v in np.atleast_1d(view[...])]
    if region.view not in store_views:
        raise ValueError(f"Expected a view of {path} ({store_views}) in region {region.key}, but got {region.view!r}")
    multi_view = view.ndim == 1
    where = (slice(region.start, region.stop), Ellipsis, *((store_views.index(region.view),) if multi_view else ()))
    targets = {name: group[name] for name in expected}
    for name, target in targets.items():
        wanted = (region.frames, *target.shape[1:len(target.shape) - multi_view])
        if np.shape(arrays[name]) != wanted:
            raise ValueError(f"Expected {name} of shape {wanted} for region {region.key} of {path}, "
                             f"but got {np.shape(arrays[name])}")
    for name, target in targets.items():
        target[where] = np.asarray(arrays[name], dtype=target.dtype)
    mark_done(path, region, variant=variant)


def mark_done(path: Path, region: Region, *, variant: Mapping[str, str] | None = None) -> None:
    """Mark ``region`` done; ``variant``: the settings it was made with that the store's fingerprint
    leaves out (:func:`deepbehavior.fingerprint.numeric_variant`), kept in the marker."""
    progress = _progress_dir(path)
    text = f"{region.start} {region.stop}\n" + (json.dumps(dict(variant), sort_keys=True) + "\n" if variant else "")
    write_atomic(progress / "done" / region.key, text)
    (progress / "failed" / f"{region.key}.json").unlink(missing_ok=True)


def done_variants(path: str | os.PathLike) -> dict[str, dict | None]:
    """Key → the settings each done region recorded (:func:`mark_done`'s ``variant``; None if none)."""
    folder = _progress_dir(Path(path)) / "done"
    found: dict[str, dict | None] = {}
    for marker in sorted(folder.iterdir()) if folder.exists() else []:
        try:
            lines = marker.read_text().splitlines()
            found[marker.name] = dict(json.loads(lines[1])) if len(lines) > 1 else None
        except (OSError, ValueError, TypeError):  # a marker of another version or a damaged one
            found[marker.name] = None
    return found


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
    """True when the store at ``path`` exists and every region of it is done (see the module's notes)."""
    return Path(path).exists() and next(iter(pending(path)), None) is None


def most_common_count(counts: np.ndarray) -> int:
    """The most common non-zero value of each column of ``counts`` ``(time, column)`` (individuals with a
    position per frame, per camera), the largest over columns; 0 when every value is 0 or there are no
    frames."""
    counts = np.asarray(counts, dtype=np.int64)
    if counts.size == 0:
        return 0
    counts = counts.reshape(len(counts), -1)
    found = [np.bincount(column[column > 0]).argmax() for column in counts.T if (column > 0).any()]
    return int(max(found, default=0))


def count_animals(position: np.ndarray, dims: Sequence[str]) -> int:
    """:func:`most_common_count` of the slots with a position (every coordinate finite, in any keypoint)
    per frame and camera, from a ``position`` array with dimension names ``dims``: the one counting
    kernel behind :func:`animals_in_most_frames` and ``deepbehavior.tracking.layout``'s."""
    dims = tuple(dims)
    present = np.isfinite(position)
    present = present.all(axis=dims.index(schema.SPACE)) if schema.SPACE in dims else present
    kept = [d for d in dims if d != schema.SPACE]
    others = tuple(i for i, d in enumerate(kept) if d not in (schema.TIME, schema.INDIVIDUALS, schema.VIEW))
    present = present.any(axis=others) if others else present
    kept = [d for d in kept if d in (schema.TIME, schema.INDIVIDUALS, schema.VIEW)]
    counts = present.sum(axis=kept.index(schema.INDIVIDUALS))
    kept.remove(schema.INDIVIDUALS)
    return most_common_count(np.moveaxis(counts, kept.index(schema.TIME), 0))


def animals_in_most_frames(path: str | os.PathLike, *, frames: int = 5000) -> int:
    """How many individuals most of the first ``frames`` frames of the store at ``path`` hold
    (:func:`count_animals`), read with Zarr alone: what ``infer`` tells the user to pass ``track`` as
    ``track.n_identities``, without loading xarray or a whole video's positions at the end of a job.
    0 for a store without frames."""
    import zarr

    with _consolidated_metadata():
        array = zarr.open_group(Path(path), mode="r", zarr_format=3)["position"]
    dims = tuple(array.metadata.dimension_names)
    block = tuple(slice(0, frames) if d == schema.TIME else slice(None) for d in dims)
    return count_animals(array[block], dims)


def recorded_videos(ds: xr.Dataset) -> dict[str, str]:
    """The videos a store records it was made from, by view: ``attrs["videos"]`` (``infer``) or
    ``attrs["video"]`` (``import video=``, a SLEAP file's own video), the latter under the store's
    first view. Empty when it records none. Paths are as recorded: they may no longer exist."""
    videos = ds.attrs.get("videos")
    if isinstance(videos, Mapping) and videos:
        return {str(k): str(v) for k, v in videos.items()}
    video = ds.attrs.get("video")
    return {schema.view_names(ds)[0]: str(video)} if isinstance(video, str) and video else {}


class IncompleteStoreError(ValueError):
    """A store that exists but whose writing never finished (a region without its done marker)."""


def open_complete(path: str | os.PathLike, *, chunked: bool = True, what: str = "Zarr store") -> xr.Dataset:
    """:func:`open_store` of a complete store; what every job that reads another job's store uses.

    Parameters
    ----------
    path
        The store.
    chunked
        As in :func:`open_store`.
    what
        What the store is, for the messages ("2D store", "store for session m01_d1").

    Raises
    ------
    FileNotFoundError
        When there is no store at ``path``.
    IncompleteStoreError
        When a region of it is not done: the job that writes it was stopped or failed. The message
        names the regions and says to rerun that job.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"Expected a {what} at {path}, but there is none")
    ds = open_store(path, chunked=chunked)
    done = done_keys(path)
    unfinished = [r for r in _regions_of(ds) if r.key not in done]
    if unfinished:
        total = len(_regions_of(ds))
        first = unfinished[0]
        raise IncompleteStoreError(
            f"Expected a complete {what} at {path}, but {len(unfinished)} of its {total} regions are unfinished "
            f"(first: view {first.view}, frames {first.start}-{first.stop - 1}; failures recorded: "
            f"{len(failures(path))}): the job that writes it was stopped or failed, or the store predates "
            f"completion records; rerun that command (finished parts are kept)")
    return ds
