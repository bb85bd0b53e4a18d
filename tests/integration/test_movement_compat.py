"""Stores written by every job open in ``movement`` 0.15 as they are, and movement's own functions
(validators, kinematics, filters, DLC/SLEAP/NWB/VIA exporters and loaders) work on them.

Each store is opened with plain ``xarray.open_zarr`` (what a user of movement would do), never
through our code. Velocities are checked against the true motion and against our kinematics.
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pytest
import xarray as xr

from deepbehavior import schema
from deepbehavior.analysis import kinematics as ours
from deepbehavior.config import RayConfig, StoreConfig, TrackConfig
from jobs.import_files import ImportJob
from jobs.track import TrackJob
from deepbehavior.store import create_store, regions, write_region

movement_kinematics = pytest.importorskip("movement.kinematics")
from movement import filtering  # noqa: E402
from movement.io import load_bboxes, load_poses, save_bboxes, save_poses  # noqa: E402
from movement.validators.datasets import ValidBboxesInputs, ValidPosesInputs  # noqa: E402

FPS = 30.0
N = 120


def _open(path) -> xr.Dataset:
    """A store as a movement user opens it: xarray only."""
    return xr.open_zarr(path)


def _same_velocity(ds: xr.Dataset) -> xr.DataArray:
    """movement's velocity of ``ds``, after checking it equals ours (both per second) and is lazy-safe."""
    theirs = movement_kinematics.compute_velocity(ds["position"]).compute()
    mine = ours.compute_velocity(ds["position"]).compute()
    assert theirs.dims == mine.dims
    both = np.isfinite(theirs.values) & np.isfinite(mine.values)
    assert both.mean() > 0.5, "too few frames where both velocities exist to compare"
    np.testing.assert_allclose(theirs.values[both], mine.values[both], rtol=1e-4, atol=1e-3)
    # where movement has a velocity ours has one too (ours only adds NaN beside missing points)
    assert not (np.isfinite(theirs.values) & ~np.isfinite(mine.values) & np.isfinite(ds["position"].values)).any()
    return theirs


