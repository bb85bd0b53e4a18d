import cv2
import numpy as np
import pytest

from deepbehavior.formats import load_file
from deepbehavior.formats.yolo_mark import read_yolo_mark


def test_sample_dataset_reports_missing_images(shared_data):
    root = shared_data / "yolo-mark-example"
    with pytest.warns(UserWarning, match="listed images are missing"):
        ds = load_file(root)
    assert ds.attrs["source_format"] == "yolo_mark"
    assert ds.attrs["class_names"] == ["air", "bird"]
    listed = [line.strip() for line in (root / "train.txt").read_text().splitlines() if line.strip()]
    present = [p for p in listed if (root / "img" / p.split("/")[-1]).is_file()]
    assert ds.attrs["image_paths"] == ["img/" + p.split("/")[-1] for p in present]
    assert sorted(ds.attrs["missing_images"]) == sorted(set(listed) - set(present))
    assert "img/air6.txt" in ds.attrs["labels_without_image"]
    # Boxes: the label lines scaled by the image size, computed here with OpenCV; centres 0.5 px less
    # (Yolo_mark's origin is the top-left pixel's corner, the data model's its centre).
    for t, rel in enumerate(ds.attrs["image_paths"]):
        height, width = cv2.imread(str(root / rel)).shape[:2]
        rows = np.loadtxt(root / rel.replace(".jpg", ".txt"), ndmin=2)
        n = len(rows)
        np.testing.assert_allclose(ds["position"].values[t, 0, :n], rows[:, 1] * width - 0.5, rtol=1e-6)
        np.testing.assert_allclose(ds["position"].values[t, 1, :n], rows[:, 2] * height - 0.5, rtol=1e-6)
        np.testing.assert_allclose(ds["shape"].values[t, :, :n], (rows[:, 3:5] * [width, height]).T, rtol=1e-6)
        np.testing.assert_array_equal(ds["class_index"].values[t, :n], rows[:, 0])
        assert np.isnan(ds["position"].values[t, :, n:]).all()


def _dataset(tmp_path, label: str):
    img = tmp_path / "data" / "img"
    img.mkdir(parents=True)
    cv2.imwrite(str(img / "a.png"), np.zeros((100, 200, 3), np.uint8))
    (img / "a.txt").write_text(label)
    (tmp_path / "data" / "obj.names").write_text("mouse\nrat\n")
    (tmp_path / "data" / "train.txt").write_text("data/img/a.png\n")
    (tmp_path / "data" / "obj.data").write_text("classes= 2\ntrain = data/train.txt\nnames = data/obj.names\n")
    return tmp_path / "data"


def test_small_dataset_in_pixels(tmp_path):
    ds = read_yolo_mark(_dataset(tmp_path, "1 0.5 0.25 0.1 0.2\n0 0.25 0.5 0.5 0.5\n") / "obj.data")
    # 0.5 of a 200 px width is x = 100 from the left edge: the boundary of pixels 99 and 100, 99.5
    np.testing.assert_allclose(ds["position"].values[0, :, :], [[99.5, 49.5], [24.5, 49.5]])
    np.testing.assert_allclose(ds["shape"].values[0, :, :], [[20, 100], [20, 50]])
    np.testing.assert_array_equal(ds["class_index"].values[0, :], [1, 0])
    assert ds.attrs["missing_images"] == [] and ds.attrs["labels_without_image"] == []


@pytest.mark.parametrize("label, message", [
    ("0 0.5 0.5 0.1\n", r"a\.txt, line 1: Expected 'class x_center y_center width height'"),
    ("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1\n", r"a\.txt, line 2: Expected a class id in \[0, 2\)"),
    ("x 0.5 0.5 0.1 0.1\n", r"line 1: Expected an integer class and four numbers"),
])
def test_malformed_labels_name_the_line(tmp_path, label, message):
    with pytest.raises(ValueError, match=message):
        read_yolo_mark(_dataset(tmp_path, label))


def test_obj_data_without_names_is_an_error(tmp_path):
    root = _dataset(tmp_path, "")
    (root / "obj.data").write_text("train = data/train.txt\n")
    (root / "obj.names").unlink()  # without the entry, obj.names beside obj.data is used
    with pytest.raises(ValueError, match=r"obj\.data: Expected a 'names =' entry"):
        read_yolo_mark(root)
