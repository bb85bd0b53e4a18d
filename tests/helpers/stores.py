"""Small synthetic stores with known answers, shared by the job tests (track, triangulate, analyze)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepbehavior import schema
from deepbehavior.store import create_store, regions, write_region

#: Two animals crossing (:func:`crossing_truth`): frames, frame rate, frames where both are hidden.
CROSSING_FPS = 30.0
CROSSING_FRAMES = 200
CROSSING_HIDDEN = slice(95, 106)

#: Two animals side by side (:func:`two_animal_poses`): frames and frame rate.
PAIR_FPS = 10.0
PAIR_FRAMES = 100


def crossing_truth() -> np.ndarray:
    """(time, space, keypoint=[nose, tail], animal) of two animals of different speed and size
    meeting at frame 100: A at 2 px/frame to the right, B at 1 px/frame to the left; both unseen
    (NaN) in :data:`CROSSING_HIDDEN`."""
    t = np.arange(CROSSING_FRAMES, dtype=float)
    centre_a = np.stack([50 + 2 * t, 100 + 10 * np.sin(t / 15)], axis=1)
    centre_b = np.stack([350 - t, 103 - 10 * np.sin(t / 15)], axis=1)
    truth = np.zeros((CROSSING_FRAMES, 2, 2, 2))
    for i, (centre, half, heading) in enumerate(((centre_a, 5.0, 1.0), (centre_b, 8.0, -1.0))):
        truth[:, :, 0, i] = centre + [heading * half, 0.0]
        truth[:, :, 1, i] = centre - [heading * half, 0.0]
    truth[CROSSING_HIDDEN] = np.nan
    return truth


def shuffled_slots(truth: np.ndarray, seed: int):
    """``truth`` as detection slots of one view ``top``, the animals' order shuffled every frame."""
    rng = np.random.default_rng(seed)
    order = np.array([rng.permutation(truth.shape[3]) for _ in range(len(truth))])
    slots = np.take_along_axis(truth, order[:, None, None, :], axis=3)
    return schema.make_poses(slots, fps=CROSSING_FPS, keypoints=["nose", "tail"], individuals=["slot0", "slot1"],
                             views=["top"], individuals_are="slots")


def write_by_region(path: Path, ds, *, chunk: int = 50) -> None:
    """A store of ``ds`` written one region at a time, as inference writes it (four chunks of the
    crossing: tracking must run across them)."""
    create_store(path, ds, chunk=chunk)
    for region in regions(path):
        write_region(path, ds.isel(time=slice(region.start, region.stop)), region)


def write_2d_store(path, group, world, *, chunk=25):
    """A 2D poses store of ``world`` points ``(time, keypoint, individual, 3)`` seen by ``group``."""
    pixels = np.moveaxis(group.project(world), (0, -1), (-1, 1))
    ds = schema.make_poses(pixels, fps=30.0, views=group.names)
    store = create_store(path, ds, chunk=chunk)
    for region in regions(store):
        write_region(store, ds.sel(view=region.view).isel(time=slice(region.start, region.stop)), region)
    return store


def two_animal_poses(close: bool):
    """Animals ``a`` and ``b`` (nose, tail) moving 1 px/frame side by side, 100 px apart, or with
    ``close`` 10 px apart from 2 s to 5 s (one social bout of 3 s)."""
    t = np.arange(PAIR_FRAMES, dtype=float)
    a = np.stack([t, np.full(PAIR_FRAMES, 5.0)], axis=1)  # 1 px/frame along y = 5
    gap = np.full(PAIR_FRAMES, 100.0)
    if close:
        gap[20:50] = 10.0  # one bout: 3 s from 2 s
    b = a + np.stack([np.zeros(PAIR_FRAMES), gap], axis=1)
    position = np.zeros((PAIR_FRAMES, 2, 2, 2))
    for i, centre in enumerate((a, b)):
        position[:, :, 0, i] = centre + [5.0, 0.0]
        position[:, :, 1, i] = centre - [5.0, 0.0]
    return schema.make_poses(position, fps=PAIR_FPS, keypoints=["nose", "tail"], individuals=["a", "b"])
