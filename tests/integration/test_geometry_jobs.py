import subprocess
import sys

import numpy as np

from deepbehavior import schema
from deepbehavior.geometry import Camera, CameraGroup
from deepbehavior.geometry.calib_io import load_calibration, save_calibration
from deepbehavior.store import create_store, open_store, regions, write_region


def test_calibrate_job_on_opencv_stereo(shared_data, tmp_path):
    from jobs.calibrate import main
    from deepbehavior.config import BoardConfig, CalibrateJob

    folder = shared_data / "stereo-chessboard/opencv"
    cfg = CalibrateJob(out=str(tmp_path), cameras=["left", "right"],
                       sources=[str(folder / "left*.jpg"), str(folder / "right*.jpg")],
                       board=BoardConfig(columns=9, rows=6, square_size=25.0))
    main.run(cfg)
    group = load_calibration(tmp_path / "calibration.toml")
    assert group.names == ["left", "right"]
    assert group.metadata["error"] < 0.5
    assert (tmp_path / "calibration.png").stat().st_size > 0
    np.testing.assert_allclose(load_calibration(tmp_path / "calibration.yml").cameras[1].tvec, group.cameras[1].tvec)


def test_triangulate_job_cli(tmp_path):
    cams = [Camera(name="a", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]], tvec=[0, 0, 1000]),
            Camera(name="b", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   rvec=[0, -0.5, 0], tvec=[400, 0, 1100])]
    group = CameraGroup(cams)
    calib = save_calibration(group, tmp_path / "rig.toml")
    world = np.random.default_rng(0).uniform(-100, 100, size=(60, 3, 1, 3))
    pixels = np.moveaxis(group.project(world), (0, -1), (-1, 1))
    ds = schema.make_poses(pixels, fps=30.0, views=group.names)
    store = create_store(tmp_path / "2d.zarr", ds, chunk=25)
    for region in regions(store):
        part = ds.sel(view=region.view).isel(time=slice(region.start, region.stop))
        write_region(store, part, region)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "triangulate", f"out={out}", f"store={store}",
                          f"calibration={calib}", "movie_frames=5"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    back = open_store(out / "poses3d.zarr")
    got = back["position"].transpose("time", "keypoints", "individuals", "space").values
    np.testing.assert_allclose(got, world, atol=1e-3)
    assert (out / "trajectories3d.png").exists() and (out / "skeleton3d.mp4").exists()


def _write_2d_store(path, group, world, *, chunk=25):
    """A 2D poses store of ``world`` points ``(time, keypoint, individual, 3)`` seen by ``group``."""
    pixels = np.moveaxis(group.project(world), (0, -1), (-1, 1))
    ds = schema.make_poses(pixels, fps=30.0, views=group.names)
    store = create_store(path, ds, chunk=chunk)
    for region in regions(store):
        write_region(store, ds.sel(view=region.view).isel(time=slice(region.start, region.stop)), region)
    return store


def test_triangulate_job_over_a_cohort_records_the_broken_session(tmp_path):
    import json

    import pytest
    import yaml

    from deepbehavior.config import TriangulateJob
    from jobs.triangulate import main

    cams = [Camera(name="front", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   dist=[-0.2, 0.05, 0.0, 0.0, 0.0], tvec=[0, 0, 1000]),
            Camera(name="side", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   rvec=[0, -0.6, 0], tvec=[500, 0, 1100])]
    group = CameraGroup(cams)
    good_calib = save_calibration(group, tmp_path / "rig.toml")
    # the second session's calibration names other cameras: its views cannot be matched
    wrong = CameraGroup([c.replace(name=n) for c, n in zip(cams, ["left", "right"])])
    bad_calib = save_calibration(wrong, tmp_path / "other.toml")
    stores = tmp_path / "stores"
    world = np.random.default_rng(1).uniform(-100, 100, size=(40, 2, 1, 3))
    _write_2d_store(stores / "m1_d1.zarr", group, world)
    _write_2d_store(stores / "m2_d1.zarr", group, world[::-1].copy())
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "t", "sessions": [
        {"subject": "m1", "session": "d1", "videos": {"front": "f1.mp4", "side": "s1.mp4"}},
        {"subject": "m2", "session": "d1", "videos": {"front": "f2.mp4", "side": "s2.mp4"},
         "calibration": str(bad_calib)},
    ]}))
    out = tmp_path / "out"
    cfg = TriangulateJob(out=str(out), cohort=str(manifest), stores=str(stores), calibration=str(good_calib))
    with pytest.raises(SystemExit) as exit_info:
        main.run(cfg)
    assert exit_info.value.code == 1
    back = open_store(out / "stores3d" / "m1_d1.zarr")
    got = back["position"].transpose("time", "keypoints", "individuals", "space").values
    np.testing.assert_allclose(got, world, atol=1e-3)
    assert not (out / "stores3d" / "m2_d1.zarr").exists()
    report = json.loads((out / "triangulate_report.json").read_text())
    assert report["written"] == ["m1_d1"]
    assert [f["session"] for f in report["failures"]] == ["m2_d1"]
    assert "front" in report["failures"][0]["error"] and report["failures"][0]["calibration"] == str(bad_calib)

    # rerun: the finished session is skipped, the broken one fails again, via the CLI
    res = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "triangulate", f"out={out}", f"cohort={manifest}",
                          f"stores={stores}", f"calibration={good_calib}"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    assert "m2_d1" in res.stderr.splitlines()[-1]
    report = json.loads((out / "triangulate_report.json").read_text())
    assert report["skipped"] == ["m1_d1"] and report["written"] == []


def test_triangulate_job_needs_store_or_cohort(tmp_path):
    import pytest

    from deepbehavior.config import TriangulateJob
    from jobs.triangulate import main

    with pytest.raises(ValueError, match="either store"):
        main.run(TriangulateJob(out=str(tmp_path)))
