import numpy as np
import pytest

from deepbehavior.labeling.project import Project
from deepbehavior.labeling.selection import (allocate, extract_frames, jump_score, kmeans_pick, select,
                                             top_frames, uncertainty_score, uniform_frames)
from deepbehavior.schema import make_poses
from deepbehavior.video import read_frames


def test_uniform_and_allocation_are_exact():
    assert uniform_frames(100, 4).tolist() == [12, 37, 62, 87]
    assert uniform_frames(3, 10).tolist() == [0, 1, 2]
    assert allocate([100, 300], 8) == [2, 6]
    assert sum(allocate([5, 1000], 20)) == 20 and allocate([5, 1000], 20)[0] <= 5


def test_kmeans_takes_one_frame_from_each_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0] * 4, [10.0] * 4, [-10.0, 10.0, -10.0, 10.0]])
    features = np.concatenate([c + rng.normal(0, 0.1, (15, 4)) for c in centres])
    picks = kmeans_pick(features, 3)
    assert sorted(p // 15 for p in picks) == [0, 1, 2]


def test_kmeans_over_a_video_finds_its_three_scenes(scenes_video):
    picks = select([scenes_video], 3, method="kmeans", candidates=30)
    assert sorted(f // 20 for _, f in picks) == [0, 1, 2]


def test_scores_and_top_frames():
    position = np.zeros((6, 2, 1, 1))
    position[:, 0, 0, 0] = [0, 1, 2, 12, 13, 14]  # a jump of 10 px into frame 3
    confidence = np.array([0.9, 0.8, 0.2, 0.9, np.nan, 0.95]).reshape(6, 1, 1)
    ds = make_poses(position, confidence, fps=30)
    assert jump_score(ds).values[3] == pytest.approx(10.0) and np.isnan(jump_score(ds).values[0])
    assert uncertainty_score(ds).values == pytest.approx([0.1, 0.2, 0.8, 0.1, 1.0, 0.05])
    assert select_with(ds, "jumps", 1) == [3]
    assert select_with(ds, "uncertain", 2) == [2, 4]
    assert top_frames(np.array([5.0, 4.0, 3.0, 1.0]), 2, min_gap=2).tolist() == [0, 2]


def select_with(ds, method, n):
    return [f for _, f in _select_store(ds, method, n)]


def _select_store(ds, method, n):
    import deepbehavior.labeling.selection as sel

    original = sel.probe
    sel.probe = lambda path: type("Info", (), {"frames": ds.sizes["time"]})()
    try:
        return select(["fake.mp4"], n, method=method, stores=[ds], min_gap=1)
    finally:
        sel.probe = original


def test_extract_writes_the_exact_frames_and_records_their_source(scenes_video, tmp_path):
    project = Project.create(tmp_path / "p")
    picks = select([scenes_video], 4, method="uniform")
    names = extract_frames([scenes_video], picks, project)
    assert names == [f"scenes_{f:06d}.png" for _, f in picks]
    import cv2

    for (_, f), name in zip(picks, names):
        expected = read_frames(scenes_video, f, f + 1)[0]
        assert np.array_equal(cv2.imread(str(project.image_path(name))), expected)
        assert Project(project.root).sources[name]["frame"] == f
    assert extract_frames([scenes_video], picks, project) == names  # a second round keeps them
    assert len(project.images()) == 4
