"""Several people walking past each other before two cameras: multi-person test data with known answers.

Each person is the standing adult of :mod:`.human_reach` (BODY_25 + both hands, mm), carried along
``x`` at a constant speed at their own depth ``y``, so that people cross in the image and the
nearer one hides the farther. :func:`observe_people` projects every person into every camera and
reports what a multi-person pose backend would: per frame, the people it finds in an arbitrary slot
order, points hidden behind a nearer body missing, and a person missing from a frame where fewer
than ``min_points`` of their body points are visible. The truth (which person each slot holds, and
each person's true pixels and 3D points) comes with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models import pose_layout
from .human_reach import Reach, human_reach_3d

#: Default walkers: start x (mm), speed along x (mm/s), depth y (mm; larger is farther from the rig).
WALKERS = ((-1400.0, 700.0, 0.0), (1400.0, -600.0, 700.0), (-300.0, 150.0, 1400.0))


@dataclass(frozen=True)
class PeopleObservations:
    """``pixels (view, time, slot, keypoint, 2)`` and ``confidence (view, time, slot, keypoint)`` (NaN
    where missing), ``person (view, time, slot)`` the true person in each slot (-1: empty),
    ``truth_pixels (view, time, person, keypoint, 2)`` every point's true projection, and
    ``visible (view, time, person)`` whether the person was reported in that frame."""

    pixels: np.ndarray
    confidence: np.ndarray
    person: np.ndarray
    truth_pixels: np.ndarray
    visible: np.ndarray


def people_3d(*, fps: float = 30.0, duration_s: float = 4.0,
              walkers: tuple[tuple[float, float, float], ...] = WALKERS) -> np.ndarray:
    """``(time, person, keypoint=67, 3)`` world points (mm) of the walkers, each reaching with the right arm.

    Parameters
    ----------
    walkers
        ``(start x mm, speed mm/s, depth y mm)`` of each person.
    """
    if not walkers:
        raise ValueError("Expected at least one walker, but got none")
    one = human_reach_3d(fps=fps, duration_s=duration_s, reach=Reach())
    body = one["position"].isel(individuals=0).transpose("time", "keypoints", "space").values  # (time, 67, 3)
    time_s = np.arange(body.shape[0]) / fps
    people = []
    for x0, speed, depth in walkers:
        offset = np.stack([x0 + speed * time_s, np.full_like(time_s, depth), np.zeros_like(time_s)], -1)
        people.append(body + offset[:, None, :])
    return np.stack(people, axis=1)


def crossings(world: np.ndarray, group) -> int:
    """How many times two people's order along the image's ``x`` swaps, in the first camera."""
    pixels = group.project(world.astype(np.float64))[0]  # (time, person, keypoint, 2)
    x = np.nanmean(pixels[..., pose_layout.BODY_SLICE, 0], axis=-1)  # (time, person)
    count = 0
    for a in range(x.shape[1]):
        for b in range(a + 1, x.shape[1]):
            sign = np.sign(x[:, a] - x[:, b])
            count += int((np.diff(sign[sign != 0]) != 0).sum())
    return count


def _hidden(points: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """``(n,)`` whether each of ``points (n, 2)`` lies inside the convex polygon ``hull (m, 2)``."""
    import cv2

    contour = hull.astype(np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 if np.isfinite(x) else False
                     for x, y in points])


def observe_people(world: np.ndarray, group, *, noise_px: float = 1.0, min_points: int = 8,
                   seed: int = 0) -> PeopleObservations:
    """Project the people ``(time, person, keypoint, 3)`` into every camera, hide what nearer bodies
    cover and shuffle the slots; see :class:`PeopleObservations`.

    A point is hidden when it lies inside the convex hull of a nearer person's body points (the
    body's silhouette, roughly). Confidence of a reported point is uniform in [0.75, 0.95].
    """
    import cv2

    rng = np.random.default_rng(seed)
    n_time, n_people = world.shape[:2]
    truth = group.project(world.astype(np.float64))  # (view, time, person, keypoint, 2)
    n_views = truth.shape[0]
    pixels = np.full(truth.shape[:2] + (n_people,) + truth.shape[3:], np.nan, dtype=np.float32)
    confidence = np.full(pixels.shape[:-1], np.nan, dtype=np.float32)
    person = np.full(pixels.shape[:3], -1, dtype=np.int64)
    visible = np.zeros((n_views, n_time, n_people), dtype=bool)
    for v, cam in enumerate(group.cameras):
        width, height = cam.size
        depth = np.linalg.norm(world - cam.centre, axis=-1).mean(axis=-1)  # (time, person)
        for t in range(n_time):
            seen = []
            for p in range(n_people):
                xy = truth[v, t, p] + rng.normal(0.0, noise_px, truth[v, t, p].shape)
                ok = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
                for q in np.flatnonzero(depth[t] < depth[t, p]):
                    body = truth[v, t, q, pose_layout.BODY_SLICE]
                    hull = cv2.convexHull(body[np.isfinite(body).all(-1)].astype(np.float32))[:, 0]
                    ok &= ~_hidden(truth[v, t, p], hull)
                if ok[pose_layout.BODY_SLICE].sum() >= min_points:
                    xy[~ok] = np.nan
                    seen.append((p, xy))
            order = rng.permutation(len(seen))
            for slot, k in enumerate(order):
                p, xy = seen[k]
                pixels[v, t, slot] = xy
                confidence[v, t, slot] = np.where(np.isfinite(xy[:, 0]), rng.uniform(0.75, 0.95, len(xy)), np.nan)
                person[v, t, slot] = p
                visible[v, t, p] = True
    return PeopleObservations(pixels, confidence, person, truth.astype(np.float32), visible)
