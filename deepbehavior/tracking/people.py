"""People keep their slot across frames: :class:`~.matcher.PoseMatcher` on whole-body poses.

A multi-person pose backend reports, frame by frame, the people it finds in no particular order
(:mod:`deepbehavior.models.mediapipe_people`). :func:`track_people` gives each a lasting identity
with the same matcher the animals use (keypoint-by-keypoint distances, motion gates), on all 67
points of the OpenPose layout, so that a person's hands travel with their body; and reports what
happened: frames each person was seen, their entries and exits, and reacquisitions (an identity
picking up a person again after a long gap: where an identity switch, if any, would be).
"""

from __future__ import annotations

import numpy as np

from .matcher import PoseMatcher


def _runs(seen: np.ndarray) -> tuple[list[int], list[int]]:
    """Frames where ``seen`` turns on (entries) and the last frames before it turns off (exits)."""
    padded = np.concatenate([[False], seen, [False]]).astype(np.int8)
    step = np.diff(padded)
    return np.flatnonzero(step == 1).tolist(), (np.flatnonzero(step == -1) - 1).tolist()


def track_people(keypoints: np.ndarray, *, n_identities: int, max_jump: float, max_extrapolate: int = 15,
                 reacquire_after: int = 10, duplicate_distance: float = 10.0,
                 min_gap: int = 3) -> tuple[np.ndarray, np.ndarray, dict]:
    """Identities for per-frame people.

    Parameters
    ----------
    keypoints
        ``(time, slot, keypoint, 2)`` pixels of the people found in each frame, in any slot order;
        NaN where missing (a slot with no point is empty).
    n_identities
        Most people followed (the backend's ``max_individuals`` is a good choice).
    max_jump
        Largest plausible move of a person between consecutive frames (pixels, mean over points).
    max_extrapolate, reacquire_after, duplicate_distance
        As for :class:`~.matcher.PoseMatcher`.
    min_gap
        Absences shorter than this many frames (a missed detection) are not counted as an exit
        and a re-entry.

    Returns
    -------
    tracks
        ``(time, identity, keypoint, 2)`` the keypoints of each identity (NaN when unseen).
    slot_of
        ``(time, identity)`` the input slot each identity took, -1 for none.
    report
        ``people`` (one dict per identity that was ever seen: ``identity``, ``frames`` seen,
        ``entries``, ``exits`` (frame numbers), ``reacquired`` (frames)), ``max_people_in_frame``,
        ``reacquisitions`` (total), ``entries`` and ``exits`` (totals).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 4 or keypoints.shape[-1] != 2:
        raise ValueError(f"Expected keypoints (time, slot, keypoint, 2), but got shape {keypoints.shape}")
    if int(n_identities) < 1:
        raise ValueError(f"Expected n_identities >= 1, but got {n_identities}")
    matcher = PoseMatcher(int(n_identities), keypoints.shape[2], 2, max_jump=max_jump,
                          max_extrapolate=max_extrapolate, reacquire_after=reacquire_after,
                          duplicate_distance=duplicate_distance)
    result = matcher.feed(keypoints)
    slot_of = result.slot_of
    n_time = keypoints.shape[0]
    tracks = np.full((n_time, slot_of.shape[1]) + keypoints.shape[2:], np.nan, dtype=np.float32)
    rows, ids = np.nonzero(slot_of >= 0)
    tracks[rows, ids] = keypoints[rows, slot_of[rows, ids]]
    people = []
    for i in range(slot_of.shape[1]):
        seen = slot_of[:, i] >= 0
        if not seen.any():
            continue
        # Bridge short gaps (missed detections) before reading entries and exits.
        bridged = seen.copy()
        frames = np.flatnonzero(seen)
        for a, b in zip(frames[:-1], frames[1:]):
            if 1 < b - a <= min_gap:
                bridged[a:b] = True
        entries, exits = _runs(bridged)
        people.append({"identity": i, "frames": int(seen.sum()), "entries": entries, "exits": exits,
                       "reacquired": np.flatnonzero(result.reacquired[:, i]).tolist()})
    present = np.isfinite(keypoints).all(-1).any(-1).sum(axis=1)
    report = {"people": people, "max_people_in_frame": int(present.max()) if n_time else 0,
              "reacquisitions": sum(len(p["reacquired"]) for p in people),
              "entries": sum(len(p["entries"]) for p in people), "exits": sum(len(p["exits"]) for p in people)}
    return tracks, slot_of, report