def _round_trip_poses(ds: xr.Dataset, folder) -> None:
    """ours → DLC .h5 / SLEAP analysis .h5 / NWB → movement's loaders → the same arrays."""
    import pynwb
    from movement.io.nwb import NWBFileSaveConfig

    ds = ds.load()
    position = ds["position"].values
    dlc = folder / "poses.h5"
    save_poses.to_dlc_file(ds, dlc, split_individuals=False)
    back = load_poses.from_dlc_file(dlc, fps=ds.attrs["fps"])
    np.testing.assert_array_equal(back["position"].values, position)
    np.testing.assert_allclose(back["confidence"].values, ds["confidence"].values, equal_nan=True)
    np.testing.assert_allclose(back["time"].values, ds["time"].values - ds["time"].values[0], rtol=1e-12, atol=1e-12)
    assert list(back["keypoints"].values) == list(ds["keypoints"].values)
    assert list(back["individuals"].values) == list(ds["individuals"].values)

    sleap = folder / "poses.analysis.h5"
    save_poses.to_sleap_analysis_file(ds, sleap)
    back = load_poses.from_sleap_file(sleap, fps=ds.attrs["fps"])
    np.testing.assert_array_equal(back["position"].values, position)

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    files = save_poses.to_nwb_file(ds, NWBFileSaveConfig(nwbfile_kwargs={"session_start_time": start}))
    files = files if isinstance(files, list) else [files]
    assert len(files) == ds.sizes["individuals"]
    for k, nwbfile in enumerate(files):
        path = folder / f"poses_{k}.nwb"
        with pynwb.NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile)
        back = load_poses.from_nwb_file(path).sel(keypoints=ds["keypoints"].values)  # NWB keeps no order
        assert str(back["individuals"].values[0]) == str(ds["individuals"].values[k])
        np.testing.assert_allclose(back["position"].values[..., 0], position[..., k], rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(back["time"].values, ds["time"].values, rtol=1e-9)


# --------------------------------------------------------------------------------------------------
# import: a real DeepLabCut file


def test_imported_dlc_store_is_what_movement_reads_from_the_file(shared_data, tmp_path):
    from jobs.import_files import main

    source = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    if not source.exists():
        pytest.skip(f"{source} is missing")
    main.run(ImportJob(out=str(tmp_path), source=str(source), fps=FPS, name="openfield", store=StoreConfig(chunk=50)))
    ds = _open(tmp_path / "stores" / "openfield.zarr")
    ValidPosesInputs.validate(ds)
    assert ds["position"].dims == ("time", "space", "keypoints", "individuals")
    assert ds["position"].encoding["chunks"][0] == 50
    # movement's own reader of the same labels (it reads DLC's .h5 of them, not the labels .csv)
    reference = load_poses.from_dlc_file(source.with_suffix(".h5"), fps=FPS)
    np.testing.assert_allclose(ds["position"].values, reference["position"].values, rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(ds["time"].values, reference["time"].values)
    assert list(ds["keypoints"].values) == list(reference["keypoints"].values)
    _same_velocity(ds)
    _round_trip_poses(ds, tmp_path)


# --------------------------------------------------------------------------------------------------
# track: two animals with known, uniform motion along x


def _two_animals() -> np.ndarray:
    """(time, space, keypoints=[nose, tail], animal): A at +2 px/frame (60 px/s), B at −1 px/frame."""
    t = np.arange(N, dtype=float)
    truth = np.zeros((N, 2, 2, 2))
    for i, (x0, step, y) in enumerate(((40.0, 2.0, 100.0), (330.0, -1.0, 160.0))):
        x = x0 + step * t
        truth[:, 0, 0, i], truth[:, 0, 1, i] = x + 5, x - 5
        truth[:, 1, :, i] = y
    truth[50:53] = np.nan  # both unseen for three frames
    return truth


@pytest.fixture(scope="module")
def tracked_store(tmp_path_factory):
    from jobs.track import main as track

    folder = tmp_path_factory.mktemp("track")
    truth = _two_animals()
    order = np.array([np.random.default_rng(i).permutation(2) for i in range(N)])
    slots = np.take_along_axis(truth, order[:, None, None, :], axis=3)
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, size=(N, 2, 2))
    confidence[np.isnan(slots).any(axis=1)] = np.nan
    ds = schema.make_poses(slots, confidence, fps=FPS, keypoints=["nose", "tail"], individuals=["slot0", "slot1"],
                           views=["top"], individuals_are="slots")
    source = folder / "pair.zarr"
    create_store(source, ds, chunk=40)
    for region in regions(source):
        write_region(source, ds.isel(time=slice(region.start, region.stop)), region)
    track.run(TrackJob(out=str(folder / "out"), store=str(source), figures=False,
                       track=TrackConfig(n_identities=2, names=["a", "b"], max_jump=15)))
    return folder / "out" / "tracked" / "pair.zarr", truth


def test_tracked_store_velocity_is_per_second_in_movement(tracked_store):
    path, truth = tracked_store
    ds = _open(path)
    ValidPosesInputs.validate(ds)
    assert ds.attrs["time_unit"] == "seconds" and ds.attrs["space_unit"] == "px"
    velocity = _same_velocity(ds)
    a = 0 if np.allclose(ds["position"].values[0, 0, 0, 0], truth[0, 0, 0, 0]) else 1
    vx = velocity.sel(space="x").isel(individuals=a).values  # (time, keypoints)
    seen = np.isfinite(vx)
    assert seen.sum() > 200
    np.testing.assert_allclose(vx[seen], 2.0 * FPS, rtol=1e-4)  # 2 px/frame = 60 px/s
    # movement's norm (and pairwise distances) use apply_ufunc without dask: load the array first
    speed = movement_kinematics.compute_speed(ds["position"].load()).isel(individuals=1 - a).values
    np.testing.assert_allclose(speed[np.isfinite(speed)], 1.0 * FPS, rtol=1e-4)


def test_movement_filters_run_on_a_store(tracked_store):
    path, _ = tracked_store
    ds = _open(path)
    kept = filtering.filter_by_confidence(ds["position"], ds["confidence"], threshold=0.6).compute()
    low = (ds["confidence"] < 0.6).values | np.isnan(ds["confidence"].values)
    assert np.isnan(kept.values).any(axis=1)[low].all() and np.isfinite(kept.values).all(axis=1)[~low].all()
    # movement interpolates with xarray, which needs time in one chunk: a store is chunked along time
    filled = filtering.interpolate_over_time(ds["position"].load(), max_gap=3).values
    assert np.isfinite(filled).all()
    # the motion is linear, so the three hidden frames lie on the line between frames 49 and 53
    before, after = ds["position"].values[49], ds["position"].values[53]
    for k, frame in enumerate((50, 51, 52), start=1):
        np.testing.assert_allclose(filled[frame], before + (after - before) * k / 4, rtol=1e-5)
    smooth = filtering.savgol_filter(ds["position"].load(), window=5, polyorder=1)
    seen = np.isfinite(smooth.values) & np.isfinite(ds["position"].values)
    np.testing.assert_allclose(smooth.values[seen], ds["position"].values[seen], atol=1e-3)  # lines stay lines


def test_tracked_store_round_trips_through_movements_exporters(tracked_store, tmp_path):
    path, _ = tracked_store
    _round_trip_poses(_open(path), tmp_path)


# --------------------------------------------------------------------------------------------------
# triangulate: two calibrated cameras looking at known 3D points


def test_triangulated_store_is_a_3d_movement_dataset(tmp_path):
    from deepbehavior.geometry.calib_io import save_calibration
    from deepbehavior.geometry.camera import Camera, CameraGroup
    from deepbehavior.geometry.cohort3d import triangulate_session

    cams = [Camera(name="front", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]], tvec=[0, 0, 1000]),
            Camera(name="side", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   rvec=[0, -0.5, 0], tvec=[400, 0, 1100])]
    group = CameraGroup(cams, metadata={"unit": "mm"})
    calibration = save_calibration(group, tmp_path / "rig.toml")
    t = np.arange(60) / FPS
    world = np.zeros((60, 2, 1, 3))  # (time, keypoints, individuals, xyz) mm: uniform motion
    world[:, 0, 0] = np.stack([-50 + 90 * t, 10 + 0 * t, 20 - 30 * t], axis=1)  # (90, 0, −30) mm/s
    world[:, 1, 0] = world[:, 0, 0] + [0, 40, 0]
    pixels = np.moveaxis(group.project(world), (0, -1), (-1, 1))  # (time, space, keypoints, individuals, view)
    two_d = schema.make_poses(pixels, fps=FPS, views=group.names, keypoints=["paw", "elbow"])
    assert two_d["position"].dims[-1] == "view"
    source = tmp_path / "2d.zarr"
    create_store(source, two_d, chunk=25)
    for region in regions(source):
        write_region(source, two_d.sel(view=region.view).isel(time=slice(region.start, region.stop)), region)
    path = triangulate_session(source, calibration, tmp_path / "3d.zarr")
    ds = _open(path)
    ValidPosesInputs.validate(ds)
    assert ds["position"].dims == ("time", "space", "keypoints", "individuals") and ds.sizes["space"] == 3
    assert ds.attrs["space_unit"] == "mm"
    velocity = _same_velocity(ds)
    np.testing.assert_allclose(velocity.isel(keypoints=0, individuals=0).values,
                               np.tile([90.0, 0.0, -30.0], (60, 1)), atol=0.05)
    distance = movement_kinematics.compute_pairwise_distances(ds["position"].load(), dim="keypoints", pairs={"paw": "elbow"})
    np.testing.assert_allclose(distance.values, 40.0, atol=1e-2)


