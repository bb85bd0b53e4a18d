"""NWB files with the ndx-pose extension, read and written with movement.

NWB holds one subject per file, so a dataset with several individuals is written as one file per
individual (``<stem>_<individual>.nwb``).
"""

from __future__ import annotations

import datetime
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail


def is_nwb(path: Path) -> bool:
    """Whether ``path`` is an ``.nwb`` file."""
    return Path(path).is_file() and Path(path).suffix.lower() == ".nwb"


def read_nwb(path: str | os.PathLike, *, fps: float | None = None) -> xr.Dataset:
    """Read the ndx-pose ``PoseEstimation`` of an NWB file (movement's ``from_nwb_file``).

    Returns
    -------
    xarray.Dataset
        Poses with the file's keypoints and its subject as the one individual; ``frame`` the frame
        numbers (``round(seconds × fps)``, fps from the file's timestamps unless given).
    """
    from movement.io import load_poses

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_nwb_file(path)
    except Exception as exc:  # pynwb and h5py raise many types for a damaged file
        raise fail(path, "", "an NWB file with an ndx-pose PoseEstimation", f"{type(exc).__name__}") from None
    fps = fps or ds.attrs.get("fps")
    if not fps:
        raise fail(path, "timestamps", "a known rate (pass fps=)", "none")
    order, subject = _skeleton_and_subject(path)
    if order and sorted(order) == sorted(str(k) for k in ds["keypoints"].values):
        ds = ds.sel(keypoints=order)  # NWB lists the series by name; the skeleton keeps their order
    if subject:  # movement names the individual after the file's identifier, a unique id, not the animal
        ds = ds.assign_coords(individuals=[subject])
    position = ds["position"].transpose("time", "space", "keypoints", "individuals").values
    confidence = ds["confidence"].transpose("time", "keypoints", "individuals").values
    seconds = np.asarray(ds["time"].values, dtype=np.float64)
    frames = np.rint(seconds * float(fps)).astype(np.int64)
    out = schema.make_poses(position, confidence, fps=float(fps), keypoints=[str(k) for k in ds["keypoints"].values],
                            individuals=[str(i) for i in ds["individuals"].values], time=frames,
                            source_software=str(ds.attrs.get("source_software") or "NWB"))
    out.attrs["source_file"] = str(path)
    return out


def _skeleton_and_subject(path: Path) -> tuple[list[str], str]:
    """The nodes of the first ndx-pose skeleton of an NWB file, in their order ([] when none), and
    its subject's ``subject_id`` ("" when none)."""
    from pynwb import NWBHDF5IO

    nodes, subject = [], ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with NWBHDF5IO(str(path), "r") as io:
                content = io.read()
                subject = str(getattr(content.subject, "subject_id", None) or "")
                for module in content.processing.values():
                    for item in module.data_interfaces.values():
                        skeleton = getattr(item, "skeleton", None)
                        if skeleton is not None and getattr(skeleton, "nodes", None) is not None and not nodes:
                            nodes = [str(n) for n in skeleton.nodes[:]]
    except Exception:  # movement has already read the file; a part it did not need may be damaged
        return [], ""
    return nodes, subject


# NWB has no "unknown" session_start_time; this stands for it, and the file's notes say so.
UNKNOWN_START = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MP4_EPOCH = datetime.datetime(1904, 1, 1, tzinfo=datetime.timezone.utc)


