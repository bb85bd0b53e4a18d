"""One pixel convention in datasets, converted at each format's boundary.

The known answer is a single lit pixel: column 7, row 3 of a small image. In the data model (and in
OpenCV, whose drawing is the independent witness here) its centre is (7, 3); the box tools describe
the same pixel as the box from its top-left corner (7, 3) to its bottom-right corner (8, 4).
"""

from __future__ import annotations

import json

import cv2
import numpy as np

from deepbehavior import schema
from deepbehavior.formats import read_darknet, read_tensorbox
from deepbehavior.formats.yolo_mark import read_yolo_mark

COLUMN, ROW = 7, 3
WIDTH, HEIGHT = 20, 10
CORNER_BOX = {"x1": COLUMN, "y1": ROW, "x2": COLUMN + 1, "y2": ROW + 1}  # the lit pixel, corner origin


def _image() -> np.ndarray:
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[ROW, COLUMN] = 255
    return image


def test_opencv_draws_integer_coordinates_on_the_pixel_they_name():
    # the witness of the data model's convention: OpenCV's point (7, 3) is the pixel, not a corner
    drawn = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.circle(drawn, (COLUMN, ROW), 0, 255, -1)
    assert np.argwhere(drawn).tolist() == [[ROW, COLUMN]]


def test_the_conversions_are_half_a_pixel_each_way():
    assert schema.from_corner_origin([COLUMN + 0.5, ROW + 0.5]).tolist() == [COLUMN, ROW]
    assert schema.to_corner_origin([COLUMN, ROW]).tolist() == [COLUMN + 0.5, ROW + 0.5]


def _centre_and_size(ds) -> tuple[list[float], list[float]]:
    return ds["position"].values[0, :, 0].tolist(), ds["shape"].values[0, :, 0].tolist()


def test_tensorbox_predictions_boundary(tmp_path):
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([{"frame_number": "pict00000.png", "coordinates": [{**CORNER_BOX, "score": 0.9}]}]))
    assert _centre_and_size(read_tensorbox(path)) == ([COLUMN, ROW], [1, 1])


def test_tensorbox_labels_boundary(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _image())
    path = tmp_path / "labels.json"
    path.write_text(json.dumps([{"image_path": "a.png", "rects": [CORNER_BOX]}]))
    assert _centre_and_size(read_tensorbox(path)) == ([COLUMN, ROW], [1, 1])


def test_darknet_boundary_both_layouts(tmp_path):
    frame = "\x1b[2J\x1b[1;1H\nFPS:20.0\nObjects:\n\n"
    ext = tmp_path / "ext.txt"
    ext.write_text(frame + f"body: 90% \t(left_x: {COLUMN} top_y: {ROW} width: 1 height: 1)\n")
    box = tmp_path / "box.txt"
    box.write_text(frame + f"body: 90%\nBounding Box: Left={COLUMN}, Top={ROW}, Right={COLUMN + 1}, "
                           f"Bottom={ROW + 1}\n")
    for path in (ext, box):
        assert _centre_and_size(read_darknet(path)) == ([COLUMN, ROW], [1, 1])


def test_yolo_mark_boundary(tmp_path):
    data = tmp_path / "data"
    (data / "img").mkdir(parents=True)
    cv2.imwrite(str(data / "img" / "a.png"), _image())
    # relative centre and size of the lit pixel, as Yolo_mark writes them
    (data / "img" / "a.txt").write_text(f"0 {(COLUMN + 0.5) / WIDTH} {(ROW + 0.5) / HEIGHT} {1 / WIDTH} {1 / HEIGHT}\n")
    (data / "obj.names").write_text("paw\n")
    (data / "train.txt").write_text("data/img/a.png\n")
    (data / "obj.data").write_text("classes= 1\ntrain = data/train.txt\nnames = data/obj.names\n")
    centre, size = _centre_and_size(read_yolo_mark(data / "obj.data"))
    np.testing.assert_allclose(centre, [COLUMN, ROW], atol=1e-5)
    np.testing.assert_allclose(size, [1, 1], atol=1e-5)


def test_the_dataset_centre_is_the_lit_pixel_of_the_image(tmp_path):
    # end to end: the box a tool drew round the pixel lands on the pixel OpenCV reads back
    path = tmp_path / "predictions.json"
    path.write_text(json.dumps([{"frame_number": "pict00000.png", "coordinates": [{**CORNER_BOX, "score": 0.9}]}]))
    x, y = read_tensorbox(path)["position"].values[0, :, 0]
    assert _image()[int(round(y)), int(round(x))].tolist() == [255, 255, 255]
    assert (x, y) == (COLUMN, ROW)


def test_model_output_boundary():
    # a predictor's box round the lit pixel, and a keypoint on its centre, in the labels' corner origin
    from deepbehavior.models.outputs import predictions_to_part

    boxes = predictions_to_part(schema.BOXES, {
        "boxes": np.array([[[COLUMN, ROW, COLUMN + 1, ROW + 1]]], np.float32),
        "box_conf": np.ones((1, 1), np.float32), "class_index": np.zeros((1, 1), np.float32)},
        np.arange(1), 30.0)
    assert _centre_and_size(boxes) == ([COLUMN, ROW], [1, 1])
    poses = predictions_to_part(schema.POSES, {
        "keypoints": np.array([[[[COLUMN + 0.5, ROW + 0.5]]]], np.float32),
        "keypoint_conf": np.ones((1, 1, 1), np.float32)}, np.arange(1), 30.0)
    assert poses["position"].values[0, :, 0, 0].tolist() == [COLUMN, ROW]
