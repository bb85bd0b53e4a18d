import subprocess
import sys

import numpy as np

from deepbehavior import schema
from deepbehavior.geometry import Camera, CameraGroup
from deepbehavior.geometry.calib_io import load_calibration, save_calibration
from deepbehavior.store import create_store, open_store, regions, write_region
from tests.helpers.stores import write_2d_store as _write_2d_store


def test_calibrate_job_on_opencv_stereo(shared_data, tmp_path):
    from jobs.calibrate import main
    from deepbehavior.config import Board
    from jobs.calibrate import CalibrateJob

    folder = shared_data / "stereo-chessboard/opencv"
    cfg = CalibrateJob(out=str(tmp_path), cameras=["left", "right"],
                       sources=[str(folder / "left*.jpg"), str(folder / "right*.jpg")],
                       board=Board(columns=9, rows=6, square_size=25.0))
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


def test_triangulate_job_over_a_cohort_records_the_broken_session(tmp_path):
    import json

    import pytest
    import yaml

    from jobs.triangulate import TriangulateJob
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

    # Issue #15: other options, or another calibration, are not skipped as done
    from deepbehavior.config import TriangulateConfig

    with pytest.raises(SystemExit):
        main.run(TriangulateJob(out=str(out), cohort=str(manifest), stores=str(stores), calibration=str(good_calib),
                                triangulate=TriangulateConfig(min_confidence=0.9)))
    report = json.loads((out / "triangulate_report.json").read_text())
    assert report["skipped"] == [] and report["failures"][0]["session"] == "m1_d1"
    assert "triangulate.min_confidence was 0.0, but this run has 0.9" in report["failures"][0]["error"]
    moved = CameraGroup([c.replace(tvec=[0, 0, 1200]) if c.name == "front" else c for c in cams])
    save_calibration(moved, good_calib)
    with pytest.raises(SystemExit):
        main.run(cfg)
    report = json.loads((out / "triangulate_report.json").read_text())
    assert "calibration was" in report["failures"][0]["error"] and report["skipped"] == []


def test_triangulate_job_needs_store_or_cohort(tmp_path):
    import pytest

    from jobs.triangulate import TriangulateJob
    from jobs.triangulate import main

    with pytest.raises(ValueError, match="either store"):
        main.run(TriangulateJob(out=str(tmp_path)))


def test_triangulate_job_names_the_wrong_camera(tmp_path):
    """A 4-camera session whose calibration lists one camera twice (cam2 holds cam3's parameters):
    the job names cam2 in a warning and in the store, writes the per-camera table and figure, and
    robust mode recovers the skeleton as well as the three good cameras do."""
    import pandas as pd

    from deepbehavior.synthetic.camera_rigs import mouse_skeleton, perturb_camera, ring_rig

    rig = ring_rig(4)
    world = mouse_skeleton(120, seed=3)[:, :, None]  # (time, keypoint, individual, 3)
    pixels = np.moveaxis(rig.project(world), (0, -1), (-1, 1))
    pixels = pixels + np.random.default_rng(0).normal(scale=1.0, size=pixels.shape)
    ds = schema.make_poses(pixels, fps=60.0, views=rig.names)
    store = create_store(tmp_path / "2d.zarr", ds, chunk=50)
    for region in regions(store):
        write_region(store, ds.sel(view=region.view).isel(time=slice(region.start, region.stop)), region)
    calib = save_calibration(perturb_camera(rig, 2, "swap"), tmp_path / "wrong.toml")
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "triangulate", f"out={out}", f"store={store}",
                          f"calibration={calib}", "triangulate.method=robust"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "camera cam2" in warnings[0] and "views=[cam0,cam1,cam3]" in warnings[0]
    back = open_store(out / "poses3d.zarr")
    assert list(back.attrs["suspect_cameras"]) == ["cam2"]
    assert back["view_error"].dims[-1] == "camera" and list(back["camera"].values) == rig.names
    table = pd.read_csv(out / "poses3d_cameras.csv")
    assert set(table.camera) == set(rig.names) and len(table) == 4 * (14 + 1)
    overall = table[table.keypoint == "all"].set_index("camera")
    assert overall.loc["cam2", "median_error_px"] > 20 * overall.drop("cam2").median_error_px.max()
    assert overall.loc["cam2", "used"] < 0.2 * overall.loc["cam2", "observed"]
    assert (out / "poses3d_cameras.png").stat().st_size > 0
    assert "view" not in back["position"].dims and back.attrs["space_unit"] == "mm"
    got = back["position"].transpose("time", "keypoints", "individuals", "space").values
    per_keypoint = np.median(np.linalg.norm(got - world, axis=-1), axis=(0, 2))
    assert per_keypoint.max() < 2.0  # mm; 1 px noise, cameras 0.7-0.9 m away

    # leaving the named camera out, as the warning suggests: no warning, three cameras used
    res = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "triangulate", f"out={out}", f"store={store}",
                          f"calibration={calib}", "triangulate.views=[cam0,cam1,cam3]", "name=good.zarr"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "WARNING" not in res.stderr
    good = open_store(out / "good.zarr")
    assert list(good["camera"].values) == ["cam0", "cam1", "cam3"] and good.attrs["suspect_cameras"] == []


def test_calibrate_check_on_opencv_stereo(shared_data, tmp_path):
    """check=true on the real stereo pairs: the calibration made from them passes (sub-pixel, 25 mm
    squares); the same calibration with the right camera moved 20 mm across the baseline does not
    (a move along the baseline keeps the epipolar geometry and shows in the square size only)."""
    import json

    from deepbehavior.config import Board
    from jobs.calibrate import CalibrateJob
    from jobs.calibrate import main

    folder = shared_data / "stereo-chessboard/opencv"
    sources = [str(folder / "left*.jpg"), str(folder / "right*.jpg")]
    board = Board(columns=9, rows=6, square_size=25.0)
    main.run(CalibrateJob(out=str(tmp_path / "calib"), cameras=["left", "right"], sources=sources, board=board))
    calib = tmp_path / "calib" / "calibration.toml"
    main.run(CalibrateJob(out=str(tmp_path / "ok"), sources=sources, board=board, check=True, calibration=str(calib)))
    good = json.loads((tmp_path / "ok" / "calibration_check.json").read_text())
    assert set(good["cameras"]) == {"left", "right"}
    for row in good["cameras"].values():
        assert row["board_rms_px"] < 0.5 and row["consensus_median_px"] < 0.5 and row["board_frames"] >= 10
    assert abs(good["square_size_measured"] - 25.0) < 0.25
    assert "2 cameras" in good["note"]  # two cameras cannot outvote each other: said, not hidden

    group = load_calibration(calib)
    moved = CameraGroup([group.cameras[0], group.cameras[1].replace(tvec=group.cameras[1].tvec + [0, 20.0, 0])],
                        metadata=group.metadata)
    bad_calib = save_calibration(moved, tmp_path / "moved.toml")
    res = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "calibrate", f"out={tmp_path / 'bad'}",
                          "check=true", f"calibration={bad_calib}", f"sources=[{sources[0]},{sources[1]}]",
                          "board.columns=9", "board.rows=6", "board.square_size=25"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    bad = json.loads((tmp_path / "bad" / "calibration_check.json").read_text())
    assert bad["cameras"]["right"]["consensus_median_px"] > 10 * good["cameras"]["right"]["consensus_median_px"]
    assert "camera left" in res.stdout and "against the other cameras" in res.stdout