def _mp4_boxes(handle, start: int, end: int):
    """``(kind, data start, end)`` of the ISO-BMFF boxes between ``start`` and ``end``."""
    position = start
    while position + 8 <= end:
        handle.seek(position)
        size, kind = struct.unpack(">I4s", handle.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", handle.read(8))[0], 16
        elif size == 0:
            size = end - position
        if size < header:
            return
        yield kind, position + header, position + size
        position += size


def recording_start(video: str | os.PathLike | None) -> datetime.datetime | None:
    """When the recording began, as an MP4/MOV video records it (the ``creation_time`` of its
    ``moov/mvhd`` box, UTC); None when there is no such video or the time is not set (0)."""
    if not video or not Path(video).is_file():
        return None
    try:
        with open(video, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            for kind, begin, end in _mp4_boxes(handle, 0, size):
                if kind != b"moov":
                    continue
                for inner, data, _ in _mp4_boxes(handle, begin, end):
                    if inner == b"mvhd":
                        handle.seek(data)
                        version = handle.read(4)[0]
                        wide = version == 1  # version 1 holds 64-bit times
                        seconds = struct.unpack(">Q" if wide else ">I", handle.read(8 if wide else 4))[0]
                        return _MP4_EPOCH + datetime.timedelta(seconds=seconds) if seconds else None
    except (OSError, struct.error, IndexError, OverflowError):
        return None
    return None


def _start_time(ds: xr.Dataset) -> tuple[datetime.datetime, str]:
    """The session's start and where it came from: the store's ``session_start_time`` (ISO 8601),
    else the video's own creation time, else :data:`UNKNOWN_START` with a note saying so."""
    given = ds.attrs.get("session_start_time")
    if given:
        try:
            start = datetime.datetime.fromisoformat(str(given))
        except ValueError:
            where = ds.encoding.get("source") or ds.attrs.get("source_file") or "the dataset"
            raise fail(where, "attrs['session_start_time']",
                       "an ISO 8601 date and time such as 2024-05-01T09:30:00+00:00", str(given)) from None
        return (start if start.tzinfo else start.replace(tzinfo=datetime.timezone.utc)), "the store"
    video = ds.attrs.get("video")
    start = recording_start(video)
    if start is not None:
        return start, f"the creation time recorded in {video}"
    return UNKNOWN_START, "unknown (neither the store nor its video records it; 1970-01-01 stands for unknown)"


def save_nwb(ds: xr.Dataset, path: str | os.PathLike) -> list[Path]:
    """Write a single-view poses dataset as NWB with ndx-pose (movement's ``to_nwb_file``), one file
    per individual.

    Each file gets a new unique ``identifier`` (``<session>_<individual>_<UUID>``), ``session_id`` the
    store's session (else the file's stem), a ``subject_id`` naming the animal (the store's subject
    for one individual; with several, ``<subject>_<individual>``, or the individual's name when the
    store names no subject), ``session_start_time`` from the recording (:func:`_start_time`; the notes
    say where it came from or that it is unknown, never the export time), the video path in
    ``session_description`` and as the ``PoseEstimation``'s ``original_videos``, and an ndx-pose
    ``Skeleton`` with the keypoints in the dataset's order and the store's edges (``attrs["skeleton"]``).

    Returns the files written: ``path`` itself for one individual, else ``<stem>_<individual>.nwb``.
    """
    import uuid

    from movement.io import save_poses
    from movement.io.nwb import NWBFileSaveConfig
    from pynwb import NWBHDF5IO

    from ._movement import skeleton_edges, to_movement

    path = Path(path)
    names = [str(i) for i in ds[schema.INDIVIDUALS].values]
    edges = np.asarray(skeleton_edges(ds), dtype=np.uint8).reshape(-1, 2)
    start, origin = _start_time(ds)
    session = str(ds.attrs.get("session") or path.stem)
    subject = str(ds.attrs.get("subject") or "")
    video = ds.attrs.get("video")
    files, nwbfile, subjects, skeletons, estimations = {}, {}, {}, {}, {}
    for name in names:
        files[name] = path if len(names) == 1 else path.with_name(f"{path.stem}_{name}{path.suffix or '.nwb'}")
        description = f"{session}: poses of {name}" + (f" in {video}" if video else "")
        # Unique as NWB requires; readable, as movement names the individual after it.
        identifier = f"{session}_{name}_{uuid.uuid4().hex}"
        nwbfile[name] = {"identifier": identifier, "session_id": session, "session_start_time": start,
                         "session_description": description, "notes": f"session_start_time: {origin}"}
        subjects[name] = {"subject_id": (subject if len(names) == 1 else f"{subject}_{name}") if subject else name}
        skeletons[name] = {"edges": edges}
        estimations[name] = {"original_videos": [str(video)]} if video else {}
    config = NWBFileSaveConfig(nwbfile_kwargs=nwbfile, subject_kwargs=subjects, skeleton_kwargs=skeletons,
                               pose_estimation_kwargs=estimations)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = save_poses.to_nwb_file(to_movement(ds, path), config)
    made = made if isinstance(made, list) else [made]
    for name, content in zip(names, made):
        with NWBHDF5IO(str(files[name]), "w") as io:
            io.write(content)
    return [files[name] for name in names]
