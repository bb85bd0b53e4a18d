"""Fuzzing every import and label reader with mutated copies of the real files in ../shared/data.

Two kinds of mutation, drawn by hypothesis (derandomized, so CI sees the same cases every run):
bytes (flipped, deleted, the file cut short) and values (a number of the file replaced by inf,
NaN, 1e308, -12345, a frame number of 999999999999, …). For every mutated file a reader must
either refuse it with one :class:`FormatError` line naming the file, or return values within the
documented limits: finite (or NaN) positions within ±1e6 px, confidences in [0, 1] (SLEAP: [0, 10])
or NaN, box sizes not negative. Anything else (another exception type, a traceback, garbage
accepted) fails the test. The budget (examples per reader) keeps the file under a minute on 2 cores.
"""

from __future__ import annotations

import re
import shutil
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepbehavior.formats import FORMATS, FormatError, LabelSet, load_file, load_labels
from deepbehavior.formats._common import MAX_PIXELS, check_dataset
from deepbehavior.formats.coco import save_coco_labels
from deepbehavior.formats.yolo import save_yolo_labels
from deepbehavior.formats.yolo_mark import read_yolo_mark_labels

HOSTILE = ["inf", "-inf", "nan", "NaN", "1e308", "-1e308", "5e25", "-12345", "999999999999", "-1", "1.5", "",
           "0x10", "1e", "--3", "\u00a0", "2147483648"]
NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _check_accepted(result, fmt: str) -> None:
    """Values of a dataset or LabelSet a reader accepted must be within the documented limits."""
    if isinstance(result, LabelSet):
        for image in result.images:
            for inst in image.instances:
                values = list(inst["box"] or []) + [v for p in inst["keypoints"] or [] if p for v in p]
                assert all(np.isfinite(v) and abs(v) <= MAX_PIXELS for v in values), (image.path, inst)
                assert 0 <= inst["class"] < len(result.classes)
        return
    check_dataset(result, "accepted", max_confidence=FORMATS[fmt].max_confidence)  # raises if out of range


