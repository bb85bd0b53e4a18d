"""Identity from motion: slots of a whole video into a fixed number of identities, one camera at a
time, with the decisions (exchanges undone, detections left out) kept for the quality report."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from . import boxtrackers
from . import repair as stitching
from .layout import check_slots, frame_numbers, gather, keypoints_dim, points, view_names
from .matcher import DUPLICATE, EMPTY, EXTRA, MATCHED, PoseMatcher, concat, match_naive

METHODS = ("pose", "naive", *boxtrackers.METHODS)


def check_method(method: str) -> None:
    """Raise the one-line error for a tracking ``method`` not in :data:`METHODS` (before any work)."""
    if method not in METHODS:
        raise ValueError(f"Expected track.method in {METHODS}, but got {method!r}")


def leftovers(block: np.ndarray, slot_of: np.ndarray, *, duplicate_distance: float) -> np.ndarray:
    """(time, slot) status of every slot given the identities' slots: ``EMPTY``, ``MATCHED``,
    ``DUPLICATE`` (within ``duplicate_distance`` of a held detection, mean over keypoints) or ``EXTRA``."""
    present = np.isfinite(block).all(-1).any(-1)
    status = np.where(present, EXTRA, EMPTY).astype(np.int8)
    rows = np.repeat(np.arange(slot_of.shape[0]), slot_of.shape[1])
    held = slot_of.ravel() >= 0
    status[rows[held], slot_of.ravel()[held]] = MATCHED
    for t in np.flatnonzero((status == EXTRA).any(axis=1)):
        left, kept = np.flatnonzero(status[t] == EXTRA), slot_of[t][slot_of[t] >= 0]
        if kept.size:
            d = PoseMatcher._pose_distance(block[t, left], block[t, kept]).min(axis=1)
            status[t, left[d < duplicate_distance]] = DUPLICATE
    return status


def _events(frames: np.ndarray, status: np.ndarray, reacquired: np.ndarray, fix: stitching.Repair | None) -> dict:
    """Decisions of one camera, as plain lists for ``attrs`` (frame numbers, slot/identity indices)."""
    def pairs(mask):
        t, k = np.nonzero(mask)
        return [[int(frames[a]), int(b)] for a, b in zip(t, k)]

    return {"swap": [[int(frames[t]), round(g, 3)] for t, g in (fix.swaps if fix else [])],
            "extra": pairs(status == EXTRA), "duplicate": pairs(status == DUPLICATE),
            "reacquired": pairs(reacquired)}


def track_points(blocks, *, n_identities: int, max_jump: float, method: str = "pose", swap_radius: float | None = None,
                 max_extrapolate: int = 15, reacquire_after: int = 10, duplicate_distance: float = 10.0,
                 repair: bool = True, tracker_settings: dict | None = None):
    """The arrays behind :func:`track_identities`, for one camera.

    Parameters
    ----------
    blocks
        (time, slots, keypoints, space) points in pixels, NaN where not detected, as one array or
        an iterable of consecutive blocks of frames. For ``bytetrack``/``botsort`` on boxes: a
        tuple (centres (time, slots, 1, 2), sizes (time, slots, 2)).
    Other parameters
        As :func:`track_identities`.

    Returns
    -------
    (slot_of, status, reacquired, repair)
        (time, identity) slots (-1: none); (time, slot) status codes of
        :mod:`~deepbehavior.tracking.matcher`; (time, identity) re-acquisitions; the
        :class:`~deepbehavior.tracking.repair.Repair` (``None`` without the repair).
    """
    swap_radius = 2 * max_jump if swap_radius is None else swap_radius
    if isinstance(blocks, np.ndarray):
        blocks = [blocks]
    fix = None
    if method == "pose":
        matcher, parts = None, []
        for block in blocks:
            if matcher is None:
                matcher = PoseMatcher(n_identities, block.shape[2], block.shape[3], max_jump=max_jump,
                                      max_extrapolate=max_extrapolate, reacquire_after=reacquire_after,
                                      duplicate_distance=duplicate_distance)
            parts.append(matcher.feed(block))
        result = concat(parts)
        found, status, reacquired = result.slot_of.astype(np.int64), result.status, result.reacquired
        if repair:
            fix = stitching.repair_segments(result.centre, found >= 0, reacquired, swap_radius=swap_radius,
                                            horizon=10 * max(max_extrapolate, 1))
            found = stitching.apply(found, fix)
            reacquired = stitching.apply(np.where(reacquired, 0, -1), fix) >= 0
        return found, status, reacquired, fix
    if isinstance(blocks, tuple):
        block, size = blocks
        centre = block[:, :, 0]
    else:
        block = np.concatenate(list(blocks))
        centre, size = boxtrackers.boxes_from_points(block)
    if method == "naive":
        found = match_naive(block, n_identities)
    elif method in boxtrackers.METHODS:
        found, _ = boxtrackers.track_boxes(centre, size, None, n_identities, method=method, **(tracker_settings or {}))
    else:
        raise ValueError(f"Expected track.method in {METHODS}, but got {method!r}")
    status = leftovers(block, found, duplicate_distance=duplicate_distance)
    return found, status, np.zeros(found.shape, dtype=bool), None


def track_identities(
    ds: xr.Dataset,
    *,
    n_identities: int,
    max_jump: float,
    method: str = "pose",
    swap_radius: float | None = None,
    max_extrapolate: int = 15,
    reacquire_after: int = 10,
    duplicate_distance: float = 10.0,
    repair: bool = True,
    names: Sequence[str] | None = None,
    tracker_settings: dict | None = None,
    chunk: int = 4096,
) -> xr.Dataset:
    """Turn slots into ``n_identities`` identities from motion.

    Parameters
    ----------
    ds
        Poses or boxes dataset in slots (``attrs["individuals_are"] == "slots"``).
    n_identities
        Number of animals in the video (a closed population).
    max_jump
        Largest plausible move of an animal between consecutive frames (pixels). An identity
        unseen for ``g`` frames is looked for within ``g * max_jump`` of its prediction, capped at
        half the distance to the nearest other identity (at least ``max_jump``).
    method
        ``"pose"`` (:class:`~deepbehavior.tracking.matcher.PoseMatcher`, then the repair),
        ``"naive"`` (the baseline :func:`~deepbehavior.tracking.matcher.match_naive`), or
        ultralytics' ``"bytetrack"`` / ``"botsort"`` (boxes; poses as the boxes around them).
    swap_radius
        Identities closer than this (pixels) may have been exchanged; default ``2 * max_jump``.
    max_extrapolate
        Frames over which a velocity is carried while an animal is unseen (10 times that across a
        cut in the repair).
    reacquire_after
        An identity unseen for more frames than this takes a left-over detection anywhere.
    duplicate_distance
        A detection this close (pixels, mean over keypoints) to a held one is a duplicate.
    repair
        Run :func:`~deepbehavior.tracking.repair.repair_segments` after the pose matcher.
    names
        Identity names; default ``individual0``, ``individual1``, ….
    tracker_settings
        ultralytics tracker settings (``bytetrack``/``botsort`` only).
    chunk
        Frames read at a time (memory stays flat for long Dask-backed videos).

    Returns
    -------
    xr.Dataset
        Same variables with ``individuals`` = identities, ``attrs["individuals_are"] ==
        "identities"``, ``attrs["swaps_repaired"]`` (count over all views),
        ``attrs["swap_frames"]`` (view → frame numbers where the repair exchanged labels) and
        ``attrs["track_events"]`` (view → ``swap`` [frame, evidence gain], ``extra`` and
        ``duplicate`` [frame, slot] of detections no identity holds, ``reacquired`` [frame,
        identity index]).
    """
    check_slots(ds)
    check_method(method)
    if n_identities < 1:
        raise ValueError(f"Expected n_identities >= 1, but got {n_identities}")
    if not max_jump > 0:
        raise ValueError(f"Expected max_jump > 0 px, but got {max_jump}")
    names = list(names) if names else [f"individual{i}" for i in range(n_identities)]
    if len(names) != n_identities:
        raise ValueError(f"Expected {n_identities} identity names, but got {names}")
    frames = frame_numbers(ds)
    views = view_names(ds)
    slot_of = np.full((ds.sizes["time"], n_identities, len(views)), -1, dtype=np.int64)
    events, swap_frames = {}, {}
    for v, view in enumerate(views):
        blocks = (b for _, b in points(ds, v, chunk=chunk))
        if method in boxtrackers.METHODS and keypoints_dim(ds) is None and "shape" in ds:
            blocks = np.concatenate(list(blocks))
            size = np.concatenate([b for _, b in points(ds.assign(position=ds["shape"]), v, chunk=chunk)])[:, :, 0]
            blocks = (blocks, size)
        found, status, reacquired, fix = track_points(
            blocks, n_identities=n_identities, max_jump=max_jump, method=method, swap_radius=swap_radius,
            max_extrapolate=max_extrapolate, reacquire_after=reacquire_after,
            duplicate_distance=duplicate_distance, repair=repair, tracker_settings=tracker_settings)
        slot_of[:, :, v] = found
        events[view] = _events(frames, status, reacquired, fix)
        swap_frames[view] = [s for s, _ in events[view]["swap"]]
    out = gather(ds, slot_of, names)
    out.attrs["identity_from"] = "motion" if method in ("pose", "naive") else method
    out.attrs["swaps_repaired"] = int(sum(len(s) for s in swap_frames.values()))
    out.attrs["swap_frames"] = swap_frames
    out.attrs["track_events"] = events
    return out
