"""Frame-by-frame matching of detections to a fixed number of identities.

:class:`PoseMatcher` is the tracker: each identity keeps a pose (its last seen position of every
keypoint; a keypoint not seen in a frame is carried along with the rest of the body) and a
velocity. A detection is compared with an identity's predicted pose keypoint by keypoint,
averaging over the keypoints seen in both, so a keypoint that drops out does not move the
comparison the way it moves a centroid. An identity unseen for ``g`` frames may be matched within
``max_jump * g`` pixels of its prediction, but never further than half the distance to the nearest
other identity (and at least ``max_jump``): a lost animal cannot take a neighbour's detection
because its uncertainty grew. Identities lost for longer than ``reacquire_after`` frames (or never
seen) take detections left over anywhere. No detection is given to two identities, and every
detection left over is labelled: a ``duplicate`` (within ``duplicate_distance`` of a matched one)
or an ``extra``.

:func:`match_naive` is the simplest baseline a user could write: Hungarian assignment of centroids
to each identity's last seen centroid, no gate, no motion model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

_BIG = 1e9

# Codes of a slot in a frame (``MatchResult.status``).
EMPTY, MATCHED, DUPLICATE, EXTRA = 0, 1, 2, 3


@dataclass
class MatchResult:
    """What a matcher decided for every frame.

    Attributes
    ----------
    slot_of
        (time, identity) int32: the slot given to the identity, -1 for none.
    centre
        (time, identity, space) float32: the identity's centre after the frame (mean of its
        carried pose), NaN when not matched in that frame.
    status
        (time, slot) int8: ``EMPTY`` (no detection), ``MATCHED``, ``DUPLICATE`` or ``EXTRA``.
    reacquired
        (time, identity) bool: the identity took a left-over detection after being lost longer
        than ``reacquire_after`` frames (outside its motion gate).
    """

    slot_of: np.ndarray
    centre: np.ndarray
    status: np.ndarray
    reacquired: np.ndarray


def _kernels():
    """The compiled kernels module, or ``None`` without numba."""
    try:
        from . import _kernels as kernels
    except ImportError:  # numba missing: the NumPy reference runs
        return None
    return kernels


def _visible(block: np.ndarray) -> np.ndarray:
    """(time, slot, keypoint) bool: keypoints with every coordinate finite."""
    return np.isfinite(block).all(axis=-1)


class PoseMatcher:
    """Online matcher with state, fed blocks of consecutive frames (a whole video in one pass).

    Parameters
    ----------
    n_identities
        Number of animals (a closed population).
    n_keypoints, n_space
        Shape of one detection (1 keypoint, the centre, for boxes).
    max_jump
        Largest plausible move of an animal between consecutive frames (pixels).
    max_extrapolate
        Frames over which an identity's velocity is carried while it is unseen.
    reacquire_after
        An identity unseen for more frames than this takes a left-over detection anywhere.
    duplicate_distance
        A left-over detection within this mean per-keypoint distance (pixels) of a matched one is
        a duplicate of that animal, never a new one.
    compiled
        Match each block in the compiled kernel (:func:`~deepbehavior.tracking._kernels.match_block`,
        the same decisions, about a hundred times faster) when numba is installed; ``False``
        runs the NumPy reference, one frame at a time.
    """

    def __init__(self, n_identities: int, n_keypoints: int, n_space: int, *, max_jump: float,
                 max_extrapolate: int = 15, reacquire_after: int = 10, duplicate_distance: float = 10.0,
                 compiled: bool = True):
        self.n = n_identities
        self.compiled = compiled and _kernels() is not None
        self.max_jump = float(max_jump)
        self.max_extrapolate = int(max_extrapolate)
        self.reacquire_after = int(reacquire_after)
        self.duplicate_distance = float(duplicate_distance)
        self.pose = np.full((n_identities, n_keypoints, n_space), np.nan)
        self.velocity = np.zeros((n_identities, n_space))
        self.last_seen = np.full(n_identities, -1, dtype=np.int64)
        self.t = 0
        self.previous = np.zeros((0, n_space))  # centroids of the previous frame's left-over detections

    # -- costs ----------------------------------------------------------------------------------

    @staticmethod
    def _pose_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) mean distance over keypoints seen in both; centroid distance when none."""
        diff = np.linalg.norm(a[:, None] - b[None], axis=-1)  # (na, nb, keypoint), NaN where unseen
        ok = np.isfinite(diff)
        count = ok.sum(axis=-1)
        mean = np.where(ok, diff, 0.0).sum(axis=-1) / np.maximum(count, 1)
        if (count == 0).any():
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ca, cb = np.nanmean(a, axis=1), np.nanmean(b, axis=1)
            centroid = np.linalg.norm(ca[:, None] - cb[None], axis=-1)
            mean = np.where(count == 0, centroid, mean)
        return mean

    @staticmethod
    def _centroids(a: np.ndarray) -> np.ndarray:
        """(len(a), space) mean of the seen keypoints of each pose in ``a`` (zero when none)."""
        ok = ~np.isnan(a[..., 0])
        return np.where(ok[..., None], a, 0.0).sum(1) / np.maximum(ok.sum(-1), 1)[:, None]

    @staticmethod
    def _shift(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(len(a), len(b)) length of the mean displacement over keypoints seen in both (how far the
        body moved, which a head-tail flip or a dropped keypoint hardly changes); centroid distance
        when they share none."""
        diff = b[None] - a[:, None]  # (na, nb, keypoint, space)
        ok = np.isfinite(diff).all(-1)
        count = ok.sum(axis=-1)
        mean = np.where(ok[..., None], diff, 0.0).sum(axis=-2) / np.maximum(count, 1)[..., None]
        shift = np.linalg.norm(mean, axis=-1)
        if (count == 0).any():
            with np.errstate(invalid="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ca, cb = np.nanmean(a, axis=1), np.nanmean(b, axis=1)
            shift = np.where(count == 0, np.linalg.norm(ca[:, None] - cb[None], axis=-1), shift)
        return shift

    def _radius(self, gap: np.ndarray, centre: np.ndarray, seen: np.ndarray) -> np.ndarray:
        """Gate of each identity (pixels): grows with frames unseen, capped by the nearest other."""
        radius = self.max_jump * np.maximum(gap, 1)
        if self.n > 1 and seen.sum() > 1:
            d = np.linalg.norm(centre[:, None] - centre[None], axis=-1)
            d[~seen] = np.inf
            d[:, ~seen] = np.inf
            np.fill_diagonal(d, np.inf)
            cap = np.maximum(self.max_jump, 0.5 * d.min(axis=1))
            radius = np.minimum(radius, cap)
        return radius

    # -- one frame ------------------------------------------------------------------------------

    def _frame(self, det: np.ndarray, slots: np.ndarray, out_slot: np.ndarray, out_status: np.ndarray,
               out_re: np.ndarray) -> None:
        t = self.t
        seen = self.last_seen >= 0
        gap = np.where(seen, t - self.last_seen, 0)
        horizon = np.minimum(gap, self.max_extrapolate)
        pred = self.pose + (self.velocity * horizon[:, None])[:, None, :]
        known = ~np.isnan(pred[..., 0])  # (identity, keypoint)
        n_known = known.sum(-1)
        centre = np.where(known[..., None], pred, 0.0).sum(1) / np.maximum(n_known, 1)[:, None]
        # Distances keypoint by keypoint (the cost) and the mean displacement (the gate), in one pass.
        diff = det[None] - pred[:, None]  # (identity, detection, keypoint, space)
        ok = ~np.isnan(diff[..., 0])
        count = ok.sum(-1)
        diff = np.where(ok[..., None], diff, 0.0)
        cost = np.sqrt((diff * diff).sum(-1)).sum(-1) / np.maximum(count, 1)
        mean = diff.sum(-2) / np.maximum(count, 1)[..., None]
        shift = np.sqrt((mean * mean).sum(-1))
        if (count == 0).any():
            fallback = self._pose_distance(pred, det)
            cost, shift = np.where(count == 0, fallback, cost), np.where(count == 0, fallback, shift)
        radius = self._radius(gap, centre, seen)
        shown = count / np.maximum(n_known, 1)[:, None]
        # After a gap an identity is picked up again only by a detection showing at least half of
        # its keypoints: a scrap of a false detection must not carry a lost animal away.
        inside = seen[:, None] & (shift <= radius[:, None]) & ((gap[:, None] <= 1) | (shown >= 0.5))
        taken = np.full(self.n, -1)
        # Among detections inside the gate, one showing fewer of the identity's keypoints fits worse:
        # two keypoints of a false detection must not outbid the whole animal beside them.
        fit = cost + 0.5 * self.max_jump * (1.0 - shown)
        rows, cols = linear_sum_assignment(np.where(inside, fit, _BIG))
        keep = inside[rows, cols]
        taken[rows[keep]] = cols[keep]
        m = det.shape[0]
        status = np.full(m, EXTRA, dtype=np.int8)
        status[taken[taken >= 0]] = MATCHED
        # An identity back from a gap must not take a second detection of an animal that another
        # identity, seen in the previous frame, holds; two animals followed frame to frame may touch.
        held = np.flatnonzero(taken >= 0)
        back = held[gap[held] > 1]
        steady = held[gap[held] == 1]
        if back.size and steady.size:
            between = self._pose_distance(det[taken[back]], det[taken[steady]])
            for a in np.flatnonzero((between < self.duplicate_distance).any(axis=1)):
                status[taken[back[a]]] = DUPLICATE
                taken[back[a]] = -1
        matched = taken[taken >= 0]
        left = np.flatnonzero(status == EXTRA)
        if left.size and matched.size:
            near = self._pose_distance(det[left], det[matched]).min(axis=1)
            status[left[near < self.duplicate_distance]] = DUPLICATE
            left = left[near >= self.duplicate_distance]
        if left.size > 1:  # of two left-over detections of one animal, the first slot stands
            close = self._pose_distance(det[left], det[left]) < self.duplicate_distance
            alone = np.ones(left.size, dtype=bool)
            for a in range(left.size):
                if alone[a]:
                    twin = close[a] & (np.arange(left.size) > a)
                    alone &= ~twin
            status[left[~alone]] = DUPLICATE
            left = left[alone]
        # Identities lost long enough (or never seen) take what is left, nearest first; a lost one
        # only a detection that was there in the previous frame too (a one-frame false detection
        # would otherwise carry it off).
        here = self._centroids(det[left])
        free = np.flatnonzero((taken < 0) & (~seen | (gap > self.reacquire_after)))
        if left.size and free.size:
            if self.previous.size:
                before = np.linalg.norm(here[:, None] - self.previous[None], axis=-1).min(axis=1)
                steady = before <= self.max_jump
            else:
                steady = np.zeros(left.size, dtype=bool)
            # A first sighting prefers steady detections that show the most keypoints (an animal,
            # not a scrap of a false detection).
            missing = 1.0 - (~np.isnan(det[left, :, 0])).mean(axis=1)
            first = missing + ~steady
            far = np.where(seen[free, None], np.where(steady[None], cost[free][:, left], _BIG), first[None])
            r, c = linear_sum_assignment(far)
            for i, j in zip(free[r], left[c]):
                if far[np.flatnonzero(free == i)[0], np.flatnonzero(left == j)[0]] >= _BIG:
                    continue
                taken[i] = j
                status[j] = MATCHED
                out_re[i] = seen[i]
        self.previous = here
        out_status[slots] = status
        for i in np.flatnonzero(taken >= 0):
            self._update(i, det[taken[i]], gap[i] if seen[i] else 0)
            out_slot[i] = slots[taken[i]]

    def _update(self, i: int, det: np.ndarray, gap: int) -> None:
        ok = ~np.isnan(det[:, 0])
        pose = self.pose[i]
        if gap:
            both = ok & ~np.isnan(pose[:, 0])
            if both.any():
                shift = (det[both] - pose[both]).mean(axis=0)
            else:
                shift = self._centroids(det[None])[0] - self._centroids(pose[None])[0]
            # Keypoints not seen now move with the rest of the body.
            self.pose[i] = np.where(ok[:, None], det, pose + shift)
        else:
            shift = None
            self.pose[i] = np.where(ok[:, None], det, pose)
        if gap and gap <= self.max_extrapolate:
            step = shift / gap
            self.velocity[i] = 0.5 * self.velocity[i] + 0.5 * step if gap == 1 else step
        else:
            self.velocity[i] = 0.0
        self.last_seen[i] = self.t

    # -- a block of frames ----------------------------------------------------------------------

    def feed(self, block: np.ndarray) -> MatchResult:
        """Match a block ``(frames, slots, keypoints, space)`` following the previous blocks."""
        n_time, n_slot = block.shape[:2]
        slot_of = np.full((n_time, self.n), -1, dtype=np.int32)
        centre = np.full((n_time, self.n, block.shape[-1]), np.nan, dtype=np.float32)
        status = np.zeros((n_time, n_slot), dtype=np.int8)
        reacquired = np.zeros((n_time, self.n), dtype=bool)
        if self.compiled:
            previous = np.zeros((max(n_slot, len(self.previous)), block.shape[-1]))
            previous[:len(self.previous)] = self.previous
            n_previous = np.array([len(self.previous)], dtype=np.int64)
            self.t = _kernels().match_block(
                np.ascontiguousarray(block, dtype=np.float64), self.pose, self.velocity, self.last_seen, previous,
                n_previous, self.t, self.max_jump, self.max_extrapolate, self.reacquire_after,
                self.duplicate_distance, slot_of, centre, status, reacquired)
            self.previous = previous[:n_previous[0]].copy()
            return MatchResult(slot_of, centre, status, reacquired)
        present = _visible(block).any(axis=2)  # (time, slot)
        for k in range(n_time):
            slots = np.flatnonzero(present[k])
            if not slots.size:
                self.previous = self.previous[:0]
            else:
                self._frame(block[k, slots], slots, slot_of[k], status[k], reacquired[k])
                now = slot_of[k] >= 0
                if now.any():
                    centre[k, now] = self._centroids(self.pose[now])
            self.t += 1
        return MatchResult(slot_of, centre, status, reacquired)


def concat(results: list[MatchResult]) -> MatchResult:
    """One :class:`MatchResult` from the results of consecutive blocks."""
    return MatchResult(*(np.concatenate([getattr(r, f) for r in results]) for f in
                         ("slot_of", "centre", "status", "reacquired")))


def match_naive(points: np.ndarray, n_identities: int) -> np.ndarray:
    """Baseline: Hungarian assignment of detection centroids to last seen centroids, no gate.

    Parameters
    ----------
    points
        (time, slot, keypoint, space), NaN where not detected.
    n_identities
        Number of identities.

    Returns
    -------
    numpy.ndarray
        (time, identity) int: slot of each identity, -1 for none.
    """
    with warnings.catch_warnings():  # an empty slot (all NaN) is expected: its centroid is NaN
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        centroid = np.nanmean(np.where(np.isfinite(points), points, np.nan), axis=2) if points.size else points[:, :, 0]
    slot_of = np.full((points.shape[0], n_identities), -1, dtype=np.int64)
    last = np.full((n_identities, points.shape[-1]), np.nan)
    for t in range(points.shape[0]):
        slots = np.flatnonzero(np.isfinite(centroid[t]).all(axis=1))
        if not slots.size:
            continue
        cost = np.linalg.norm(last[:, None] - centroid[t, slots][None], axis=-1)
        cost = np.where(np.isnan(cost), 1e6, cost)  # identities never seen take what is left
        rows, cols = linear_sum_assignment(cost)
        slot_of[t, rows] = slots[cols]
        last[rows] = centroid[t, slots[cols]]
    return slot_of
