"""The rotating 3D skeleton movie: frame count, a view that turns, and the OpenPose skeleton's edges."""

import numpy as np
import pytest

from deepbehavior.models import pose_layout
from deepbehavior.schema import make_poses
from deepbehavior.video import probe, read_frames
from deepbehavior.viz.skeleton import layout_edges
from deepbehavior.viz.three_d import write_movie_3d

KEYPOINTS = ["Neck", "RShoulder", "RElbow", "RWrist", "MidHip"]


def _still(n=6):
    """A skeleton that does not move: any change between frames below the title is the view's."""
    pose = np.array([[0, 0, 100], [-20, 0, 95], [-30, 5, 70], [-25, 20, 50], [0, 0, 40]], dtype=float)
    position = np.repeat(pose.T[None, :, :, None], n, axis=0)  # (time, space, keypoint, individual)
    return make_poses(position, fps=10.0, keypoints=KEYPOINTS, individuals=["p"])


def _body(path):
    frames = read_frames(path, 0, probe(path).frames)
    return frames[:, frames.shape[1] // 6:].astype(np.int16)  # below the "frame N" title


def test_rotating_movie_changes_view_of_a_still_skeleton(tmp_path):
    ds = _still()
    fixed = write_movie_3d(ds, tmp_path / "fixed.mp4", edges=layout_edges(KEYPOINTS), frames=5)
    turning = write_movie_3d(ds, tmp_path / "turning.mp4", edges=layout_edges(KEYPOINTS), frames=5, rotate=20.0)
    assert probe(fixed).frames == 5 and probe(turning).frames == 5
    still, moving = _body(fixed), _body(turning)
    # Codec noise only when the view is fixed; tens of grey levels over the skeleton when it turns.
    assert np.abs(np.diff(still, axis=0)).mean() < 0.5
    assert np.abs(np.diff(moving, axis=0)).mean() > 3 * max(np.abs(np.diff(still, axis=0)).mean(), 0.1)
    assert all(np.abs(moving[i + 1] - moving[i]).max() > 50 for i in range(4))
    # A full turn comes back close to the first view (the codec blurs thin lines differently).
    loop = write_movie_3d(ds, tmp_path / "loop.mp4", frames=5, rotate=90.0)
    frames = _body(loop)
    assert np.abs(frames[4] - frames[0]).mean() < np.abs(frames[2] - frames[0]).mean() / 2


def test_layout_edges_follow_openpose_names():
    edges = layout_edges(KEYPOINTS)
    assert ("Neck", "RShoulder") in edges and ("RShoulder", "RElbow") in edges and ("RElbow", "RWrist") in edges
    assert ("Neck", "MidHip") in edges and all(a in KEYPOINTS and b in KEYPOINTS for a, b in edges)
    assert len(layout_edges(pose_layout.KEYPOINT_NAMES)) == len(pose_layout.EDGES)
    assert layout_edges(["nose", "tail"]) == ()


def test_movie_needs_3d():
    with pytest.raises(ValueError, match="Expected a 3D poses dataset"):
        write_movie_3d(make_poses(np.zeros((3, 2, 1, 1)), fps=10.0), "unused.mp4")
