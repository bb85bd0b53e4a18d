"""Every person in the frame, body and both hands, with MediaPipe holistic (see :mod:`.mediapipe_pose`).

MediaPipe's person detector (``pose_detection.tflite``, run by holistic) reports the most prominent
person of an image and, in the 0.10.21 wheel, hardly ever a second one beside it (measured here on
ultralytics' ``bus.jpg``: one detection of four people at any score threshold down to 0.1, while
each of the others is found once the first is painted over). So people are *peeled*: holistic runs
on the frame, the person it found (body and hands, which holistic attaches to that body) is painted
over with the hull of their landmarks, and holistic runs again on what is left, until nobody is
found or ``max_individuals`` people are. Each person costs one holistic run, plus one run that finds
nobody, so ``N`` people cost about ``N + 1`` single-person runs of a frame in static mode.

Slots are filled in the order people were found (the most prominent first) and carry no identity
across frames: the tracking package gives people identities (:mod:`deepbehavior.tracking.people`).
This module holds the peeling (:func:`peel_people`, for any one-person finder); the predictor is
:class:`.mediapipe_pose.MediaPipePeoplePredictor`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

#: Peeling stops after this many people whatever ``max_individuals`` says: each costs a holistic run.
MAX_PEOPLE = 16
_GREY = 127


def person_extent(xy: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Centre ``(2,)`` and size (the larger side of the bounding box, pixels) of one person's seen points."""
    seen = np.isfinite(xy).all(axis=-1)
    if seen.sum() < 2:
        return None
    lo, hi = xy[seen].min(axis=0), xy[seen].max(axis=0)
    return (lo + hi) / 2, float((hi - lo).max())


def _hull_mask(frame: np.ndarray, xy: np.ndarray, *, pad: float, painted: np.ndarray | None = None) -> None:
    """Paint grey, in place, the convex hull of the seen points ``xy`` grown by ``pad`` × its size
    (and mark it in the ``(height, width)`` bool ``painted``, when given)."""
    import cv2

    seen = xy[np.isfinite(xy).all(axis=-1)]
    if len(seen) < 3:
        return
    extent = person_extent(seen)
    centre, size = extent
    # Grow the hull outwards from its centre, and by a fixed margin, so that limbs' edges go too.
    grown = centre + (seen - centre) * (1.0 + pad) + np.sign(seen - centre) * pad * size * 0.25
    hull = cv2.convexHull(np.round(grown).astype(np.int32))
    cv2.fillConvexPoly(frame, hull, (_GREY, _GREY, _GREY))
    if painted is not None:
        layer = np.zeros(painted.shape, dtype=np.uint8)
        cv2.fillConvexPoly(layer, hull, 1)
        painted |= layer.astype(bool)


def _on_painted(xy: np.ndarray, painted: np.ndarray) -> float:
    """Fraction of the seen points ``xy`` inside the frame that fall on ``painted`` pixels."""
    height, width = painted.shape
    seen = np.isfinite(xy).all(axis=-1)
    col, row = np.round(xy[seen]).astype(np.int64).T if seen.any() else (np.zeros(0, int), np.zeros(0, int))
    inside = (col >= 0) & (col < width) & (row >= 0) & (row < height)
    if not inside.any():
        return 0.0
    return float(painted[row[inside], col[inside]].mean())


def _same_person(a: np.ndarray, b: np.ndarray, *, fraction: float = 0.15) -> bool:
    """Whether two 33-point bodies are one person found twice: their points, on average, within
    ``fraction`` of the body's size of each other."""
    both = np.isfinite(a).all(-1) & np.isfinite(b).all(-1)
    extent = person_extent(b)
    if both.sum() < 3 or extent is None:
        return False
    return float(np.linalg.norm(a[both] - b[both], axis=-1).mean()) < fraction * extent[1]


def peel_people(frame: np.ndarray, find_one: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], *,
                max_people: int, min_size: float, pad: float,
                body: slice = slice(0, 33)) -> tuple[np.ndarray, np.ndarray]:
    """Every person of ``frame``, found one at a time by ``find_one`` and painted over.

    Parameters
    ----------
    frame
        ``(height, width, 3)`` uint8 image (left unchanged).
    find_one
        One image → ``(points, 2)`` pixels and ``(points,)`` confidence of the most prominent
        person in it, all NaN when there is nobody.
    max_people
        Stop after this many people.
    min_size
        People whose body (points ``body``) spans less than this many pixels (larger side of
        their box) are painted over and skipped, and so are finds with most of their body on
        paint (the remains of a person already found).
    pad
        How far the painted hull reaches beyond a person's points (fraction of their size).

    Returns
    -------
    points, confidence
        ``(people, points, 2)`` and ``(people, points)``, in the order found.
    """
    if max_people < 1:
        raise ValueError(f"Expected max_people >= 1, but got {max_people}")
    work = np.array(frame, copy=True)
    painted = np.zeros(frame.shape[:2], dtype=bool)
    found_xy, found_conf = [], []
    for _ in range(max_people + 2):  # + finds too small or repeated
        if len(found_xy) == max_people:
            break
        xy, conf = find_one(work)
        extent = person_extent(xy[body])
        if extent is None:
            break
        # What is mostly on paint is the remains of someone already found (an arm past the hull).
        residue = _on_painted(xy[body], painted) > 0.5
        _hull_mask(work, xy, pad=pad, painted=painted)
        if extent[1] < min_size or residue:
            continue
        if any(_same_person(xy[body], other[body]) for other in found_xy):
            continue
        found_xy.append(xy)
        found_conf.append(conf)
    if not found_xy:
        return np.zeros((0,) + xy.shape, np.float32), np.zeros((0,) + conf.shape, np.float32)
    return np.stack(found_xy), np.stack(found_conf)
