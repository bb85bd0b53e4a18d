"""Every reader against the mutations a careless copy or an attacker makes, seeded from real files.

For each real file in ../shared/data (and files derived from them: a DeepLabCut predictions CSV,
an ultralytics and a COCO dataset of the Yolo_mark example), and for each family of mutation:

- ``offimage``: one coordinate set far outside the frame (500,000 px, -5,000 px, three widths;
  YOLO's relative -25.7);
- ``delete_row`` / ``duplicate_row``: one data row (line, JSON record, OpenPose frame file) removed
  or written twice;
- ``truncate_line`` / ``truncate_mid``: the file cut at the end of a line, or inside one;
- ``garbage``: one to four random byte changes (flip, overwrite, insert, delete, repeat, cut);
- ``hostile``: one number replaced by a huge number, NaN or inf;
- ``empty``: the file emptied;

the reader must end in one of two ways: a one-line ``ValueError``/``OSError`` naming the file, or
a correct import. Correct means: positions finite (or NaN) within the frame widened by
:data:`FRAME_MARGIN` (the frame of the recording, given as ``frame_size`` as ``deepbehavior import
video=`` does, or the image's for labels), and every frame (or labelled image) the mutation did
not touch holding the original file's values, matched by the frame number or image path the file
states, never by row order: a deleted row must not shift the rows after it. Some families must be
refused outright: off-image values, empty files, a CSV cut inside a line, and a file with a row per
frame cut at a line end (its video's length is known). Every case runs under a time limit: a hang
fails it. The cases are drawn from a seeded generator, the same on every run.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import signal
import struct
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from deepbehavior import schema
from deepbehavior.formats import LabelSet, load_file, load_labels
from deepbehavior.formats._common import FRAME_MARGIN
from deepbehavior.formats.coco import save_coco_labels
from deepbehavior.formats.yolo import save_yolo_labels
from deepbehavior.formats.yolo_mark import read_yolo_mark_labels

#: Seconds one case may take before it counts as a hang.
LIMIT_S = 20
#: Cases per family and seed file (times DEEPBEHAVIOR_FUZZ_SCALE).
PER_FAMILY = {"offimage": 8, "delete_row": 8, "duplicate_row": 6, "truncate_line": 8, "truncate_mid": 8,
              "garbage": 16, "hostile": 14, "empty": 1}
#: HDF5 files cost a tenth of a second or more a read: fewer cases.
PER_FAMILY_H5 = {"offimage": 3, "delete_row": 2, "duplicate_row": 2, "truncate_mid": 3, "garbage": 5, "hostile": 4,
                 "empty": 1}
HOSTILE = ["inf", "-inf", "nan", "1e308", "-1e308", "5e25", "999999999999", "500000"]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass
class Seed:
    """One real file and how to read it.

    ``setup(shared_data, tmp)`` copies what is needed to ``tmp`` and returns (the file to mutate,
    the path to read). ``frame_size`` (width, height) is the recording's (None: labels, the images
    say); ``frame_count`` the video's frames for files with a row per frame.
    """

    format: str
    labels: bool
    setup: Callable
    kind: str  # csv, json_array, json_stream, darknet, yolo, lines, openpose, coco, h5_dlc, h5_sleap, slp
    frame_size: tuple[int, int] | None = None
    frame_count: int | None = None


def _copy(name):
    def setup(shared_data, tmp):
        target = tmp / Path(name).name
        shutil.copyfile(shared_data / name, target)
        return target, target
    return setup


OPENFIELD = "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.csv"


def _predictions_csv(shared_data, tmp):
    # the openfield labels as predictions: rows indexed by frame number, a likelihood per point
    lines = (shared_data / OPENFIELD).read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        cells = line.split(",")
        head, values = cells[0], cells[1:]
        if i < 3:
            doubled = [v for pair in zip(values[0::2], values[1::2]) for v in (*pair, pair[0])]
            if head == "coords":
                doubled = [v for pair in zip(values[0::2], values[1::2]) for v in (*pair, "likelihood")]
            out.append(",".join([head] + doubled))
        else:
            row = [v for pair in zip(values[0::2], values[1::2]) for v in (*pair, "0.95")]
            out.append(",".join([str(i - 3)] + row))
    target = tmp / "predictions.csv"
    target.write_text("\n".join(out) + "\n")
    return target, target


def _dlc_labels(shared_data, tmp):
    folder = tmp / "project" / "labeled-data" / "m4s1"
    folder.mkdir(parents=True, exist_ok=True)
    for image in (shared_data / OPENFIELD).parent.glob("*.png"):
        if not (folder / image.name).exists():
            (folder / image.name).symlink_to(image)
    target = folder / "CollectedData_Pranav.csv"
    shutil.copyfile(shared_data / OPENFIELD, target)
    return target, target


def _openpose(shared_data, tmp):
    folder = tmp / "openpose_cam1"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(shared_data / "deepbehavior-formats" / "openpose_cam1", folder)
    return folder / "cam1_000000000007_keypoints.json", folder


def _yolo_mark(shared_data, tmp):
    folder = tmp / "yolo-mark"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(shared_data / "yolo-mark-example", folder)
    return folder / "img" / "air1.txt", folder


def _yolo_mark_list(shared_data, tmp):
    _, folder = _yolo_mark(shared_data, tmp)
    return folder / "train.txt", folder


def _yolo(shared_data, tmp):
    folder = tmp / "ultralytics"
    shutil.rmtree(folder, ignore_errors=True)
    save_yolo_labels(read_yolo_mark_labels(shared_data / "yolo-mark-example"), folder, val_fraction=0.5)
    return sorted((folder / "labels" / "train").glob("*.txt"))[0], folder


def _coco(shared_data, tmp):
    target = tmp / "coco.json"
    labels = read_yolo_mark_labels(shared_data / "yolo-mark-example")
    copies = tmp / "coco_images"
    copies.mkdir(exist_ok=True)
    for image in labels.images:
        shutil.copyfile(image.path, copies / image.path.name)
        image.path = copies / image.path.name
    save_coco_labels(labels, target)
    return target, target


def _dlc_h5(shared_data, tmp):
    target = tmp / "CollectedData_Pranav.h5"
    shutil.copyfile(shared_data / "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.h5", target)
    return target, target


def _analysis_h5(shared_data, tmp):
    # SLEAP's analysis export of the flies' predictions (a row per frame of the video)
    from deepbehavior.formats import save_file

    target = tmp / "flies.analysis.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        save_file(load_file(shared_data / "sleap-flies/centered_pair_predictions.slp", "sleap"), target, "sleap")
    return target, target


FORMATS_DIR = "deepbehavior-formats/"
SEEDS = {
    "dlc labels csv (openfield)": Seed("dlc", False, _dlc_labels, "csv"),
    "dlc labels csv (reaching)": Seed("dlc", False, _copy("dlc-reaching/labeled-data/reachingvideo1/"
                                                          "CollectedData_Mackenzie.csv"), "csv", (832, 747)),
    "dlc predictions csv": Seed("dlc", False, _predictions_csv, "csv", (640, 480), 116),
    "lightning pose csv (image paths)": Seed("lightning_pose", False, _copy(OPENFIELD), "csv", (640, 480)),
    "lightning pose csv (frames)": Seed("lightning_pose", False, _predictions_csv, "csv", (640, 480), 116),
    "dlc h5": Seed("dlc", False, _dlc_h5, "h5_dlc", (640, 480)),
    "sleap slp": Seed("sleap", False, _copy("sleap-flies/centered_pair_predictions.slp"), "slp", (384, 384)),
    "sleap labels h5": Seed("sleap", False, _copy("sleap-flies/centered_pair_predictions.h5"), "slp", (384, 384)),
    "sleap analysis h5": Seed("sleap", False, _analysis_h5, "h5_sleap", (384, 384)),
    "tensorbox array": Seed("tensorbox", False, _copy(FORMATS_DIR + "tensorbox_predictions_array.json"), "json_array",
                            (640, 480)),
    "tensorbox stream": Seed("tensorbox", False, _copy(FORMATS_DIR + "tensorbox_predictions_stream.json"),
                             "json_stream", (640, 480)),
    "tensorbox labels as boxes": Seed("tensorbox", False, _copy(FORMATS_DIR + "tensorbox_labels.json"), "json_array",
                                      (640, 480)),
    "darknet bounding box": Seed("darknet", False, _copy(FORMATS_DIR + "darknet_bounding_box.txt"), "darknet",
                                 (640, 480)),
    "darknet ext output": Seed("darknet", False, _copy(FORMATS_DIR + "darknet_ext_output.txt"), "darknet",
                               (640, 480)),
    "openpose": Seed("openpose", False, _openpose, "openpose", (1280, 720)),
    "yolo_mark boxes": Seed("yolo_mark", False, _yolo_mark, "yolo"),
    "labels yolo_mark": Seed("yolo_mark", True, _yolo_mark, "yolo"),
    "labels yolo_mark image list": Seed("yolo_mark", True, _yolo_mark_list, "lines"),
    "labels yolo (ultralytics)": Seed("yolo", True, _yolo, "yolo"),
    "labels coco": Seed("coco", True, _coco, "coco"),
    "labels dlc": Seed("dlc", True, _dlc_labels, "csv"),
}
H5_KINDS = ("h5_dlc", "h5_sleap", "slp")


def planned(seed: Seed) -> dict[str, int]:
    table = PER_FAMILY_H5 if seed.kind in H5_KINDS else PER_FAMILY
    scale = float(os.environ.get("DEEPBEHAVIOR_FUZZ_SCALE", "1"))  # as the conftest's cases()
    return {family: max(1, int(n * scale)) for family, n in table.items()}


# ---------------------------------------------------------------- mutations of text
def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _data_lines(seed: Seed, lines: list[str]) -> list[int]:
    """Indices of the lines that hold rows of values (not headers, not blank)."""
    if seed.kind == "csv":
        return [i for i, line in enumerate(lines) if i >= 3 and line.strip()]
    if seed.kind == "darknet":
        return [i for i, line in enumerate(lines) if "%" in line or "Bounding Box" in line]
    return [i for i, line in enumerate(lines) if line.strip()]


def _coordinate_spans(seed: Seed, text: str) -> list[tuple[int, int]]:
    """(start, end) of the numbers in ``text`` that are pixel (or, YOLO, relative) coordinates."""
    if seed.kind == "csv":
        spans, offset = [], 0
        lines = _lines(text)
        coords = lines[2].rstrip("\r\n").split(",")
        for i, line in enumerate(lines):
            if i >= 3 and line.strip():
                pos = offset
                for j, cell in enumerate(line.rstrip("\r\n").split(",")):
                    if j < len(coords) and coords[j] in ("x", "y") and NUMBER.fullmatch(cell):
                        spans.append((pos, pos + len(cell)))
                    pos += len(cell) + 1
            offset += len(line)
        return spans
    if seed.kind in ("json_array", "json_stream"):
        return [m.span(1) for m in re.finditer(r'"[xy][12]":\s*(-?[\d.]+)', text)]
    if seed.kind == "darknet":
        return [m.span(1) for m in re.finditer(r"(?:Left|Top|left_x|top_y)[=:]\s*(-?\d+)", text)]
    if seed.kind == "openpose":
        return [m.span(1) for m in re.finditer(r'"pose_keypoints_2d":\[(-?[\d.]+)', text)]
    if seed.kind == "yolo":
        spans, offset = [], 0
        for line in _lines(text):
            fields = [m for m in re.finditer(r"\S+", line)]
            spans += [(offset + m.start(), offset + m.end()) for m in fields[1:3]]
            offset += len(line)
        return spans
    if seed.kind == "coco":
        return [m.span(1) for m in re.finditer(r'"bbox": \[\s*(-?[\d.]+)', text)]
    return []


def _offimage(seed: Seed, text: str, rng: random.Random) -> str | None:
    spans = _coordinate_spans(seed, text)
    if not spans:
        return None
    start, end = rng.choice(spans)
    if seed.kind == "yolo":
        value = rng.choice(["-25.7", "30", "-3.5"])
    else:
        width = (seed.frame_size or (1000, 1000))[0]
        value = rng.choice(["500000", "-5000", f"{3 * width}", "1e5"])
    return text[:start] + value + text[end:]


def _json_records(seed: Seed, text: str) -> list[str]:
    """The records of a JSON array or stream, as text (re-serialised)."""
    if seed.kind == "json_array":
        return [json.dumps(v, indent=1) for v in json.loads(text)]
    decoder, pos, out = json.JSONDecoder(), 0, []
    while pos < len(text.rstrip()):
        value, end = decoder.raw_decode(text, pos)
        out.append(text[pos:end])
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _join_records(seed: Seed, records: list[str]) -> str:
    return "[\n" + ",\n".join(records) + "\n]\n" if seed.kind == "json_array" else "".join(records)


def _row_change(seed: Seed, text: str, rng: random.Random, duplicate: bool) -> str | None:
    if seed.kind in ("json_array", "json_stream", "coco"):
        if seed.kind == "coco":
            data = json.loads(text)
            key = rng.choice(["images", "annotations"])
            i = rng.randrange(len(data[key]))
            data[key].insert(i, data[key][i]) if duplicate else data[key].pop(i)
            return json.dumps(data, indent=1)
        records = _json_records(seed, text)
        i = rng.randrange(len(records))
        records.insert(i, records[i]) if duplicate else records.pop(i)
        return _join_records(seed, records)
    lines = _lines(text)
    rows = _data_lines(seed, lines)
    if not rows:
        return None
    i = rng.choice(rows)
    if duplicate:
        lines.insert(i, lines[i] if lines[i].endswith("\n") else lines[i] + "\n")
    else:
        del lines[i]
    return "".join(lines)


def _truncate(text: str, rng: random.Random, at_line_end: bool) -> str:
    if at_line_end:
        ends = [m.end() for m in re.finditer("\n", text)][:-1] or [0]
        return text[:rng.choice(ends)]
    inside = [i for i in range(1, len(text)) if text[i - 1] != "\n" and text[i - 1] not in " \t\r"]
    return text[:rng.choice(inside)]


def _hostile(text: str, rng: random.Random) -> str | None:
    numbers = list(NUMBER.finditer(text))
    if not numbers:
        return None
    match = rng.choice(numbers)
    return text[:match.start()] + rng.choice(HOSTILE) + text[match.end():]


def mutate_text(seed: Seed, family: str, original: bytes, rng: random.Random, mutate) -> bytes | None:
    """The mutated file of one case, or None when the family does not apply to this file."""
    if family == "empty":
        return b""
    if family == "garbage":
        return mutate(original, rng)
    text = original.decode("utf-8")
    if family == "offimage":
        out = _offimage(seed, text, rng)
    elif family in ("delete_row", "duplicate_row"):
        out = _row_change(seed, text, rng, family == "duplicate_row")
    elif family in ("truncate_line", "truncate_mid"):
        out = _truncate(text, rng, family == "truncate_line")
    else:
        out = _hostile(text, rng)
    return None if out is None else out.encode("utf-8")


# ---------------------------------------------------------------- mutations of HDF5 files
HOSTILE_BINARY = [struct.pack("<d", v) for v in (np.inf, -np.inf, np.nan, 1e308, 5e25, 5e5)] + \
    [struct.pack("<f", v) for v in (np.inf, np.nan, 3e38, 5e25, 5e5)]


def mutate_h5(seed: Seed, family: str, path: Path, original: bytes, rng: random.Random, mutate) -> bool:
    """Write the mutated file of one case at ``path``; False when the family does not apply."""
    if family == "empty":
        path.write_bytes(b"")
        return True
    if family == "garbage":
        path.write_bytes(mutate(original, rng))
        return True
    if family == "truncate_mid":
        path.write_bytes(original[:rng.randrange(1, len(original))])
        return True
    if family == "hostile":
        at = rng.randrange(len(original) - 9)
        new = rng.choice(HOSTILE_BINARY)
        path.write_bytes(original[:at] + new + original[at + len(new):])
        return True
    path.write_bytes(original)
    if seed.kind == "h5_dlc":
        import pandas as pd

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = pd.read_hdf(path)
            i = rng.randrange(len(table))
            if family == "offimage":
                table.iloc[i, rng.randrange(2)] = 500000.0
            elif family == "delete_row":
                table = table.drop(table.index[i])
            elif family == "duplicate_row":
                table = pd.concat([table.iloc[:i + 1], table.iloc[i:]])
            path.unlink()
            table.to_hdf(path, key="df_with_missing", mode="w")
        return True
    import h5py

    with h5py.File(path, "r+") as f:
        if seed.kind == "h5_sleap":
            tracks = f["tracks"]
            if family != "offimage":
                return False
            t = rng.randrange(tracks.shape[3])
            block = tracks[0, :, :, t]
            block[0, np.isfinite(block[0])] = 500000.0
            tracks[0, :, :, t] = block
            return True
        if family != "offimage":
            return False
        points = f["pred_points"]
        i = rng.randrange(points.shape[0])
        row = points[i]
        row["x"] = 500000.0
        points[i] = row
    return True


# ---------------------------------------------------------------- the oracle
def _snapshot(result):
    """What a reader returned, keyed as the file states it: ``(keys, names, values)`` with ``keys``
    the frame numbers (or image paths), ``names`` the (individual[, keypoint]) of each column and
    ``values`` ``(key, column, value)``; for labels a dict image -> {instance: values}."""
    if isinstance(result, LabelSet):
        return {image.path.name: {(i,): tuple(inst["box"] or []) + tuple(
            v for p in inst["keypoints"] or [] for v in (p or (math.nan, math.nan)))
            for i, inst in enumerate(image.instances)} for image in result.images}
    ds = schema.drop_single_view(result)
    keys = [str(p) for p in ds.attrs["image_paths"]] if "image_paths" in ds.attrs else \
        [int(f) for f in schema.frames(ds)]
    dims = ["time", schema.INDIVIDUALS] + ([schema.KEYPOINTS] if schema.KEYPOINTS in ds.dims else []) + ["space"]
    values = np.asarray(ds["position"].transpose(*dims).values, dtype=np.float64)
    if "shape" in ds:
        values = np.concatenate([values, np.asarray(ds["shape"].transpose(*dims).values, dtype=np.float64)], -1)
    names = [tuple(str(ds[d].values[i]) for d, i in zip(dims[1:-1], index))
             for index in np.ndindex(*values.shape[1:-1])]
    return keys, names, values.reshape(len(keys), len(names), values.shape[-1])


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all((math.isnan(x) and math.isnan(y)) or abs(x - y) <= 1e-6 * max(1, abs(y))
                                    for x, y in zip(a, b))


def changed_keys(result, original) -> int:
    """How many frames (or images) present in both hold values other than the original's."""
    mutated = _snapshot(result)
    if isinstance(mutated, dict):
        return sum(1 for key, entry in mutated.items() if key in original
                   and any(k in original[key] and not _same(v, original[key][k]) for k, v in entry.items()))
    keys, names, values = mutated
    their_keys, their_names, theirs = original
    column = {n: j for j, n in enumerate(their_names)}
    mine = [j for j, n in enumerate(names) if n in column]
    row = {k: t for t, k in enumerate(their_keys)}
    pairs = [(t, row[k]) for t, k in enumerate(keys) if k in row]
    if not pairs or not mine or values.shape[-1] != theirs.shape[-1]:
        return 0
    a = values[[t for t, _ in pairs]][:, mine]
    b = theirs[[u for _, u in pairs]][:, [column[names[j]] for j in mine]]
    same = (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= 1e-6 * np.maximum(1, np.abs(b)))
    return int((~same.all(axis=(1, 2))).sum())


