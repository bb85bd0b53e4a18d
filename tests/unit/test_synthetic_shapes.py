"""The shapes dataset's labels say where its drawn pixels are: boxes are the outer edges of the
shape's pixels and keypoints the triangle's corner pixels, measured on the written images with NumPy,
in the corner origin of YOLO labels (the edge of the top-left pixel at 0)."""

import cv2
import numpy as np
import pytest

from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset


def _labelled(data, split="train"):
    """(image, [(class, box x0 y0 x1 y1, keypoints (k, 2))]) per image, labels in pixels."""
    folder = data.parent
    for image_path in sorted((folder / "images" / split).glob("*.png")):
        image = cv2.imread(str(image_path))
        size = np.array(image.shape[1::-1], dtype=float)
        rows = []
        for line in (folder / "labels" / split / f"{image_path.stem}.txt").read_text().split("\n"):
            if not line.strip():
                continue
            values = [float(v) for v in line.split()]
            (xc, yc), (w, h) = np.array(values[1:3]) * size, np.array(values[3:5]) * size
            keypoints = np.array(values[5:]).reshape(-1, 3)[:, :2] * size
            rows.append((int(values[0]), np.array([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2]), keypoints))
        yield image, rows


def _shape_pixels(image):
    """The drawn shape's pixels: every channel >= 170 where the background noise is below 40."""
    return image.min(axis=2) >= 170


@pytest.mark.parametrize("kind, classes", [("detect", 2), ("pose", 1)])
def test_label_boxes_are_the_outer_edges_of_the_drawn_pixels(tmp_path, kind, classes):
    data = write_synthetic_dataset(tmp_path / kind, kind=kind, classes=classes, images=12, val_images=0, size=96)
    seen = set()
    for image, rows in _labelled(data):
        assert len(rows) == 1
        cls, box, _ = rows[0]
        seen.add(cls)
        rows_, cols = np.nonzero(_shape_pixels(image))
        # pixel column c spans [c, c + 1] with the corner origin: the box is [min, max + 1]
        measured = np.array([cols.min(), rows_.min(), cols.max() + 1, rows_.max() + 1], dtype=float)
        np.testing.assert_allclose(box, measured, atol=1e-3)
    assert seen == set(range(classes))  # rectangles and ellipses both measured


def test_triangle_keypoints_are_its_corner_pixels(tmp_path):
    data = write_synthetic_dataset(tmp_path / "pose", kind="pose", images=8, val_images=0, size=96)
    for image, rows in _labelled(data):
        (_, _, keypoints), = rows
        ys, xs = np.nonzero(_shape_pixels(image))
        top, bottom = ys.min(), ys.max()
        apex = xs[ys == top].mean()  # the single pixel of the top row (or the middle of a flat top)
        drawn = np.array([[apex, top], [xs[ys == bottom].min(), bottom], [xs[ys == bottom].max(), bottom]])
        np.testing.assert_allclose(keypoints, drawn + 0.5, atol=1e-3)  # pixel centres, corner origin
