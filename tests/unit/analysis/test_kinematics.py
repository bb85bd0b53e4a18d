"""Kinematics against closed-form motions: uniform, constant acceleration, a circle."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from deepbehavior.analysis.kinematics import (
    compute_acceleration,
    compute_displacement,
    compute_distance,
    compute_heading,
    compute_path_length,
    compute_speed,
    compute_velocity,
    scale_to_mm,
)

FPS = 25.0


def _positions(xy: np.ndarray, *, frames=None, fps=FPS, units=None, dtype=np.float64,
               with_frame=True) -> xr.DataArray:
    """(time, space) → (time, space, keypoints=1, individuals=1), as a store holds it: ``time`` in
    seconds (frame / FPS) and, with ``with_frame``, the frame numbers in a ``frame`` coordinate."""
    frames = np.arange(len(xy)) if frames is None else np.asarray(frames)
    attrs = {"fps": fps} if fps is not None else {}
    if units is not None:
        attrs["space_unit"] = units
    coords = {"time": frames / FPS, "space": ["x", "y"], "keypoints": ["paw"], "individuals": ["m1"]}
    if with_frame:
        coords["frame"] = ("time", frames)
    return xr.DataArray(
        np.asarray(xy, dtype=dtype)[:, :, None, None],
        dims=("time", "space", "keypoints", "individuals"),
        coords=coords,
        attrs=attrs,
    )


def _uniform(n=200, v=(30.0, -12.0), p0=(5.0, 400.0)):
    t = np.arange(n) / FPS
    return _positions(np.stack([p0[0] + v[0] * t, p0[1] + v[1] * t], axis=1))


def test_uniform_motion_velocity_speed_and_zero_acceleration():
    pos = _uniform()
    vel = compute_velocity(pos)
    np.testing.assert_allclose(vel.sel(space="x"), 30.0, rtol=1e-10)
    np.testing.assert_allclose(vel.sel(space="y"), -12.0, rtol=1e-10)
    assert vel.dims == pos.dims and vel.attrs["units"] == "px/s"
    speed = compute_speed(pos)
    assert "space" not in speed.dims and speed.attrs["units"] == "px/s"
    np.testing.assert_allclose(speed, np.hypot(30.0, 12.0), rtol=1e-10)
    np.testing.assert_allclose(compute_acceleration(pos), 0.0, atol=1e-8)
    disp = compute_displacement(pos)
    assert np.isnan(disp.isel(time=0)).all()
    np.testing.assert_allclose(disp.isel(time=slice(1, None)).sel(space="x"), 30.0 / FPS)


def test_constant_acceleration_is_exact_everywhere():
    n, acc, v0 = 120, (4.0, -9.81), (1.0, 2.0)
    t = np.arange(n) / FPS
    xy = np.stack([v0[0] * t + 0.5 * acc[0] * t**2, v0[1] * t + 0.5 * acc[1] * t**2], axis=1)
    pos = _positions(xy)
    a = compute_acceleration(pos)
    assert a.attrs["units"] == "px/s^2"
    np.testing.assert_allclose(a.sel(space="x"), acc[0], rtol=1e-6)
    np.testing.assert_allclose(a.sel(space="y"), acc[1], rtol=1e-6)
    # Central differences are exact for quadratics inside; the ends are one-sided (np.gradient).
    vel = compute_velocity(pos).sel(space="y").squeeze().values
    np.testing.assert_allclose(vel[1:-1], v0[1] + acc[1] * t[1:-1], rtol=1e-9)
    np.testing.assert_allclose(vel, np.gradient(xy[:, 1], t), rtol=1e-9)


def test_circle_speed_and_path_length():
    r, omega, n = 80.0, 2 * np.pi / 4.0, 401  # one turn in 4 s, 100 frames a turn at 25 fps
    t = np.arange(n) / FPS
    pos = _positions(np.stack([320 + r * np.cos(omega * t), 240 + r * np.sin(omega * t)], axis=1))
    speed = compute_speed(pos).isel(time=slice(1, -1))
    # Central difference of a circle: |v| = r sin(omega dt) / dt exactly.
    dt = 1 / FPS
    np.testing.assert_allclose(speed, r * np.sin(omega * dt) / dt, rtol=1e-9)
    np.testing.assert_allclose(speed, r * omega, rtol=2e-3)
    length = compute_path_length(pos).squeeze()
    chord = 2 * r * np.sin(omega * dt / 2)
    np.testing.assert_allclose(length, (n - 1) * chord, rtol=1e-9)
    np.testing.assert_allclose(length, 4 * 2 * np.pi * r, rtol=1e-3)
    assert length.attrs["units"] == "px"
    # start/stop are times in seconds, inclusive: 0..4 s (frames 0..100) are one turn.
    np.testing.assert_allclose(compute_path_length(pos, start=0.0, stop=4.0).squeeze(), 100 * chord, rtol=1e-9)


def test_nan_frames_propagate_and_path_length_policies():
    xy = np.stack([np.arange(10.0), np.zeros(10)], axis=1)
    xy[4] = np.nan
    pos = _positions(xy)
    vel = compute_velocity(pos).sel(space="x").squeeze().values
    assert np.isnan(vel[[3, 4, 5]]).all()
    np.testing.assert_allclose(vel[[0, 1, 2, 6, 7, 8, 9]], FPS)
    acc = compute_acceleration(pos).sel(space="x").squeeze().values
    assert np.isnan(acc[[3, 4, 5]]).all() and np.allclose(acc[[1, 2, 6, 7, 8]], 0)
    # ffill: the gap is crossed in a straight line (3 → 5 counts 2); drop: steps 3→4, 4→5 skipped.
    np.testing.assert_allclose(compute_path_length(pos, nan_policy="ffill").squeeze(), 9.0)
    np.testing.assert_allclose(compute_path_length(pos, nan_policy="drop").squeeze(), 7.0)
    # One coordinate missing makes the whole point missing.
    xy2 = xy.copy()
    xy2[4] = (4.0, np.nan)
    np.testing.assert_allclose(compute_path_length(_positions(xy2)).squeeze(), 9.0)
    # Leading NaN: nothing to fill from, not counted.
    xy3 = xy.copy()
    xy3[:2] = np.nan
    np.testing.assert_allclose(compute_path_length(_positions(xy3)).squeeze(), 7.0)
    with pytest.raises(ValueError, match="Expected nan_policy"):
        compute_path_length(pos, nan_policy="scale")


@pytest.mark.parametrize("chunk", [1, 7, 30])
def test_dask_chunked_input_matches_in_memory(chunk):
    rng = np.random.default_rng(0)
    xy = np.cumsum(rng.normal(size=(43, 2)), axis=0)
    xy[[10, 11, 20, 21, 22, 23, 24, 40]] = np.nan
    xy[0] = np.nan
    pos = _positions(xy, dtype=np.float32)
    lazy = pos.chunk(time=chunk)
    for func in (compute_velocity, compute_acceleration, compute_speed, compute_displacement):
        eager = func(pos)
        result = func(lazy)
        assert result.chunks is not None, f"{func.__name__} loaded the data"
        np.testing.assert_allclose(result.compute(), eager, rtol=1e-6, atol=1e-5)
        assert result.dtype == np.float32
    for policy in ("ffill", "drop"):
        lazy_len = compute_path_length(lazy, nan_policy=policy)
        assert lazy_len.chunks is not None
        np.testing.assert_allclose(lazy_len.compute(), compute_path_length(pos, nan_policy=policy), rtol=1e-5)


@pytest.mark.parametrize("with_frame", [True, False])
def test_nonuniform_time_uses_the_times_of_the_frames(with_frame):
    frames = np.array([0, 1, 2, 4, 5, 8, 9, 10])  # dropped frames
    t = frames / FPS
    pos = _positions(np.stack([7 * t**2, 3 * t], axis=1), frames=frames, with_frame=with_frame)
    vel = compute_velocity(pos)
    np.testing.assert_allclose(vel.sel(space="y"), 3.0, rtol=1e-9)
    np.testing.assert_allclose(vel.sel(space="x").squeeze(), np.gradient(7 * t**2, t), rtol=1e-9)
    np.testing.assert_allclose(compute_acceleration(pos).sel(space="x"), 14.0, rtol=1e-6)
    lazy = compute_acceleration(pos.chunk(time=3)).compute()
    np.testing.assert_allclose(lazy.sel(space="x"), 14.0, rtol=1e-6)


def test_time_in_seconds_or_frame_over_fps_and_units():
    xy = np.stack([np.arange(5.0), np.zeros(5)], axis=1)  # 1 mm a frame, frames 1/FPS s apart
    seconds_only = _positions(xy, fps=None, units="mm", with_frame=False)
    vel = compute_velocity(seconds_only)  # time in seconds needs no fps
    np.testing.assert_allclose(vel.sel(space="x"), FPS)
    assert vel.attrs["units"] == "mm/s"
    # with a frame coordinate, an explicit fps says how far apart the frames are
    np.testing.assert_allclose(compute_velocity(_positions(xy, units="mm"), fps=10).sel(space="x"), 10.0)
    # the dataset-level unit attribute of our stores is read when the array has none
    assert compute_velocity(seconds_only.assign_attrs(units=None, space_unit="cm")).attrs["units"] == "cm/s"
    with pytest.raises(ValueError, match="Expected a positive fps"):
        compute_velocity(_positions(xy), fps=0)
    with pytest.raises(ValueError, match="'space' dimension"):
        compute_velocity(seconds_only.isel(space=0))
    with pytest.raises(ValueError, match="Expected strictly increasing values in 'time'"):
        compute_velocity(seconds_only.assign_coords(time=[0.0, 0.1, 0.1, 0.2, 0.3]))
    assert seconds_only.attrs == {"space_unit": "mm"}  # inputs are not modified


def test_heading_body_axis_and_velocity():
    n = 8
    angle = np.linspace(-3, 3, n)
    tail = np.zeros((n, 2))
    snout = np.stack([np.cos(angle), np.sin(angle)], axis=1) * 20
    pos = xr.DataArray(
        np.stack([snout, tail], axis=2)[..., None],
        dims=("time", "space", "keypoints", "individuals"),
        coords={"time": np.arange(n) / FPS, "space": ["x", "y"], "keypoints": ["snout", "tailbase"], "individuals": ["m"]},
        attrs={"fps": FPS},
    )
    heading = compute_heading(pos, from_keypoint="tailbase", to_keypoint="snout")
    assert heading.dims == ("time", "individuals") and heading.attrs["units"] == "rad"
    np.testing.assert_allclose(heading.squeeze(), angle, atol=1e-12)
    moving = _uniform(v=(0.0, -5.0))
    np.testing.assert_allclose(compute_heading(moving), -np.pi / 2)
    still = _positions(np.ones((5, 2)))
    assert np.isnan(compute_heading(still)).all()
    with pytest.raises(ValueError, match="keypoint 'nose'"):
        compute_heading(pos, from_keypoint="tailbase", to_keypoint="nose")


def test_distance_between_individuals_and_keypoints():
    t = np.arange(20.0)
    data = np.zeros((20, 2, 1, 2))
    data[:, 0, 0, 0] = t
    data[:, 0, 0, 1] = t + 3
    data[:, 1, 0, 1] = 4
    pos = xr.DataArray(
        data,
        dims=("time", "space", "keypoints", "individuals"),
        coords={"time": np.arange(20) / FPS, "space": ["x", "y"], "keypoints": ["body"], "individuals": ["m1", "m2"]},
        attrs={"fps": FPS},
    )
    dist = compute_distance(pos.sel(individuals="m1"), pos.sel(individuals="m2"))
    assert dist.dims == ("time", "keypoints")
    np.testing.assert_allclose(dist, 5.0)
    lazy = compute_distance(pos.chunk(time=6).sel(individuals="m1"), pos.chunk(time=6).sel(individuals="m2"))
    np.testing.assert_allclose(lazy.compute(), 5.0)


def test_scale_to_mm():
    pos = _uniform(n=10)
    mm = scale_to_mm(pos, 0.25)
    assert mm.attrs["space_unit"] == "mm"
    np.testing.assert_allclose(mm, pos * 0.25)
    assert compute_velocity(mm).attrs["units"] == "mm/s"
    np.testing.assert_allclose(compute_velocity(mm).sel(space="x"), 7.5)
    with pytest.raises(ValueError, match="Expected position in 'px'"):
        scale_to_mm(mm, 2.0)
    with pytest.raises(ValueError, match="pixel_size_mm"):
        scale_to_mm(pos, -1.0)
