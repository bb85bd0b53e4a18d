"""Human pose through the distributed inference: MediaPipe as a Ray predictor into a keypoint store."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import xarray as xr

from deepbehavior.cohort import cohort_from_videos
from deepbehavior.config import RayConfig
from deepbehavior.formats.openpose import OPENPOSE_KEYPOINTS
from deepbehavior.runtime.environment import start_ray
from deepbehavior.runtime.inference import infer_cohort
from deepbehavior.video import write_video

pytest.importorskip("mediapipe", reason="needs mediapipe==0.10.21 (scripts/setup.sh installs it)")
ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"


def test_mediapipe_backend_writes_openpose_layout_store(tmp_path):
    bus = cv2.resize(cv2.imread(str(ASSETS / "bus.jpg")), (480, 640))  # portrait photo of people standing
    video = write_video(tmp_path / "bus.mp4", [bus] * 4, fps=10)
    start_ray(RayConfig(num_cpus=2))
    report = infer_cohort(cohort_from_videos([video]), tmp_path / "out", backend="mediapipe", backend_kwargs={},
                          chunk=2, frames_per_batch=2, printer=lambda m: None)
    assert report.failures == [] and report.frames == 4
    ds = xr.open_zarr(tmp_path / "out" / "stores" / "bus_s1.zarr")
    assert ds.attrs["ds_type"] == "poses" and ds.attrs["model"]["layout"] == "openpose_body25_hands"
    assert list(ds["keypoints"].values) == list(OPENPOSE_KEYPOINTS)
    position = ds["position"].isel(individuals=0)
    for name in ("Nose", "RShoulder", "LShoulder", "MidHip"):
        xy = position.sel(keypoints=name).values  # (space, time)
        assert np.isfinite(xy).all(), name
        assert ((xy[0] >= 0) & (xy[0] < 480) & (xy[1] >= 0) & (xy[1] < 640)).all(), name
    # Seen from the front, a person's right shoulder is on the image's left.
    assert (position.sel(keypoints="RShoulder", space="x") < position.sel(keypoints="LShoulder", space="x")).all()
