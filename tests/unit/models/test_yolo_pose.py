"""The ultralytics pose backend: contract, COCO-17 → OpenPose wiring, weights files.

No pretrained weights may be downloaded here, so the network is ``yolo11n-pose.yaml`` with random
weights: these tests check shapes, the mapping and the contract, not whether people are found
(that is checked on real photos for the MediaPipe backend).
"""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepbehavior.models import pose_layout as L
from deepbehavior.offline import offline_ultralytics

ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
SETTINGS = dict(imgsz=160, conf=0.0, max_individuals=3, device="cpu", threads=1)


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    image = cv2.imread(str(ASSETS / "bus.jpg"))
    if image is None:
        pytest.skip(f"{ASSETS / 'bus.jpg'} is missing from the installed ultralytics")
    small = cv2.resize(image, (240, 320))
    return np.stack([small, small[:, ::-1].copy()])


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    offline_ultralytics()
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("yolo-pose") / "random-pose.pt"
    YOLO("yolo11n-pose.yaml").save(path)
    return path


@pytest.fixture(scope="module")
def predictor(weights):
    from deepbehavior.models.yolo_pose import YoloPosePredictor

    return YoloPosePredictor(str(weights), **SETTINGS)


def test_output_follows_the_contract(predictor, frames):
    batch = {"frames": frames, "frame": np.array([7, 8]), "video": np.array([1, 1])}
    out = predictor(batch)
    assert {"frame", "video", "keypoints", "keypoint_conf", "boxes", "box_conf", "class_index"} == set(out)
    np.testing.assert_array_equal(out["frame"], [7, 8])
    assert out["keypoints"].shape == (2, 3, 67, 2) and out["keypoints"].dtype == np.float32
    assert out["keypoint_conf"].shape == (2, 3, 67)
    assert out["boxes"].shape == (2, 3, 4)
    # With conf=0 every slot holds a (random) person; COCO has no hands and no feet.
    assert np.isfinite(out["box_conf"]).all()
    assert np.isnan(out["keypoints"][:, :, 25:]).all() and np.isnan(out["keypoint_conf"][:, :, 25:]).all()
    feet = [L.KEYPOINT_NAMES.index(n) for n in ("LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")]
    assert np.isnan(out["keypoints"][:, :, feet]).all()
    assert np.isfinite(out["keypoints"][:, :, :19]).all()
    assert "frames" in batch


def test_coco_points_land_on_their_openpose_names(predictor, frames):
    batch = {"frames": frames, "frame": np.array([0, 1])}
    coco = predictor._model(batch)  # the same network before mapping: 17 COCO points
    out = predictor(batch)
    assert coco["keypoints"].shape == (2, 3, 17, 2)
    pairs = {"Nose": 0, "LEye": 1, "REye": 2, "LEar": 3, "REar": 4, "LShoulder": 5, "RShoulder": 6,
             "LElbow": 7, "RElbow": 8, "LWrist": 9, "RWrist": 10, "LHip": 11, "RHip": 12, "LKnee": 13,
             "RKnee": 14, "LAnkle": 15, "RAnkle": 16}
    for name, i in pairs.items():
        k = L.KEYPOINT_NAMES.index(name)
        np.testing.assert_allclose(out["keypoints"][:, :, k], coco["keypoints"][:, :, i], err_msg=name)
        np.testing.assert_allclose(out["keypoint_conf"][:, :, k], coco["keypoint_conf"][:, :, i], err_msg=name)
    neck = out["keypoints"][:, :, L.KEYPOINT_NAMES.index("Neck")]
    np.testing.assert_allclose(neck, (coco["keypoints"][:, :, 5] + coco["keypoints"][:, :, 6]) / 2, rtol=1e-5)
    np.testing.assert_allclose(out["boxes"], coco["boxes"])


def test_describe(predictor, weights):
    description = predictor.describe()
    assert description.kind == "poses" and description.slots == 3
    assert description.keypoint_names == L.KEYPOINT_NAMES
    assert description.metadata["derived"] == ["Neck", "MidHip"]
    assert description.metadata["layout"] == "openpose_body25_hands"
    assert description.metadata["weights"] == str(weights)


def test_pickles_by_its_arguments(predictor, frames):
    copy = pickle.loads(pickle.dumps(predictor))
    batch = {"frames": frames, "frame": np.array([0, 1])}
    np.testing.assert_allclose(copy(batch)["keypoints"], predictor(batch)["keypoints"], rtol=1e-4, atol=1e-3)


def test_architecture_yaml_runs_with_random_weights(frames):
    from deepbehavior.models.yolo_pose import YoloPosePredictor

    model = YoloPosePredictor("yolo11n-pose.yaml", **{**SETTINGS, "max_individuals": 1})
    out = model({"frames": frames[:1], "frame": np.array([0])})
    assert out["keypoints"].shape == (1, 1, 67, 2)


def test_a_detection_model_is_refused():
    from deepbehavior.models.yolo_pose import YoloPosePredictor

    with pytest.raises(ValueError, match="Expected a pose model"):
        YoloPosePredictor("yolo11n.yaml", **SETTINGS)


def test_a_17_point_animal_model_keeps_its_own_keypoint_names(tmp_path, frames):
    """Issue 28: a pose model of 17 animal parts is not a person: no OpenPose names, no mapping."""
    offline_ultralytics()
    from ultralytics import YOLO

    from deepbehavior.models.yolo_pose import YoloPosePredictor

    names = [f"paw{i}" for i in range(17)]
    yolo = YOLO("yolo11n-pose.yaml")
    yolo.model.kpt_names = {0: names}  # what ultralytics' pose trainer keeps from data.yaml's kpt_names
    path = tmp_path / "animal-pose.pt"
    yolo.save(path)
    predictor = YoloPosePredictor(str(path), **SETTINGS)
    assert list(predictor.describe().keypoint_names) == names
    out = predictor({"frames": frames, "frame": np.array([0, 1]), "video": np.array([0, 0])})
    assert out["keypoints"].shape == (2, 3, 17, 2)
