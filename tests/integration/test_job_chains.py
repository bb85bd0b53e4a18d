"""Every path a user walks between jobs, with the command line, on real data (issue 31):

- infer (a short clip of ``sleap-flies/centered_pair_small.mp4``) -> track (the command infer
  suggests) -> analyze (which reads the tracked stores and says so) and export;
- import (``sleap-flies/centered_pair_predictions.slp``: 2 real tracks + 25 fragments) -> track, which
  refuses identities in one line naming the command that re-tracks them -> that command -> track ->
  export;
- calibrate (``stereo-chessboard/opencv``) -> triangulate (the chessboard's detected corners) ->
  analyze and export.

Each later job must accept what the earlier one wrote, and still refuse an unfinished store.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _cli(*args: str, cwd: Path) -> tuple[int, str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "deepbehavior.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=env)
    return done.returncode, done.stdout, done.stderr.strip()


def _ok(*args: str, cwd: Path) -> str:
    code, out, err = _cli(*args, cwd=cwd)
    assert code == 0, f"{args[0]} exited {code}: {err}"
    return out


def _command(text: str, job: str) -> list[str]:
    """The arguments of the first ``deepbehavior <job> ...`` command suggested in ``text`` (up to the
    end of the line, a ``,`` or a `` (``)."""
    found = re.search(rf"deepbehavior {job} (.+?)(?:,| \(|$)", text, re.M)
    assert found, f"no 'deepbehavior {job}' command in: {text}"
    return [job, *shlex.split(found.group(1))]


def _unfinish(store: Path) -> None:
    """Take one done marker away: the store now reads as a run that was stopped."""
    markers = sorted((Path(f"{store}.progress") / "done").iterdir())
    assert markers, f"{store} has no done markers"
    markers[-1].unlink()


def _export_everywhere(store: Path, out: Path, cwd: Path, formats: tuple[str, ...]) -> None:
    for fmt in formats:
        text = _ok("export", f"store={store}", f"out={out}", f"format={fmt}", cwd=cwd)
        written = [Path(line.split(" -> ")[1].rsplit(" (", 1)[0]) for line in text.splitlines() if " -> " in line]
        assert written and all(p.exists() for p in written), text


def _slots_in_most_frames(position: np.ndarray) -> int:
    """Mode of the number of slots with a position per frame (frames with one or more), from the raw
    array ``(time, space, keypoints, individuals)``: what a user would count by hand."""
    counts = np.isfinite(position).all(axis=1).any(axis=1).sum(axis=1)
    counts = counts[counts > 0]
    return int(np.bincount(counts).argmax())


@pytest.fixture(scope="module")
def clip(shared_data, tmp_path_factory) -> Path:
    """The first 30 frames of the real two-fly video, as their own file."""
    import cv2

    folder = tmp_path_factory.mktemp("clip")
    source = cv2.VideoCapture(str(shared_data / "sleap-flies" / "centered_pair_small.mp4"))
    fps = source.get(cv2.CAP_PROP_FPS)
    ok, frame = source.read()
    writer = cv2.VideoWriter(str(folder / "flies.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                             (frame.shape[1], frame.shape[0]))
    for _ in range(30):
        assert ok
        writer.write(frame)
        ok, frame = source.read()
    writer.release()
    return folder / "flies.mp4"


def test_infer_then_the_suggested_track_then_analyze_and_export(clip, tmp_path):
    from movement.io import load_poses

    from deepbehavior.store import open_store
    from tests.helpers.models import random_yolo

    weights = random_yolo(tmp_path / "pose.pt", "yolo11n-pose.yaml")
    run = tmp_path / "run"
    out = _ok("infer", f"out={run}", f"videos=[{clip}]", f"model.weights={weights}", "model.backend=yolo_pose",
              "model.imgsz=128", "model.conf=0.0", "model.max_individuals=3", "store.chunk=10", "runner=local",
              cwd=tmp_path)
    stores = sorted((run / "stores").glob("*.zarr"))
    assert len(stores) == 1
    expected = _slots_in_most_frames(open_store(stores[0])["position"].values)
    track = _command(out, "track")
    assert f"track.n_identities={max(expected, 1)}" in track, out
    # The store records its video: frames needs no videos=[...] to pick a refinement round from it.
    picked = _ok("frames", f"out={tmp_path / 'project'}", f"stores=[{stores[0]}]", "method=uncertain", "n=3",
                 "min_gap=2", "candidates=30", cwd=tmp_path)
    assert len(list((tmp_path / "project" / "frames").iterdir())) == 3, picked

    _ok(*track, cwd=tmp_path)
    tracked = run / "tracked" / stores[0].name
    assert open_store(tracked).sizes["individuals"] == max(expected, 1)

    analyzed = _ok("analyze", f"out={run}", f"cohort={run / 'cohort.yaml'}", "figures=false", cwd=tmp_path)
    assert f"reading stores from {run / 'tracked'}" in analyzed, analyzed
    table = pd.read_csv(run / "measures.csv")
    assert len(table) > 0 and table["value"].notna().any(), table

    _export_everywhere(tracked, tmp_path / "exports", tmp_path, formats=("dlc", "nwb"))
    back = load_poses.from_dlc_file(tmp_path / "exports" / f"{tracked.stem}.csv", fps=15)
    np.testing.assert_allclose(back["position"].transpose("time", "space", "keypoints", "individuals").values,
                               open_store(tracked)["position"].transpose("time", "space", "keypoints",
                                                                         "individuals").values, atol=1e-3)

    # Tidy folders: Hydra's records in one place, no empty logs.
    assert (run / ".hydra" / "config.yaml").exists() and not (run / ".hydra" / ".hydra").exists()
    assert not [p for p in run.rglob("*.log") if p.stat().st_size == 0]

    _unfinish(tracked)
    code, _, err = _cli("export", f"store={tracked}", f"out={tmp_path / 'again'}", "format=csv", cwd=tmp_path)
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"Expected a complete Zarr store at {tracked}, but 1 of its" in err, err


def test_import_fragmented_sleap_tracks_then_retrack_then_export(shared_data, tmp_path):
    import sleap_io

    from deepbehavior.store import open_store

    slp = shared_data / "sleap-flies" / "centered_pair_predictions.slp"
    run = tmp_path / "run"
    imported = _ok("import", f"source={slp}", f"out={run}", cwd=tmp_path)
    store = run / "stores" / "centered_pair_predictions.zarr"
    labels = sleap_io.load_slp(str(slp))
    assert open_store(store).sizes["individuals"] == len(labels.tracks)  # identities kept by default
    assert "tracks=slots" in imported and "min_track_frames=" in imported, imported

    code, _, err = _cli("track", f"store={store}", f"out={run}", cwd=tmp_path)
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    reimport = _command(err, "import")
    assert "tracks=slots" in reimport and "force=true" in reimport

    again = _ok(*reimport, cwd=tmp_path)
    slots = open_store(store)
    assert slots.attrs["individuals_are"] == "slots"
    # Every instance of the file is in a slot (none lost to the conversion).
    instances = sum(len(lf.instances) for lf in labels.labeled_frames)
    present = np.isfinite(slots["position"].values).all(axis=1).any(axis=1)
    assert int(present.sum()) == instances
    track = _command(again, "track")
    assert "track.n_identities=2" in track  # two flies in most frames of the file
    _ok(*track, cwd=tmp_path)
    tracked = run / "tracked" / "centered_pair_predictions.zarr"
    ds = open_store(tracked)
    assert ds.sizes["individuals"] == 2 and ds.sizes["time"] == 1100
    good = pd.read_csv(run / "track_summary.csv")
    # A rerun that fails (other settings, no force=true) keeps the good row and says why.
    code, _, err = _cli("track", f"store={store}", f"out={run}", "track.n_identities=2", "track.max_jump=50",
                        cwd=tmp_path)
    assert code == 1, err
    after = pd.read_csv(run / "track_summary.csv")
    assert after.loc[0, "status"] == "kept" and "track.max_jump was" in after.loc[0, "error"]
    columns = ["frames", "swaps_repaired", "missing_frames", "extra_frames"]
    assert after[columns].equals(good[columns])

    _export_everywhere(tracked, tmp_path / "exports", tmp_path, formats=("sleap",))
    back = sleap_io.load_slp(str(tmp_path / "exports" / "centered_pair_predictions.slp"))
    assert len(back.tracks) == 2


def test_calibrate_then_triangulate_real_chessboard_then_analyze_and_export(shared_data, tmp_path):
    import cv2

    from deepbehavior import schema
    from deepbehavior.store import create_store, open_store, regions, write_region

    folder = shared_data / "stereo-chessboard" / "opencv"
    _ok("calibrate", f"out={tmp_path / 'calib'}", "cameras=[left,right]",
        f"sources=[{folder / 'left*.jpg'},{folder / 'right*.jpg'}]", "board.columns=9", "board.rows=6",
        "board.square_size=25.0", cwd=tmp_path)
    # The board's inner corners, found by OpenCV in each real image pair, are the 2D keypoints.
    pixels = []
    for left in sorted(folder.glob("left*.jpg")):
        pair = []
        for image in (left, left.with_name(left.name.replace("left", "right"))):
            grey = cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)
            found, corners = cv2.findChessboardCorners(grey, (9, 6))
            if not found:
                break
            corners = cv2.cornerSubPix(grey, corners, (11, 11), (-1, -1),
                                       (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.01))
            pair.append(corners.reshape(-1, 2))
        if len(pair) == 2:
            pixels.append(pair)
    pixels = np.asarray(pixels, dtype=float)  # (time, view, corner, xy)
    position = np.moveaxis(pixels, (1, 3), (-1, 1))[:, :, :, None, :]  # (time, space, keypoints, 1, view)
    ds = schema.make_poses(position, fps=1.0, views=["left", "right"],
                           keypoints=[f"c{i}" for i in range(position.shape[2])])
    stores = tmp_path / "run" / "stores"
    store = create_store(stores / "board_s1.zarr", ds, chunk=4)
    for region in regions(store):
        write_region(store, ds.sel(view=region.view).isel(time=slice(region.start, region.stop)), region)
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "board", "sessions": [
        {"subject": "board", "session": "s1", "videos": {"left": "left.mp4", "right": "right.mp4"}}]}))

    run = tmp_path / "run"
    _ok("triangulate", f"out={run}", f"cohort={manifest}", f"calibration={tmp_path / 'calib' / 'calibration.toml'}",
        "figure=false", cwd=tmp_path)
    three_d = run / "stores3d" / "board_s1.zarr"
    xyz = open_store(three_d)["position"].transpose("time", "keypoints", "space", ...).values[..., 0]
    # Ground truth: neighbouring inner corners of a row are one 25 mm square apart.
    rows = xyz.reshape(len(xyz), 6, 9, 3)
    spacing = np.linalg.norm(np.diff(rows, axis=2), axis=-1)
    assert abs(np.nanmedian(spacing) - 25.0) < 0.5, np.nanmedian(spacing)

    _ok("analyze", f"out={run}", f"cohort={manifest}", f"stores={run / 'stores3d'}", "figures=false", cwd=tmp_path)
    assert len(pd.read_csv(run / "measures.csv")) > 0
    _export_everywhere(three_d, tmp_path / "exports", tmp_path, formats=("csv",))
    table = pd.read_csv(tmp_path / "exports" / "board_s1.table.csv")
    assert len(table) > 0

    _unfinish(three_d)
    code, _, err = _cli("analyze", f"out={tmp_path / 'a2'}", f"cohort={manifest}", f"stores={run / 'stores3d'}",
                        "figures=false", cwd=tmp_path)
    assert code == 1 and "unfinished" in err, err
