"""OpenPose ``--write_json`` folders: read into a poses dataset, and write one back.

One file per frame, ``<video>_<12-digit frame index>_keypoints.json``, holding
``{"version": 1.2, "people": [{"pose_keypoints_2d": [x0, y0, c0, ...], "hand_left_keypoints_2d":
[...], "hand_right_keypoints_2d": [...], ...}]}`` in pixels. A missing point is ``0, 0, 0``; a frame
without a person has ``"people": []``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ..files import write_atomic
from ._common import check_frames, check_size, fail, read_text

#: BODY_25 keypoints in OpenPose's order.
BODY_25 = ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
           "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
           "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel")
#: The 21 hand keypoints in OpenPose's order (without the side prefix).
HAND_21 = ("Wrist", "ThumbCMC", "ThumbMCP", "ThumbIP", "ThumbTip",
           "IndexMCP", "IndexPIP", "IndexDIP", "IndexTip", "MiddleMCP", "MiddlePIP", "MiddleDIP", "MiddleTip",
           "RingMCP", "RingPIP", "RingDIP", "RingTip", "PinkyMCP", "PinkyPIP", "PinkyDIP", "PinkyTip")
LEFT_HAND = tuple(f"LHand{n}" for n in HAND_21)
RIGHT_HAND = tuple(f"RHand{n}" for n in HAND_21)
FACE_70 = tuple(f"Face{i}" for i in range(70))
#: The keypoints of a poses dataset read from OpenPose: body 25, left hand 21, right hand 21.
OPENPOSE_KEYPOINTS = BODY_25 + LEFT_HAND + RIGHT_HAND

# JSON field -> keypoint names, in the order the fields are read and written.
_PARTS = (("pose_keypoints_2d", BODY_25), ("hand_left_keypoints_2d", LEFT_HAND),
          ("hand_right_keypoints_2d", RIGHT_HAND))
_FACE = ("face_keypoints_2d", FACE_70)
_EMPTY_FIELDS = ("pose_keypoints_3d", "face_keypoints_3d", "hand_left_keypoints_3d", "hand_right_keypoints_3d")
_NAME = re.compile(r"^(?P<video>.*)_(?P<frame>\d{12})_keypoints\.json$")


def is_openpose(path: Path) -> bool:
    """Whether ``path`` is a folder of OpenPose ``*_keypoints.json`` files."""
    path = Path(path)
    return path.is_dir() and any(_NAME.match(p.name) for p in path.iterdir())


def keypoint_files(folder: str | os.PathLike, *, video_name: str | None = None) -> dict[int, Path]:
    """Frame number -> file of one video's ``*_keypoints.json`` files in ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Expected an OpenPose output folder at {folder}, but there is none")
    by_video: dict[str, dict[int, Path]] = {}
    for p in folder.iterdir():
        match = _NAME.match(p.name)
        if match:
            by_video.setdefault(match["video"], {})[int(match["frame"])] = p
    if video_name is not None:
        if video_name not in by_video:
            raise fail(folder, "", f"keypoint files of video '{video_name}'", f"videos {sorted(by_video)}")
        return by_video[video_name]
    if len(by_video) != 1:
        raise fail(folder, "", "the <video>_<12 digits>_keypoints.json files of one video (pass video_name)",
                   f"videos {sorted(by_video)}" if by_video else "no such files")
    return next(iter(by_video.values()))


def _triplets(path: Path, where: str, values: object, names: tuple[str, ...]) -> np.ndarray:
    """``(len(names), 3)`` array of x, y, c; NaN for missing points (0, 0, 0) and absent fields."""
    out = np.full((len(names), 3), np.nan)
    if values is None or values == []:
        return out
    if not isinstance(values, list) or len(values) != 3 * len(names):
        got = f"{len(values)} values" if isinstance(values, list) else values
        raise fail(path, where, f"{3 * len(names)} values (x, y, c for {len(names)} keypoints)", got)
    try:
        out[:] = np.asarray(values, dtype=np.float64).reshape(len(names), 3)
    except (TypeError, ValueError):
        raise fail(path, where, "numbers", values) from None
    out[(out == 0).all(axis=1)] = np.nan
    return out


