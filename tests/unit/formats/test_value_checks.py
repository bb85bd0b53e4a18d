"""Values checked against what they describe: positions within the frame, frame numbers as the file
states them, files cut short refused, and every error naming the file.

Ground truth is the real file before the damage: the openfield labels (116 frames of a 640×480
recording, DeepLabCut's layout, which Lightning Pose shares).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from deepbehavior.formats import FormatError, load_file, load_labels
from deepbehavior.formats.coco import save_coco_labels
from deepbehavior.formats.yolo_mark import read_yolo_mark_labels

OPENFIELD = "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.csv"


def _rows(path):
    lines = path.read_text().splitlines(keepends=True)
    return lines[:3], lines[3:]


def _as_predictions(shared_data, tmp_path):
    """The openfield labels as a predictions CSV: rows indexed by frame number 0..115."""
    header, rows = _rows(shared_data / OPENFIELD)
    path = tmp_path / "predictions.csv"
    path.write_text("".join(header) + "".join(f"{i}," + row.split(",", 1)[1] for i, row in enumerate(rows)))
    return path


def test_positions_far_outside_the_video_frame_are_refused_naming_file_field_and_bound(shared_data, tmp_path):
    path = _as_predictions(shared_data, tmp_path)
    lines = path.read_text().splitlines(keepends=True)
    cells = lines[3 + 40].split(",")
    cells[1] = "500000"  # snout x of frame 40
    lines[3 + 40] = ",".join(cells)
    path.write_text("".join(lines))
    assert load_file(path, "dlc")["position"].max() == 500000  # no frame size known: only ±1e6 applies
    with pytest.raises(FormatError) as info:
        load_file(path, "dlc", frame_size=(640, 480))
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}, position x (frame=40, keypoints=snout, individuals=individual0)")
    assert "[-64, 704] px" in message and "640×480" in message and "500000" in message


def test_labels_are_checked_against_their_images(shared_data, tmp_path):
    # the labelled images are beside the file: their size bounds the positions without video=
    folder = tmp_path / "m4s1"
    shutil.copytree((shared_data / OPENFIELD).parent, folder)
    path = folder / "CollectedData_Pranav.csv"
    assert load_file(path, "dlc").attrs["frame_size"] == [640, 480]
    text = path.read_text().replace("21.521,265.428", "21.521,-12340.5", 1)  # img0000 snout y
    path.write_text(text)
    with pytest.raises(FormatError, match=r"CollectedData_Pranav\.csv, position y \(frame=0, keypoints=snout.*"
                                          r"\[-48, 528\] px \(the file's frame of 640×480"):
        load_file(path, "dlc")
    with pytest.raises(FormatError, match=r"CollectedData_Pranav\.csv, img0000\.png, instance 0, y coordinate: "
                                          r"Expected values in \[-48, 528\] px"):
        load_labels(path, "dlc")


def test_an_off_image_box_never_reaches_a_label_export(shared_data, tmp_path):
    # a COCO file whose box lies far above its image (a YOLO export would write y = -25.7)
    labels = read_yolo_mark_labels(shared_data / "yolo-mark-example")
    path = save_coco_labels(labels, tmp_path / "coco.json")
    for image in labels.images:
        shutil.copyfile(image.path, tmp_path / image.path.name)
    data = json.loads(path.read_text())
    for image in data["images"]:
        image["file_name"] = image["file_name"].rsplit("/", 1)[-1]
    first = data["annotations"][0]
    height = next(i["height"] for i in data["images"] if i["id"] == first["image_id"])
    first["bbox"][1] = -25.7 * height  # normalised y of -25.7
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=r"coco\.json, .*instance 0, y coordinate: Expected values in "
                                          r"\[-\d+(\.\d+)?, "):
        load_labels(path, "coco")


def test_lightning_pose_with_a_row_deleted_keeps_every_frame_number(shared_data, tmp_path):
    original = load_file(shared_data / OPENFIELD, "lightning_pose")
    header, rows = _rows(shared_data / OPENFIELD)
    path = tmp_path / "lp.csv"
    path.write_text("".join(header) + "".join(rows[:58] + rows[59:]))
    damaged = load_file(path, "lightning_pose")
    assert damaged.sizes["time"] == 115 and 58 not in damaged["frame"].values
    assert damaged.attrs["missing_frames"] == 1
    # every remaining frame holds its own values: none shifted by one
    expected = original["position"].sel(time=damaged["time"])
    np.testing.assert_array_equal(damaged["position"].values, expected.values)


def test_lightning_pose_predictions_cut_short_are_refused(shared_data, tmp_path):
    path = _as_predictions(shared_data, tmp_path)
    text = path.read_text()
    mid_line = tmp_path / "mid.csv"
    mid_line.write_text(text[:len(text) // 2 + 7])
    with pytest.raises(FormatError, match=r"mid\.csv, line \d+: Expected .*\(the file may be truncated\)"):
        load_file(mid_line, "lightning_pose")
    at_line_end = tmp_path / "end.csv"
    at_line_end.write_text(text[:text.index("\n", len(text) // 2) + 1])
    assert load_file(at_line_end, "lightning_pose").sizes["time"] < 116  # alone it looks like a shorter file
    with pytest.raises(FormatError, match=r"end\.csv, rows: Expected a row for each of the 116 frames of the video "
                                          r"\(the file may be truncated\), but got \d+ rows"):
        load_file(at_line_end, "lightning_pose", frame_count=116)


@pytest.mark.parametrize("fmt", ["lightning_pose", "dlc"])
def test_repeated_or_moved_rows_are_refused_naming_the_row(shared_data, tmp_path, fmt):
    path = _as_predictions(shared_data, tmp_path)
    header, rows = _rows(path)
    path.write_text("".join(header + rows[:10] + [rows[9]] + rows[10:]))
    with pytest.raises(FormatError, match=r"predictions\.csv, .*data row 11: Expected frame numbers that increase "
                                          r"\(frame 9 came before\), but got a repeated frame number 9"):
        load_file(path, fmt)
    path.write_text("".join(header + rows[:10] + rows[11:12] + rows[10:11] + rows[12:]))
    with pytest.raises(FormatError, match=r"data row 12: .*but got an earlier frame number 10"):
        load_file(path, fmt)


def test_tensorbox_record_written_twice_is_refused_not_shifted(shared_data, tmp_path):
    records = json.loads((shared_data / "deepbehavior-formats/tensorbox_predictions_array.json").read_text())
    path = tmp_path / "tb.json"
    path.write_text(json.dumps(records[:5] + [records[4]] + records[5:]))
    with pytest.raises(FormatError, match=r"tb\.json, object 5 \(line \d+\), 'frame_number': Expected each frame "
                                          r"once \(frame 4 is also object 4\), but got 'pict00004.png'"):
        load_file(path, "tensorbox")


def test_darknet_number_with_an_exponent_is_not_read_as_its_first_digits(shared_data, tmp_path):
    text = (shared_data / "deepbehavior-formats/darknet_ext_output.txt").read_text()
    path = tmp_path / "d.txt"
    path.write_text(text.replace("left_x:  320", "left_x:  1e5", 1))
    with pytest.raises(FormatError, match=r"d\.txt, line \d+: Expected box fields left_x, top_y, width, height"):
        load_file(path, "darknet")


def test_coco_image_id_that_is_a_list_is_one_line(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"images": [], "categories": [{"id": 1, "name": "m"}],
                                "annotations": [{"image_id": [1], "category_id": 1, "bbox": [0, 0, 1, 1]}]}))
    with pytest.raises(FormatError, match=r"c\.json, annotation 0, 'image_id': Expected an image id"):
        load_labels(path, "coco")


def test_errors_from_below_the_readers_name_the_file(shared_data):
    folder = shared_data / "deepbehavior-formats" / "openpose_cam1"
    with pytest.raises(FormatError, match=rf"^{folder}: Expected people 'first' or 'all', but got 'some'$"):
        load_file(folder, "openpose", people="some")


def test_labels_with_repeated_names_or_a_skeleton_beyond_the_keypoints_are_refused(shared_data, tmp_path):
    image = next((shared_data / "yolo-mark-example" / "img").glob("*.jpg"))
    shutil.copyfile(image, tmp_path / "a.jpg")
    path = tmp_path / "c.json"
    base = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": []}
    cases = [([{"id": 1, "name": "m"}, {"id": 2, "name": "m"}], r"class names: Expected distinct class names, "
                                                                 r"but got 'm' more than once"),
             ([{"id": 1, "name": "m", "keypoints": ["a", "b"], "skeleton": [[1, 5]]}],
              r"skeleton: Expected pairs of keypoint indices in \[0, 2\), but got \[0, 4\]")]
    for categories, message in cases:
        path.write_text(json.dumps({**base, "categories": categories}))
        with pytest.raises(FormatError, match=rf"c\.json, {message}"):
            load_labels(path, "coco")


@pytest.mark.parametrize(("source", "accepted"), [("SLEAP", True), ("DeepLabCut", False)])
def test_nwb_scores_above_1_are_accepted_only_from_sleap(tmp_path, source, accepted):
    from deepbehavior import schema
    from deepbehavior.formats import save_file

    position = np.full((5, 2, 2, 1), 10.0)
    confidence = np.full((5, 2, 1), 0.9)
    confidence[2, 0, 0] = 1.35  # a SLEAP confidence-map peak; no probability is above 1
    ds = schema.make_poses(position, confidence, fps=30.0, keypoints=["nose", "tail"], individuals=["mouse"],
                           source_software=source)
    ds.attrs["session_start_time"] = "2024-01-02T03:04:05+00:00"
    (path,) = save_file(ds, tmp_path / "poses.nwb", "nwb")
    if accepted:
        assert float(load_file(path, "nwb")["confidence"].max()) == pytest.approx(1.35)
    else:
        with pytest.raises(FormatError, match=r"poses\.nwb, confidence .*1\.35") as info:
            load_file(path, "nwb")
        assert "\n" not in str(info.value)


def test_a_malformed_session_start_time_is_one_line_naming_the_store(tmp_path):
    from deepbehavior import schema
    from deepbehavior.formats import save_file

    ds = schema.make_poses(np.full((3, 2, 1, 1), 10.0), np.full((3, 1, 1), 0.5), fps=30.0, keypoints=["nose"],
                           individuals=["mouse"])
    ds.attrs["session_start_time"] = "last Tuesday"
    ds.encoding["source"] = str(tmp_path / "s1.zarr")
    with pytest.raises(FormatError) as info:
        save_file(ds, tmp_path / "s1.nwb", "nwb")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path / 's1.zarr'}, attrs['session_start_time']: Expected an ISO 8601")
    assert message.endswith("but got last Tuesday")


def test_tensorbox_mixing_numbered_and_unnumbered_records_is_refused(shared_data, tmp_path):
    records = json.loads((shared_data / "deepbehavior-formats/tensorbox_predictions_array.json").read_text())
    records[3]["frame_number"] = "frame.png"  # no number: its place among the others is unknown
    path = tmp_path / "tb.json"
    path.write_text(json.dumps(records))
    with pytest.raises(FormatError, match=rf"tb\.json, object 3 \(line \d+\), 'frame_number': Expected a frame "
                                          rf"number in every record or in none \({len(records) - 1} of "
                                          rf"{len(records)} records have one\), but got 'frame.png'") as info:
        load_file(path, "tensorbox")
    assert "\n" not in str(info.value)
    for record in records:  # none numbered: the records' order
        record["frame_number"] = "frame.png"
    path.write_text(json.dumps(records))
    assert list(load_file(path, "tensorbox")["frame"].values) == list(range(len(records)))


def _two_videos_csv(shared_data, tmp_path):
    """A project-root CSV (Lightning Pose's CollectedData.csv) over two videos' labelled frames, each
    numbered from img0000, the images under labeled-data/<video>/ relative to the CSV."""
    source = (shared_data / OPENFIELD).parent
    header, rows = _rows(shared_data / OPENFIELD)
    for video in ("m4s1", "m4s2"):
        (tmp_path / "labeled-data" / video).mkdir(parents=True)
        shutil.copy(source / "img0000.png", tmp_path / "labeled-data" / video / "img0000.png")
    second = [row.replace("labeled-data/m4s1/", "labeled-data/m4s2/", 1) for row in rows[:3]]
    path = tmp_path / "CollectedData.csv"
    path.write_text("".join(header + rows[:3] + second))
    return path


def test_lightning_pose_labelled_frames_of_several_videos_are_refused_as_such(shared_data, tmp_path):
    path = _two_videos_csv(shared_data, tmp_path)
    with pytest.raises(FormatError) as info:
        load_file(path, "lightning_pose")
    message = str(info.value)
    assert "\n" not in message and "repeated" not in message
    assert message == (f"{path}, first column: Expected labelled frames of one video (import them one video at a "
                       "time), but got labelled frames of 2 videos: labeled-data/m4s1, labeled-data/m4s2")


def test_labelled_image_size_is_found_relative_to_the_csv_folder(shared_data, tmp_path):
    path = _two_videos_csv(shared_data, tmp_path)
    ds = load_file(path, "dlc")  # images at <CSV folder>/labeled-data/<video>/, as read_dlc_labels finds them
    assert ds.attrs["frame_size"] == [640, 480]
    labels = load_labels(path, "dlc")  # the same images the labels reader finds (only img0000 of each copied)
    assert [str(i.path.relative_to(tmp_path)) for i in labels.images] == [
        "labeled-data/m4s1/img0000.png", "labeled-data/m4s2/img0000.png"]
