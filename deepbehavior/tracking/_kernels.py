"""Compiled (numba) kernel of :class:`~deepbehavior.tracking.matcher.PoseMatcher`: a whole block
of frames per call, so that Python runs once per block rather than once per frame.

:func:`match_block` follows ``PoseMatcher._frame`` and ``PoseMatcher._update`` rule for rule
(prediction, per-keypoint cost and gate, the cap at half the distance to the nearest other
identity, assignment, duplicates, re-acquisition, the pose and velocity update). The assignment is
:func:`lsap`, the shortest augmenting path algorithm that ``scipy.optimize.linear_sum_assignment``
uses (Crouse 2016), written out again here so that it can run inside the loop and break ties the
way SciPy does. The NumPy code stays the reference; the tests check that both make the same
decisions. The per-block outputs are written in place into arrays the caller allocates once.

This module imports numba; :mod:`.matcher` imports it lazily and falls back to NumPy without it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BIG = 1e9  # cost of a pair outside the gate (as ``matcher._BIG``)
EMPTY, MATCHED, DUPLICATE, EXTRA = 0, 1, 2, 3  # as in ``matcher``


@njit(cache=True)
def lsap(cost, rows, cols):
    """Minimum-cost assignment of a ``(nr, nc)`` cost matrix, as SciPy's.

    Writes the ``min(nr, nc)`` pairs into ``rows`` and ``cols`` (ordered by row) and returns their
    number, or -1 when the problem is infeasible (infinite costs everywhere a row could go).
    """
    nr0, nc0 = cost.shape
    if nr0 == 0 or nc0 == 0:
        return 0
    transpose = nc0 < nr0
    c = cost.T.copy() if transpose else cost
    nr, nc = c.shape
    u = np.zeros(nr)
    v = np.zeros(nc)
    spc = np.empty(nc)
    path = np.full(nc, -1, dtype=np.int64)
    col4row = np.full(nr, -1, dtype=np.int64)
    row4col = np.full(nc, -1, dtype=np.int64)
    in_rows = np.zeros(nr, dtype=np.bool_)
    in_cols = np.zeros(nc, dtype=np.bool_)
    remaining = np.empty(nc, dtype=np.int64)
    for cur in range(nr):
        # shortest augmenting path from row ``cur``
        min_val = 0.0
        n_remaining = nc
        for it in range(nc):
            remaining[it] = nc - it - 1
        in_rows[:] = False
        in_cols[:] = False
        spc[:] = np.inf
        sink = -1
        i = cur
        while sink == -1:
            index = -1
            lowest = np.inf
            in_rows[i] = True
            for it in range(n_remaining):
                j = remaining[it]
                r = min_val + c[i, j] - u[i] - v[j]
                if r < spc[j]:
                    path[j] = i
                    spc[j] = r
                if spc[j] < lowest or (spc[j] == lowest and row4col[j] == -1):
                    lowest = spc[j]
                    index = it
            min_val = lowest
            if min_val == np.inf:
                return -1
            j = remaining[index]
            if row4col[j] == -1:
                sink = j
            else:
                i = row4col[j]
            in_cols[j] = True
            n_remaining -= 1
            remaining[index] = remaining[n_remaining]
        # dual variables, then the augmentation along the path
        u[cur] += min_val
        for i in range(nr):
            if in_rows[i] and i != cur:
                u[i] += min_val - spc[col4row[i]]
        for j in range(nc):
            if in_cols[j]:
                v[j] -= min_val - spc[j]
        j = sink
        while True:
            i = path[j]
            row4col[j] = i
            tmp = col4row[i]
            col4row[i] = j
            j = tmp
            if i == cur:
                break
    if transpose:
        order = np.argsort(col4row)
        for k in range(nr):
            rows[k] = col4row[order[k]]
            cols[k] = order[k]
    else:
        for k in range(nr):
            rows[k] = k
            cols[k] = col4row[k]
    return nr


@njit(cache=True)
def _nan_centroid(a, out):
    """Per-coordinate mean of the non-NaN values of ``a`` (keypoints, space); NaN when none."""
    for d in range(a.shape[1]):
        s = 0.0
        c = 0
        for k in range(a.shape[0]):
            if not np.isnan(a[k, d]):
                s += a[k, d]
                c += 1
        out[d] = s / c if c else np.nan


@njit(cache=True)
def _centroid(a, out):
    """Mean of the keypoints of ``a`` (keypoints, space) whose first coordinate is seen; zero when none."""
    out[:] = 0.0
    c = 0
    for k in range(a.shape[0]):
        if not np.isnan(a[k, 0]):
            c += 1
            for d in range(a.shape[1]):
                out[d] += a[k, d]
    for d in range(a.shape[1]):
        out[d] /= max(c, 1)


@njit(cache=True)
def _pose_distance(a, b, ca, cb):
    """Mean distance over keypoints seen in both poses (keypoints, space); centroid distance when none
    (``ca``, ``cb``: scratch of length space)."""
    s = 0.0
    c = 0
    for k in range(a.shape[0]):
        sq = 0.0
        for d in range(a.shape[1]):
            df = a[k, d] - b[k, d]
            sq += df * df
        r = np.sqrt(sq)
        if np.isfinite(r):
            s += r
            c += 1
    if c:
        return s / c
    _nan_centroid(a, ca)
    _nan_centroid(b, cb)
    sq = 0.0
    for d in range(a.shape[1]):
        df = ca[d] - cb[d]
        sq += df * df
    return np.sqrt(sq)


@njit(cache=True)
def match_block(block, pose, velocity, last_seen, previous, n_previous, t0, max_jump, max_extrapolate,
                reacquire_after, duplicate_distance, slot_of, centre, status_out, reacquired):
    """Match a block of frames, updating the matcher's state in place.

    Parameters
    ----------
    block
        (time, slot, keypoint, space) float64 points, NaN where not detected.
    pose, velocity, last_seen
        The matcher's state: (identity, keypoint, space) carried poses, (identity, space) velocity
        in pixels per frame, (identity,) frame of the last match (-1: never).
    previous, n_previous
        (slot, space) centroids of the previous frame's left-over detections, the first
        ``n_previous[0]`` rows valid.
    t0
        Frame index of the block's first frame.
    max_jump, max_extrapolate, reacquire_after, duplicate_distance
        As :class:`~deepbehavior.tracking.matcher.PoseMatcher`.
    slot_of, centre, status_out, reacquired
        Outputs of the block (as ``MatchResult``), filled in place: (time, identity) int32 set to
        -1, (time, identity, space) float32 set to NaN, (time, slot) int8 set to 0, (time,
        identity) bool set to False.

    Returns
    -------
    int
        Frame index after the block.
    """
    n_time, n_slot, n_kp, n_sp = block.shape
    n = pose.shape[0]
    t = t0
    pred = np.empty((n, n_kp, n_sp))
    n_known = np.empty(n, dtype=np.int64)
    cen = np.empty((n, n_sp))
    seen = np.empty(n, dtype=np.bool_)
    gap = np.empty(n, dtype=np.int64)
    radius = np.empty(n)
    cost = np.empty((n, n_slot))
    inside = np.empty((n, n_slot), dtype=np.bool_)
    gated = np.empty((n, n_slot))
    rows = np.empty(max(n, n_slot), dtype=np.int64)
    cols = np.empty(max(n, n_slot), dtype=np.int64)
    det = np.empty((n_slot, n_kp, n_sp))
    slots = np.empty(n_slot, dtype=np.int64)
    taken = np.empty(n, dtype=np.int64)
    status = np.empty(n_slot, dtype=np.int8)
    drop = np.empty(n, dtype=np.bool_)
    left = np.empty(n_slot, dtype=np.int64)
    alone = np.empty(n_slot, dtype=np.bool_)
    here = np.empty((n_slot, n_sp))
    steady = np.empty(n_slot, dtype=np.bool_)
    first = np.empty(n_slot)
    free = np.empty(n, dtype=np.int64)
    far = np.empty((n, n_slot))
    msum = np.empty(n_sp)
    shift = np.empty(n_sp)
    ca = np.empty(n_sp)
    cb = np.empty(n_sp)
    for f in range(n_time):
        # detections present in this frame: a keypoint with every coordinate finite
        m = 0
        for s in range(n_slot):
            present = False
            for k in range(n_kp):
                whole = True
                for d in range(n_sp):
                    if not np.isfinite(block[f, s, k, d]):
                        whole = False
                        break
                if whole:
                    present = True
                    break
            if present:
                slots[m] = s
                det[m] = block[f, s]
                m += 1
        if m == 0:
            n_previous[0] = 0
            t += 1
            continue
        # prediction
        for i in range(n):
            seen[i] = last_seen[i] >= 0
            gap[i] = t - last_seen[i] if seen[i] else 0
            h = min(gap[i], max_extrapolate)
            cen[i] = 0.0
            nk = 0
            for k in range(n_kp):
                for d in range(n_sp):
                    pred[i, k, d] = pose[i, k, d] + velocity[i, d] * h
                if not np.isnan(pred[i, k, 0]):
                    nk += 1
                    for d in range(n_sp):
                        cen[i, d] += pred[i, k, d]
            n_known[i] = nk
            for d in range(n_sp):
                cen[i, d] /= max(nk, 1)
        # gate of each identity: grows with frames unseen, capped by the nearest other
        n_seen = 0
        for i in range(n):
            n_seen += seen[i]
        for i in range(n):
            radius[i] = max_jump * max(gap[i], 1)
        if n > 1 and n_seen > 1:
            for i in range(n):
                nearest = np.inf
                if seen[i]:
                    for j in range(n):
                        if j != i and seen[j]:
                            sq = 0.0
                            for d in range(n_sp):
                                df = cen[i, d] - cen[j, d]
                                sq += df * df
                            dd = np.sqrt(sq)
                            if dd < nearest:
                                nearest = dd
                radius[i] = min(radius[i], max(max_jump, 0.5 * nearest))
        # cost (mean per-keypoint distance) and gate (length of the mean displacement)
        for i in range(n):
            for j in range(m):
                count = 0
                total = 0.0
                msum[:] = 0.0
                for k in range(n_kp):
                    if np.isnan(det[j, k, 0] - pred[i, k, 0]):
                        continue
                    count += 1
                    sq = 0.0
                    for d in range(n_sp):
                        df = det[j, k, d] - pred[i, k, d]
                        sq += df * df
                        msum[d] += df
                    total += np.sqrt(sq)
                if count:
                    c = total / count
                    sq = 0.0
                    for d in range(n_sp):
                        mu = msum[d] / count
                        sq += mu * mu
                    g = np.sqrt(sq)
                else:
                    c = _pose_distance(pred[i], det[j], ca, cb)
                    g = c
                shown = count / max(n_known[i], 1)
                cost[i, j] = c
                inside[i, j] = seen[i] and g <= radius[i] and (gap[i] <= 1 or shown >= 0.5)
                gated[i, j] = c + 0.5 * max_jump * (1.0 - shown) if inside[i, j] else BIG
        taken[:] = -1
        npair = lsap(gated[:, :m], rows, cols)
        for p in range(npair):
            if inside[rows[p], cols[p]]:
                taken[rows[p]] = cols[p]
        status[:m] = EXTRA
        for i in range(n):
            if taken[i] >= 0:
                status[taken[i]] = MATCHED
        # an identity back from a gap must not take a second detection of an animal another,
        # seen in the previous frame, holds
        drop[:] = False
        for a in range(n):
            if taken[a] >= 0 and gap[a] > 1:
                for b in range(n):
                    if taken[b] >= 0 and gap[b] == 1:
                        if _pose_distance(det[taken[a]], det[taken[b]], ca, cb) < duplicate_distance:
                            drop[a] = True
                            break
        for a in range(n):
            if drop[a]:
                status[taken[a]] = DUPLICATE
                taken[a] = -1
        # left-over detections near a held one are duplicates
        n_matched = 0
        for i in range(n):
            n_matched += taken[i] >= 0
        n_left = 0
        for j in range(m):
            if status[j] == EXTRA:
                left[n_left] = j
                n_left += 1
        if n_left and n_matched:
            kept = 0
            for q in range(n_left):
                j = left[q]
                near = np.inf
                undefined = False
                for i in range(n):
                    if taken[i] >= 0:
                        dd = _pose_distance(det[j], det[taken[i]], ca, cb)
                        if np.isnan(dd):
                            undefined = True
                        elif dd < near:
                            near = dd
                if undefined:
                    continue
                if near < duplicate_distance:
                    status[j] = DUPLICATE
                else:
                    left[kept] = j
                    kept += 1
            n_left = kept
        if n_left > 1:  # of two left-over detections of one animal, the first slot stands
            alone[:n_left] = True
            for a in range(n_left):
                if alone[a]:
                    for b in range(a + 1, n_left):
                        if _pose_distance(det[left[a]], det[left[b]], ca, cb) < duplicate_distance:
                            alone[b] = False
            kept = 0
            for a in range(n_left):
                if alone[a]:
                    left[kept] = left[a]
                    kept += 1
                else:
                    status[left[a]] = DUPLICATE
            n_left = kept
        for q in range(n_left):
            _centroid(det[left[q]], here[q])
        # identities lost long enough (or never seen) take what is left
        n_free = 0
        for i in range(n):
            if taken[i] < 0 and (not seen[i] or gap[i] > reacquire_after):
                free[n_free] = i
                n_free += 1
        if n_left and n_free:
            for q in range(n_left):
                if n_previous[0]:
                    before = np.inf
                    undefined = False
                    for p in range(n_previous[0]):
                        sq = 0.0
                        for d in range(n_sp):
                            df = here[q, d] - previous[p, d]
                            sq += df * df
                        dd = np.sqrt(sq)
                        if np.isnan(dd):
                            undefined = True
                        elif dd < before:
                            before = dd
                    steady[q] = (not undefined) and before <= max_jump
                else:
                    steady[q] = False
                shown_kp = 0
                for k in range(n_kp):
                    shown_kp += not np.isnan(det[left[q], k, 0])
                first[q] = (1.0 - shown_kp / n_kp) + (0.0 if steady[q] else 1.0)
            for r in range(n_free):
                i = free[r]
                for q in range(n_left):
                    if seen[i]:
                        far[r, q] = cost[i, left[q]] if steady[q] else BIG
                    else:
                        far[r, q] = first[q]
            npair = lsap(far[:n_free, :n_left], rows, cols)
            for p in range(npair):
                if far[rows[p], cols[p]] >= BIG:
                    continue
                i = free[rows[p]]
                j = left[cols[p]]
                taken[i] = j
                status[j] = MATCHED
                reacquired[f, i] = seen[i]
        for q in range(n_left):
            previous[q] = here[q]
        n_previous[0] = n_left
        for j in range(m):
            status_out[f, slots[j]] = status[j]
        # state update of every identity that took a detection
        for i in range(n):
            if taken[i] < 0:
                continue
            dj = det[taken[i]]
            g = gap[i] if seen[i] else 0
            if g:
                nb = 0
                shift[:] = 0.0
                for k in range(n_kp):
                    if not np.isnan(dj[k, 0]) and not np.isnan(pose[i, k, 0]):
                        nb += 1
                        for d in range(n_sp):
                            shift[d] += dj[k, d] - pose[i, k, d]
                if nb:
                    for d in range(n_sp):
                        shift[d] /= nb
                else:
                    _centroid(dj, ca)
                    _centroid(pose[i], cb)
                    for d in range(n_sp):
                        shift[d] = ca[d] - cb[d]
                for k in range(n_kp):
                    if not np.isnan(dj[k, 0]):
                        pose[i, k] = dj[k]
                    else:
                        for d in range(n_sp):
                            pose[i, k, d] += shift[d]
            else:
                for k in range(n_kp):
                    if not np.isnan(dj[k, 0]):
                        pose[i, k] = dj[k]
            if g and g <= max_extrapolate:
                for d in range(n_sp):
                    step = shift[d] / g
                    velocity[i, d] = 0.5 * velocity[i, d] + 0.5 * step if g == 1 else step
            else:
                velocity[i] = 0.0
            last_seen[i] = t
            slot_of[f, i] = slots[taken[i]]
            _centroid(pose[i], ca)
            for d in range(n_sp):
                centre[f, i, d] = ca[d]
        t += 1
    return t