def read_openpose(
    folder: str | os.PathLike,
    *,
    fps: float = 30.0,
    people: str = "first",
    video_name: str | None = None,
    face: bool = False,
) -> xr.Dataset:
    """Read an OpenPose ``--write_json`` folder into a poses dataset.

    Parameters
    ----------
    folder
        The folder of ``<video>_<12-digit frame>_keypoints.json`` files (one video).
    fps
        Frames per second of the video (the files do not record it).
    people
        ``"first"``: the first person of each frame only, as the DeepBehavior MATLAB code did;
        ``"all"``: every person, in file order, as slots ``person0``, ``person1``, …
    video_name
        The ``<video>`` part of the file names, when the folder holds several videos' files.
    face
        Also read the 70 face keypoints (``Face0`` … ``Face69``).

    Returns
    -------
    xarray.Dataset
        Poses ``position (time, space, keypoint, individual, view)`` in pixels with
        :data:`OPENPOSE_KEYPOINTS` (and the face), ``confidence`` OpenPose's score. ``frame`` runs
        over every frame number from the first file's to the last's; frames without a file, without
        a person, and points written as ``0, 0, 0`` are NaN. ``attrs["missing_frames"]`` counts the
        frames without a file.
    """
    if people not in ("first", "all"):
        raise ValueError(f"Expected people 'first' or 'all', but got {people!r}")
    files = keypoint_files(folder, video_name=video_name)
    parts = _PARTS + ((_FACE,) if face else ())
    names = tuple(n for _, part in parts for n in part)
    frames = sorted(files)
    check_frames(folder, "frame numbers in the file names", frames)
    check_size(folder, "frame numbers in the file names", frames[-1] - frames[0] + 1, 3 * len(names))
    time = np.arange(frames[0], frames[-1] + 1, dtype=np.int64)
    per_frame: dict[int, list[np.ndarray]] = {}
    for frame in frames:
        path = files[frame]
        try:
            doc = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise fail(path, f"line {exc.lineno} column {exc.colno}", "valid JSON", exc.msg) from None
        except RecursionError:
            raise fail(path, "", "JSON nested less than a thousand deep", "deeper") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise fail(path, "", "an object with a 'people' list", doc)
        persons = doc["people"][:1] if people == "first" else doc["people"]
        rows = []
        for j, person in enumerate(persons):
            if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
                raise fail(path, f"person {j}", "an object with 'pose_keypoints_2d'", person)
            rows.append(np.concatenate([_triplets(path, f"person {j}, '{key}'", person.get(key), part)
                                        for key, part in parts]))
        per_frame[frame] = rows
    n_people = max([1] + [len(r) for r in per_frame.values()])
    check_size(folder, "people", len(time), 3 * len(names) * n_people)
    data = np.full((len(time), len(names), n_people, 3), np.nan)
    for frame, rows in per_frame.items():
        for j, row in enumerate(rows):
            data[frame - time[0], :, j] = row
    position = np.moveaxis(data[..., :2], -1, 1)
    ds = schema.make_poses(position, data[..., 2], fps=fps, keypoints=names, time=time,
                           individuals=[f"person{j}" for j in range(n_people)],
                           source_software="OpenPose", individuals_are=schema.SLOTS)
    video = next(iter(files.values())).name
    ds.attrs.update(source_file=str(folder), video_name=_NAME.match(video)["video"],
                    missing_frames=int(len(time) - len(frames)))
    return ds


def _flat(xy: np.ndarray, c: np.ndarray, index: list[int]) -> list[float]:
    """``[x0, y0, c0, ...]`` of the keypoints at ``index`` (-1: absent) of one person; 0, 0, 0 where missing.

    ``xy`` is ``(keypoint, 2)`` and ``c`` ``(keypoint,)`` for one person at one time.
    """
    if all(i < 0 for i in index):
        return []
    values = np.zeros((len(index), 3))
    for k, i in enumerate(index):
        if i >= 0 and not np.isnan(xy[i]).any():
            values[k] = (xy[i, 0], xy[i, 1], 0.0 if np.isnan(c[i]) else c[i])
    if xy.dtype == np.float32:  # shortest text that reads back as the same float32
        return [float(str(np.float32(v))) for v in values.ravel()]
    return [float(v) for v in values.ravel()]


def save_openpose(ds: xr.Dataset, folder: str | os.PathLike, *, video_name: str) -> list[Path]:
    """Write a 2D poses dataset as an OpenPose ``--write_json`` folder (format version 1.2).

    One file ``<video_name>_<12-digit frame>_keypoints.json`` per frame of ``ds["time"]``, each
    written atomically. Keypoints are matched by name (:data:`BODY_25`, :data:`LEFT_HAND`,
    :data:`RIGHT_HAND`, :data:`FACE_70`); names the dataset lacks are written as 0, 0, 0, and a
    part it has none of as ``[]``. NaN points become ``0, 0, 0``; a person with no point at all is
    left out unless a later person of the frame is present (their order is kept). Reading the folder
    back with :func:`read_openpose` gives the same values.

    Returns
    -------
    list of pathlib.Path
        The files written, in time order.
    """
    if ds.attrs.get("ds_type") != schema.POSES or ds.sizes.get("space") != 2:
        raise ValueError(f"Expected a 2D poses dataset, but got {ds.attrs.get('ds_type')} with "
                         f"{ds.sizes.get('space')} space entries")
    ds = schema.drop_single_view(ds)
    if schema.VIEW in ds.dims:
        raise ValueError(f"Expected one view (select it with schema.select_view(ds, name)), but got "
                         f"{ds.sizes[schema.VIEW]}")
    kp, ind = schema.KEYPOINTS, schema.INDIVIDUALS
    frame_numbers = schema.frames(ds)
    ds = ds.transpose("time", "space", kp, ind, ...).sel(space=["x", "y"]).load()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    parts = _PARTS + (_FACE,)
    position = ds["position"].values  # (time, space, keypoint, individual)
    confidence = ds["confidence"].values  # (time, keypoint, individual)
    present = ~np.isnan(position).any(axis=1).all(axis=1)  # (time, individual)
    where = {str(n): i for i, n in enumerate(ds[kp].values)}
    indices = [(key, [where.get(n, -1) for n in part]) for key, part in parts]
    for t, frame in enumerate(frame_numbers):
        alive = np.flatnonzero(present[t])
        people = []
        for j in range(alive[-1] + 1 if len(alive) else 0):
            person = {"person_id": [-1]}
            for key, index in indices:
                person[key] = _flat(position[t, :, :, j].T, confidence[t, :, j], index)
            person.update({key: [] for key in _EMPTY_FIELDS})
            people.append(person)
        path = folder / f"{video_name}_{int(frame):012d}_keypoints.json"
        write_atomic(path, json.dumps({"version": 1.2, "people": people}, separators=(",", ":")))
        written.append(path)
    return written
