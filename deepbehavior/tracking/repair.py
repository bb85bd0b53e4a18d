"""Stitching: relabel whole segments of a tracked video when the motion evidence says the
frame-by-frame matcher exchanged identities.

The video is cut where identities could have been exchanged: an identity seen again after being
unseen, an identity re-acquired outside its gate, and where two identities come within
``swap_radius`` of each other or leave it. Across each cut, every pairing of an identity before
with an identity after is scored by how well each end predicts the other (constant velocity,
forwards and backwards), as a Gaussian negative log-likelihood whose spread grows with the frames
between the two ends: ``0.5 * (error / (sigma * frames))**2``, capped. ``sigma`` is measured from
the video itself (the one-frame prediction error of the tracks). A pairing with an end that is not
seen in its segment is *unknown* and costs a fixed ``UNKNOWN`` value, the cost of a pairing 2.8
standard deviations off: not free, so an unseen identity is never exchanged for nothing. The labels
of all segments are then chosen together (Viterbi over the permutations of the identities) with a
penalty for every exchange, so labels change only where the evidence outweighs it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

UNKNOWN = 4.0  # cost of a pairing that cannot be measured: as if it were 2.8 standard deviations off
CAP = 6.0  # no pairing costs more than 3.5 standard deviations' worth: CAP <= UNKNOWN + SWITCH, so a
# measured pairing, however poor, is never given up for two unknown ones
SWITCH = 2.0  # an exchange must gain at least this much (e^2 in likelihood)
MAX_IDENTITIES = 5  # permutations: 120 for 5 identities


@dataclass
class Repair:
    """Outcome of :func:`repair_segments`.

    Attributes
    ----------
    segments
        (start, stop) time indices of the segments.
    perms
        For each segment, the column of the matcher's output that becomes identity ``i``.
    swaps
        (time index of the segment start, gain) for every segment whose labels differ from the
        segment before; the gain is the cost saved against keeping the labels (>= ``SWITCH``).
    sigma
        The one-frame prediction error used (pixels).
    """

    segments: list[tuple[int, int]]
    perms: list[tuple[int, ...]]
    swaps: list[tuple[int, float]] = field(default_factory=list)
    sigma: float = float("nan")


def one_frame_error(centre: np.ndarray, floor: float = 1.0) -> float:
    """Spread (pixels) of the constant-velocity prediction of the next frame, from a track.

    ``centre`` is (time, identity, space); the median prediction error over every three
    consecutive seen frames, scaled to a standard deviation per axis; at least ``floor``.
    """
    c = centre.astype(np.float64)
    err = c[2:] - 2 * c[1:-1] + c[:-2]
    norm = np.linalg.norm(err, axis=-1)
    norm = norm[np.isfinite(norm)]
    if norm.size == 0:
        return float(floor)
    # The median of a 2D Gaussian's norm is 1.1774 sigma.
    return float(max(floor, np.median(norm) / 1.1774))


def typical_speed(centre: np.ndarray) -> float:
    """Median distance (pixels) an identity's centre moves between consecutive seen frames."""
    step = np.linalg.norm(np.diff(centre.astype(np.float64), axis=0), axis=-1)
    step = step[np.isfinite(step)]
    return float(np.median(step)) if step.size else 0.0


def cut_frames(centre: np.ndarray, matched: np.ndarray, reacquired: np.ndarray, *, swap_radius: float) -> np.ndarray:
    """Time indices (> 0) where identities could have been exchanged (see the module notes)."""
    n_time, n_id = matched.shape
    cuts = np.zeros(n_time, dtype=bool)
    ever = np.maximum.accumulate(matched, axis=0)
    cuts[1:] |= (matched[1:] & ~matched[:-1] & ever[:-1]).any(axis=1)
    cuts |= reacquired.any(axis=1)
    for a, b in itertools.combinations(range(n_id), 2):
        close = np.linalg.norm(centre[:, a] - centre[:, b], axis=-1) < swap_radius
        cuts[1:] |= close[1:] != close[:-1]
    cuts[0] = False
    cuts &= matched.any(axis=1)  # a stretch where nobody is seen carries no evidence: it joins the one before
    return np.flatnonzero(cuts)


def _ends(centre: np.ndarray, seen: np.ndarray, starts: np.ndarray, stops: np.ndarray, *, last: bool, context: int):
    """Frame, position and velocity of each identity's last (or first) seen point in each window
    [start, stop) of frames.

    Returns arrays (segment, identity), (segment, identity, space), the same, and (segment,
    identity) bool: the velocity was measured (two seen points or more). The frame is -1 where
    the identity is not seen in the segment.
    """
    n_seg, (n_id, n_space) = starts.size, centre.shape[1:]
    when = np.full((n_seg, n_id), -1, dtype=np.int64)
    where = np.full((n_seg, n_id, n_space), np.nan)
    velocity = np.zeros((n_seg, n_id, n_space))
    moves = np.zeros((n_seg, n_id), dtype=bool)
    for i in range(n_id):
        frames = np.flatnonzero(seen[:, i])
        if frames.size == 0:
            continue
        lo = np.searchsorted(frames, starts)  # first seen index at or after the start
        hi = np.searchsorted(frames, stops) - 1  # last seen index before the stop
        ok = hi >= lo
        end = np.where(last, hi, lo)
        other = np.where(last, np.maximum(hi - context + 1, lo), np.minimum(lo + context - 1, hi))
        end, other = np.clip(end, 0, frames.size - 1), np.clip(other, 0, frames.size - 1)
        te, to = frames[end], frames[other]
        when[ok, i] = te[ok]
        where[ok, i] = centre[te[ok], i]
        span = (te - to).astype(np.float64)
        moving = ok & (span != 0)
        velocity[moving, i] = (centre[te[moving], i] - centre[to[moving], i]) / span[moving, None]
        moves[moving, i] = True
    return when, where, velocity, moves


