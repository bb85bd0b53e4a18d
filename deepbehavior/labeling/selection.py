"""Choosing frames to label: uniform, diverse (k-means), and for refinement rounds the frames where a
model is least sure or where its tracks jump; extracting them into a labelling project.

Selections are lists of ``(video index, frame number)``. Scoring functions take NumPy or xarray
data and do no I/O; :func:`extract_frames` is the one function that reads videos and writes images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..video import iter_frames_at, probe
from .project import Project

if TYPE_CHECKING:  # xarray is for the methods that score stores: uniform and k-means picks never load it
    import xarray as xr

METHODS = ("uniform", "kmeans", "uncertain", "jumps")


def allocate(counts: Sequence[int], n: int) -> list[int]:
    """Split ``n`` picks over videos of ``counts`` frames, in proportion, never more than a video has."""
    counts = np.asarray(counts, dtype=np.int64)
    n = int(min(n, counts.sum()))
    share = np.floor(n * counts / max(counts.sum(), 1)).astype(np.int64)
    share = np.minimum(share, counts)
    order = np.argsort(-(n * counts / max(counts.sum(), 1) - share), kind="stable")
    i = 0
    while share.sum() < n:
        v = order[i % len(order)]
        if share[v] < counts[v]:
            share[v] += 1
        i += 1
    return share.tolist()


def uniform_frames(n_frames: int, n: int) -> np.ndarray:
    """``n`` frame numbers spread evenly over ``[0, n_frames)``: the centres of ``n`` equal parts."""
    if n_frames <= 0 or n <= 0:
        return np.zeros(0, dtype=np.int64)
    n = min(n, n_frames)
    return np.floor((np.arange(n) + 0.5) * n_frames / n).astype(np.int64)


def thumbnail(frame: np.ndarray, *, size: tuple[int, int] = (32, 24)) -> np.ndarray:
    """A grey, downsampled (``size`` = width, height in pixels), zero-mean unit-variance copy, as float32."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    return (small - small.mean()) / (small.std() + 1e-6)


