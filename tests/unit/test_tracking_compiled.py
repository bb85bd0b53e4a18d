"""The pose matcher's compiled kernel makes the same decisions as its NumPy reference.

Same known-answer inputs as tests/unit/test_tracking_known_answer.py (synthetic crossings with
noise, random and bursty dropout, false and duplicate detections; the real SLEAP flies as SLEAP
predicted them, extra instances included; the real DLC mouse as three mice in one arena), fed in
blocks so that the state carried between blocks is exercised too. The assignment inside the kernel
is checked against ``scipy.optimize.linear_sum_assignment`` itself.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

pytest.importorskip("numba")

from deepbehavior.tracking._kernels import lsap  # noqa: E402
from deepbehavior.tracking.matcher import PoseMatcher, concat  # noqa: E402
from deepbehavior.tracking.simulate import crossing_animals, detections  # noqa: E402

from test_tracking_known_answer import CONDITIONS, _fly_truth, _mouse_truth  # noqa: E402


def _both(points, n, max_jump, block=317):
    """(reference, compiled) results over the same blocks of frames."""
    out = []
    for compiled in (False, True):
        m = PoseMatcher(n, points.shape[2], points.shape[3], max_jump=max_jump, compiled=compiled)
        assert m.compiled == compiled
        out.append(concat([m.feed(points[a:a + block]) for a in range(0, len(points), block)]))
    return out


def _assert_same(ref, fast):
    np.testing.assert_array_equal(fast.slot_of, ref.slot_of)
    np.testing.assert_array_equal(fast.status, ref.status)
    np.testing.assert_array_equal(fast.reacquired, ref.reacquired)
    np.testing.assert_allclose(fast.centre, ref.centre, rtol=0, atol=1e-3, equal_nan=True)


@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("n_animals", [2, 3])
def test_compiled_matches_reference_on_crossings(n_animals, condition):
    points, _ = detections(crossing_animals(n_animals, 1500), np.random.default_rng(0), **CONDITIONS[condition])
    ref, fast = _both(points, n_animals, 15.0)
    assert (ref.slot_of >= 0).mean() > 0.8  # a real tracking, not two empty ones
    _assert_same(ref, fast)


def test_compiled_matches_reference_on_sleap_predictions(shared_data):
    sio = pytest.importorskip("sleap_io")
    every = sio.load_file(str(shared_data / "sleap-flies" / "centered_pair_predictions.slp")).numpy()
    order = np.argsort(np.random.default_rng(0).random(every.shape[:2]), axis=1)
    points = np.take_along_axis(every.astype(np.float64), order[:, :, None, None], axis=1)
    _assert_same(*_both(points, 2, 20.0))


@pytest.mark.parametrize("condition", ["random", "bursty"])
def test_compiled_matches_reference_on_real_flies_and_mice(shared_data, condition):
    flies, _ = detections(_fly_truth(shared_data), np.random.default_rng(1), **CONDITIONS[condition])
    _assert_same(*_both(flies, 2, 20.0))
    mice, _ = detections(_mouse_truth(shared_data), np.random.default_rng(1), **CONDITIONS[condition])
    _assert_same(*_both(mice, 3, 25.0))


def test_kernel_assignment_is_scipys():
    rng = np.random.default_rng(0)
    for _ in range(500):
        nr, nc = rng.integers(1, 8, 2)
        cost = rng.random((nr, nc)) * 100
        cost[rng.random((nr, nc)) < 0.4] = 1e9  # outside the gate, as the matcher fills it
        rows, cols = np.empty(8, dtype=np.int64), np.empty(8, dtype=np.int64)
        k = lsap(cost, rows, cols)
        r, c = linear_sum_assignment(cost)
        assert k == len(r)
        np.testing.assert_array_equal(rows[:k], r)
        np.testing.assert_array_equal(cols[:k], c)
