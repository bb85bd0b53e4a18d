"""Skeleton drawing: lines where both ends are known and confident, nothing elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.models import pose_layout as L
from deepbehavior.viz.skeleton import draw_pose


def _pose() -> tuple[np.ndarray, np.ndarray]:
    xy = np.full((67, 2), np.nan)
    conf = np.full(67, np.nan)
    for name, point in {"RShoulder": (20, 50), "RElbow": (20, 150), "LShoulder": (180, 50),
                        "LElbow": (180, 150), "LHandWrist": (100, 20), "LHandThumbCMC": (100, 180)}.items():
        xy[L.KEYPOINT_NAMES.index(name)] = point
        conf[L.KEYPOINT_NAMES.index(name)] = 0.9
    return xy, conf


def test_draws_limbs_between_present_points_only():
    frame = np.zeros((200, 200, 3), np.uint8)
    xy, conf = _pose()
    out = draw_pose(frame, xy, conf)
    assert not frame.any()  # input untouched
    # Right upper arm (person's right: red in BGR), left upper arm blue, left-hand bone light blue.
    b, g, r = out[100, 20].astype(int)
    assert r > 150 and b < 100
    b, g, r = out[100, 180].astype(int)
    assert b > 150 and r < 100
    assert out[100, 100].any()
    # No neck, so no shoulder-neck lines: the row between the shoulders stays dark off the hand bone.
    assert not out[50, 40:90].any() and not out[50, 110:160].any()


def test_low_confidence_points_and_their_limbs_are_skipped():
    frame = np.zeros((200, 200, 3), np.uint8)
    xy, conf = _pose()
    conf[L.KEYPOINT_NAMES.index("RElbow")] = 0.05
    out = draw_pose(frame, xy, conf, min_confidence=0.1)
    assert not out[100, 15:26].any()
    assert out[100, 175:186].any()


def test_several_people_and_custom_edges():
    frame = np.zeros((100, 100, 3), np.uint8)
    xy = np.array([[[10, 10], [10, 90]], [[90, 10], [90, 90]]], float)
    out = draw_pose(frame, xy, edges=[(0, 1)], colours=[(0, 255, 0)])
    assert out[50, 10, 1] > 150 and out[50, 90, 1] > 150 and not out[50, 50].any()


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="Expected a frame"):
        draw_pose(np.zeros((10, 10), np.uint8), np.zeros((67, 2)))
    with pytest.raises(ValueError, match="Expected edges between the 2 keypoints"):
        draw_pose(np.zeros((10, 10, 3), np.uint8), np.zeros((2, 2)))
