"""Reach segmentation and per-reach measures against closed-form Gaussian speed profiles."""

import math

import numpy as np
import pytest
import xarray as xr

from deepbehavior.analysis.reaching import measure_reaches, paw_trajectory, segment_reaches, summarize_reaches
from deepbehavior.schema import make_poses

FPS = 100.0


def _gaussian_speed(t, t0, sigma, peak):
    return peak * np.exp(-((t - t0) ** 2) / (2 * sigma**2))


def test_segment_reaches_hysteresis_matches_threshold_crossings():
    t = np.arange(300) / FPS
    speed = _gaussian_speed(t, 1.0, 0.1, 500.0) + _gaussian_speed(t, 2.2, 0.05, 80.0)
    reaches = segment_reaches(speed, start_speed=250.0, stop_speed=50.0)
    # Only the first bump reaches start_speed; it extends while speed >= 50 mm/s.
    half_width = 0.1 * math.sqrt(2 * math.log(500.0 / 50.0))
    expected = (math.ceil((1.0 - half_width) * FPS), math.floor((1.0 + half_width) * FPS))
    assert reaches == [expected]


def test_segment_reaches_rejects_inverted_thresholds():
    with pytest.raises(ValueError, match="stop_speed <= start_speed"):
        segment_reaches(np.zeros(5), start_speed=1.0, stop_speed=2.0)


def _reach_track(onsets, sigmas, distances, n=400):
    """x(t) = sum of D * Phi((t - t0) / sigma): speed is a sum of Gaussians of peak D / (sigma sqrt(2 pi))."""
    from scipy.stats import norm

    t = np.arange(n) / FPS
    x = sum(d * norm.cdf((t - t0) / s) for t0, s, d in zip(onsets, sigmas, distances))
    position = np.stack([x, 2 * x, np.zeros_like(x)], axis=1)  # along (1, 2, 0) / sqrt(5)
    return position, t


def test_measure_reaches_gaussian_profile_onset_offset_peak():
    position, t = _reach_track([1.0, 3.0], [0.1, 0.08], [20.0, 15.0])
    ds = make_poses(position[:, :, None, None], fps=FPS, keypoints=["paw"], space=["x", "y", "z"])
    track = paw_trajectory(ds, keypoint="paw")
    reaches = measure_reaches(track, start_speed=40.0, stop_speed=10.0, min_duration_s=0.1)
    assert len(reaches) == 2
    for row, (t0, sigma, dist) in zip(reaches.itertuples(), [(1.0, 0.1, 20.0), (3.0, 0.08, 15.0)]):
        length = dist * math.sqrt(5)
        peak = length / (sigma * math.sqrt(2 * math.pi))
        half_width = sigma * math.sqrt(2 * math.log(peak / 10.0))
        assert abs(row.onset - (t0 - half_width) * FPS) <= 1.0
        assert abs(row.offset - (t0 + half_width) * FPS) <= 1.0
        assert row.peak == round(t0 * FPS)
        assert row.peak_speed == pytest.approx(peak, rel=0.01)
        assert row.duration_s == pytest.approx((row.offset - row.onset) / FPS)
        # Nearly all of the movement happens inside [t0 - hw, t0 + hw].
        covered = math.erf(half_width / (sigma * math.sqrt(2)))
        assert row.path_length == pytest.approx(length * covered, rel=0.01)
        assert row.endpoint_y == pytest.approx(2 * row.endpoint_x, rel=1e-4)
        assert row.extent == pytest.approx(row.path_length, rel=1e-3)  # straight-line reach


def test_min_duration_drops_a_twitch_and_summary_counts():
    position, _ = _reach_track([1.0, 2.5], [0.1, 0.005], [20.0, 2.0])
    track = paw_trajectory(xr.DataArray(position, dims=("time", "space"),
                                        coords={"time": np.arange(len(position)) / FPS, "space": ["x", "y", "z"]},
                                        attrs={"fps": FPS}))
    reaches = measure_reaches(track, start_speed=40.0, stop_speed=10.0, min_duration_s=0.1)
    assert len(reaches) == 1 and abs(reaches["peak"].iloc[0] - 100) <= 1
    summary = dict((m, v) for m, v, _ in summarize_reaches(reaches))
    assert summary["reach_count"] == 1
    assert summary["reach_duration_mean"] == pytest.approx(reaches["duration_s"].iloc[0])
    empty = measure_reaches(track, start_speed=1e6, stop_speed=10.0)
    assert len(empty) == 0
    assert math.isnan(dict((m, v) for m, v, _ in summarize_reaches(empty))["reach_peak_speed_mean"])