# --------------------------------------------------------------------------------------------------
# infer: boxes from a detector through Ray


def test_inferred_boxes_store_opens_as_movement_bboxes(tmp_path):
    from deepbehavior.synthetic import mice as synthetic
    from deepbehavior.cohort import Cohort, Session
    from deepbehavior.runtime.environment import start_ray
    from deepbehavior.runtime.inference import infer_cohort
    from tests.helpers.models import random_yolo

    video = synthetic.render_session(tmp_path / "v.mp4", frames=60, width=160, height=128, noise=0).video
    weights = random_yolo(tmp_path / "random.pt")
    cohort = Cohort("t", ("top",), (Session("m0", "g", "d1", {"top": video}),))
    ray = start_ray(RayConfig(num_cpus=2, num_gpus=0))
    try:
        report = infer_cohort(cohort, tmp_path / "run", backend="yolo", chunk=25, frames_per_batch=16,
                              backend_kwargs={"weights": str(weights), "imgsz": 160, "conf": 0.0,
                                              "max_individuals": 2, "threads": 1},
                              retries=1, printer=lambda m: None, progress_every=0)
    finally:
        ray.shutdown()
    assert report.failures == []
    ds = _open(tmp_path / "run" / "stores" / "m0_d1.zarr")
    ValidBboxesInputs.validate(ds)
    assert ds["position"].dims == ("time", "space", "individuals") and str(ds["view"].values) == "top"
    np.testing.assert_array_equal(ds["frame"].values, np.arange(60))
    _same_velocity(ds)
    via = save_bboxes.to_via_tracks_file(ds.load(), tmp_path / "boxes.csv")
    back = load_bboxes.from_via_tracks_file(via, fps=FPS)
    seen = np.isfinite(ds["position"].values)
    np.testing.assert_allclose(back["position"].values[seen], ds["position"].values[seen], atol=1e-3)
    np.testing.assert_allclose(back["shape"].values[seen], ds["shape"].values[seen], atol=1e-3)
