"""The OpenPose layout and the mappings into it, point by point, against FORMATS.md and the sources' docs."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.models import pose_layout as L

# FORMATS.md, "BODY_25 order", written out independently of the module.
BODY_25_DOC = """0 Nose, 1 Neck, 2 RShoulder, 3 RElbow, 4 RWrist, 5 LShoulder, 6 LElbow, 7 LWrist,
8 MidHip, 9 RHip, 10 RKnee, 11 RAnkle, 12 LHip, 13 LKnee, 14 LAnkle, 15 REye, 16 LEye, 17 REar,
18 LEar, 19 LBigToe, 20 LSmallToe, 21 LHeel, 22 RBigToe, 23 RSmallToe, 24 RHeel"""

# Each layout body point -> the name the source gives it (None: the source lacks it / derived).
COCO_EXPECTED = {
    "Nose": "nose", "Neck": None, "RShoulder": "right_shoulder", "RElbow": "right_elbow",
    "RWrist": "right_wrist", "LShoulder": "left_shoulder", "LElbow": "left_elbow", "LWrist": "left_wrist",
    "MidHip": None, "RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "LHip": "left_hip",
    "LKnee": "left_knee", "LAnkle": "left_ankle", "REye": "right_eye", "LEye": "left_eye", "REar": "right_ear",
    "LEar": "left_ear", "LBigToe": None, "LSmallToe": None, "LHeel": None, "RBigToe": None,
    "RSmallToe": None, "RHeel": None,
}
MEDIAPIPE_EXPECTED = {
    **{k: v for k, v in COCO_EXPECTED.items() if v is not None},
    "LBigToe": "left_foot_index", "LHeel": "left_heel", "RBigToe": "right_foot_index", "RHeel": "right_heel",
}
# The public index lists of the two models (COCO keypoints; MediaPipe pose landmarks).
COCO_INDEX = {"nose": 0, "left_eye": 1, "right_eye": 2, "left_ear": 3, "right_ear": 4, "left_shoulder": 5,
              "right_shoulder": 6, "left_elbow": 7, "right_elbow": 8, "left_wrist": 9, "right_wrist": 10,
              "left_hip": 11, "right_hip": 12, "left_knee": 13, "right_knee": 14, "left_ankle": 15,
              "right_ankle": 16}
MEDIAPIPE_INDEX = {"nose": 0, "left_eye": 2, "right_eye": 5, "left_ear": 7, "right_ear": 8, "left_shoulder": 11,
                   "right_shoulder": 12, "left_elbow": 13, "right_elbow": 14, "left_wrist": 15, "right_wrist": 16,
                   "left_hip": 23, "right_hip": 24, "left_knee": 25, "right_knee": 26, "left_ankle": 27,
                   "right_ankle": 28, "left_heel": 29, "right_heel": 30, "left_foot_index": 31,
                   "right_foot_index": 32}


def test_body_25_names_follow_openpose_order():
    expected = [entry.split()[1] for entry in BODY_25_DOC.replace("\n", " ").split(", ")]
    assert [int(entry.split()[0]) for entry in BODY_25_DOC.replace("\n", " ").split(", ")] == list(range(25))
    assert list(L.BODY_25) == expected
    assert len(L.KEYPOINT_NAMES) == 67 == len(set(L.KEYPOINT_NAMES))
    assert L.KEYPOINT_NAMES[25] == "LHandWrist" and L.KEYPOINT_NAMES[46] == "RHandWrist"
    # Hand: 0 wrist, 1-4 thumb, 5-8 index, 9-12 middle, 13-16 ring, 17-20 pinky; tips at 4, 8, ..., 20.
    for finger, start in (("Thumb", 1), ("Index", 5), ("Middle", 9), ("Ring", 13), ("Pinky", 17)):
        assert all(L.HAND_21[start + j].startswith(finger) for j in range(4))
        assert L.HAND_21[start + 3] == f"{finger}Tip"


def test_edges_join_the_expected_points():
    names = L.KEYPOINT_NAMES
    pairs = {frozenset((names[a], names[b])) for a, b in L.EDGES}
    assert len(L.EDGES) == 24 + 2 * 20 == len(pairs)
    for a, b in [("Neck", "MidHip"), ("RShoulder", "RElbow"), ("RElbow", "RWrist"), ("LKnee", "LAnkle"),
                 ("Nose", "REye"), ("REye", "REar"), ("LAnkle", "LBigToe"), ("RAnkle", "RHeel"),
                 ("LHandWrist", "LHandThumbCMC"), ("LHandThumbIP", "LHandThumbTip"),
                 ("RHandWrist", "RHandPinkyMCP"), ("RHandPinkyDIP", "RHandPinkyTip")]:
        assert frozenset((a, b)) in pairs
    assert frozenset(("LHandThumbTip", "LHandIndexMCP")) not in pairs
    # Every point is on the skeleton except the hands' links to the body (OpenPose draws them apart).
    assert {i for edge in L.EDGES for i in edge} == set(range(67))


@pytest.mark.parametrize(("source", "expected", "index"), [
    ("coco17", COCO_EXPECTED, COCO_INDEX),
    ("mediapipe_holistic", MEDIAPIPE_EXPECTED, MEDIAPIPE_INDEX),
])
def test_body_mapping_point_by_point(source, expected, index):
    names, _ = L.SOURCES[source]
    n = len(names)
    # Each source point gets a unique, recognisable position: x = 10 * index, y = 1000 + index.
    xy = np.stack([np.arange(n) * 10.0, 1000.0 + np.arange(n)], axis=-1)
    conf = np.linspace(0.2, 0.9, n)
    out, out_conf = L.to_layout(xy, conf, source=source)
    assert out.shape == (67, 2) and out_conf.shape == (67,)
    assert out.dtype == np.float32
    for k, name in enumerate(L.BODY_25):
        source_name = expected.get(name)
        if name in ("Neck", "MidHip"):
            continue
        if source_name is None:
            assert np.isnan(out[k]).all() and np.isnan(out_conf[k]), name
        else:
            i = index[source_name]
            assert names[i] == source_name
            np.testing.assert_allclose(out[k], [10.0 * i, 1000.0 + i], err_msg=name)
            assert out_conf[k] == pytest.approx(conf[i], abs=1e-6), name


def test_mediapipe_hands_map_in_order_and_coco_has_none():
    xy = np.stack([np.arange(75) * 10.0, np.zeros(75)], axis=-1)
    out, conf = L.to_layout(xy, np.ones(75), source="mediapipe_holistic")
    for j in range(21):
        assert out[25 + j, 0] == 10.0 * (33 + j)  # left hand after the 33 body landmarks
        assert out[46 + j, 0] == 10.0 * (54 + j)  # then the right hand
    coco, coco_conf = L.to_layout(np.zeros((17, 2)), np.ones(17), source="coco17")
    assert np.isnan(coco[25:]).all() and np.isnan(coco_conf[25:]).all()


def test_derived_points_are_midpoints_only_when_both_parents_exist():
    xy = np.full((3, 17, 2), np.nan)
    conf = np.full((3, 17), np.nan)
    # Frame 0: both shoulders and hips; frame 1: left shoulder missing; frame 2: nothing.
    xy[0, 5], xy[0, 6], xy[0, 11], xy[0, 12] = (10, 20), (30, 40), (0, 100), (4, 110)
    conf[0, [5, 6, 11, 12]] = (0.9, 0.7, 0.5, 0.6)
    xy[1, 6], xy[1, 11], xy[1, 12] = (30, 40), (0, 100), (4, 110)
    conf[1, [6, 11, 12]] = 1.0
    out, out_conf = L.to_layout(xy, conf, source="coco17")
    neck, mid_hip = L.KEYPOINT_NAMES.index("Neck"), L.KEYPOINT_NAMES.index("MidHip")
    np.testing.assert_allclose(out[0, neck], (20, 30))
    np.testing.assert_allclose(out[0, mid_hip], (2, 105))
    assert out_conf[0, neck] == pytest.approx(0.7) and out_conf[0, mid_hip] == pytest.approx(0.5)
    assert np.isnan(out[1, neck]).all() and np.isnan(out_conf[1, neck])
    np.testing.assert_allclose(out[1, mid_hip], (2, 105))
    assert np.isnan(out[2]).all() and np.isnan(out_conf[2]).all()
    assert L.derived_points("coco17") == ("Neck", "MidHip") == L.derived_points("mediapipe_holistic")


def test_leading_dimensions_are_kept_and_inputs_untouched():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (4, 3, 17, 2))
    conf = rng.uniform(0, 1, (4, 3, 17))
    before = xy.copy()
    out, out_conf = L.to_layout(xy, conf, source="coco17")
    assert out.shape == (4, 3, 67, 2) and out_conf.shape == (4, 3, 67)
    np.testing.assert_array_equal(xy, before)
    np.testing.assert_allclose(out[2, 1, L.KEYPOINT_NAMES.index("LKnee")], xy[2, 1, 13], rtol=1e-6)


def test_point_without_position_has_no_confidence():
    xy = np.zeros((17, 2))
    xy[0] = np.nan
    out, conf = L.to_layout(xy, np.ones(17), source="coco17")
    assert np.isnan(conf[0]) and conf[2] == 1.0


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(points=np.zeros((16, 2)), confidence=np.zeros(16), source="coco17"), "coco17 points of shape"),
    (dict(points=np.zeros((17, 2)), confidence=np.zeros(3), source="coco17"), "confidence of shape"),
    (dict(points=np.zeros((17, 2)), confidence=np.zeros(17), source="openpifpaf"), "keypoint source among"),
])
def test_bad_input_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        L.to_layout(kwargs.pop("points"), kwargs.pop("confidence"), **kwargs)