def off_frame(result, seed: Seed) -> str | None:
    """A description of the first value outside the frame (or not finite), or None."""
    if isinstance(result, LabelSet):
        for image in result.images:
            for inst in image.instances:
                values = list(inst["box"] or []) + [v for p in inst["keypoints"] or [] for v in (p or [])]
                for j, v in enumerate(values):
                    side = image.width if j % 2 == 0 else image.height
                    if not (math.isfinite(v) and -FRAME_MARGIN * side <= v <= (1 + FRAME_MARGIN) * side):
                        return f"{image.path.name}: {v}"
        return None
    ds = schema.drop_single_view(result)
    size = seed.frame_size or ds.attrs.get("frame_size")
    for axis, side in zip(("x", "y"), size or (None, None)):
        values = np.asarray(ds["position"].sel(space=axis).values, dtype=np.float64)
        bad = np.isinf(values) | (side is not None and ((values < -FRAME_MARGIN * side)
                                                         | (values > (1 + FRAME_MARGIN) * side)))
        if np.any(bad):
            return f"position {axis} {values[bad][0]}"
    return None


#: Families that must be refused, whatever the file.
MUST_REFUSE = {"offimage", "empty"}


def must_refuse(seed: Seed, family: str) -> bool:
    if family == "empty" and seed.kind == "yolo":
        return False  # an empty YOLO label file is an image without objects
    if family in MUST_REFUSE:
        return True
    if family == "truncate_mid" and seed.kind in ("csv", "json_array", "coco", "h5_dlc", "h5_sleap", "slp"):
        return True
    return family == "truncate_line" and seed.frame_count is not None


