"""SLEAP files in HDF5: analysis exports (``*.analysis.h5``) and labels (``.slp`` / labels ``.h5``).

An analysis file holds ``tracks (track, 2, node, frame)``, ``node_names``, ``track_names``,
``track_occupancy (frame, track)`` and ``point_scores (track, node, frame)``. A labels file holds a
``metadata`` JSON (skeleton and node names), ``frames``, ``instances``, ``points`` (user labels)
and ``pred_points`` (predictions with scores) tables. Both are read with ``h5py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading SLEAP files needs h5py: pip install h5py") from None
    return h5py


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _poses(position, confidence, *, fps, nodes, tracks, min_track_frames, path, attrs) -> xr.Dataset:
    """Keep tracks seen in at least ``min_track_frames`` frames and build the poses dataset."""
    seen = (~np.isnan(position).any(axis=1)).any(axis=1).sum(axis=0)  # frames per track
    keep = np.flatnonzero(seen >= min_track_frames)
    if len(keep) == 0:
        raise fail(path, "", f"a track seen in at least {min_track_frames} frames", f"counts {seen.tolist()}")
    ds = schema.make_poses(position[..., keep], confidence[..., keep], fps=fps, keypoints=nodes,
                           individuals=[tracks[i] for i in keep], source_software="SLEAP",
                           individuals_are="identities")
    ds.attrs.update(source_file=str(path), dropped_tracks=[tracks[i] for i in range(len(tracks)) if i not in keep],
                    **attrs)
    return ds


def _read_analysis(f, path, *, fps, min_track_frames) -> xr.Dataset:
    tracks = np.asarray(f["tracks"], dtype=np.float64)  # (track, 2, node, frame)
    if tracks.ndim != 4 or tracks.shape[1] != 2:
        raise fail(path, "dataset 'tracks'", "shape (track, 2, node, frame)", tracks.shape)
    nodes = _text(f["node_names"][:])
    n_tracks = tracks.shape[0]
    names = _text(f["track_names"][:]) if "track_names" in f and len(f["track_names"]) else []
    names = names if len(names) == n_tracks else [f"track{i}" for i in range(n_tracks)]
    position = np.transpose(tracks, (3, 1, 2, 0))  # (frame, 2, node, track)
    if "point_scores" in f:
        confidence = np.transpose(np.asarray(f["point_scores"], dtype=np.float64), (2, 1, 0))
    else:
        confidence = np.ones(position.shape[:1] + position.shape[2:])
    confidence = np.where(np.isnan(position).any(axis=1), np.nan, confidence)
    return _poses(position, confidence, fps=fps, nodes=nodes, tracks=names,
                  min_track_frames=min_track_frames, path=path, attrs={"sleap_file": "analysis"})


def _read_labels(f, path, *, fps, min_track_frames) -> xr.Dataset:
    meta = json.loads(f["metadata"].attrs["json"])
    all_nodes = [n["name"] for n in meta["nodes"]]
    if len(meta.get("skeletons", [])) != 1:
        raise fail(path, "metadata", "one skeleton", f"{len(meta.get('skeletons', []))}")
    ids = [n["id"] for n in meta["skeletons"][0]["nodes"]]
    if not all(isinstance(i, int) for i in ids):
        raise fail(path, "metadata skeleton nodes", "integer node ids (SLEAP 1.x files)", ids[:3])
    nodes = [all_nodes[i] for i in ids]
    tracks = [json.loads(t)[1] for t in _text(f["tracks_json"][:])] if "tracks_json" in f else []
    frames = f["frames"][:]
    instances = f["instances"][:]
    pred_points = f["pred_points"][:]
    points = f["points"][:]
    format_id = float(f["metadata"].attrs.get("format_id", 1.0))
    frame_numbers = frames["frame_idx"].astype(np.int64)
    if len(np.unique(frames["video"])) > 1:
        raise fail(path, "frames", "the labels of one video", f"{len(np.unique(frames['video']))} videos")
    first, last = int(frame_numbers.min()), int(frame_numbers.max())
    time = np.arange(first, last + 1)
    position = np.full((len(time), 2, len(nodes), max(len(tracks), 1)), np.nan)
    confidence = np.full((len(time), len(nodes), max(len(tracks), 1)), np.nan)
    inst_t = np.full(len(instances), -1, dtype=np.int64)
    for frame in frames:
        inst_t[int(frame["instance_id_start"]):int(frame["instance_id_end"])] = int(frame["frame_idx"]) - first
    track = instances["track"].astype(np.int64)
    untracked = int(((track < 0) & (inst_t >= 0)).sum())
    n_points = (instances["point_id_end"] - instances["point_id_start"]).astype(np.int64)
    # Predictions first, then user labels, so that a user-labelled instance wins over a prediction.
    for kind, table in ((1, pred_points), (0, points)):
        chosen = np.flatnonzero((instances["instance_type"] == kind) & (track >= 0) & (inst_t >= 0))
        if len(chosen) == 0:
            continue
        wrong = chosen[n_points[chosen] != len(nodes)]
        if len(wrong):
            raise fail(path, f"instance {int(instances['instance_id'][wrong[0]])}", f"{len(nodes)} points",
                       int(n_points[wrong[0]]))
        if track[chosen].max() >= position.shape[-1]:
            raise fail(path, "instances", f"track ids below {len(tracks)}", int(track[chosen].max()))
        rows = instances["point_id_start"][chosen].astype(np.int64)[:, None] + np.arange(len(nodes))
        pts = table[rows]  # (instance, node)
        x, y = pts["x"].astype(np.float64), pts["y"].astype(np.float64)
        if kind == 0 and format_id < 1.1:
            x, y = x - 0.5, y - 0.5  # old files put (0, 0) at the top-left corner of a pixel
        visible = pts["visible"].astype(bool)
        score = pts["score"].astype(np.float64) if kind == 1 else np.ones(x.shape)
        t, j = inst_t[chosen], track[chosen]
        position[t, 0, :, j] = np.where(visible, x, np.nan)
        position[t, 1, :, j] = np.where(visible, y, np.nan)
        confidence[t, :, j] = np.where(visible, score, np.nan)
    names = [str(t) for t in tracks] if tracks else ["track0"]
    ds = _poses(position, confidence, fps=fps, nodes=nodes, tracks=names, min_track_frames=min_track_frames,
                path=path, attrs={"sleap_file": "labels", "untracked_instances": int(untracked)})
    return ds.assign_coords(schema.time_coords(time, fps))


def read_sleap(path: str | os.PathLike, *, fps: float = 30.0, min_track_frames: int = 1) -> xr.Dataset:
    """Read a SLEAP analysis HDF5 or labels file into a poses dataset with individuals = tracks.

    Parameters
    ----------
    path
        ``*.analysis.h5``, ``*.slp`` or a labels ``.h5``.
    fps
        Frames per second of the video (the files do not record it reliably).
    min_track_frames
        Tracks present in fewer frames are left out (their names in ``attrs["dropped_tracks"]``):
        trackers leave short spurious tracks behind.

    Returns
    -------
    xarray.Dataset
        Poses in pixels, keypoints = the skeleton's nodes, individuals = track names, confidence
        = SLEAP's point score (1 for user labels); ``frame`` the frame numbers from the first to the
        last labelled frame. Points not visible and frames without the track are NaN. Instances
        with no track are not read (counted in ``attrs["untracked_instances"]``).
    """
    h5py = _h5py()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a SLEAP file at {path}, but there is none")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise fail(path, "", "an HDF5 file", "something else") from None
    with f:
        if "tracks" in f and "node_names" in f:
            return _read_analysis(f, path, fps=fps, min_track_frames=min_track_frames)
        if "metadata" in f and "instances" in f:
            return _read_labels(f, path, fps=fps, min_track_frames=min_track_frames)
        raise fail(path, "", "SLEAP datasets ('tracks' and 'node_names', or 'metadata' and 'instances')",
                   f"datasets {sorted(f)}")


def is_sleap(path: Path) -> bool:
    """Whether ``path`` is an HDF5 file of SLEAP (for format guessing)."""
    try:
        h5py = _h5py()
        with h5py.File(path, "r") as f:
            return ("tracks" in f and "node_names" in f) or ("metadata" in f and "instances" in f)
    except (ImportError, OSError):
        return False
