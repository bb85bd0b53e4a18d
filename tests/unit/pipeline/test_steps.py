"""The pipeline steps as a notebook user calls them, on the real recordings and on synthetic truth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import deepbehavior as db


@pytest.fixture(scope="module")
def flies(shared_data):
    return db.load(shared_data / "sleap-flies" / "centered_pair_predictions.slp")


def test_load_track_analyze_on_real_flies(flies):
    report = db.track(flies, retrack=True, n_identities=2, max_jump=20)
    table = db.analyze(report.tracked, subject="flies").table
    # SLEAP's tracks 1 and 2 are the two flies and never exchange (test_tracking_known_answer):
    # our identities, found from its 27 fragments as anonymous slots, must follow them.
    ours = report.tracked["position"].sel(keypoints="thorax").values
    sleap = flies["position"].isel(individuals=[0, 1]).sel(keypoints="thorax").values
    same = (np.linalg.norm(ours - sleap, axis=1) < 1).all(axis=1).mean()
    assert same > 0.99
    assert report.summary["frames"] == flies.sizes["time"] == 1100
    assert list(table["unit"]) == ["px", "px/s", "px", "px/s"]
    assert (table["value"] > 0).all() and set(table["subject"]) == {"flies"}


def test_track_refuses_identities_unless_retracked_and_unknown_options(flies):
    with pytest.raises(ValueError, match="slots"):
        db.track(flies)
    with pytest.raises(TypeError, match="max_jmp"):
        db.track(flies, retrack=True, max_jmp=20)


def test_analyze_refuses_untracked_slots(flies):
    with pytest.raises(ValueError, match="track"):
        db.analyze(flies.assign_attrs(individuals_are="slots"))


def test_save_and_load_round_trip(flies, tmp_path):
    part = flies.isel(time=slice(0, 50), individuals=[0, 1]).load()
    [store] = db.save(part, tmp_path / "flies.zarr", chunk=20)
    back = db.load(store)
    np.testing.assert_array_equal(back["position"].values, part["position"].values)
    [slp] = db.save(part, tmp_path / "flies.slp", format="sleap")
    again = db.load(slp)
    np.testing.assert_allclose(again["position"].values, part["position"].values, atol=1e-3)
    with pytest.raises(FileExistsError):
        db.save(part, tmp_path / "flies.zarr")
    # A store whose writing stopped part way is refused by every step that reads a path, as by the jobs.
    from deepbehavior.store import IncompleteStoreError

    max(Path(f"{store}.progress", "done").iterdir()).unlink()
    for step in (db.load, lambda path: db.track(path, retrack=True), db.analyze):
        with pytest.raises(IncompleteStoreError, match="unfinished"):
            step(store)
    with pytest.raises(ValueError, match="format="):
        db.save(part, tmp_path / "flies.h5")


def test_calibrate_then_triangulate_real_chessboard(shared_data):
    from deepbehavior.config import Board
    from deepbehavior.geometry.calibration import detect_in_images
    from deepbehavior.schema import make_poses

    folder = shared_data / "stereo-chessboard" / "opencv"
    board = Board(columns=9, rows=6, square_size=25.0)
    images = {view: sorted(folder.glob(f"{view}[0-9]*.jpg")) for view in ("left", "right")}
    calibration = db.calibrate(images, board=board)
    position = np.full((13, 2, 54, 1, 2), np.nan)
    for v, view in enumerate(images):
        for t, found in enumerate(detect_in_images(images[view], board)[0]):
            if found is not None:
                position[t, :, found.ids, 0, v] = found.corners
    points = db.triangulate(make_poses(position, fps=1.0, views=list(images)), calibration.cameras)
    grid = points.points["position"].values[:, :, :, 0].reshape(13, 3, 6, 9)
    spacing = np.linalg.norm(np.diff(grid, axis=-1), axis=1)  # printed squares are 25 mm
    assert calibration.errors.rms < 1.0
    assert abs(np.nanmedian(spacing) - 25.0) < 0.25 and np.isfinite(spacing).sum() > 500


def test_triangulate_recovers_synthetic_3d_truth(tmp_path):
    from deepbehavior.synthetic.human_reach import human_reach_3d, write_session

    paths = write_session(tmp_path, noise_px=0.0, dropout=0.0, outlier_frames=())  # exact projections
    report = db.triangulate(paths["store"], paths["calibration"], out=tmp_path / "3d.zarr")
    truth = human_reach_3d()["position"].values
    found = db.load(report.path)["position"].values
    error = np.linalg.norm(found - truth, axis=1)  # mm
    assert np.nanmax(error) < 0.05 and report.suspect_cameras == []
    with pytest.raises(ValueError, match="method"):
        db.triangulate(paths["store"], paths["calibration"], method="best")
