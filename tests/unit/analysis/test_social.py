"""Two animals approaching and separating at known times: bouts, distances, speeds."""

import math

import numpy as np
import pytest

from deepbehavior.analysis.social import inter_animal_distance, interaction_bouts, measure_social
from deepbehavior.schema import make_boxes, make_poses

FPS = 10.0
N = 100


def _gap():
    """Separation (px, along y) of animal B from animal A, frame by frame."""
    gap = np.full(N, 100.0)
    gap[20:50] = 10.0   # 3.0 s bout from 2.0 s
    gap[60:63] = 10.0   # 0.3 s: too short
    gap[80:100] = 20.0  # 2.0 s bout
    return gap


def _poses():
    t = np.arange(N)
    centre_a = np.stack([2.0 * t, np.zeros(N)], axis=1)            # 2 px/frame = 20 px/s
    centre_b = centre_a + np.stack([np.zeros(N), _gap()], axis=1)
    position = np.zeros((N, 2, 3, 2))
    for i, centre in enumerate((centre_a, centre_b)):
        position[:, :, 0, i] = centre + [5.0, 0.0]   # nose
        position[:, :, 1, i] = centre                # body
        position[:, :, 2, i] = centre - [5.0, 0.0]   # tail
    return make_poses(position, fps=FPS, keypoints=["nose", "body", "tail"], individuals=["a", "b"])


def test_bouts_count_time_latency():
    ds = _poses()
    rows = {m: v for m, v, _ in measure_social(ds["position"].assign_attrs(ds.attrs),
                                               threshold=50.0, min_duration_s=0.5, centre="body")}
    assert rows["interaction_count"] == 2
    assert rows["interaction_time"] == pytest.approx(5.0)
    assert rows["interaction_latency"] == pytest.approx(2.0)
    assert rows["distance_mean"] == pytest.approx(_gap().mean(), rel=1e-6)
    assert rows["nose_nose_mean"] == pytest.approx(_gap().mean(), rel=1e-6)
    assert rows["nose_tail_mean_ab"] == pytest.approx(np.mean(np.hypot(10.0, _gap())), rel=1e-6)
    assert rows["speed_mean_a"] == pytest.approx(20.0, rel=1e-6)


def test_no_bout_gives_nan_latency():
    ds = _poses()
    distance = inter_animal_distance(ds["position"].assign_attrs(ds.attrs))
    bouts = interaction_bouts(distance, threshold=5.0, min_duration_s=0.1)
    assert len(bouts) == 0
    rows = {m: v for m, v, _ in measure_social(ds["position"].assign_attrs(ds.attrs),
                                               threshold=5.0, min_duration_s=0.1)}
    assert rows["interaction_count"] == 0 and math.isnan(rows["interaction_latency"])


def test_boxes_centre_distance_and_missing_frames_end_a_bout():
    gap = _gap()
    centre = np.zeros((N, 2, 2))
    centre[:, 1, 1] = gap
    centre[30, :, 1] = np.nan  # B lost for one frame inside the first bout
    ds = make_boxes(centre, np.full((N, 2, 2), 20.0), fps=FPS)
    distance = inter_animal_distance(ds["position"].assign_attrs(ds.attrs))
    bouts = interaction_bouts(distance, threshold=50.0, min_duration_s=0.5)
    assert bouts[["start", "stop"]].values.tolist() == [[20, 30], [31, 50], [80, 100]]
    assert bouts["duration_s"].tolist() == pytest.approx([1.0, 1.9, 2.0])


def test_wrong_individuals_are_named():
    ds = _poses()
    with pytest.raises(ValueError, match="two individuals"):
        inter_animal_distance(ds["position"], individuals=["a", "zz"])
