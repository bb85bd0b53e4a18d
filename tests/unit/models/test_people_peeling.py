"""Peeling people one at a time (:func:`deepbehavior.models.mediapipe_people.peel_people`) with a
stand-in finder whose answers are known: it reports the first person whose chest is not painted."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.models.mediapipe_people import peel_people


def _person(x: float, y: float, height: float) -> np.ndarray:
    """(33, 2) points spread over a box ``height`` tall and half as wide, centred at (x, y)."""
    rng = np.random.default_rng(int(x))
    return np.column_stack([x + rng.uniform(-height / 4, height / 4, 33), y + rng.uniform(-height / 2, height / 2, 33)])


def _finder(people):
    calls = []

    def find_one(image):
        calls.append(1)
        for xy in people:
            cx, cy = np.round(xy.mean(axis=0)).astype(int)
            if (image[cy, cx] != 127).any():
                return xy.astype(np.float32), np.ones(len(xy), np.float32)
        return np.full((33, 2), np.nan, np.float32), np.full(33, np.nan, np.float32)

    return find_one, calls


def test_every_person_found_once_in_order_then_stops():
    frame = np.zeros((400, 600, 3), np.uint8)
    people = [_person(150, 200, 200), _person(450, 200, 180)]
    find_one, calls = _finder(people)
    xy, conf = peel_people(frame, find_one, max_people=5, min_size=20, pad=0.1)
    assert xy.shape == (2, 33, 2) and conf.shape == (2, 33)
    np.testing.assert_allclose(xy[0], people[0], atol=1e-4)
    np.testing.assert_allclose(xy[1], people[1], atol=1e-4)
    assert len(calls) == 3  # one per person, one that finds nobody
    assert (frame == 0).all()  # the caller's frame is not painted


def test_max_people_and_min_size():
    frame = np.zeros((400, 600, 3), np.uint8)
    people = [_person(150, 200, 200), _person(300, 300, 30), _person(450, 200, 180)]
    find_one, _ = _finder(people)
    xy, _ = peel_people(frame, find_one, max_people=5, min_size=100, pad=0.1)
    assert len(xy) == 2 and abs(xy[1, :, 0].mean() - 450) < 20  # the small one skipped, the next found
    find_one, calls = _finder(people)
    xy, _ = peel_people(frame, find_one, max_people=1, min_size=0, pad=0.1)
    assert len(xy) == 1 and len(calls) == 1
    with pytest.raises(ValueError, match="max_people >= 1"):
        peel_people(frame, find_one, max_people=0, min_size=0, pad=0.1)


def test_nobody():
    find_one, _ = _finder([])
    xy, conf = peel_people(np.zeros((50, 50, 3), np.uint8), find_one, max_people=3, min_size=0, pad=0.1)
    assert xy.shape == (0, 33, 2) and conf.shape == (0, 33)