#: Frames (or images) a mutation of one family may change: row families and a replaced number touch
#: one; a line cut touches the last; random bytes up to four.
MAY_CHANGE = {"empty": 1, "delete_row": 1, "duplicate_row": 1, "truncate_line": 1, "truncate_mid": 1, "hostile": 1,
              "garbage": 4}


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def run_case(seed: Seed, family: str, source: Path, target: Path, original: dict, tmp: Path) -> str | None:
    """Read one mutated file: None when the outcome is right, else what went wrong."""
    options = {} if seed.labels else {k: v for k, v in (("frame_size", seed.frame_size),
                                                        ("frame_count", seed.frame_count)) if v is not None}
    read = (lambda: load_labels(source, seed.format)) if seed.labels else \
        (lambda: load_file(source, seed.format, **options))
    # pytest-timeout may hold the alarm (its signal method): its handler and time left are put back
    previous = signal.signal(signal.SIGALRM, _alarm)
    outer_left, _ = signal.setitimer(signal.ITIMER_REAL, LIMIT_S)
    started = time.monotonic()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = read()
    except Hang:
        return f"hang: no answer within {LIMIT_S} s"
    except (ValueError, OSError) as exc:
        message = str(exc)
        if "\n" in message:
            return f"a message of several lines: {message[:300]!r}"
        if target.name not in message and source.name not in message and str(tmp) not in message:
            return f"an error without the file's name: {message[:300]!r}"
        return None
    except Exception as exc:  # noqa: BLE001 - any other type is the traceback a user would see
        return f"traceback {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 0.001))
    if must_refuse(seed, family):
        return "accepted, but this mutation must be refused"
    bad = off_frame(result, seed)
    if bad:
        return f"accepted a value outside the frame: {bad}"
    changed = changed_keys(result, original)
    if changed > MAY_CHANGE.get(family, 0):
        return f"accepted with {changed} frames holding values other than the file's (rows shifted?)"
    return None


