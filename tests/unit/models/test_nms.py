"""Our NMS keeps ultralytics' boxes where scores differ, and one fixed order where they tie."""

import sys

import numpy as np
import pytest

from deepbehavior.models.nms import non_max_suppression
from deepbehavior.models.yolo import YoloPredictor
from tests.helpers.models import random_yolo


def _raw(seed, *, batch=3, anchors=2000, classes=1, extra=0, size=640):
    """A head's output (batch, 4 + classes + extra, anchors): centre-size boxes clustered so that
    many overlap, distinct random scores."""
    import torch

    rng = np.random.default_rng(seed)
    clusters = rng.uniform(0, size, (batch, 12, 2))
    centres = clusters[:, rng.integers(0, 12, anchors)] + rng.normal(0, 8, (batch, anchors, 2))
    sizes = rng.uniform(20, 120, (batch, anchors, 2))
    scores = rng.uniform(0, 1, (batch, anchors, classes))
    extras = rng.uniform(0, size, (batch, anchors, extra))
    return torch.from_numpy(np.concatenate((centres, sizes, scores, extras), 2).astype(np.float32)).transpose(1, 2)


def _ultralytics_nms(raw, conf, iou, max_det, nc, *, torchvision: bool, monkeypatch):
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    from ultralytics.utils.nms import non_max_suppression as theirs

    if torchvision:
        import torchvision  # noqa: F401  (ultralytics takes its kernel when it is imported)
    else:
        monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    return theirs(raw.clone(), conf, iou, max_det=max_det, nc=nc, max_time_img=float("inf"))


@pytest.mark.parametrize("torchvision", [True, False], ids=["torchvision", "torch"])
@pytest.mark.parametrize("classes,extra", [(1, 0), (3, 0), (1, 51)], ids=["one-class", "three-classes", "pose"])
@pytest.mark.parametrize("max_det", [1, 4, 300])
def test_the_same_boxes_as_ultralytics_where_no_scores_tie(monkeypatch, torchvision, classes, extra, max_det):
    raw = _raw(classes + extra + max_det, classes=classes, extra=extra)
    nc = classes if extra else 0
    ours = non_max_suppression(raw, 0.25, 0.7, max_det, nc=nc)
    theirs = _ultralytics_nms(raw, 0.25, 0.7, max_det, nc, torchvision=torchvision, monkeypatch=monkeypatch)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.shape[1] == 6 + extra and len(a) == max_det
        np.testing.assert_array_equal(a, b.numpy())


def test_boxes_of_other_classes_do_not_suppress_each_other():
    import torch

    # two identical boxes, one of class 0 (score 0.9), one of class 1 (score 0.8); a third of class 0
    # on top of the first with a lower score
    raw = torch.tensor([[[50.0, 50.0, 50.0], [50.0, 50.0, 50.0], [20.0, 20.0, 20.0], [20.0, 20.0, 20.0],
                         [0.9, 0.1, 0.5], [0.1, 0.8, 0.1]]])
    kept = non_max_suppression(raw, 0.25, 0.5, 10)[0]
    np.testing.assert_array_equal(kept[:, 4:6], np.float32([[0.9, 0.0], [0.8, 1.0]]))
    np.testing.assert_array_equal(kept[0, :4], [40.0, 40.0, 60.0, 60.0])


def test_equal_scores_keep_the_lower_anchor_first():
    import torch

    # anchors 0 and 2 far apart, 1 and 3 overlapping anchor 2; all four score 0.5
    centres = [[300.0, 10.0, 12.0, 14.0], [300.0, 10.0, 10.0, 10.0]]
    raw = torch.tensor([centres + [[20.0] * 4, [20.0] * 4, [0.5] * 4]])
    one = non_max_suppression(raw, 0.25, 0.5, 1)[0]
    np.testing.assert_array_equal(one[:, :2], [[290.0, 290.0]])  # anchor 0
    both = non_max_suppression(raw, 0.25, 0.5, 10)[0]
    # anchor 1 suppresses 2 (IoU 0.82) and 3 (IoU 0.67); ultralytics' two paths disagree on such ties
    np.testing.assert_array_equal(both[:, 0], [290.0, 0.0])


def test_end_to_end_rows_are_only_filtered_by_score():
    import torch

    rows = torch.tensor([[[0, 0, 5, 5, 0.9, 0], [1, 1, 6, 6, 0.1, 0], [2, 2, 7, 7, 0.8, 1]]], dtype=torch.float32)
    kept = non_max_suppression(rows, 0.25, 0.7, 5, end2end=True)[0]
    np.testing.assert_array_equal(kept[:, 4], np.float32([0.9, 0.8]))


def test_scores_out_of_range_are_refused():
    import torch

    with pytest.raises(ValueError, match="Expected conf and iou between 0 and 1, but got conf=1.5, iou=0.7"):
        non_max_suppression(torch.zeros(1, 5, 3), 1.5, 0.7, 1)


def test_the_predictor_gives_the_same_boxes_whether_or_not_torchvision_is_loaded(monkeypatch, tmp_path):
    # A random network at conf=0 gives many equal scores. Before, ultralytics' NMS broke their ties
    # one way with torchvision imported (as after training in the same process) and another without
    # (a fresh inference worker): the same frames, other boxes.
    import torchvision  # noqa: F401

    predictor = YoloPredictor(str(random_yolo(tmp_path / "random.pt")), imgsz=160, conf=0.0, max_individuals=2,
                              threads=1, device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (8, 128, 160, 3), dtype=np.uint8)
    with_torchvision = predictor({"frames": frames})
    monkeypatch.delitem(sys.modules, "torchvision")
    without = predictor({"frames": frames})
    for name in ("boxes", "box_conf", "class_index"):
        np.testing.assert_array_equal(with_torchvision[name], without[name], err_msg=name)
