"""Known-answer inputs for trackers: trajectories of animals that cross, and detections made from
them as a pose detector gives them (slots in any order, noise, keypoints and whole animals missing
at random or in bursts, false and duplicate detections), with the true animal of every detection.

Used by the tests and ``benchmarks/tracking.py``; also a way to check settings before a cohort runs.
"""

from __future__ import annotations

import numpy as np


def body(centre: np.ndarray, heading: np.ndarray, n_keypoints: int, *, length: float = 40.0) -> np.ndarray:
    """(time, keypoints, 2) keypoints spread along the heading (radians) and a little sideways,
    nose first, so that animals facing different ways differ keypoint by keypoint (pixels)."""
    s = np.linspace(0.5, -0.5, n_keypoints) * length
    side = 0.15 * length * np.sin(np.arange(n_keypoints) * 2.1)
    c, d = np.cos(heading)[:, None], np.sin(heading)[:, None]
    x = centre[:, None, 0] + s * c - side * d
    y = centre[:, None, 1] + s * d + side * c
    return np.stack([x, y], axis=-1)


def crossing_animals(n_animals: int, n_frames: int, *, n_keypoints: int = 13, amplitude: float = 200.0,
                     period: float = 300.0, offset: float = 8.0) -> np.ndarray:
    """(time, animal, keypoints, 2) animals swinging through the arena centre (320, 240) px.

    Two animals run along one line in opposite directions, ``offset`` px apart sideways, and pass
    through each other every half ``period`` (frames). Three or more run along lines 180/n degrees
    apart, a little out of phase, and meet near the centre together.
    """
    t = np.arange(n_frames, dtype=np.float64)
    w = 2 * np.pi / period
    out = np.empty((n_frames, n_animals, n_keypoints, 2))
    for i in range(n_animals):
        if n_animals == 2:
            angle, sign, phase, side = 0.0, (1.0, -1.0)[i], 0.0, (offset / 2, -offset / 2)[i]
        else:
            angle, sign, phase, side = np.pi * i / n_animals, 1.0, 0.15 * i, 0.0
        u = np.array([np.cos(angle), np.sin(angle)])
        normal = np.array([-u[1], u[0]])
        s = sign * amplitude * np.sin(w * t + phase)
        centre = np.array([320.0, 240.0]) + s[:, None] * u + side * normal
        speed = sign * amplitude * w * np.cos(w * t + phase)
        heading = angle + np.where(speed >= 0, 0.0, np.pi)
        out[:, i] = body(centre, heading, n_keypoints)
    return out


def _bursts(rng: np.random.Generator, n_frames: int, rate: float, longest: int) -> np.ndarray:
    """(time,) bool: bursts of 1..``longest`` frames starting with probability ``rate`` a frame."""
    hit = np.zeros(n_frames, dtype=bool)
    for start in np.flatnonzero(rng.random(n_frames) < rate):
        hit[start:start + rng.integers(1, longest + 1)] = True
    return hit


def detections(truth: np.ndarray, rng: np.random.Generator, *, noise: float = 0.0, keypoint_dropout: float = 0.0,
               instance_dropout: float = 0.0, bursty: bool = False, longest_burst: int = 15,
               false_positives: float = 0.0, duplicates: float = 0.0, extra_slots: int = 2,
               arena: tuple[float, float] = (640.0, 480.0)) -> tuple[np.ndarray, np.ndarray]:
    """Detections made from ``truth`` as a detector would make them.

    Parameters
    ----------
    truth
        (time, animal, keypoints, 2) true keypoints in pixels (NaN allowed).
    rng
        Random generator.
    noise
        Gaussian noise on every coordinate, standard deviation in pixels.
    keypoint_dropout, instance_dropout
        Probability that a keypoint / a whole animal is missing in a frame. With ``bursty`` they
        are the rates at which bursts of 1..``longest_burst`` frames start instead.
    false_positives, duplicates
        Per frame, probability of a false detection (2-6 keypoints anywhere in ``arena``) and of a
        second detection of a random animal (3 px away, half of its keypoints).
    extra_slots
        Slots beyond one per animal.

    Returns
    -------
    (points, labels)
        ``points`` (time, slot, keypoints, 2) with slots in random order every frame; ``labels``
        (time, slot) the true animal of each detection, -1 for false ones and for empty slots.
    """
    n_time, n_animal, n_kp, _ = truth.shape
    det = truth + rng.normal(0.0, noise, truth.shape) if noise else truth.copy()
    if bursty:
        for a in range(n_animal):
            det[_bursts(rng, n_time, instance_dropout, longest_burst), a] = np.nan
            for k in range(n_kp):
                det[_bursts(rng, n_time, keypoint_dropout, longest_burst), a, k] = np.nan
    else:
        det[rng.random((n_time, n_animal)) < instance_dropout] = np.nan
        det[rng.random((n_time, n_animal, n_kp)) < keypoint_dropout] = np.nan
    n_slot = n_animal + extra_slots
    points = np.full((n_time, n_slot, n_kp, 2), np.nan)
    labels = np.full((n_time, n_slot), -1, dtype=np.int64)
    points[:, :n_animal], labels[:, :n_animal] = det, np.arange(n_animal)
    empty = ~np.isfinite(det).all(-1).any(-1)
    labels[:, :n_animal][empty] = -1
    extra = n_animal
    for t in np.flatnonzero(rng.random(n_time) < false_positives):
        shown = rng.choice(n_kp, size=rng.integers(2, min(6, n_kp) + 1), replace=False)
        where = rng.random(2) * np.asarray(arena)
        points[t, extra, shown] = where + rng.normal(0, 10, (shown.size, 2))
    for t in np.flatnonzero(rng.random(n_time) < duplicates):
        a = rng.integers(n_animal)
        if not np.isfinite(det[t, a]).any():
            continue
        slot = extra + 1 if extra + 1 < n_slot else extra
        copy = det[t, a] + rng.normal(0, 3.0 / np.sqrt(2), (n_kp, 2))
        copy[rng.random(n_kp) < 0.5] = np.nan
        if np.isfinite(copy).all(-1).any():
            points[t, slot], labels[t, slot] = copy, a
    order = np.argsort(rng.random((n_time, n_slot)), axis=1)
    return np.take_along_axis(points, order[:, :, None, None], axis=1), np.take_along_axis(labels, order, axis=1)