@pytest.mark.parametrize("name", list(SEEDS))
def test_every_mutation_is_refused_in_one_line_or_read_correctly(name, shared_data, tmp_path, fuzz):
    seed = SEEDS[name]
    target, source = seed.setup(shared_data, tmp_path)
    original_bytes = target.read_bytes()
    options = {} if seed.labels else {"frame_size": seed.frame_size} if seed.frame_size else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original = _snapshot(load_labels(source, seed.format) if seed.labels
                             else load_file(source, seed.format, **options))
    rng = random.Random(f"fuzz-readers/{name}")  # the same cases on every run
    failures, ran = [], 0
    for family, n in planned(seed).items():
        for i in range(n):
            if seed.kind in H5_KINDS:
                if not mutate_h5(seed, family, target, original_bytes, rng, fuzz.mutate):
                    continue
            else:
                data = mutate_text(seed, family, original_bytes, rng, fuzz.mutate)
                if data is None:
                    continue
                if seed.kind == "openpose" and family in ("delete_row", "duplicate_row"):
                    # an OpenPose "row" is a frame's file: removed, or another frame's written over it
                    files = sorted(source.glob("*_keypoints.json"))
                    victim = rng.choice(files[1:-1])
                    saved = victim.read_bytes()
                    if family == "delete_row":
                        victim.unlink()
                    else:
                        victim.write_bytes(files[files.index(victim) - 1].read_bytes())
                    problem = run_case(seed, family, source, victim, original, tmp_path)
                    victim.write_bytes(saved)
                    ran += 1
                    if problem:
                        failures.append(f"{family} #{i}: {problem}")
                    continue
                target.write_bytes(data)
            ran += 1
            problem = run_case(seed, family, source, target, original, tmp_path)
            if problem:
                failures.append(f"{family} #{i}: {problem}")
    target.write_bytes(original_bytes)
    RAN[name] = ran
    assert ran >= sum(planned(seed).values()) // 2, f"only {ran} cases ran"
    assert not failures, f"{name}: {len(failures)} of {ran} cases wrong:\n" + "\n".join(failures)


#: Cases run per seed in this session (filled by the test above).
RAN: dict[str, int] = {}


def test_the_suite_holds_over_900_cases():
    if len(RAN) == len(SEEDS):  # the whole file ran: count what ran, not what was planned
        print(f"fuzz cases run: {sum(RAN.values())}")
        assert sum(RAN.values()) > 900, RAN
    assert sum(sum(planned(seed).values()) for seed in SEEDS.values()) > 900


def test_the_lightning_pose_file_that_hung_the_former_reader_is_refused_at_once(shared_data, tmp_path):
    # movement's from_lp_file (the former reader) never returned on this file: the predictions
    # cut inside row 4, where pandas builds the header's MultiIndex from a ragged table
    target, _ = _predictions_csv(shared_data, tmp_path)
    target.write_bytes(target.read_bytes()[:663])
    seed = SEEDS["lightning pose csv (frames)"]
    original = _snapshot(load_file(shared_data / OPENFIELD, "lightning_pose"))
    assert run_case(seed, "truncate_mid", target, target, original, tmp_path) is None
    with pytest.raises(ValueError, match=r"predictions\.csv, line 7: Expected 13 cells \(the file may be truncated\)"):
        load_file(target, "lightning_pose")
