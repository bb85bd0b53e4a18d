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
        part = ds.sel(view=[region.view]).isel(time=slice(region.start, region.stop))
        write_region(store, part, region)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "triangulate", f"out={out}", f"store={store}",
                          f"calibration={calib}", "movie_frames=5"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    back = open_store(out / "poses3d.zarr")
    got = back["position"].isel(view=0).transpose("time", "keypoint", "individual", "space").values
    np.testing.assert_allclose(got, world, atol=1e-3)
    assert (out / "trajectories3d.png").exists() and (out / "skeleton3d.mp4").exists()
