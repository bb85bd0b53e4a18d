"""Skeletons drawn on video frames (OpenPose BODY_25 with both hands, or any keypoint graph), and labelled videos."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import xarray as xr

from .. import schema
from ..models import pose_layout
from ..video import iter_frames, write_video

# BGR colours: body limbs by side (person's right red, left blue, centre green), hands lighter.
_RIGHT, _LEFT, _CENTRE = (40, 40, 230), (230, 120, 40), (60, 200, 60)
_RIGHT_HAND, _LEFT_HAND = (120, 120, 255), (255, 200, 120)


def _edge_colour(a: int, b: int) -> tuple[int, int, int]:
    names = (pose_layout.KEYPOINT_NAMES[a], pose_layout.KEYPOINT_NAMES[b])
    if all(n.startswith("RHand") for n in names):
        return _RIGHT_HAND
    if all(n.startswith("LHand") for n in names):
        return _LEFT_HAND
    if any(n.startswith("R") for n in names):
        return _RIGHT
    if any(n.startswith("L") for n in names):
        return _LEFT
    return _CENTRE


def draw_pose(
    frame: np.ndarray,
    keypoints_xy: np.ndarray,
    conf: np.ndarray | None = None,
    *,
    edges: Sequence[tuple[int, int]] = pose_layout.EDGES,
    colours: Sequence[tuple[int, int, int]] | None = None,
    min_confidence: float = 0.1,
    thickness: int = 2,
    radius: int = 3,
) -> np.ndarray:
    """Draw one or several skeletons on a copy of a BGR frame.

    Parameters
    ----------
    frame
        ``(height, width, 3)`` uint8 BGR image; not modified.
    keypoints_xy
        ``(P, 2)`` or ``(K, P, 2)`` x, y in pixels of ``frame`` for ``K`` people; NaN where missing.
    conf
        ``(P,)`` or ``(K, P)`` confidences; points below ``min_confidence`` are not drawn. None
        draws every point that has a position.
    edges
        Pairs of keypoint indices to join; the 67-point OpenPose layout (body + both hands) by default.
    colours
        One BGR colour per edge; by default (67-point layout) the person's right side red, left side
        blue, centre green, hands lighter; green for other layouts.

    Returns
    -------
    numpy.ndarray
        A new frame with the skeletons drawn.
    """
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"Expected a frame (height, width, 3) uint8, but got {frame.shape} {frame.dtype}")
    points = np.asarray(keypoints_xy, dtype=np.float64)
    if points.ndim == 2:
        points = points[None]
    if points.ndim != 3 or points.shape[-1] != 2:
        raise ValueError(f"Expected keypoints_xy (P, 2) or (K, P, 2), but got {np.shape(keypoints_xy)}")
    confidence = (np.ones(points.shape[:2]) if conf is None
                  else np.asarray(conf, dtype=np.float64).reshape(points.shape[:2]))
    edges = [tuple(map(int, e)) for e in edges]
    if edges and max(max(e) for e in edges) >= points.shape[1]:
        raise ValueError(f"Expected edges between the {points.shape[1]} keypoints, "
                         f"but got index {max(max(e) for e in edges)}")
    if colours is None:
        by_side = points.shape[1] == pose_layout.N_KEYPOINTS
        colours = [_edge_colour(a, b) if by_side else _CENTRE for a, b in edges]
    if len(colours) != len(edges):
        raise ValueError(f"Expected {len(edges)} edge colours, but got {len(colours)}")
    out = frame.copy()
    shown = np.isfinite(points).all(axis=-1) & (np.nan_to_num(confidence, nan=-1.0) >= min_confidence)
    # cv2 draws on integer pixels; shift=4 keeps sub-pixel positions (1/16 px).
    fixed = np.round(np.nan_to_num(points) * 16).astype(np.int64)
    for person, ok in zip(fixed, shown):
        for (a, b), colour in zip(edges, colours):
            if ok[a] and ok[b]:
                cv2.line(out, tuple(map(int, person[a])), tuple(map(int, person[b])), colour,
                         thickness, cv2.LINE_AA, shift=4)
        for p in np.flatnonzero(ok):
            cv2.circle(out, tuple(map(int, person[p])), radius * 16, (255, 255, 255), -1, cv2.LINE_AA, shift=4)
    return out


def write_pose_video(
    ds: xr.Dataset,
    video: str | os.PathLike,
    path: str | os.PathLike,
    *,
    view: str | None = None,
    min_confidence: float = 0.1,
    edges: Sequence[tuple[int, int]] | None = None,
) -> Path:
    """Write the frames of ``video`` covered by a 2D poses dataset with every slot's skeleton drawn.

    Parameters
    ----------
    ds
        Poses dataset (``position (time, space, keypoints, individuals, view)`` in pixels of
        ``video``); its ``frame`` coordinate holds consecutive frame numbers.
    video
        The video the poses were predicted on.
    path
        Output video file (written under its final name only once complete), at ``ds.attrs["fps"]``.
    view
        Which view of ``ds`` (None: the first).
    edges
        Keypoint index pairs to join; None: the OpenPose layout when ``ds`` has its 67 keypoints by
        name, else points only.
    """
    ds = schema.select_view(ds, view).transpose("time", "individuals", "keypoints", "space").sel(space=["x", "y"])
    frames = schema.frames(ds)
    if len(frames) == 0 or np.any(np.diff(frames) != 1):
        raise ValueError(f"Expected consecutive frame numbers in time, but got {frames[:5]}… ({len(frames)} frames)")
    if edges is None:
        names = tuple(str(k) for k in ds["keypoints"].values)
        edges = pose_layout.EDGES if names == pose_layout.KEYPOINT_NAMES else ()
    position = ds["position"].values  # (time, individuals, keypoints, 2)
    confidence = ds["confidence"].values
    drawn = (draw_pose(frame, position[i], confidence[i], edges=edges, min_confidence=min_confidence)
             for i, frame in enumerate(iter_frames(video, int(frames[0]), int(frames[-1]) + 1)))
    return write_video(path, drawn, fps=float(ds.attrs["fps"]))


def layout_edges(keypoints: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Skeleton segments, as keypoint-name pairs, for keypoints named as OpenPose's BODY_25 + hands.

    Parameters
    ----------
    keypoints
        Keypoint names of a dataset.

    Returns
    -------
    tuple of (str, str)
        The layout's edges whose two ends are both among ``keypoints`` when every name belongs to
        the 67-point layout; empty for any other naming (a mouse's nose/tail, say).
    """
    names = {str(k) for k in keypoints}
    if not names or not names <= set(pose_layout.KEYPOINT_NAMES):
        return ()
    pairs = ((pose_layout.KEYPOINT_NAMES[a], pose_layout.KEYPOINT_NAMES[b]) for a, b in pose_layout.EDGES)
    return tuple((a, b) for a, b in pairs if a in names and b in names)
