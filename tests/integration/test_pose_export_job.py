"""pose_export: MediaPipe poses of a real clip → store → OpenPose JSON files and a labelled video."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is not installed")

from deepbehavior import schema, store  # noqa: E402
from jobs.pose_export import PoseExportJob  # noqa: E402
from deepbehavior.formats.openpose import read_openpose  # noqa: E402
from deepbehavior.models import pose_layout as L  # noqa: E402
from deepbehavior.models.mediapipe_pose import MediaPipeHolisticPredictor  # noqa: E402
from deepbehavior.video import probe, read_frames, write_video  # noqa: E402
from jobs import pose_export  # noqa: E402

ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A 4-frame clip of the bus photo and its poses store, as ``infer`` would write it."""
    folder = tmp_path_factory.mktemp("pose-export")
    bus = cv2.imread(str(ASSETS / "bus.jpg"))
    if bus is None:
        pytest.skip("bus.jpg is missing from the installed ultralytics")
    # 405 x 540 keeps the photo's aspect; even sizes suit the mp4v codec.
    frame = cv2.resize(bus, (406, 540))
    video = write_video(folder / "bus_clip.mp4", [frame] * 4, fps=10.0)
    frames = read_frames(video, 0, 4)  # the decoded frames, as inference sees them
    model = MediaPipeHolisticPredictor()
    out = model({"frames": frames, "frame": np.arange(4)})
    model.close()
    description = model.describe()
    ds = schema.make_poses(
        out["keypoints"].transpose(0, 3, 2, 1), out["keypoint_conf"].transpose(0, 2, 1),
        fps=10.0, keypoints=description.keypoint_names, individuals=["slot0"], views=["cam"],
        individuals_are="slots",
    )
    path = store.create_store(folder / "bus_clip.zarr", ds, chunk=4)
    store.write_region(path, ds, store.Region("cam", 0, 0, 4))
    return {"video": video, "store": path, "keypoints": out["keypoints"], "conf": out["keypoint_conf"],
            "frames": frames}


def test_writes_openpose_json_and_a_labelled_video(recording, tmp_path):
    pose_export.main.run(PoseExportJob(out=str(tmp_path), store=str(recording["store"]),
                                       video=str(recording["video"])))
    files = sorted((tmp_path / "openpose").glob("*.json"))
    assert [f.name for f in files] == [f"bus_clip_{i:012d}_keypoints.json" for i in range(4)]
    back = read_openpose(tmp_path / "openpose", fps=10.0)
    xy = back["position"].sel(keypoints=list(L.KEYPOINT_NAMES)).isel(individuals=0).values  # (time, space, kp)
    expected = recording["keypoints"][:, 0].transpose(0, 2, 1)
    found = np.isfinite(expected)
    assert found[:, 0, L.KEYPOINT_NAMES.index("Nose")].all()
    np.testing.assert_allclose(xy[found], expected[found], atol=1e-2)

    labelled = tmp_path / "bus_clip_skeleton.mp4"
    assert probe(labelled).frames == 4
    drawn = read_frames(labelled, 0, 1)[0].astype(int)
    source = recording["frames"][0].astype(int)
    kp = recording["keypoints"][0, 0]
    # Halfway along the right upper arm the skeleton is drawn; far from the person nothing changed.
    a, b = kp[L.KEYPOINT_NAMES.index("RShoulder")], kp[L.KEYPOINT_NAMES.index("RElbow")]
    x, y = np.round((a + b) / 2).astype(int)
    assert np.abs(drawn[y - 1:y + 2, x - 1:x + 2] - source[y - 1:y + 2, x - 1:x + 2]).mean() > 30
    assert np.abs(drawn[20:60, 300:380] - source[20:60, 300:380]).mean() < 10


def test_cli_reports_a_missing_store_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "deepbehavior.cli", "pose_export", f"out={tmp_path}", f"store={tmp_path / 'none.zarr'}"],
        capture_output=True, text=True, env=env, timeout=120, cwd=REPO,
    )
    assert result.returncode == 2
    assert "Expected a Zarr store" in result.stderr and "Traceback" not in result.stderr