def kmeans_pick(features: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Rows of ``features (sample, feature)`` nearest to the centres of ``n`` k-means clusters, sorted.

    One representative per cluster, so that rare postures get a frame as much as common ones.
    """
    features = np.ascontiguousarray(features, dtype=np.float32)
    n = min(n, len(features))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n == len(features):
        return np.arange(n)
    cv2.setRNGSeed(seed)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 1e-3)
    _, assignment, centres = cv2.kmeans(features, n, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    assignment = assignment.ravel()
    picks = []
    for c in range(n):
        members = np.flatnonzero(assignment == c)
        if len(members) == 0:
            continue
        distance = ((features[members] - centres[c]) ** 2).sum(axis=1)
        picks.append(members[np.argmin(distance)])
    chosen = set(picks)
    # Empty clusters (rare) are topped up with the frames farthest from every pick.
    while len(chosen) < n:
        rest = np.array([i for i in range(len(features)) if i not in chosen])
        ref = features[sorted(chosen)]
        far = ((features[rest, None, :] - ref[None]) ** 2).sum(axis=2).min(axis=1)
        chosen.add(int(rest[np.argmax(far)]))
    return np.array(sorted(chosen), dtype=np.int64)


def top_frames(score: np.ndarray, n: int, *, min_gap: int = 0, frames: np.ndarray | None = None) -> np.ndarray:
    """Frame numbers of the ``n`` highest finite scores, at least ``min_gap`` frames apart, sorted.

    ``score`` is one value per frame (``frames`` gives their numbers; default ``0..len-1``); NaN
    scores are never chosen. The gap keeps a refinement round from spending its picks on one event.
    """
    score = np.asarray(score, dtype=np.float64)
    frames = np.arange(len(score)) if frames is None else np.asarray(frames)
    order = [i for i in np.argsort(-score, kind="stable") if np.isfinite(score[i])]
    picked: list[int] = []
    for i in order:
        if len(picked) >= n:
            break
        if all(abs(int(frames[i]) - int(frames[j])) >= max(min_gap, 1) for j in picked):
            picked.append(i)
    return np.sort(frames[picked]).astype(np.int64)


def _other_dims(da: xr.DataArray, keep: str = "time") -> list[str]:
    return [d for d in da.dims if d != keep]


def uncertainty_score(ds: xr.Dataset) -> xr.DataArray:
    """Per frame, 1 − the lowest confidence of any detected point or box (a poses or boxes dataset).

    A frame where nothing was detected scores 1 (the model saw nothing, which is worth a label);
    slots that are empty while others are filled do not count, since an animal may simply be absent.
    Returns ``(time,)``.
    """
    conf = ds["confidence"]
    lowest = conf.min(dim=_other_dims(conf), skipna=True)
    return (1.0 - lowest).fillna(1.0).rename("uncertainty")


def jump_score(ds: xr.Dataset) -> xr.DataArray:
    """Per frame, the largest displacement (pixels) of any point or box centre since the previous frame.

    ``position`` is ``(time, space, …)``; pairs with a missing point are ignored; the first frame
    scores NaN. Returns ``(time,)``.
    """
    position = ds["position"]
    step = position.diff("time", label="upper")
    distance = np.sqrt((step ** 2).sum("space", skipna=False))
    largest = distance.max(dim=_other_dims(distance), skipna=True)
    return largest.reindex(time=position["time"]).assign_coords(position["time"].coords).rename("jump")


def select(
    videos: Sequence[str | os.PathLike],
    n: int,
    *,
    method: str = "uniform",
    stores: Sequence[xr.Dataset] | None = None,
    candidates: int = 400,
    min_gap: int = 10,
    seed: int = 0,
) -> list[tuple[int, int]]:
    """Pick ``n`` frames over ``videos``; return ``(video index, frame number)`` pairs.

    ``uniform`` spreads picks evenly in each video (in proportion to its length); ``kmeans``
    clusters up to ``candidates`` evenly spaced grey thumbnails of all videos and takes the frame
    nearest each centre; ``uncertain`` and ``jumps`` need ``stores`` (one dataset per video, whose
    ``frame`` coordinate holds frame numbers of that video) and pick the frames scoring highest under
    :func:`uncertainty_score` or :func:`jump_score`, ``min_gap`` frames apart.
    """
    if method not in METHODS:
        raise ValueError(f"Expected method one of {METHODS}, but got {method!r}")
    if n <= 0:
        raise ValueError(f"Expected n > 0 frames to pick, but got {n}")
    counts = [probe(v).frames for v in videos]
    if method == "uniform":
        return [(v, int(f)) for v, k in enumerate(allocate(counts, n)) for f in uniform_frames(counts[v], k)]
    if method == "kmeans":
        pool = [(v, int(f)) for v, k in enumerate(allocate(counts, max(candidates, n)))
                for f in uniform_frames(counts[v], k)]
        features = np.stack([thumbnail(frame) for frame in _read_many(videos, pool)])
        return [pool[i] for i in kmeans_pick(features, n, seed=seed)]
    if stores is None or len(stores) != len(videos):
        raise ValueError(f"Expected one store per video for method={method!r}, but got "
                         f"{0 if stores is None else len(stores)} stores for {len(videos)} videos")
    from .. import schema

    scorer = uncertainty_score if method == "uncertain" else jump_score
    pool = []
    for v, ds in enumerate(stores):
        score = scorer(ds).compute()
        frames = schema.frames(score.assign_attrs(fps=ds.attrs.get("fps")))
        values = np.where(frames < counts[v], score.values, np.nan)
        by_frame = dict(zip(frames.tolist(), values.tolist()))
        # The best n of each video, then the best n overall: a video where the model struggles
        # gets more of the round's frames.
        pool += [(by_frame[int(f)], v, int(f)) for f in top_frames(values, n, min_gap=min_gap, frames=frames)]
    pool.sort(key=lambda item: -item[0])
    return sorted((v, f) for _, v, f in pool[:n])


def _read_many(videos: Sequence[str | os.PathLike], picks: Sequence[tuple[int, int]]):
    """Frames of ``picks`` in the order given, each video opened once and read forward (near picks
    by decoding on, far ones by seeking: :func:`~deepbehavior.video.iter_frames_at`)."""
    wanted: dict[int, list[int]] = {}
    for v, f in picks:
        wanted.setdefault(v, []).append(f)
    frames = {}
    for v, numbers in wanted.items():
        for f, frame in iter_frames_at(videos[v], numbers):
            frames[(v, f)] = frame
    return [frames[p] for p in picks]


def extract_frames(
    videos: Sequence[str | os.PathLike], picks: Sequence[tuple[int, int]], project: Project
) -> list[str]:
    """Write the picked frames as PNG images into ``project`` (``<video stem>_<frame:06d>.png``).

    Records each image's video and frame number in ``project.json`` (``sources``). Images that
    are already there are left as they are (so a refinement round adds, never replaces, frames).
    Returns the image names, in the order of ``picks``.
    """
    stems = [Path(v).stem for v in videos]
    for i, stem in enumerate(stems):
        if stems.count(stem) > 1:  # two cameras' "video.mp4" in different folders
            stems[i] = f"{Path(videos[i]).parent.name}_{stem}"
    names = [f"{stems[v]}_{f:06d}.png" for v, f in picks]
    existing = set(project.images())
    todo = [(p, name) for p, name in zip(picks, names) if name not in existing]
    for (v, f), frame in zip([p for p, _ in todo], _read_many(videos, [p for p, _ in todo])):
        project.add_image(name=f"{stems[v]}_{f:06d}.png", image=frame,
                          origin={"video": str(Path(videos[v]).resolve()), "frame": int(f)})
    project.save_meta()
    return names
