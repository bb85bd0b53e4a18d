"""Tracking scores users know from the MOT literature, against a ground truth.

- CLEAR MOT (Bernardin & Stiefelhagen 2008): true positives, misses (FN), false positives (FP),
  identity switches (a ground-truth animal covered by a different track than the last one that
  covered it) and ``MOTA = 1 - (FN + FP + IDSW) / ground-truth instances``.
- IDF1 (Ristani et al. 2016): tracks and animals paired one-to-one for the whole video so that the
  frames where a track covers its animal (IDTP) are most; ``IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN)``.

Both start from ``covers`` (time, track): the ground-truth animal each track covers in each frame
(-1: a track on nothing real; -2: no track there). :func:`covers_from_labels` builds it when the
true animal of every detection is known (synthetic data); :func:`covers_from_positions` when a
proofread trajectory is (each frame's tracks paired with animals within a distance).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

ABSENT = -2
FALSE = -1


def covers_from_labels(slot_of: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(time, track) ground-truth animal behind each track's detection.

    Parameters
    ----------
    slot_of
        (time, track) slot held by each track, -1 for none.
    labels
        (time, slot) true animal of each detection: its index, or -1 for a false positive.
    """
    picked = np.take_along_axis(labels, np.maximum(slot_of, 0), axis=1)
    return np.where(slot_of < 0, ABSENT, picked)


def covers_from_positions(tracks: np.ndarray, truth: np.ndarray, *, max_distance: float) -> np.ndarray:
    """(time, track) animal each track covers, from positions.

    Parameters
    ----------
    tracks, truth
        (time, track or animal, keypoints, space), NaN where absent.
    max_distance
        A track covers an animal when their mean per-keypoint distance (over keypoints seen in
        both) is below this (pixels); each frame's pairs are chosen by Hungarian assignment.
    """
    n_time, n_track = tracks.shape[:2]
    covers = np.full((n_time, n_track), ABSENT, dtype=np.int64)
    present = np.isfinite(tracks).all(-1).any(-1)
    real = np.isfinite(truth).all(-1).any(-1)
    for t in range(n_time):
        h, g = np.flatnonzero(present[t]), np.flatnonzero(real[t])
        covers[t, h] = FALSE
        if not h.size or not g.size:
            continue
        d = np.linalg.norm(tracks[t, h][:, None] - truth[t, g][None], axis=-1)
        d = np.nanmean(np.where(np.isfinite(d), d, np.nan), axis=-1)
        d = np.where(np.isfinite(d) & (d < max_distance), d, 1e9)
        rows, cols = linear_sum_assignment(d)
        ok = d[rows, cols] < 1e9
        covers[t, h[rows[ok]]] = g[cols[ok]]
    return covers


def clear_mot(covers: np.ndarray, present: np.ndarray) -> dict[str, float]:
    """CLEAR MOT counts and IDF1.

    Parameters
    ----------
    covers
        (time, track) from :func:`covers_from_labels` or :func:`covers_from_positions`.
    present
        (time, animal) bool: the animal is in the frame (the instances a tracker should find).

    Returns
    -------
    dict
        ``gt`` (animal instances), ``tp``, ``fn``, ``fp``, ``id_switches``, ``mota``, ``idtp``,
        ``idfp``, ``idfn``, ``idf1``, ``tracks`` (tracks that hold anything).
    """
    n_time, n_gt = present.shape
    n_track = covers.shape[1]
    gt = int(present.sum())
    last = np.full(n_gt, -1)
    tp = fp = switches = 0
    # Switches: walk the frames, carrying the last track of each animal.
    for t in range(n_time):
        row = covers[t]
        hit = np.flatnonzero(row >= 0)
        fp += int(((row == FALSE)).sum())
        taken = set()
        for g in np.unique(row[hit]):
            holders = hit[row[hit] == g]
            keep = last[g] if last[g] in holders else holders[0]
            if last[g] >= 0 and keep != last[g]:
                switches += 1
            last[g] = keep
            taken.add(int(g))
            fp += holders.size - 1  # a second track on the same animal
        tp += len(taken)
    fn = gt - tp
    weight = np.zeros((n_track, n_gt))
    for g in range(n_gt):
        weight[:, g] = (covers == g).sum(axis=0)
    rows, cols = linear_sum_assignment(-weight) if weight.size else (np.array([], int), np.array([], int))
    idtp = float(weight[rows, cols].sum())
    held = float((covers != ABSENT).sum())
    idfp, idfn = held - idtp, gt - idtp
    denom = 2 * idtp + idfp + idfn
    return {"gt": gt, "tp": tp, "fn": fn, "fp": fp, "id_switches": switches,
            "mota": 1.0 - (fn + fp + switches) / gt if gt else float("nan"),
            "idtp": idtp, "idfp": idfp, "idfn": idfn, "idf1": 2 * idtp / denom if denom else float("nan"),
            "tracks": int((covers != ABSENT).any(axis=0).sum())}
