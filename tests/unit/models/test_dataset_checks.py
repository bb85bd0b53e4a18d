"""Dataset checks: every bad file and line is named in one message; valid datasets pass."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from deepbehavior.models.dataset_checks import check_dataset, find_dataset_problems, label_path
from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset


def _touch_image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not read by the checks")


def test_synthetic_datasets_pass_with_known_counts(tmp_path):
    detect = check_dataset(write_synthetic_dataset(tmp_path / "d", classes=2, images=6, val_images=3, objects=2))
    assert detect.task == "detect"
    assert detect.names == ("rectangle", "ellipse")
    assert detect.images == {"train": 6, "val": 3}
    assert detect.objects == {"train": 12, "val": 6}
    assert Path(detect.data["train"]).is_absolute() and Path(detect.data["train"]).is_dir()

    pose = check_dataset(write_synthetic_dataset(tmp_path / "p", kind="pose", images=4, val_images=2))
    assert pose.task == "pose" and pose.kpt_shape == (3, 3)
    assert pose.objects == {"train": 4, "val": 2}


def test_label_path_replaces_the_last_images_folder():
    assert label_path(Path("/a/images/b/images/train/x.png")) == Path("/a/images/b/labels/train/x.txt")


def test_every_problem_is_listed_with_file_and_line(tmp_path):
    root = tmp_path / "ds"
    for name in ("a", "b", "c"):
        _touch_image(root / "images" / "train" / f"{name}.png")
    _touch_image(root / "images" / "val" / "v.png")
    labels = root / "labels" / "train"
    labels.mkdir(parents=True)
    (labels / "a.txt").write_text("0 0.5 0.5 0.2 0.2 0.5 0.5 2 0.4 0.4 2\n"   # valid
                                  "\n"                                          # line 2: empty
                                  "1 0.5 0.5 0.2 0.2 0.5 0.5 2 0.4 0.4 2\n")   # line 3: class 1 of 1
    (labels / "b.txt").write_text("0 0.5 0.5 0.2\n"                             # line 1: too few values
                                  "0 0.5 0.5 0.2 0.2 1.5 0.5 2 0.4 0.4 2\n"    # line 2: keypoint outside
                                  "0 0.5 0.5 0.2 0.2 1.5 0.5 0 0.4 0.4 2\n"    # line 3: invisible: fine
                                  "0 x 0.5 0.2 0.2 0.5 0.5 2 0.4 0.4 2\n")     # line 4: not a number
    (labels / "c.txt").write_text("0 0.95 0.5 0.2 0.2 0.9 0.5 2 0.9 0.4 2\n")  # box outside the image
    (root / "val.txt").write_text("./images/val/v.png\n./images/val/missing.png\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images/train", "val": "val.txt",
                                                    "names": ["mouse"], "kpt_shape": [2, 3]}))
    problems, _ = find_dataset_problems(root / "data.yaml")
    expected = [f"{labels / 'a.txt'}:2:", f"{labels / 'a.txt'}:3:", f"{labels / 'b.txt'}:1:",
                f"{labels / 'b.txt'}:2:", f"{labels / 'b.txt'}:4:", f"{labels / 'c.txt'}:1:",
                f"{root / 'val.txt'}:2:"]
    assert sorted(p.split(" ")[0] for p in problems) == sorted(expected)
    with pytest.raises(ValueError) as error:
        check_dataset(root / "data.yaml")
    message = str(error.value)
    assert message.startswith("Expected a valid YOLO dataset") and "7 problem(s)" in message
    assert "class id in 0..0" in message and "keypoint 0 inside the image" in message
    assert "missing file './images/val/missing.png'" in message and "Expected 11 values" in message


def test_bad_data_yaml_fields_are_reported(tmp_path):
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"names": {0: "a", 2: "b"}, "kpt_shape": [3, 4],
                                                        "train": "images"}))
    problems, summary = find_dataset_problems(tmp_path / "data.yaml")
    assert summary is None
    assert len(problems) == 3  # names not 0..n-1, kpt_shape, no val
    with pytest.raises(FileNotFoundError):
        check_dataset(tmp_path / "absent.yaml")


def test_keypoint_box_closed_form():
    from deepbehavior.models.pose_dataset import keypoint_box

    points = np.array([[10.0, 20.0], [50.0, 40.0], [np.nan, np.nan]])
    np.testing.assert_allclose(keypoint_box(points, width=100, height=100, margin=0.25),
                               [0.0, 15.0, 60.0, 45.0])  # extent 40x20 widened by 10x5 per side, clipped
    assert keypoint_box(np.full((2, 2), np.nan), width=10, height=10) is None


def test_dlc_openfield_converts_to_a_valid_pose_dataset(shared_data, tmp_path):
    from deepbehavior.formats.dlc import read_dlc
    from deepbehavior.models.pose_dataset import write_pose_dataset

    project = shared_data / "dlc-openfield"
    labels = read_dlc(project / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv")
    kp = next(d for d in labels["position"].dims if d.startswith("keypoint"))
    bodyparts = [str(k) for k in labels[kp].values]
    first = {d: 0 for d in labels["position"].dims if d.startswith("individual") or d == "view"}
    xy = labels["position"].isel(first).transpose("time", kp, "space").values  # (image, keypoint, xy)
    points = {str(project / image): xy[t].astype(float) for t, image in enumerate(labels.attrs["image_paths"])}
    summary = check_dataset(write_pose_dataset(points, tmp_path, keypoint_names=bodyparts, flip_idx=[0, 2, 1, 3]))
    assert summary.kpt_shape == (4, 3)
    assert summary.images == {"train": 93, "val": 23}  # 20% of 116 held out
    assert summary.objects == summary.images
    # The first frame's snout (DLC's CSV: 21.521, 265.428, pixel centres at integers), back in pixels
    # of the 640x480 frame: YOLO labels put the origin at the top-left pixel's corner, half a pixel off.
    first = sorted(tmp_path.glob("labels/*/00000_img0000.txt"))[0].read_text().split()
    assert float(first[5]) * 640 == pytest.approx(21.521 + 0.5, abs=1e-3)
    # a third split for figures nothing was chosen on: disjoint from the others, of the asked size
    three = check_dataset(write_pose_dataset(points, tmp_path / "three", keypoint_names=bodyparts, val_fraction=0.15,
                                             test_fraction=0.2))
    assert three.images == {"train": 76, "val": 17, "test": 23}
    names = {split: {p.name for p in (tmp_path / "three" / "images" / split).iterdir()} for split in three.images}
    assert sum(len(v) for v in names.values()) == len(set().union(*names.values())) == 116
    assert float(first[6]) * 480 == pytest.approx(265.428 + 0.5, abs=1e-3)
