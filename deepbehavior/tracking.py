"""Identities over stored detections, for a whole video whatever the inference shards were.

Raw detections live in *slots* (``attrs["individuals_are"] == "slots"``): the k-th most confident
detection of a frame, not an animal. This module turns slots into identities:

- :func:`identities_from_classes` where the class says who is who (DeepBehavior's social test
  trained ``body`` for one mouse and ``body_mini`` for the other);
- :func:`track_identities` otherwise: frame-to-frame assignment (Hungarian algorithm) against a
  constant-velocity prediction, gated by a maximum jump, then a repair pass that relabels whole
  segments between ambiguous frames (animals close together, an animal lost and found again)
  when that lowers the total prediction error seen from both sides of every such frame;
- :func:`quality_report`: frames with a swap, a merge (two identities at nearly the same place),
  a jump or a missing animal, as a table.

Tracking reads only one reference point per slot and frame (box centre or mean of the keypoints),
so a long video costs a few numbers per frame in memory; the full arrays are gathered lazily
when they are Dask-backed. Each ``view`` is tracked on its own.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from scipy.optimize import linear_sum_assignment

from . import schema

if TYPE_CHECKING:
    from .config import TrackConfig

__all__ = ["identities_from_classes", "track_identities", "quality_report", "reference_points", "track_session",
           "summarize_quality", "write_tracked"]

_REJECT = 1e12  # cost of a pairing outside the gate: never chosen while another exists


def _check_slots(ds: xr.Dataset) -> None:
    if not isinstance(ds, xr.Dataset) or "position" not in ds:
        raise ValueError("Expected a poses or boxes dataset with a 'position' variable, but got something else")
    for dim in ("time", "space", "individuals"):
        if dim not in ds["position"].dims:
            raise ValueError(f"Expected 'position' with a '{dim}' dimension, but got {tuple(ds['position'].dims)}")
    kind = ds.attrs.get("individuals_are", "slots")
    if kind != "slots":
        raise ValueError(f"Expected attrs['individuals_are'] == 'slots', but got {kind!r}")


def reference_points(ds: xr.Dataset) -> xr.DataArray:
    """One point per slot and frame: the box centre, or the mean of the seen keypoints (pixels).

    Returns
    -------
    xr.DataArray
        ``position`` without the ``keypoints`` dim; lazy when ``ds`` is Dask-backed.
    """
    position = ds["position"]
    if "keypoints" in position.dims:
        position = position.mean("keypoints", skipna=True)
    return position


def _gather(ds: xr.Dataset, slot_of: np.ndarray, names: Sequence[str], views: Sequence) -> xr.Dataset:
    """New dataset whose ``individuals`` k at (time, view) is slot ``slot_of[t, k, v]`` (-1: none)."""
    index = xr.DataArray(slot_of, dims=("time", "identity", "view"), coords={"time": ds["time"], "view": views})

    def take(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        picked = np.take_along_axis(values, np.where(idx < 0, 0, idx).astype(np.intp), axis=-1)
        if np.issubdtype(picked.dtype, np.floating):
            picked = np.where(idx < 0, np.nan, picked)
        return picked

    out = {}
    for name, var in ds.data_vars.items():
        if "individuals" not in var.dims:
            out[name] = var
            continue
        idx = index if "view" in var.dims else index.isel(view=0, drop=True)
        picked = xr.apply_ufunc(
            take,
            var,
            idx,
            input_core_dims=[["individuals"], ["identity"]],
            output_core_dims=[["identity"]],
            dask="parallelized",
            output_dtypes=[var.dtype],
        )
        out[name] = picked.rename(identity="individuals").transpose(*var.dims)
    result = xr.Dataset(out, coords={k: v for k, v in ds.coords.items() if "individuals" not in v.dims}, attrs=dict(ds.attrs))
    result = result.assign_coords(individuals=list(names))
    result.attrs["individuals_are"] = "identities"
    return result


# --------------------------------------------------------------------------------------------------
# Identity from the class


def identities_from_classes(ds: xr.Dataset, class_to_identity: Mapping[str, str]) -> xr.Dataset:
    """Identities from class names, e.g. ``{"body": "mouse1", "body_mini": "mouse2"}``.

    For every identity and frame the most confident slot whose class maps to it is kept; classes
    not in the mapping are dropped.

    Parameters
    ----------
    ds
        Boxes dataset in slots, with ``class_index`` and ``attrs["class_names"]``.
    class_to_identity
        Class name → identity name (several classes may map to one identity).

    Returns
    -------
    xr.Dataset
        ``individuals`` = the identity names in order of first appearance in the mapping,
        ``attrs["individuals_are"] == "identities"``.
    """
    _check_slots(ds)
    if "class_index" not in ds or "class_names" not in ds.attrs:
        raise ValueError("Expected 'class_index' and attrs['class_names'] in the dataset, but they are missing")
    class_names = list(ds.attrs["class_names"])
    unknown = sorted(set(class_to_identity) - set(class_names))
    if unknown:
        raise ValueError(f"Expected class names from {class_names}, but got {unknown}")
    names = list(dict.fromkeys(class_to_identity.values()))
    ds = schema.with_view(ds)
    cls = ds["class_index"].transpose("time", "individuals", "view").values
    conf = ds["confidence"].transpose("time", "individuals", "view").values if "confidence" in ds else np.ones(cls.shape)
    conf = np.where(np.isnan(conf), 0.0, conf)
    slot_of = np.full((cls.shape[0], len(names), cls.shape[2]), -1, dtype=np.int64)
    for k, name in enumerate(names):
        codes = [class_names.index(c) for c, ident in class_to_identity.items() if ident == name]
        member = np.isin(cls, codes)
        score = np.where(member, conf, -np.inf)
        best = np.argmax(score, axis=1)  # (time, view)
        found = np.take_along_axis(member, best[:, None, :], axis=1)[:, 0, :]
        slot_of[:, k, :] = np.where(found, best, -1)
    out = schema.drop_single_view(_gather(ds, slot_of, names, ds["view"].values))
    out.attrs["identity_from"] = "class"
    return out


# --------------------------------------------------------------------------------------------------
# Identity from motion


def _online(points: np.ndarray, n_id: int, max_jump: float, max_extrapolate: int, reacquire_after: int):
    """Greedy frame-by-frame assignment. ``points`` (time, slot, 2). Returns slot_of (time, n_id)
    and a boolean (time, n_id) marking jumps (an identity re-acquired outside the gate)."""
    n_time, n_slot, _ = points.shape
    slot_of = np.full((n_time, n_id), -1, dtype=np.int64)
    jump = np.zeros((n_time, n_id), dtype=bool)
    last_pos = np.full((n_id, 2), np.nan)
    velocity = np.zeros((n_id, 2))
    last_seen = np.full(n_id, -1)
    for t in range(n_time):
        dets = np.flatnonzero(np.isfinite(points[t]).all(axis=1))
        if dets.size == 0:
            continue
        gap = t - last_seen
        seen_before = last_seen >= 0
        horizon = np.minimum(gap, max_extrapolate)[:, None]
        pred = last_pos + velocity * horizon
        cost = np.linalg.norm(pred[:, None, :] - points[t, dets][None, :, :], axis=2)
        gate = max_jump * np.maximum(1, gap)[:, None]
        lost_long = seen_before & (gap > reacquire_after)
        allowed = ~seen_before[:, None] | (cost <= gate) | lost_long[:, None]
        # Never-seen identities take what is left: a small constant keeps seen ones first.
        cost = np.where(seen_before[:, None], cost, max_jump * 1e3)
        cost = np.where(allowed, cost, _REJECT)
        rows, cols = linear_sum_assignment(cost)
        taken = []
        for i, j in zip(rows, cols):
            if cost[i, j] >= _REJECT:
                continue
            slot = dets[j]
            # A duplicate detection of an animal already taken this frame is not a new animal.
            if not seen_before[i] and any(
                np.linalg.norm(points[t, slot] - points[t, s]) < max_jump for s in taken
            ):
                continue
            if seen_before[i] and cost[i, j] > gate[i, 0]:
                jump[t, i] = True
            if seen_before[i] and gap[i] <= max_extrapolate:
                step = (points[t, slot] - last_pos[i]) / gap[i]
                velocity[i] = 0.5 * velocity[i] + 0.5 * step if gap[i] == 1 else step
            else:
                velocity[i] = 0.0
            last_pos[i] = points[t, slot]
            last_seen[i] = t
            slot_of[t, i] = slot
            taken.append(slot)
    return slot_of, jump


def _tracks(points: np.ndarray, slot_of: np.ndarray) -> np.ndarray:
    """(time, n_id, 2) positions of each identity (NaN when missing)."""
    idx = np.where(slot_of < 0, 0, slot_of)
    out = np.take_along_axis(points, idx[:, :, None], axis=1)
    return np.where((slot_of < 0)[:, :, None], np.nan, out)


def _boundaries(track: np.ndarray, jump: np.ndarray, swap_radius: float) -> list[int]:
    """First frames of segments whose labels might be exchanged with the segment before: the
    frame an identity is seen again after being missing, a jump, and the first frame after two
    animals were closer than ``swap_radius``."""
    n_time, n_id, _ = track.shape
    seen = np.isfinite(track).all(axis=2)
    close = np.zeros(n_time, dtype=bool)
    for a, b in itertools.combinations(range(n_id), 2):
        close |= np.linalg.norm(track[:, a] - track[:, b], axis=1) < swap_radius
    frames = set(np.flatnonzero(jump.any(axis=1)).tolist())
    frames |= set((np.flatnonzero((seen[1:] & ~seen[:-1]).any(axis=1)) + 1).tolist())
    frames |= set((np.flatnonzero(close[:-1] & ~close[1:]) + 1).tolist())
    return sorted(t for t in frames if 0 < t < n_time)


def _edges(track: np.ndarray, *, forward: bool, context: int):
    """For every column of a segment: the frame and position of its last (``forward``) or first
    seen point, and the velocity there from up to ``context`` seen points (zero for one point)."""
    n_id = track.shape[1]
    when = np.full(n_id, np.nan)
    where = np.full((n_id, 2), np.nan)
    velocity = np.zeros((n_id, 2))
    for i in range(n_id):
        seen = np.flatnonzero(np.isfinite(track[:, i]).all(axis=1))
        if seen.size == 0:
            continue
        use = seen[-context:] if forward else seen[:context]
        end = use[-1] if forward else use[0]
        when[i], where[i] = end, track[end, i]
        if use.size > 1:
            velocity[i] = (track[use[-1], i] - track[use[0], i]) / (use[-1] - use[0])
    return when, where, velocity


def _repair(track: np.ndarray, jump: np.ndarray, *, swap_radius: float, horizon: int, context: int = 3):
    """Relabel whole segments between boundary frames to minimise the constant-velocity
    prediction error across every boundary, seen forwards and backwards (Viterbi over the
    permutations of identities; each segment is relabelled as a whole)."""
    n_time, n_id, _ = track.shape
    seen_any = np.isfinite(track).all(axis=2).any(axis=1)
    # A stretch where nobody is seen carries no evidence: it joins the segment before.
    starts = [t for t in _boundaries(track, jump, swap_radius) if seen_any[t]]
    edges = [0, *starts, n_time]
    segments = list(zip(edges[:-1], edges[1:]))
    perms = [tuple(p) for p in itertools.permutations(range(n_id))]
    if len(segments) < 2 or n_id < 2:
        return [tuple(range(n_id))] * len(segments), segments
    n_p = len(perms)
    p_index = np.array(perms)  # (n_p, n_id): column feeding identity i under permutation p
    switch = 1e-6  # ties keep the labels of the frame-by-frame pass
    score = np.zeros(n_p)
    back = []
    for k in range(1, len(segments)):
        (a0, a1), (b0, b1) = segments[k - 1], segments[k]
        tb, pb, vb = _edges(track[a0:a1], forward=True, context=context)
        ta, pa, va = _edges(track[b0:b1], forward=False, context=context)
        tb, ta = tb + a0, ta + b0
        # Column j before predicted at the first seen frame of column l after, and vice versa.
        dt_f = np.clip(ta[None, :] - tb[:, None], -horizon, horizon)
        fwd = np.linalg.norm(pb[:, None] + vb[:, None] * dt_f[..., None] - pa[None, :], axis=2)
        bwd = np.linalg.norm(pa[None, :] - va[None, :] * dt_f[..., None] - pb[:, None], axis=2)
        pair = np.nan_to_num(fwd + bwd, nan=0.0)  # (column before, column after)
        trans = pair[p_index[:, None, :], p_index[None, :, :]].sum(axis=2)  # (perm before, perm after)
        trans = trans + switch * (np.arange(n_p)[:, None] != np.arange(n_p)[None, :])
        total = score[:, None] + trans
        choice = np.argmin(total, axis=0)
        back.append(choice)
        score = total[choice, np.arange(n_p)]
    state = int(np.argmin(score + switch * (np.arange(n_p) != 0)))
    chosen = [state]
    for choice in reversed(back):
        state = int(choice[state])
        chosen.append(state)
    chosen.reverse()
    # Relative to the first segment, so a global relabelling never counts as a swap.
    inverse = np.argsort(perms[chosen[0]])
    relabelled = [tuple(int(perms[c][j]) for j in inverse) for c in chosen]
    return relabelled, segments


def track_identities(
    ds: xr.Dataset,
    *,
    n_identities: int,
    max_jump: float,
    swap_radius: float | None = None,
    max_extrapolate: int = 5,
    reacquire_after: int = 10,
    repair: bool = True,
    names: Sequence[str] | None = None,
) -> xr.Dataset:
    """Turn slots into ``n_identities`` identities from motion.

    Parameters
    ----------
    ds
        Poses or boxes dataset in slots (``attrs["individuals_are"] == "slots"``).
    n_identities
        Number of animals in the video (a closed population).
    max_jump
        Largest plausible distance (pixels, or the units of ``position``) between an animal's
        predicted and detected position from one frame to the next; the gate grows with the
        number of frames it was missing.
    swap_radius
        Identities closer than this (same units) may be exchanged; default ``2 * max_jump``.
    max_extrapolate
        Frames over which the constant-velocity prediction is carried while an animal is missing.
    reacquire_after
        An animal missing for more frames than this is re-acquired by a left-over detection
        anywhere (flagged as a jump).
    repair
        Run the segment relabelling pass after the frame-by-frame assignment.
    names
        Identity names; default ``individual0``, ``individual1``, ….

    Returns
    -------
    xr.Dataset
        Same variables with ``individuals`` = identities, ``attrs["individuals_are"] ==
        "identities"``, ``attrs["swaps_repaired"]`` (count over all views) and, per view, the
        frames where the repair exchanged identities in ``attrs["swap_frames"]`` (a dict of
        view name → list of frame numbers).
    """
    _check_slots(ds)
    if n_identities < 1:
        raise ValueError(f"Expected n_identities >= 1, but got {n_identities}")
    if not max_jump > 0:
        raise ValueError(f"Expected max_jump > 0, but got {max_jump}")
    names = list(names) if names is not None else [f"individual{i}" for i in range(n_identities)]
    if len(names) != n_identities:
        raise ValueError(f"Expected {n_identities} identity names, but got {names}")
    swap_radius = 2 * max_jump if swap_radius is None else swap_radius
    ds = schema.with_view(ds)
    ref = reference_points(ds)
    ref = ref.transpose("view", "time", "individuals", "space").values.astype(np.float64)
    views = ds["view"].values
    frames = schema.frames(ds)
    slot_of = np.full((ref.shape[1], n_identities, ref.shape[0]), -1, dtype=np.int64)
    swap_frames: dict[str, list[int]] = {}
    for v in range(ref.shape[0]):
        points = ref[v]
        online, jump = _online(points, n_identities, max_jump, max_extrapolate, reacquire_after)
        if repair:
            track = _tracks(points, online)
            perms, segments = _repair(track, jump, swap_radius=swap_radius, horizon=10 * max_extrapolate)
            repaired = online.copy()
            swaps = []
            for k, ((a, b), perm) in enumerate(zip(segments, perms)):
                repaired[a:b] = online[a:b][:, list(perm)]
                if k and perm != perms[k - 1]:
                    swaps.append(int(frames[a]))
            online = repaired
            swap_frames[str(views[v])] = swaps
        slot_of[:, :, v] = online
    out = schema.drop_single_view(_gather(ds, slot_of, names, views))
    out.attrs["identity_from"] = "motion"
    out.attrs["swaps_repaired"] = int(sum(len(s) for s in swap_frames.values()))
    out.attrs["swap_frames"] = swap_frames
    return out


# --------------------------------------------------------------------------------------------------
# Quality report


def quality_report(ds: xr.Dataset, *, merge_distance: float, max_jump: float | None = None) -> pd.DataFrame:
    """Frames that need a look: swaps repaired, merges, jumps and missing animals.

    Parameters
    ----------
    ds
        Dataset with identities (output of :func:`track_identities` or
        :func:`identities_from_classes`).
    merge_distance
        Two identities whose reference points are closer than this (pixels) are a ``merge``.
    max_jump
        An identity moving farther than this between consecutive frames is a ``jump``; no jump
        check when ``None``.

    Returns
    -------
    pandas.DataFrame
        One row per event, columns ``view``, ``time`` (frame number), ``event`` (``"swap"``,
        ``"merge"``, ``"jump"``, ``"missing"``), ``individual`` (one name, or two joined by
        ``"|"``) and ``value`` (the distance in pixels, NaN for swaps and missing).
    """
    if ds.attrs.get("individuals_are") != "identities":
        raise ValueError(f"Expected attrs['individuals_are'] == 'identities', but got {ds.attrs.get('individuals_are')!r}")
    ds = schema.with_view(ds)
    values = reference_points(ds).transpose("view", "time", "individuals", "space").values.astype(np.float64)
    names = [str(n) for n in ds["individuals"].values]
    frames = schema.frames(ds)
    views = schema.view_names(ds)
    rows: list[dict] = []
    for v, view in enumerate(views):
        track = values[v]
        missing = ~np.isfinite(track).all(axis=2)
        for i, name in enumerate(names):
            for t in np.flatnonzero(missing[:, i]):
                rows.append({"view": view, "time": frames[t], "event": "missing", "individual": name, "value": np.nan})
            if max_jump is not None:
                step = np.linalg.norm(np.diff(track[:, i], axis=0), axis=1)
                for t in np.flatnonzero(step > max_jump):
                    rows.append({"view": view, "time": frames[t + 1], "event": "jump", "individual": name, "value": step[t]})
        for a, b in itertools.combinations(range(len(names)), 2):
            d = np.linalg.norm(track[:, a] - track[:, b], axis=1)
            for t in np.flatnonzero(d < merge_distance):
                rows.append(
                    {"view": view, "time": frames[t], "event": "merge", "individual": f"{names[a]}|{names[b]}", "value": d[t]}
                )
        for t in ds.attrs.get("swap_frames", {}).get(view, []):
            rows.append({"view": view, "time": t, "event": "swap", "individual": "|".join(names), "value": np.nan})
    table = pd.DataFrame(rows, columns=["view", "time", "event", "individual", "value"])
    return table.sort_values(["view", "time", "event"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------
# A whole session: track, summarise, write


def track_session(ds: xr.Dataset, config: TrackConfig) -> xr.Dataset:
    """Identities for one session's detections, as ``config`` says.

    Identity from the class when ``config.classes`` is given, otherwise from motion
    (:func:`track_identities` with the config's parameters). Works on the whole video at once,
    whatever chunks or inference shards the store was written in; Dask-backed variables stay lazy.

    Parameters
    ----------
    ds
        Poses or boxes dataset in slots (a store opened with :func:`deepbehavior.store.open_store`).
    config
        A :class:`deepbehavior.config.TrackConfig`.

    Returns
    -------
    xr.Dataset
        Identities, with ``attrs["swaps_repaired"]`` and ``attrs["swap_frames"]`` (empty when the
        class decides) and ``attrs["track_config"]`` (the parameters used).
    """
    from dataclasses import asdict

    if config.classes:
        out = identities_from_classes(ds, dict(config.classes))
        out.attrs["swaps_repaired"] = 0
        out.attrs["swap_frames"] = {v: [] for v in schema.view_names(ds)}
    else:
        out = track_identities(ds, n_identities=config.n_identities, max_jump=config.max_jump,
                               swap_radius=config.swap_radius, max_extrapolate=config.max_extrapolate,
                               reacquire_after=config.reacquire_after, repair=config.repair,
                               names=list(config.names) or None)
    out.attrs["track_config"] = asdict(config)
    return out


def summarize_quality(report: pd.DataFrame, *, frames: int, swaps_repaired: int) -> dict[str, int]:
    """Counts of a :func:`quality_report` table, for a cohort summary.

    Parameters
    ----------
    report
        The per-event table (columns ``view, time, event, individuals, value``).
    frames
        Frames in the session (per view).
    swaps_repaired
        Identity exchanges undone by the repair pass (``attrs["swaps_repaired"]``).

    Returns
    -------
    dict
        ``frames``, ``swaps_repaired``, and for each event (``swap``, ``merge``, ``jump``,
        ``missing``) ``<event>_frames``: the number of distinct (view, frame) pairs with that event.
    """
    summary = {"frames": int(frames), "swaps_repaired": int(swaps_repaired)}
    for event in ("swap", "merge", "jump", "missing"):
        rows = report[report["event"] == event]
        summary[f"{event}_frames"] = int(len(rows[["view", "time"]].drop_duplicates()))
    return summary


def write_tracked(ds: xr.Dataset, path: str | os.PathLike, *, chunk: int, overwrite: bool = False) -> Path:
    """Write a tracked dataset as a Zarr v3 store at ``path``, atomically.

    The store is written under a temporary name beside ``path`` and renamed into place, so
    ``path`` is either absent or complete. Lazy variables are computed chunk by chunk.

    Parameters
    ----------
    ds
        Dataset with identities (output of :func:`track_session`).
    chunk
        Frames per time chunk (every other dimension whole, one view per chunk, as the stores
        of :mod:`deepbehavior.store`).
    overwrite
        Replace an existing store; otherwise an existing one is an error.
    """
    from .schema import validate
    from .store import write_dataset

    validate(ds)
    return write_dataset(ds, path, chunk=chunk, overwrite=overwrite)
