"""The OpenPose keypoint layout of human pose (BODY_25 + left hand 21 + right hand 21 = 67 points).

DeepBehavior's human analyses read OpenPose output, so every human pose backend here writes this one
layout whatever its own model predicts: points are named and ordered as OpenPose's BODY_25, then the
left hand, then the right hand (hand order: wrist; thumb CMC, MCP, IP, tip; index, middle, ring and
pinky MCP, PIP, DIP, tip), named ``LHandThumbCMC`` and so on. "Left" and "right" are the person's
own sides.

A backend's points map to the layout through a table ``{layout name: source index}``; layout points
the backend lacks stay NaN. OpenPose's Neck and MidHip have no counterpart in COCO or MediaPipe, so
they are *derived*: the midpoint of the two shoulders (hips), present only where both are.

How to add a backend's layout: write its point names in its own order, a table from layout names to
those indices, add both to ``SOURCES`` and test the table point by point.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

LAYOUT = "openpose_body25_hands"

BODY_25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
# Hand names as deepbehavior.formats.openpose reads them, so both give the same keypoint coordinate.
HAND_21 = (
    "Wrist", "ThumbCMC", "ThumbMCP", "ThumbIP", "ThumbTip", "IndexMCP", "IndexPIP", "IndexDIP", "IndexTip",
    "MiddleMCP", "MiddlePIP", "MiddleDIP", "MiddleTip", "RingMCP", "RingPIP", "RingDIP", "RingTip",
    "PinkyMCP", "PinkyPIP", "PinkyDIP", "PinkyTip",
)
LEFT_HAND = tuple(f"LHand{name}" for name in HAND_21)
RIGHT_HAND = tuple(f"RHand{name}" for name in HAND_21)
KEYPOINT_NAMES = BODY_25 + LEFT_HAND + RIGHT_HAND
N_KEYPOINTS = len(KEYPOINT_NAMES)  # 67
BODY_SLICE = slice(0, 25)
LEFT_HAND_SLICE = slice(25, 46)
RIGHT_HAND_SLICE = slice(46, 67)

# Derived point -> the two points whose midpoint it is.
DERIVED = MappingProxyType({"Neck": ("RShoulder", "LShoulder"), "MidHip": ("RHip", "LHip")})

# OpenPose's BODY_25 limbs (its POSE_BODY_25_PAIRS_RENDER) and the hand's bones, as index pairs.
BODY_EDGES = (
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12),
    (12, 13), (13, 14), (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21),
    (11, 22), (22, 23), (11, 24),
)
HAND_EDGES = tuple((0 if joint == 1 else base + joint - 1, base + joint)
                   for base in (0, 4, 8, 12, 16) for joint in range(1, 5))
EDGES = (
    BODY_EDGES
    + tuple((a + LEFT_HAND_SLICE.start, b + LEFT_HAND_SLICE.start) for a, b in HAND_EDGES)
    + tuple((a + RIGHT_HAND_SLICE.start, b + RIGHT_HAND_SLICE.start) for a, b in HAND_EDGES)
)

# ultralytics / COCO person keypoints, in model output order.
COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
FROM_COCO_17 = MappingProxyType({
    "Nose": 0, "LEye": 1, "REye": 2, "LEar": 3, "REar": 4, "LShoulder": 5, "RShoulder": 6,
    "LElbow": 7, "RElbow": 8, "LWrist": 9, "RWrist": 10, "LHip": 11, "RHip": 12, "LKnee": 13,
    "RKnee": 14, "LAnkle": 15, "RAnkle": 16,
})

# MediaPipe holistic: 33 pose landmarks, then its left hand and right hand (21 each, already in
# OpenPose's hand order), concatenated in that order: 75 points.
MEDIAPIPE_POSE_33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)
MEDIAPIPE_HOLISTIC_75 = (
    MEDIAPIPE_POSE_33
    + tuple(f"left_hand_{name}" for name in HAND_21)
    + tuple(f"right_hand_{name}" for name in HAND_21)
)
FROM_MEDIAPIPE_HOLISTIC = MappingProxyType({
    "Nose": 0, "RShoulder": 12, "RElbow": 14, "RWrist": 16, "LShoulder": 11, "LElbow": 13,
    "LWrist": 15, "RHip": 24, "RKnee": 26, "RAnkle": 28, "LHip": 23, "LKnee": 25, "LAnkle": 27,
    "REye": 5, "LEye": 2, "REar": 8, "LEar": 7,
    # MediaPipe's "foot index" is the tip of the big toe; it has no small toe.
    "LBigToe": 31, "LHeel": 29, "RBigToe": 32, "RHeel": 30,
    **{name: 33 + i for i, name in enumerate(LEFT_HAND)},
    **{name: 54 + i for i, name in enumerate(RIGHT_HAND)},
})

SOURCES = MappingProxyType({
    "coco17": (COCO_17, FROM_COCO_17),
    "mediapipe_holistic": (MEDIAPIPE_HOLISTIC_75, FROM_MEDIAPIPE_HOLISTIC),
})


def _source(source: str) -> tuple[tuple[str, ...], MappingProxyType]:
    if source not in SOURCES:
        raise ValueError(f"Expected a keypoint source among {sorted(SOURCES)}, but got {source!r}")
    return SOURCES[source]


def source_index(source: str) -> np.ndarray:
    """For each of the 67 layout points, the index of its source point (-1: not in the source).

    Parameters
    ----------
    source
        A key of ``SOURCES``: ``"coco17"`` or ``"mediapipe_holistic"``.
    """
    _, table = _source(source)
    return np.array([table.get(name, -1) for name in KEYPOINT_NAMES], dtype=np.int64)


def derived_points(source: str) -> tuple[str, ...]:
    """The layout points computed from two others (not predicted) for ``source``."""
    _, table = _source(source)
    return tuple(name for name, parents in DERIVED.items()
                 if name not in table and all(parent in table for parent in parents))


def to_layout(points: np.ndarray, confidence: np.ndarray, *, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Map a backend's keypoints to the 67-point OpenPose layout.

    Parameters
    ----------
    points
        ``(..., S, 2)`` x, y of the ``S`` source points in pixels; NaN where missing.
    confidence
        ``(..., S)`` confidence of each source point; NaN where missing.
    source
        Which backend layout ``points`` follow (a key of ``SOURCES``).

    Returns
    -------
    points, confidence
        New float32 arrays ``(..., 67, 2)`` and ``(..., 67)`` in ``KEYPOINT_NAMES`` order. Points the
        source lacks are NaN (position and confidence). Derived points are the midpoint of their two
        parents with the lower of their confidences, NaN unless both parents are present.

    Examples
    --------
    >>> xy = np.zeros((17, 2)); xy[5] = [10, 0]; xy[6] = [0, 0]
    >>> out, conf = to_layout(xy, np.ones(17), source="coco17")
    >>> out[KEYPOINT_NAMES.index("Neck")].tolist()
    [5.0, 0.0]
    """
    names, _ = _source(source)
    index = source_index(source)
    points = np.asarray(points, dtype=np.float32)
    confidence = np.asarray(confidence, dtype=np.float32)
    if points.ndim < 2 or points.shape[-2:] != (len(names), 2):
        raise ValueError(f"Expected {source} points of shape (..., {len(names)}, 2), but got {points.shape}")
    if confidence.shape != points.shape[:-1]:
        raise ValueError(f"Expected {source} confidence of shape {points.shape[:-1]}, but got {confidence.shape}")
    present = index >= 0
    out = np.full(points.shape[:-2] + (N_KEYPOINTS, 2), np.nan, dtype=np.float32)
    out_conf = np.full(points.shape[:-2] + (N_KEYPOINTS,), np.nan, dtype=np.float32)
    out[..., present, :] = points[..., index[present], :]
    out_conf[..., present] = confidence[..., index[present]]
    # A point without a position has no confidence either, whatever the backend reported.
    out_conf[np.isnan(out).any(axis=-1)] = np.nan
    for name in derived_points(source):
        a, b = (KEYPOINT_NAMES.index(parent) for parent in DERIVED[name])
        target = KEYPOINT_NAMES.index(name)
        # NaN propagates, so a missing parent leaves the derived point missing.
        out[..., target, :] = (out[..., a, :] + out[..., b, :]) / 2
        out_conf[..., target] = np.where(np.isnan(out[..., target, 0]), np.nan,
                                         np.fmin(out_conf[..., a], out_conf[..., b]))
    return out, out_conf
