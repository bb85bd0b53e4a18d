import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from deepbehavior.formats import guess_format
from deepbehavior.formats._common import load_json_objects
from deepbehavior.formats.yolo import flip_indices
from deepbehavior.labeling.formats import export_labels, import_labels

# Relative coordinates are written with 6 decimals: half a unit of the last place, plus float error.
REL_TOL = 6e-7


def _yolo_rows(folder: Path) -> dict[str, list[list[float]]]:
    rows = {}
    for path in sorted((folder / "labels").rglob("*.txt")):
        rows[path.stem] = sorted([float(v) for v in line.split()] for line in path.read_text().splitlines())
    return rows


def _write_yolo_dataset(root: Path) -> Path:
    """Three images (two sizes), two classes, two keypoints with one missing, one empty image."""
    labels = {
        "a": ["0 0.500000 0.400000 0.200000 0.300000 0.450000 0.350000 2 0.550000 0.450000 2",
              "1 0.250000 0.750000 0.100000 0.100000 0.000000 0.000000 0 0.260000 0.760000 2"],
        "b": ["1 0.123457 0.654321 0.050000 0.040000 0.120000 0.650000 2 0.000000 0.000000 0"],
        "c": [],
    }
    sizes = {"a": (320, 240), "b": (200, 100), "c": (320, 240)}
    for split, names in (("train", ["a", "c"]), ("val", ["b"])):
        for name in names:
            (root / "images" / split).mkdir(parents=True, exist_ok=True)
            (root / "labels" / split).mkdir(parents=True, exist_ok=True)
            w, h = sizes[name]
            cv2.imwrite(str(root / "images" / split / f"{name}.png"), np.zeros((h, w, 3), np.uint8))
            (root / "labels" / split / f"{name}.txt").write_text("".join(f"{r}\n" for r in labels[name]))
    data = {"path": str(root), "train": "images/train", "val": "images/val", "names": {0: "mouse", 1: "paw"},
            "kpt_shape": [2, 3], "kpt_names": {0: ["nose", "tail"]}}
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    return root / "data.yaml"


def test_yolo_to_project_to_coco_to_yolo_keeps_every_label(tmp_path):
    source = _write_yolo_dataset(tmp_path / "yolo")
    project, report = import_labels(source, tmp_path / "p1", format="yolo")
    assert (report.images, report.instances) == (3, 3)
    assert project.spec.keypoints == ("nose", "tail")
    coco = export_labels(project, tmp_path / "coco" / "labels.json", format="coco")
    again, _ = import_labels(coco, tmp_path / "p2", format="coco")
    out = export_labels(again, tmp_path / "yolo2", val_fraction=0.0, format="yolo")
    before, after = _yolo_rows(tmp_path / "yolo"), _yolo_rows(tmp_path / "yolo2")
    assert sorted(before) == sorted(after)
    for stem in before:
        assert len(before[stem]) == len(after[stem])
        for row_a, row_b in zip(before[stem], after[stem]):
            assert row_a == pytest.approx(row_b, abs=REL_TOL)
    written = yaml.safe_load(out.read_text())
    assert written["kpt_shape"] == [2, 3] and written["names"] == {0: "mouse", 1: "paw"}


def test_coco_file_names_are_relative_to_the_json_folder(make_project, tmp_path):
    project = make_project(1)
    project.write_label("img000.png", [{"class": 0, "box": [1, 2, 11, 22], "keypoints": [[3, 4], None]}])
    path = export_labels(project, tmp_path / "elsewhere" / "c.json", format="coco")
    data = json.loads(path.read_text())
    assert (path.parent / data["images"][0]["file_name"]).resolve() == project.image_path("img000.png")
    ann = data["annotations"][0]
    assert ann["bbox"] == [1, 2, 10, 20] and ann["keypoints"] == [3, 4, 2, 0, 0, 0] and ann["num_keypoints"] == 1
    assert data["categories"][0]["skeleton"] == [[1, 2]]


def test_dlc_csv_to_project_to_yolo_keeps_every_keypoint(shared_data, tmp_path):
    source = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    project, report = import_labels(source, tmp_path / "project", format="dlc")
    assert report.images == 116 and not report.missing_images
    export_labels(project, tmp_path / "yolo", val_fraction=0.2, format="yolo")
    rows = _yolo_rows(tmp_path / "yolo")
    with open(source, newline="") as handle:
        table = list(csv.reader(handle))
    parts = table[1][1:]
    assert project.spec.keypoints == tuple(dict.fromkeys(parts))
    checked = 0
    for row in table[3:]:
        stem = Path(row[0]).stem
        (label,) = rows[stem]
        for k in range(4):
            # DLC's pixel centres are at integers, YOLO's origin is the corner: +0.5 px
            x, y = float(row[1 + 2 * k]) + 0.5, float(row[2 + 2 * k]) + 0.5
            assert label[5 + 3 * k] == pytest.approx(x / 640, abs=REL_TOL)
            assert label[6 + 3 * k] == pytest.approx(y / 480, abs=REL_TOL)
            assert label[7 + 3 * k] == 2
            checked += 1
    assert checked == 116 * 4