def _outcome(read, target: Path, fmt: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = read()
        except FormatError as exc:
            message = str(exc)
            assert "\n" not in message, message
            assert target.name in message or target.parent.name in message, message
            return
        except FileNotFoundError as exc:  # a mutated path inside a dataset (obj.data, train.txt)
            assert "\n" not in str(exc)
            return
    _check_accepted(result, fmt)


HOSTILE_BINARY = [struct.pack("<d", v) for v in (np.inf, -np.inf, np.nan, 1e308, 5e25, -12345.0)] + \
    [struct.pack("<f", v) for v in (np.inf, np.nan, 3e38, 5e25, -12345.0)] + \
    [struct.pack("<q", 999999999999), struct.pack("<i", -1)]


def _mutate_binary(data, original: bytes) -> bytes:
    """HDF5 keeps offsets: change bytes in place (a flipped bit, a hostile float or int written over)."""
    at = data.draw(st.integers(0, max(len(original) - 9, 0)))
    if data.draw(st.booleans()):
        return original[:at] + bytes([original[at] ^ (1 << data.draw(st.integers(0, 7)))]) + original[at + 1:]
    new = data.draw(st.sampled_from(HOSTILE_BINARY))
    return original[:at] + new + original[at + len(new):]


def _mutate(data, original: bytes) -> bytes:
    if original[:8] == b"\x89HDF\r\n\x1a\n":
        return _mutate_binary(data, original)
    kind = data.draw(st.sampled_from(["value", "value", "flip", "delete", "truncate"]))
    if kind == "value":
        numbers = list(NUMBER.finditer(original))
        if numbers:
            match = numbers[data.draw(st.integers(0, len(numbers) - 1))]
            new = data.draw(st.sampled_from(HOSTILE)).encode()
            return original[:match.start()] + new + original[match.end():]
        kind = "flip"
    at = data.draw(st.integers(0, max(len(original) - 1, 0)))
    if kind == "flip":
        return original[:at] + bytes([original[at] ^ (1 << data.draw(st.integers(0, 7)))]) + original[at + 1:]
    if kind == "delete":
        return original[:at] + original[at + data.draw(st.integers(1, 64)):]
    return original[:at]


# ---------------------------------------------------------------- the cases: (format, labels?, setup)
# setup(shared_data, tmp) -> (the file to mutate, the path to read)

def _copy(shared_data, tmp, name):
    target = tmp / Path(name).name
    shutil.copyfile(shared_data / name, target)
    return target, target


def _openpose(shared_data, tmp):
    folder = tmp / "openpose_cam1"
    if not folder.exists():
        shutil.copytree(shared_data / "deepbehavior-formats" / "openpose_cam1", folder)
    return folder / "cam1_000000000007_keypoints.json", folder


def _yolo_mark(shared_data, tmp):
    folder = tmp / "yolo-mark"
    if not folder.exists():
        shutil.copytree(shared_data / "yolo-mark-example", folder)
    return folder / "img" / "air1.txt", folder


def _yolo_mark_names(shared_data, tmp):
    target, folder = _yolo_mark(shared_data, tmp)
    return folder / "obj.data", folder


def _dlc_labels(shared_data, tmp):
    folder = tmp / "project" / "labeled-data" / "m4s1"
    if not folder.exists():
        folder.mkdir(parents=True)
        for image in (shared_data / "dlc-openfield" / "labeled-data" / "m4s1").glob("*.png"):
            (folder / image.name).symlink_to(image)
    target = folder / "CollectedData_Pranav.csv"
    shutil.copyfile(shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv", target)
    return target, target


def _yolo(shared_data, tmp):
    folder = tmp / "ultralytics"
    if not folder.exists():
        save_yolo_labels(read_yolo_mark_labels(shared_data / "yolo-mark-example"), folder, val_fraction=0.5)
    return sorted((folder / "labels" / "train").glob("*.txt"))[0], folder


def _coco(shared_data, tmp):
    target = tmp / "coco.json"
    labels = read_yolo_mark_labels(shared_data / "yolo-mark-example")
    for image in labels.images:
        image.width, image.height = 100, 100
    save_coco_labels(labels, target)
    return target, target


CASES = {
    "tensorbox array": ("tensorbox", False, lambda d, t: _copy(d, t, "deepbehavior-formats/tensorbox_predictions_array.json")),
    "tensorbox stream": ("tensorbox", False, lambda d, t: _copy(d, t, "deepbehavior-formats/tensorbox_predictions_stream.json")),
    "tensorbox labels": ("tensorbox", False, lambda d, t: _copy(d, t, "deepbehavior-formats/tensorbox_labels.json")),
    "darknet box": ("darknet", False, lambda d, t: _copy(d, t, "deepbehavior-formats/darknet_bounding_box.txt")),
    "darknet ext": ("darknet", False, lambda d, t: _copy(d, t, "deepbehavior-formats/darknet_ext_output.txt")),
    "openpose": ("openpose", False, _openpose),
    "yolo_mark": ("yolo_mark", False, _yolo_mark),
    "dlc csv": ("dlc", False, lambda d, t: _copy(d, t, "dlc-reaching/labeled-data/reachingvideo1/CollectedData_Mackenzie.csv")),
    "dlc h5": ("dlc", False, lambda d, t: _copy(d, t, "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5")),
    "sleap slp": ("sleap", False, lambda d, t: _copy(d, t, "sleap-flies/centered_pair_predictions.slp")),
    "sleap h5": ("sleap", False, lambda d, t: _copy(d, t, "sleap-flies/centered_pair_predictions.h5")),
    "labels tensorbox": ("tensorbox", True, lambda d, t: _copy(d, t, "deepbehavior-formats/tensorbox_labels.json")),
    "labels yolo_mark": ("yolo_mark", True, _yolo_mark),
    "labels yolo_mark obj.data": ("yolo_mark", True, _yolo_mark_names),
    "labels yolo": ("yolo", True, _yolo),
    "labels coco": ("coco", True, _coco),
    "labels dlc": ("dlc", True, _dlc_labels),
}
# HDF5 files take a tenth of a second or more to read: fewer examples.
EXAMPLES = {"dlc h5": 15, "sleap slp": 10, "sleap h5": 10}


@pytest.mark.parametrize("case", list(CASES))
def test_mutated_files_are_refused_in_one_line_or_read_within_limits(case, shared_data, tmp_path):
    fmt, labels, setup = CASES[case]
    target, source = setup(shared_data, tmp_path)
    original = target.read_bytes()

    @settings(max_examples=EXAMPLES.get(case, 30), deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        target.write_bytes(_mutate(data, original))
        read = (lambda: load_labels(source, fmt)) if labels else (lambda: load_file(source, fmt))
        _outcome(read, target, fmt)

    check()


def test_openpose_frame_number_far_beyond_any_video_is_refused_before_allocating(shared_data, tmp_path):
    folder = tmp_path / "op"
    shutil.copytree(shared_data / "deepbehavior-formats" / "openpose_cam1", folder)
    (folder / "cam1_000000000029_keypoints.json").rename(folder / "cam1_999999999999_keypoints.json")
    with pytest.raises(FormatError, match=r"op, frame numbers in the file names: Expected frame numbers in "
                                          r"\[0, 10000000\], but got 999999999999"):
        load_file(folder, "openpose")


def test_dlc_csv_cut_in_half_is_refused(shared_data, tmp_path):
    text = (shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv").read_bytes()
    path = tmp_path / "CollectedData_Pranav.csv"
    path.write_bytes(text[:len(text) // 2])
    with pytest.raises(FormatError, match=r"CollectedData_Pranav\.csv, line \d+: Expected .*\(the file may be "
                                          r"truncated\)"):
        load_file(path, "dlc")


@pytest.mark.parametrize("name", ["darknet_bounding_box.txt", "darknet_ext_output.txt"])
def test_darknet_file_cut_mid_line_is_refused(shared_data, tmp_path, name):
    text = (shared_data / "deepbehavior-formats" / name).read_bytes()
    path = tmp_path / name
    cut = text.rfind(b"\n", 0, len(text) // 2) + 12  # inside a line, past its first characters
    path.write_bytes(text[:cut])
    with pytest.raises(FormatError, match=rf"{name}, (line|frame block) \d+: Expected"):
        load_file(path, "darknet")


@pytest.mark.parametrize("value, field", [("inf", "position"), ("5e25", "position"), ("-12345", "confidence"),
                                          ("nan", None)])
def test_dlc_values_out_of_range_name_the_field(tmp_path, value, field):
    path = tmp_path / "p.csv"
    path.write_text(f"scorer,n,n,n\nbodyparts,paw,paw,paw\ncoords,x,y,likelihood\n0,1,2,0.5\n"
                    f"1,{value if field == 'position' else 3},4,{value if field != 'position' else 0.25}\n")
    if field is None:
        assert np.isnan(load_file(path)["confidence"].values[1]).all()  # NaN is "missing", accepted
        return
    with pytest.raises(FormatError, match=rf"p\.csv, {field} \(frame=1, .*Expected finite values"):
        load_file(path)


def test_sleap_points_and_scores_out_of_range_are_refused(shared_data, tmp_path):
    import sleap_io as sio

    labels = sio.load_slp(str(shared_data / "sleap-flies" / "centered_pair_predictions.slp"), open_videos=False)
    labels.labeled_frames = labels.labeled_frames[:6]  # small files: quick to write
    inst = labels.labeled_frames[3].instances[0]
    for field, value, expected in (("xy", np.inf, "position"), ("xy", 5e25, "position"),
                                   ("score", -12345.0, "confidence")):
        saved = inst.points[field][2].copy()
        inst.points[field][2] = value
        path = tmp_path / f"{field}.slp"
        sio.save_slp(labels, str(path))
        inst.points[field][2] = saved
        with pytest.raises(FormatError, match=rf"{field}\.slp, {expected} \(frame=3, .*Expected finite values"):
            load_file(path, "sleap")
