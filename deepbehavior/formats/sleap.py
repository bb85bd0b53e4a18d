"""SLEAP files: labels (``.slp``, older labels ``.h5``) and analysis exports (``*.analysis.h5``).

Read with sleap-io; the labels are turned into arrays here because our data model tells tracked
instances (identities) from untracked ones (detection slots, as a SLEAP model writes before
tracking): a file without tracks becomes slots that ``deepbehavior track`` can link. Written with
sleap-io (``.slp``) or movement's ``to_sleap_analysis_file`` (``.h5``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import check_frames, check_size, fail


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("Reading SLEAP files needs h5py: pip install h5py") from None
    return h5py


def _kind(path: Path) -> str | None:
    """``"analysis"``, ``"labels"`` or None for an HDF5 file (cheap: the names of its datasets)."""
    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            if "tracks" in f and "node_names" in f:
                return "analysis"
            if "metadata" in f and "instances" in f:
                return "labels"
    except Exception:  # not HDF5, or damaged beyond opening
        return None
    return None


def is_sleap(path: Path) -> bool:
    """Whether ``path`` is a SLEAP labels or analysis HDF5 file (for format guessing)."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in (".slp", ".h5", ".hdf5") and _kind(path) is not None


def _load(path: Path):
    """sleap-io ``Labels`` of a file; files from early SLEAP without ``format_id`` are read from a
    copy that has it (sleap-io requires the attribute)."""
    import sleap_io as sio

    h5py = _h5py()
    kind = _kind(path)
    if kind is None:
        raise fail(path, "", "SLEAP datasets ('tracks' and 'node_names', or 'metadata' and 'instances')",
                   "an HDF5 file without them (or no HDF5 file)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with h5py.File(path, "r") as f:
                legacy = "format_id" not in f["metadata"].attrs
            if not legacy:
                return sio.load_slp(str(path), open_videos=False)
            with tempfile.TemporaryDirectory(prefix="deepbehavior-sleap-") as tmp:
                copy = Path(tmp) / "labels.slp"
                shutil.copyfile(path, copy)
                with h5py.File(copy, "r+") as f:
                    # Early SLEAP 1.0 files: their raw coordinates equal those of the same
                    # predictions saved as .slp by later versions, so no half-pixel shift (1.1).
                    f["metadata"].attrs["format_id"] = 1.1
                return sio.load_slp(str(copy), open_videos=False)
        except Exception as exc:  # h5py and sleap-io raise many types for a damaged file
            raise fail(path, "", "a readable SLEAP file", f"{type(exc).__name__}: {str(exc)[:80]}") from None


def _frame_range(path: Path, labels, video) -> np.ndarray:
    idx = [lf.frame_idx for lf in labels.labeled_frames if lf.video is video]
    if not idx:
        raise fail(path, "frames", "at least one labelled frame", "none")
    check_frames(path, "frame_idx", idx)
    return np.arange(min(idx), max(idx) + 1, dtype=np.int64)


def read_sleap(path: str | os.PathLike, *, fps: float = 30.0, min_track_frames: int = 1) -> xr.Dataset:
    """Read a SLEAP labels or analysis file into a poses dataset.

    Parameters
    ----------
    path
        ``*.slp``, a labels ``.h5`` or ``*.analysis.h5``.
    fps
        Frames per second of the video (the files do not record it reliably).
    min_track_frames
        Tracks present in fewer frames are left out (their names in ``attrs["dropped_tracks"]``):
        trackers leave short spurious tracks behind.

    Returns
    -------
    xarray.Dataset
        Poses in pixels, keypoints = the skeleton's nodes; ``frame`` the frame numbers from the first
        to the last labelled frame of the first video. With tracks: individuals = track names,
        ``individuals_are = "identities"`` (untracked instances are left out and counted in
        ``attrs["untracked_instances"]``). Without any track: individuals = slots ``slot0``, ``slot1``,
        … holding each frame's instances by decreasing score, ``individuals_are = "slots"``.
        Confidence = SLEAP's point score (1 for user labels); a user-labelled instance wins over a
        prediction of the same track. Points not visible and frames without the individual are NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a SLEAP file at {path}, but there is none")
    if _kind(path) == "analysis":
        return _read_analysis(path, fps=fps, min_track_frames=min_track_frames)
    labels = _load(path)
    if not labels.skeletons or not labels.videos:
        raise fail(path, "metadata", "a skeleton and a video", f"{len(labels.skeletons)} skeletons, "
                   f"{len(labels.videos)} videos")
    if len(labels.skeletons) != 1:
        raise fail(path, "metadata", "one skeleton", len(labels.skeletons))
    videos = {id(lf.video) for lf in labels.labeled_frames}
    if len(videos) > 1:
        raise fail(path, "frames", "the labels of one video", f"{len(videos)} videos")
    video = labels.labeled_frames[0].video if labels.labeled_frames else labels.videos[0]
    skeleton = labels.skeletons[0]
    nodes = [n.name for n in skeleton.nodes]
    time = _frame_range(path, labels, video)
    instances = [(lf.frame_idx, inst) for lf in labels.labeled_frames for inst in lf.instances]
    tracks = [t for t in labels.tracks if any(inst.track is t for _, inst in instances)]
    untracked = sum(inst.track is None for _, inst in instances)
    slots = not tracks
    if slots:
        per_frame: dict[int, list] = {}
        for frame, inst in instances:
            per_frame.setdefault(frame, []).append(inst)
        n_ind = max(len(v) for v in per_frame.values()) if per_frame else 1
    else:
        n_ind = len(tracks)
    check_size(path, "frame_idx", len(time), 3 * len(nodes) * n_ind)
    position = np.full((len(time), 2, len(nodes), n_ind), np.nan)
    confidence = np.full((len(time), len(nodes), n_ind), np.nan)
    column = {id(t): j for j, t in enumerate(tracks)}
    user = np.zeros((len(time), n_ind), dtype=bool)

    def put(t: int, j: int, inst) -> None:
        is_user = not hasattr(inst, "score")
        if user[t, j] and not is_user:
            return  # a user label of this track and frame is already there
        points = inst.numpy(scores=True) if not is_user else np.c_[inst.numpy(), np.ones(len(nodes))]
        if points.shape[0] != len(nodes):
            raise fail(path, f"frame {time[t]}", f"{len(nodes)} points per instance", points.shape[0])
        points = np.asarray(points, dtype=np.float64)
        visible = ~np.isnan(points[:, :2]).any(axis=1)
        position[t, :, :, j] = np.where(visible, points[:, :2].T, np.nan)
        confidence[t, :, j] = np.where(visible, points[:, 2], np.nan)
        user[t, j] |= is_user

    if slots:
        for frame, found in per_frame.items():
            found.sort(key=lambda inst: -(getattr(inst, "score", None) if getattr(inst, "score", None) is not None
                                          and np.isfinite(getattr(inst, "score", np.nan)) else np.inf))
            for k, inst in enumerate(found):
                put(frame - int(time[0]), k, inst)
        names = [f"slot{k}" for k in range(n_ind)]
    else:
        for frame, inst in instances:
            if inst.track is not None and id(inst.track) in column:
                put(frame - int(time[0]), column[id(inst.track)], inst)
        names = [str(t.name) if t.name else f"track{j}" for j, t in enumerate(tracks)]
        if len(set(names)) != len(names):
            names = [f"{n}.{j}" for j, n in enumerate(names)]
    seen = (~np.isnan(position).any(axis=1)).any(axis=1).sum(axis=0)
    keep = np.flatnonzero(seen >= min_track_frames) if not slots else np.arange(n_ind)
    if len(keep) == 0:
        raise fail(path, "tracks", f"a track seen in at least {min_track_frames} frames", f"counts {seen.tolist()}")
    ds = schema.make_poses(position[..., keep], confidence[..., keep], fps=fps, keypoints=nodes,
                           individuals=[names[i] for i in keep], time=time, source_software="SLEAP",
                           individuals_are=schema.SLOTS if slots else schema.IDENTITIES)
    ds.attrs.update(source_file=str(path), dropped_tracks=[names[i] for i in range(n_ind) if i not in set(keep)],
                    untracked_instances=0 if slots else int(untracked),
                    sleap_file="analysis" if _kind(path) == "analysis" else "labels")
    if video is not None and getattr(video, "filename", None) and isinstance(video.filename, str):
        ds.attrs["video"] = str(video.filename)
    if skeleton.edges:  # pairs of node names, as exporters write them back (SLEAP, NWB)
        ds.attrs["skeleton"] = [[e.source.name, e.destination.name] for e in skeleton.edges]
    size = _video_size(video)
    if size is not None:
        ds.attrs["frame_size"] = list(size)
    return ds


def _video_size(video) -> tuple[int, int] | None:
    """``(width, height)`` of a video as the labels file records it (``shape`` in its metadata:
    frames, height, width, channels), or None when it does not."""
    shape = (getattr(video, "backend_metadata", None) or {}).get("shape")
    try:
        height, width = int(shape[1]), int(shape[2])
    except (TypeError, ValueError, IndexError):
        return None
    return (width, height) if width > 0 and height > 0 else None


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _read_analysis(path: Path, *, fps: float, min_track_frames: int) -> xr.Dataset:
    """An analysis file (one column per track, every frame of the video) via movement."""
    from movement.io import load_poses

    h5py = _h5py()
    try:
        with h5py.File(path, "r") as f:
            shape = f["tracks"].shape  # (track, 2, node, frame)
        if len(shape) != 4 or shape[1] != 2:
            raise fail(path, "dataset 'tracks'", "shape (track, 2, node, frame)", shape)
        check_size(path, "dataset 'tracks'", shape[3], 3 * shape[2] * shape[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = load_poses.from_sleap_file(path, fps=None)
    except Exception as exc:  # h5py and movement raise many types for a damaged file
        if isinstance(exc, ValueError) and str(exc).startswith(str(path)):
            raise
        raise fail(path, "", "a readable SLEAP analysis file", f"{type(exc).__name__}: {str(exc)[:80]}") from None
    position = ds["position"].transpose("time", "space", "keypoints", "individuals").values.astype(np.float64)
    confidence = ds["confidence"].transpose("time", "keypoints", "individuals").values.astype(np.float64)
    with h5py.File(path, "r") as f:
        if "point_scores" not in f:
            confidence = np.ones_like(confidence)
    confidence = np.where(np.isnan(position).any(axis=1), np.nan, confidence)
    names = [str(i) for i in ds["individuals"].values]
    seen = (~np.isnan(position).any(axis=1)).any(axis=1).sum(axis=0)
    keep = np.flatnonzero(seen >= min_track_frames)
    if len(keep) == 0:
        raise fail(path, "tracks", f"a track seen in at least {min_track_frames} frames", f"counts {seen.tolist()}")
    out = schema.make_poses(position[..., keep], confidence[..., keep], fps=fps,
                            keypoints=[str(k) for k in ds["keypoints"].values], individuals=[names[i] for i in keep],
                            source_software="SLEAP", individuals_are=schema.IDENTITIES)
    out.attrs.update(source_file=str(path), dropped_tracks=[n for i, n in enumerate(names) if i not in set(keep)],
                     untracked_instances=0, sleap_file="analysis")
    with h5py.File(path, "r") as f:  # the skeleton's edges and the video, when the file names them
        pairs = [[_text(a), _text(b)] for a, b in f["edge_names"][()]] if "edge_names" in f else []
        video = _text(f["video_path"][()]) if "video_path" in f else ""
    if pairs:
        out.attrs["skeleton"] = pairs
    if video:
        out.attrs["video"] = video
    return out


#: The video file name of a labels file exported from a store that names no video.
UNKNOWN_VIDEO = "video-not-recorded-in-store.mp4"


def save_sleap(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a single-view 2D poses dataset as a SLEAP file.

    ``.slp``: a labels file (sleap-io) with one predicted instance per individual and frame where it
    has a point, point scores = confidence; identities become tracks, slots instances without a
    track (so it reads back as slots). ``.h5``: an analysis file (movement's
    ``to_sleap_analysis_file``). Both keep the keypoints' order, the skeleton's edges
    (``attrs["skeleton"]``) and the video the store names (``attrs["video"]``). A store that names
    none (an import without ``video=``) gets the video path ``""`` in an analysis file and
    :data:`UNKNOWN_VIDEO` in a labels file (sleap-io takes ``""`` for an embedded video), a name that
    says so where SLEAP asks for the missing video.
    """
    from ._movement import skeleton_edges

    path = Path(path)
    edges = skeleton_edges(ds)
    video_name = str(ds.attrs.get("video") or "")
    if path.suffix.lower() in (".h5", ".hdf5"):
        from movement.io import save_poses

        from ._movement import to_movement

        save_poses.to_sleap_analysis_file(to_movement(ds, path, from_frame_zero=True), path)
        names = [str(k) for k in ds[schema.KEYPOINTS].values]
        with _h5py().File(path, "r+") as f:  # what movement leaves empty, as SLEAP's own export writes it
            for key in ("edge_names", "edge_inds", "video_path"):
                del f[key]
            f.create_dataset("edge_names", data=np.array([[names[a], names[b]] for a, b in edges], dtype="S")
                             .reshape(-1, 2))
            f.create_dataset("edge_inds", data=np.array(edges, dtype=np.int64).reshape(-1, 2))
            f.create_dataset("video_path", data=video_name)
        return path
    if path.suffix.lower() != ".slp":
        raise fail(path, "suffix", "'.slp' (labels) or '.h5' (analysis)", path.suffix)
    import sleap_io as sio

    from ._movement import to_movement

    frame_numbers = schema.frames(ds)
    slots = ds.attrs.get("individuals_are") == schema.SLOTS
    ds = to_movement(ds, path)
    nodes = [str(k) for k in ds["keypoints"].values]
    skeleton = sio.Skeleton(nodes, edges=[(nodes[a], nodes[b]) for a, b in edges])
    individuals = [str(i) for i in ds["individuals"].values]
    tracks = [None] * len(individuals) if slots else [sio.Track(name=n) for n in individuals]
    video = sio.Video(filename=video_name or UNKNOWN_VIDEO, open_backend=False)
    position = ds["position"].values  # (time, space, keypoints, individuals)
    confidence = ds["confidence"].values
    frames_out = []
    for t, frame in enumerate(frame_numbers):
        found = []
        for j in range(len(individuals)):
            xy = position[t, :, :, j].T.astype(np.float64)
            if np.isnan(xy).all():
                continue
            scores = np.nan_to_num(confidence[t, :, j].astype(np.float64), nan=0.0)
            found.append(sio.PredictedInstance.from_numpy(xy, skeleton=skeleton, point_scores=scores,
                                                          score=float(np.nanmean(confidence[t, :, j]))
                                                          if np.isfinite(confidence[t, :, j]).any() else 0.0,
                                                          track=tracks[j]))
        if found:
            frames_out.append(sio.LabeledFrame(video=video, frame_idx=int(frame), instances=found))
    labels = sio.Labels(labeled_frames=frames_out, videos=[video], skeletons=[skeleton],
                        tracks=[t for t in tracks if t is not None])
    sio.save_slp(labels, str(path))
    return path