def repair_segments(centre: np.ndarray, matched: np.ndarray, reacquired: np.ndarray, *, swap_radius: float,
                    horizon: int, context: int = 3) -> Repair:
    """Choose the labels of every segment between cuts so the identities move most plausibly.

    Parameters
    ----------
    centre
        (time, identity, space) the matcher's centre of each identity (pixels), NaN when unseen.
    matched
        (time, identity) bool: the identity holds a detection.
    reacquired
        (time, identity) bool: the identity was re-acquired outside its gate.
    swap_radius
        Identities closer than this (pixels) may have been exchanged.
    horizon
        Frames over which a velocity is extrapolated across a cut.
    context
        Seen frames used for an end's velocity.

    Returns
    -------
    Repair
        Relative to the first segment, so a global relabelling never counts as an exchange.
    """
    n_time, n_id = matched.shape
    cuts = cut_frames(centre, matched, reacquired, swap_radius=swap_radius)
    edges = np.concatenate([[0], cuts, [n_time]]).astype(np.int64)
    segments = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
    identity = tuple(range(n_id))
    sigma = one_frame_error(centre)
    speed = typical_speed(centre)
    if len(segments) < 2 or n_id < 2 or n_id > MAX_IDENTITIES:
        return Repair(segments, [identity] * len(segments), [], sigma)
    seen = matched & np.isfinite(centre).all(axis=-1)
    # Each side of a cut looks up to ``horizon`` frames away, across other cuts: an identity unseen
    # in the segment next to the cut is still known from before (in the matcher's labels).
    at = edges[1:-1]
    t_end, p_end, v_end, m_end = _ends(centre, seen, np.maximum(at - horizon, 0), at, last=True, context=context)
    t_start, p_start, v_start, m_start = _ends(centre, seen, at, np.minimum(at + horizon, n_time), last=False,
                                               context=context)

    perms = np.array(list(itertools.permutations(range(n_id))))  # (n_p, n_id)
    n_p = len(perms)
    change = (np.arange(n_p)[:, None] != np.arange(n_p)[None, :]) * SWITCH
    score = np.zeros(n_p)
    back = np.zeros((len(segments) - 1, n_p), dtype=np.int64)
    trans_all = []
    for k in range(1, len(segments)):
        tb, pb, vb, mb = t_end[k - 1], p_end[k - 1], v_end[k - 1], m_end[k - 1]  # before the cut, per column
        ta, pa, va, ma = t_start[k - 1], p_start[k - 1], v_start[k - 1], m_start[k - 1]  # after the cut
        dt = (ta[None, :] - tb[:, None]).astype(np.float64)  # (column before, column after)
        known = (tb[:, None] >= 0) & (ta[None, :] >= 0)
        dt = np.where(known, np.maximum(dt, 1.0), 1.0)
        step = np.minimum(dt, horizon)[..., None]
        fwd = np.linalg.norm(pb[:, None] + vb[:, None] * step - pa[None], axis=-1)
        bwd = np.linalg.norm(pa[None] - va[None] * step - pb[:, None], axis=-1)
        # A direction counts only where its end's velocity was measured; neither: plain distance.
        wf, wb = mb[:, None] * 1.0, ma[None, :] * 1.0
        err = np.where(wf + wb > 0, (fwd * wf + bwd * wb) / np.maximum(wf + wb, 1), fwd)
        # Without a velocity on either side the animal's own motion adds to the spread.
        spread = np.where(wf + wb > 0, sigma, sigma + speed) * dt
        z2 = (err / spread) ** 2
        pair = np.where(known, np.minimum(0.5 * z2, CAP), UNKNOWN)
        # Labels p before and q after: identity i goes from column p[i] to column q[i].
        trans = pair[perms[:, None, :], perms[None, :, :]].sum(axis=-1)
        trans_all.append(trans)
        total = score[:, None] + trans + change
        back[k - 1] = np.argmin(total, axis=0)
        score = total[back[k - 1], np.arange(n_p)]
    state = int(np.argmin(score + SWITCH * (np.arange(n_p) != 0)))
    chosen = [state]
    for k in range(len(segments) - 2, -1, -1):
        state = int(back[k, state])
        chosen.append(state)
    chosen.reverse()
    first = perms[chosen[0]]
    inverse = np.argsort(first)
    relabelled = [tuple(int(perms[c][j]) for j in inverse) for c in chosen]
    swaps = []
    for k in range(1, len(segments)):
        p, q = chosen[k - 1], chosen[k]
        if p != q:
            swaps.append((segments[k][0], float(trans_all[k - 1][p, p] - trans_all[k - 1][p, q])))
    return Repair(segments, relabelled, swaps, sigma)


def apply(slot_of: np.ndarray, repair: Repair) -> np.ndarray:
    """``slot_of`` (time, identity) relabelled segment by segment."""
    out = slot_of.copy()
    for (a, b), perm in zip(repair.segments, repair.perms):
        out[a:b] = slot_of[a:b][:, list(perm)]
    return out
