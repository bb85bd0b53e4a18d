"""The benchmarks' cost fit: fixed seconds and seconds a frame from runs at several frame counts."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _timing import fit_cost  # noqa: E402


def test_fit_cost_recovers_a_known_line_from_noisy_rounds():
    frames = [30, 30, 300, 300, 1000]
    # 2.8 s + 43.2 ms a frame, the rounds off by ±0.05 s
    seconds = [2.8 + 0.0432 * f + e for f, e in zip(frames, [0.05, -0.05, 0.05, -0.05, 0.0])]
    cost = fit_cost(frames, seconds)
    assert cost["fixed_s"] == pytest.approx(2.8, abs=0.03)
    assert cost["per_frame_ms"] == pytest.approx(43.2, abs=0.1)


def test_fit_cost_needs_two_frame_counts():
    with pytest.raises(ValueError, match="Expected runs at two or more frame counts"):
        fit_cost([100, 100], [5.0, 5.1])
