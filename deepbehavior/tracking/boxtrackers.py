"""ultralytics' box trackers (ByteTrack, BoT-SORT) over stored detections, offline.

They link boxes by overlap with a Kalman-filtered box per track and open a new track whenever
a box is not linked, so one animal becomes several tracks over a video. For a store of a fixed
number of identities, each new track takes the identity that is free (holds no live track in
that frame) and was last seen nearest to where the track starts; a track that finds no free
identity is left out and reported, like any detection no identity holds. BoT-SORT runs without
camera-motion compensation and without re-identification (there are no images here).

Poses go in as the box around their visible keypoints, padded by ``pad`` pixels.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np

# ultralytics' defaults (cfg/trackers/*.yaml); track_buffer in frames.
DEFAULTS = {"track_high_thresh": 0.25, "track_low_thresh": 0.1, "new_track_thresh": 0.25, "track_buffer": 30,
            "match_thresh": 0.8, "fuse_score": True, "gmc_method": "none", "proximity_thresh": 0.5,
            "appearance_thresh": 0.8, "with_reid": False, "model": "auto"}
METHODS = ("bytetrack", "botsort")


class _Detections:
    """The part of ultralytics' ``Results.boxes`` the trackers read: ``xywh``, ``conf``, ``cls``."""

    def __init__(self, xywh: np.ndarray, conf: np.ndarray, cls: np.ndarray):
        self.xywh, self.conf, self.cls = xywh, conf, cls

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, index) -> "_Detections":
        return _Detections(self.xywh[index], self.conf[index], self.cls[index])

    @property
    def xyxy(self) -> np.ndarray:
        half = self.xywh[:, 2:] / 2
        return np.concatenate([self.xywh[:, :2] - half, self.xywh[:, :2] + half], axis=1)


def boxes_from_points(points: np.ndarray, *, pad: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Box centre and size (time, slot, 2) around each detection's visible keypoints (pixels)."""
    with warnings.catch_warnings():  # an empty slot (all NaN) is expected: its box is NaN
        warnings.filterwarnings("ignore", "All-NaN slice encountered", RuntimeWarning)
        lo, hi = np.nanmin(points, axis=2), np.nanmax(points, axis=2)
    return (lo + hi) / 2, hi - lo + 2 * pad


def track_boxes(centre: np.ndarray, size: np.ndarray, confidence: np.ndarray | None, n_identities: int, *,
                method: str = "bytetrack", **settings) -> tuple[np.ndarray, np.ndarray]:
    """Run an ultralytics tracker over every frame and fold its tracks into ``n_identities``.

    Parameters
    ----------
    centre, size
        (time, slot, 2) box centre and (width, height) in pixels, NaN where no box.
    confidence
        (time, slot) detection scores in [0, 1]; 1 when ``None``.
    n_identities
        Identities in the output.
    method
        ``"bytetrack"`` or ``"botsort"``.
    settings
        ultralytics tracker settings overriding :data:`DEFAULTS`.

    Returns
    -------
    (slot_of, track_of)
        (time, identity) slot held by each identity (-1: none), and (time, slot) the tracker's own
        track id of each detection (-1: none), before folding.
    """
    import os

    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    from ultralytics.trackers import BOTSORT, BYTETracker

    if method not in METHODS:
        raise ValueError(f"Expected track.method in {METHODS}, but got {method!r}")
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"Expected ultralytics tracker settings from {sorted(DEFAULTS)}, but got {unknown}")
    args = SimpleNamespace(**{**DEFAULTS, **settings})
    tracker = BYTETracker(args) if method == "bytetrack" else BOTSORT(args)
    n_time, n_slot = centre.shape[:2]
    conf = np.ones((n_time, n_slot)) if confidence is None else np.nan_to_num(confidence, nan=0.0)
    track_of = np.full((n_time, n_slot), -1, dtype=np.int64)
    for t in range(n_time):
        ok = np.flatnonzero(np.isfinite(centre[t]).all(-1) & np.isfinite(size[t]).all(-1))
        dets = _Detections(np.concatenate([centre[t, ok], size[t, ok]], axis=1).astype(np.float32),
                           conf[t, ok].astype(np.float32), np.zeros(ok.size, dtype=np.float32))
        out = tracker.update(dets)
        for row in np.atleast_2d(out):
            if row.size:
                # ultralytics rows: x1, y1, x2, y2, track id, score, class, index of the detection.
                track_of[t, ok[int(row[-1])]] = int(row[4])
    return fold_tracks(track_of, centre, n_identities), track_of


def fold_tracks(track_of: np.ndarray, centre: np.ndarray, n_identities: int) -> np.ndarray:
    """(time, identity) slots from (time, slot) track ids: each new track takes the free identity
    last seen nearest to its first box (see the module notes)."""
    n_time = track_of.shape[0]
    slot_of = np.full((n_time, n_identities), -1, dtype=np.int64)
    identity_of: dict[int, int] = {}
    last = np.full((n_identities, centre.shape[-1]), np.nan)
    for t in range(n_time):
        slots = np.flatnonzero(track_of[t] >= 0)
        busy = {identity_of[int(track_of[t, s])] for s in slots if int(track_of[t, s]) in identity_of}
        for s in slots:
            tid = int(track_of[t, s])
            if tid not in identity_of:
                free = [i for i in range(n_identities) if i not in busy]
                if not free:
                    continue
                d = [np.linalg.norm(last[i] - centre[t, s]) if np.isfinite(last[i]).all() else np.inf for i in free]
                identity_of[tid] = free[int(np.argmin(d))]
                busy.add(identity_of[tid])
            i = identity_of[tid]
            if slot_of[t, i] < 0:
                slot_of[t, i] = s
                last[i] = centre[t, s]
    return slot_of