def test_dlc_missing_cells_become_missing_keypoints_and_skeleton_comes_from_config(shared_data, tmp_path):
    source = shared_data / "dlc-reaching" / "labeled-data" / "reachingvideo1" / "CollectedData_Mackenzie.csv"
    project, report = import_labels(source, tmp_path / "project", format="dlc")
    assert project.spec.skeleton == ((0, 1), (3, 4))
    label = project.read_label("img005.png")
    (inst,) = label["instances"]
    assert inst["keypoints"][2] is None  # Tongue is empty in the CSV for img005
    # the CSV's (185.2517, 610.3623), centre origin, in the project's corner origin
    assert inst["keypoints"][0] == pytest.approx([185.75173502386923, 610.8622760638572])


def test_yolo_mark_example_reports_missing_images_and_orphan_labels(shared_data, tmp_path):
    folder = shared_data / "yolo-mark-example"
    project, report = import_labels(folder, tmp_path / "project", format="yolo_mark")
    expected_missing = [line for line in (folder / "train.txt").read_text().split()
                        if not (folder / "img" / Path(line).name).is_file()]
    assert report.missing_images == expected_missing
    orphans = sorted(p.name for p in (folder / "img").glob("*.txt")
                     if not p.with_suffix(".jpg").is_file())
    assert sorted(report.labels_without_images) == orphans
    assert report.images == len(list((folder / "img").glob("*.jpg")))
    assert project.spec.classes == ("air", "bird")
    for image in sorted((folder / "img").glob("*.jpg")):
        h, w = cv2.imread(str(image)).shape[:2]
        expected = [[float(v) for v in line.split()] for line in image.with_suffix(".txt").read_text().splitlines()
                    if line.strip()]
        got = project.read_label(image.name)["instances"]
        assert len(got) == len(expected)
        for inst, row in zip(got, expected):
            x1, y1, x2, y2 = inst["box"]
            assert inst["class"] == int(row[0])
            assert [(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h] == pytest.approx(row[1:])
    # and back out: same label lines for the images that exist
    export_labels(project, tmp_path / "out", format="yolo_mark")
    for image in sorted((folder / "img").glob("*.jpg")):
        mine = [[float(v) for v in line.split()] for line in (tmp_path / "out" / "img" / f"{image.stem}.txt")
                .read_text().splitlines()]
        theirs = [[float(v) for v in line.split()] for line in image.with_suffix(".txt").read_text().splitlines()
                  if line.strip()]
        np.testing.assert_allclose(mine, theirs, atol=REL_TOL)


def test_tensorbox_round_trip_and_progress_stream(make_project, tmp_path):
    project = make_project(2, keypoints=(), skeleton=())
    project.write_label("img000.png", [{"class": 0, "box": [10.5, 20.25, 30.0, 40.0]},
                                      {"class": 1, "box": [1, 2, 3, 4]}])
    project.write_label("img001.png", [])
    path = export_labels(project, tmp_path / "tb" / "labels.json", format="tensorbox")
    again, report = import_labels(path, tmp_path / "again", format="tensorbox")
    assert report.images == 2 and report.instances == 2
    boxes = [i["box"] for i in again.read_label("img000.png")["instances"]]
    assert boxes == [[10.5, 20.25, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0]]
    records = json.loads(path.read_text())
    stream = tmp_path / "labels.json_work"  # the progress file: the same objects back to back
    stream.write_text("".join(json.dumps(r, indent=2) for r in records))
    assert [value for value, _ in load_json_objects(stream)] == records


def test_tensorbox_sample_without_images_is_refused_naming_them(shared_data, tmp_path):
    # A labels file whose images all resolve to nothing imports nothing: an error (issue 28), naming
    # the file and one of the paths it could not find, before any project is created.
    source = shared_data / "deepbehavior-formats" / "tensorbox_labels.json"
    with pytest.raises(ValueError, match=r"tensorbox_labels\.json: Expected labelled images to import, but got 0 "
                                         r"\(its 10 image paths, e\.g\. frames/pict00000\.png, resolve to no file\)"):
        import_labels(source, tmp_path / "p", format="tensorbox")
    assert not (tmp_path / "p").exists()


def test_guess_format_and_flip_indices(tmp_path):
    source = _write_yolo_dataset(tmp_path / "yolo")
    assert guess_format(source.parent, labels=True) == "yolo"
    (tmp_path / "c.json").write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    (tmp_path / "t.json").write_text("[]")
    assert guess_format(tmp_path / "c.json", labels=True) == "coco"
    assert guess_format(tmp_path / "t.json", labels=True) == "tensorbox"
    project, report = import_labels(source, tmp_path / "p")
    assert report.images == 3
    assert flip_indices(["snout", "leftear", "rightear", "tailbase"]) == [0, 2, 1, 3]
    assert flip_indices(["Nose", "LEye", "REye"]) == [0, 2, 1]


def test_export_with_nothing_labelled_is_an_error(make_project, tmp_path):
    with pytest.raises(ValueError, match="none is labelled"):
        export_labels(make_project(2), tmp_path / "out", format="yolo")
