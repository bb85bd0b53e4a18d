"""Cleaning against closed-form answers: thresholds, linear gaps, filters, robust smoothing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import xarray as xr

from deepbehavior.analysis.cleaning import (
    confidence_outliers,
    filter_by_confidence,
    interpolate_gaps,
    median_filter,
    savgol_filter,
    smooth_robust,
)


def _positions(xy: np.ndarray, *, time=None) -> xr.DataArray:
    xy = np.asarray(xy, dtype=np.float64)
    time = np.arange(len(xy)) if time is None else np.asarray(time)
    return xr.DataArray(
        xy[:, :, None],
        dims=("time", "space", "keypoints"),
        coords={"time": time, "space": ["x", "y"], "keypoints": ["paw"]},
        attrs={"fps": 30.0, "units": "px"},
    )


def _line(n=30):
    t = np.arange(n, dtype=np.float64)
    return np.stack([320 + 4 * t, 240 - 1.5 * t], axis=1)


def test_filter_by_confidence_keeps_at_or_above_threshold():
    pos = _positions(_line(5))
    conf = xr.DataArray(
        np.array([[0.99], [0.98], [1.0], [np.nan], [0.995]]), dims=("time", "keypoints"), coords={"time": pos.time}
    )
    kept = filter_by_confidence(pos, conf, threshold=0.99)
    assert kept.isnull().all("space").squeeze().values.tolist() == [False, True, False, True, False]
    assert not pos.isnull().any()  # input untouched
    with pytest.raises(ValueError, match="Expected confidence dims"):
        filter_by_confidence(pos, conf.expand_dims(space=["x"]), threshold=0.5)


def test_tensorbox_post_processing_reproduced():
    """Score >= 0.99 kept, the rest linearly interpolated and extrapolated (FORMATS.md)."""
    truth = _line(20)
    scores = np.full(20, 0.999)
    scores[[0, 1, 7, 8, 19]] = [0.5, 0.0, 0.42, 0.0, 0.98]
    noisy = truth.copy()
    noisy[scores < 0.99] = [[0, 0]] * 5  # what TensorBox wrote for missing / junk boxes
    pos = _positions(noisy)
    conf = xr.DataArray(scores[:, None], dims=("time", "keypoints"))
    track = interpolate_gaps(filter_by_confidence(pos, conf, threshold=0.99), extrapolate=True)
    np.testing.assert_allclose(track.squeeze().values, truth, rtol=1e-12)
    # Without extrapolation the ends stay missing, the inside is filled.
    inside = interpolate_gaps(filter_by_confidence(pos, conf, threshold=0.99))
    assert inside.isnull().all("space").squeeze().values[[0, 1, 19]].all()
    np.testing.assert_allclose(inside.squeeze().values[2:19], truth[2:19])


def test_interpolate_gaps_max_gap_and_frame_times():
    t = np.arange(30)
    xy = np.stack([t * 2.0, t**2 / 10], axis=1)
    xy[[3]] = np.nan  # gap 1
    xy[10:14] = np.nan  # gap 4
    xy[20, 1] = np.nan  # one coordinate missing: the whole point is missing
    filled = interpolate_gaps(_positions(xy), max_gap=2).squeeze().values
    np.testing.assert_allclose(filled[3], [6.0, (2**2 + 4**2) / 20])
    assert np.isnan(filled[10:14]).all()
    np.testing.assert_allclose(filled[20], [40.0, (19**2 + 21**2) / 20])
    # Linear in frame numbers, not in sample index, when frames were dropped.
    frames = np.array([0, 1, 5, 6])
    pos = _positions(np.array([[0.0, 0], [1, 1], [np.nan, np.nan], [6, 6]]), time=frames)
    np.testing.assert_allclose(interpolate_gaps(pos).squeeze().values[2], [5.0, 5.0])
    with pytest.raises(ValueError, match="max_gap"):
        interpolate_gaps(pos, max_gap=-1)


def test_interpolate_gaps_extrapolation_limited_by_max_gap():
    xy = _line(12)
    xy[:3] = np.nan
    xy[-1] = np.nan
    out = interpolate_gaps(_positions(xy), extrapolate=True, max_gap=2).squeeze().values
    assert np.isnan(out[:3]).all()  # 3 leading frames > max_gap
    np.testing.assert_allclose(out[-1], _line(12)[-1])


@pytest.mark.parametrize("chunk", [4, 13])
def test_interpolate_gaps_dask_across_chunks(chunk):
    rng = np.random.default_rng(3)
    xy = np.cumsum(rng.normal(size=(61, 2)), axis=0)
    for a, b in [(0, 2), (7, 19), (30, 31), (44, 47), (58, 61)]:
        xy[a:b] = np.nan
    pos = _positions(xy)
    for kwargs in ({}, {"max_gap": 3}, {"extrapolate": True}, {"extrapolate": True, "max_gap": 3}):
        eager = interpolate_gaps(pos, **kwargs)
        lazy = interpolate_gaps(pos.chunk(time=chunk), **kwargs)
        assert lazy.chunks is not None
        np.testing.assert_allclose(lazy.compute(), eager)
        assert eager.dims == pos.dims


def test_confidence_outliers_mean_minus_k_sd_per_joint():
    rng = np.random.default_rng(7)
    conf = rng.uniform(0.7, 0.9, size=(200, 2))
    conf[[10, 50], 0] = 0.05
    conf[:, 1] = 0.2  # a constant joint: SD 0, nothing below the mean
    conf[100, 1] = np.nan
    pos = xr.DataArray(
        np.ones((200, 2, 2)), dims=("time", "space", "keypoints"), coords={"keypoints": ["wrist", "elbow"]}
    )
    confidence = xr.DataArray(conf, dims=("time", "keypoints"), coords={"keypoints": ["wrist", "elbow"]})
    out = confidence_outliers(pos, confidence, k=3)
    c0 = conf[:, 0]
    limit = c0.mean() - 3 * c0.std(ddof=1)
    expected = c0 < limit
    assert expected[[10, 50]].all() and expected.sum() == 2
    np.testing.assert_array_equal(out.sel(keypoints="wrist").isnull().all("space"), expected)
    np.testing.assert_array_equal(out.sel(keypoints="elbow").isnull().all("space"), np.isnan(conf[:, 1]))
    # A larger k drops fewer points; k=0 drops everything below the mean.
    assert int(confidence_outliers(pos, confidence, k=0).sel(keypoints="wrist").isnull().all("space").sum()) == int(
        (c0 < c0.mean()).sum()
    )
    with pytest.raises(ValueError, match="Expected k >= 0"):
        confidence_outliers(pos, confidence, k=-1)


def test_median_filter_removes_spike_and_keeps_gaps():
    xy = _line(21)
    xy[10] = [5000, -5000]
    xy[15] = np.nan
    out = median_filter(_positions(xy), window=5).squeeze().values
    np.testing.assert_allclose(out[10], np.median(xy[8:13], axis=0))
    assert np.abs(out[10] - _line(21)[10]).max() <= 4
    assert np.isnan(out[15]).all()
    np.testing.assert_allclose(out[3:8], _line(21)[3:8])  # a line is its own running median
    lazy = median_filter(_positions(xy).chunk(time=3), window=5)
    np.testing.assert_allclose(lazy.compute().squeeze().values, out)
    with pytest.raises(ValueError, match="odd number"):
        median_filter(_positions(xy), window=4)


def test_savgol_matches_scipy_inside_and_is_nan_aware():
    rng = np.random.default_rng(11)
    y = np.cumsum(rng.normal(size=(120, 2)), axis=0)
    pos = _positions(y)
    out = savgol_filter(pos, window=11, polyorder=3).squeeze().values
    ref = scipy.signal.savgol_filter(y, 11, 3, axis=0)
    np.testing.assert_allclose(out[5:-5], ref[5:-5], atol=1e-9)
    # A cubic is reproduced exactly, also beside a gap and at the ends.
    t = np.arange(40.0)
    cubic = np.stack([0.01 * t**3 - t, 2 * t**2], axis=1)
    cubic[[12, 13, 25]] = np.nan
    fitted = savgol_filter(_positions(cubic), window=9, polyorder=3).squeeze().values
    np.testing.assert_allclose(fitted, cubic, atol=1e-7)
    lazy = savgol_filter(_positions(cubic).chunk(time=4), window=9, polyorder=3)
    np.testing.assert_allclose(lazy.compute().squeeze().values, fitted, atol=1e-9)
    with pytest.raises(ValueError, match="polyorder"):
        savgol_filter(pos, window=3, polyorder=3)


def test_smooth_robust_recovers_signal_and_resists_outliers():
    rng = np.random.default_rng(1)
    n = 400
    t = np.arange(n)
    truth = 100 * np.sin(t / 40.0)
    y = truth + rng.normal(0, 2, n)
    y[[50, 150, 300]] += 80
    y[200:210] = np.nan
    pos = _positions(np.stack([y, 0.5 * y], axis=1))
    smooth = smooth_robust(pos).sel(space="x").squeeze().values
    plain = smooth_robust(pos, robust=False).sel(space="x").squeeze().values
    inner = slice(30, -30)  # reflective ends bias the first and last frames, as smoothn's do
    assert np.sqrt(np.mean((smooth[inner] - truth[inner]) ** 2)) < 1.0  # noise SD is 2
    assert np.abs(smooth[[50, 150, 300]] - truth[[50, 150, 300]]).max() < 2.0
    assert np.abs(plain[[50, 150, 300]] - truth[[50, 150, 300]]).min() > 3.0  # outliers pull the plain fit
    assert np.abs(smooth[200:210] - truth[200:210]).max() < 2.0  # the gap is filled
    lazy = smooth_robust(pos.chunk(time=50))
    np.testing.assert_allclose(lazy.compute(), smooth_robust(pos), rtol=1e-10)


def test_smooth_robust_fixed_s_limits():
    t = np.arange(50.0)
    line = np.stack([3 * t + 2, -t], axis=1)
    # A straight line has no second difference: any s leaves it unchanged (up to the ends' reflection).
    out = smooth_robust(_positions(line), s=1e-3, robust=False).squeeze().values
    np.testing.assert_allclose(out, line, atol=0.05)
    with pytest.raises(ValueError, match="Expected s > 0"):
        smooth_robust(_positions(line), s=0)
