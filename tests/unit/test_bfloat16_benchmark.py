"""benchmarks/bfloat16.py's measures on boxes with known overlaps: what its JSON claims is computed right."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bfloat16 as bench  # noqa: E402


def test_iou_of_known_boxes():
    a = np.array([[0, 0, 10, 10.0]])
    b = np.array([[0, 0, 10, 10.0], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(bench.iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_found_counts_a_true_box_only_for_a_detection_of_its_class_at_iou_half():
    truths = [np.array([[0, 0, 0, 10, 10], [1, 20, 20, 30, 30.0]])]
    dets = [np.array([[0, 1, 0, 11, 10, 0.9],     # class 0, IoU 9/11: found
                      [0, 20, 20, 30, 30, 0.8]])]  # right place, wrong class: not found
    out = bench.found(dets, truths)
    assert (out["true_boxes"], out["found_iou50"]) == (2, 1)
    assert abs(out["mean_iou_of_found"] - 9 / 11) < 1e-4


def test_agreement_pairs_detections_and_reports_the_largest_corner_difference():
    a = [np.array([[0, 0, 0, 10, 10, 0.90], [1, 50, 50, 60, 60, 0.5]]), np.zeros((0, 6))]
    b = [np.array([[0, 0.25, 0, 10, 10.5, 0.88]]), np.array([[0, 1, 1, 5, 5, 0.3]])]
    out = bench.agreement(a, b)
    assert out["paired"] == 1 and out["unpaired"] == 2  # the class-1 box, and the box only bfloat16 has
    assert out["largest_corner_difference_px"]["max"] == 0.5
    assert abs(out["confidence_difference"]["max"] - 0.02) < 1e-6


def test_pasting_onto_the_canvas_moves_the_true_boxes_with_the_image():
    images = np.zeros((1, 8, 8, 3), np.uint8)
    images[0, 2:4, 2:4] = 255
    canvas, truths = bench.on_canvas(images, [np.array([[1, 2, 2, 4, 4.0]])])
    x1, y1, x2, y2 = truths[0][0, 1:].astype(int)
    assert canvas.shape == (1, *bench.CANVAS, 3)
    assert (canvas[0, y1:y2, x1:x2] == 255).all() and canvas[0, y1 - 1, x1].max() < 255
