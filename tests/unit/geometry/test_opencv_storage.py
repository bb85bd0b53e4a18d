"""Our pure-Python FileStorage reader reads what OpenCV's own reader reads, and refuses damage in one line."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepbehavior.geometry import CameraGroup
from deepbehavior.geometry.calib_io import load_opencv, save_opencv
from deepbehavior.geometry.opencv_storage import StorageError, read_storage


def _opencv_value(node):
    if node.isMap() and "dt" in node.keys():  # a matrix
        return node.mat()
    if node.isMap():
        return {key: _opencv_value(node.getNode(key)) for key in node.keys()}
    if node.isSeq():
        return [_opencv_value(node.at(i)) for i in range(node.size())]
    if node.isInt() or node.isReal():
        return node.real()
    return node.string()


def _assert_same(ours, theirs, where=""):
    if isinstance(theirs, dict):
        assert set(ours) == set(theirs), where
        for key in theirs:
            _assert_same(ours[key], theirs[key], f"{where}/{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, str):
        assert ours == theirs, where
    else:
        np.testing.assert_allclose(np.asarray(ours, dtype=float).reshape(np.shape(theirs)), theirs, rtol=1e-7,
                                   err_msg=where)


def _opencv_read(path):
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    try:
        root = storage.root()
        return {key: _opencv_value(storage.getNode(key)) for key in root.keys()}
    finally:
        storage.release()


@pytest.mark.parametrize("name", ["left_intrinsics.yml", "stereo_calib.xml"])
def test_real_opencv_files_read_as_opencv_reads_them(shared_data, name):
    path = shared_data / "stereo-chessboard" / "opencv" / name
    _assert_same(read_storage(path), _opencv_read(path))


@pytest.mark.parametrize("suffix", [".yml", ".xml"])
def test_files_written_by_opencv_read_back_equal(shared_data, tmp_path, suffix):
    left = load_opencv(shared_data / "stereo-chessboard/opencv/left_intrinsics.yml").cameras[0]
    group = CameraGroup([left.replace(name="left"), left.replace(name="right", tvec=[-60.0, 1.5, 2.0])],
                        metadata={"unit": "mm", "error": 0.39})
    path = save_opencv(group, tmp_path / f"rig{suffix}")
    _assert_same(read_storage(path), _opencv_read(path))
    back = load_opencv(path)
    assert [c.name for c in back.cameras] == ["left", "right"] and back.metadata == {"unit": "mm", "error": 0.39}
    np.testing.assert_array_equal(back.cameras[1].tvec, [-60.0, 1.5, 2.0])


@pytest.mark.parametrize("text, problem", [
    ("%YAML:1.0\n---\nm: !!opencv-matrix\n   rows: 3\n   cols: 3\n   dt: d\n   data: [ 1., 2. ]\n", "9 values"),
    ("%YAML:1.0\n---\nm: !!opencv-matrix\n   rows: 1\n   cols: 1\n   dt: q\n   data: [ 1. ]\n", "dt"),
    ("%YAML:1.0\n---\nm: [[[[\n", "valid YAML at line"),
    ("%YAML:1.0\n---\n" + "a: [" * 5000 + "\n", "nest too deep"),
    ("%YAML:1.0\n---\n- 1\n- 2\n", "a map at the top"),
    ("<?xml version=\"1.0\"?>\n<opencv_storage><m type_id=\"opencv-matrix\"><rows>2</rows></m>", "valid XML"),
    ("<?xml version=\"1.0\"?>\n<other/>", "<opencv_storage>"),
])
def test_damage_is_one_line(tmp_path, text, problem):
    path = tmp_path / "damaged.yml"
    path.write_text(text)
    with pytest.raises(StorageError, match=problem) as info:
        read_storage(path)
    assert "\n" not in str(info.value)
