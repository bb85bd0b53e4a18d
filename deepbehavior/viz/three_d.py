"""3D views: trajectories and skeletons of a 3D poses dataset, the layout of a camera group, and the
board corners found during calibration. Figures use Matplotlib's Agg canvas (no display needed).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ..analysis.kinematics import space_unit


def _figure(**kwargs):
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _positions(ds: xr.Dataset, individual: str | None) -> tuple[np.ndarray, list[str]]:
    """``(time, keypoints, 3)`` positions of one individual of a 3D poses dataset."""
    if ds.sizes.get("space") != 3:
        raise ValueError(f"Expected a 3D poses dataset (space x, y, z), but got space of size {ds.sizes.get('space')}")
    position = schema.select_view(ds["position"])
    name = individual if individual is not None else str(ds["individuals"].values[0])
    data = position.sel(individuals=name).transpose("time", "keypoints", "space").values
    return np.asarray(data, dtype=np.float64), [str(k) for k in ds["keypoints"].values]


def _limits(ax, points: np.ndarray) -> None:
    finite = points[np.isfinite(points).all(axis=-1)]
    if not len(finite):
        return
    low, high = finite.min(axis=0), finite.max(axis=0)
    centre, half = (low + high) / 2, max(float((high - low).max()) / 2, 1e-9)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(centre[2] - half, centre[2] + half)


def plot_trajectories_3d(ds: xr.Dataset, *, individual: str | None = None,
                         edges: Sequence[tuple[str, str]] = (), frame: int | None = None):
    """A figure of every keypoint's 3D trajectory of one individual, and its skeleton at ``frame``.

    Parameters
    ----------
    ds
        A 3D poses dataset (``position (time, space=x,y,z, keypoints, individuals)``).
    edges
        Pairs of keypoint names drawn as skeleton segments.
    frame
        Index along ``time`` of the skeleton drawn (default: the first frame with all keypoints).
    """
    points, keypoints = _positions(ds, individual)
    fig = _figure(figsize=(6, 5))
    ax = fig.add_subplot(projection="3d")
    for k, name in enumerate(keypoints):
        ax.plot(points[:, k, 0], points[:, k, 1], points[:, k, 2], lw=0.8, label=name)
    complete = np.flatnonzero(np.isfinite(points).all(axis=(1, 2)))
    if edges and (frame is not None or len(complete)):
        _skeleton(ax, points[frame if frame is not None else complete[0]], keypoints, edges)
    _limits(ax, points)
    unit = space_unit(ds)
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_zlabel(f"z ({unit})")
    if len(keypoints) <= 12:
        ax.legend(fontsize=6, loc="upper left")
    return fig


def _skeleton(ax, pose: np.ndarray, keypoints: list[str], edges) -> None:
    index = {k: i for i, k in enumerate(keypoints)}
    for a, b in edges:
        if a in index and b in index:
            seg = pose[[index[a], index[b]]]
            ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color="k", lw=2)
    ax.scatter(pose[:, 0], pose[:, 1], pose[:, 2], color="k", s=8)


def _to_bgr(fig) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., 2::-1])


def write_movie_3d(ds: xr.Dataset, path: str | os.PathLike, *, individual: str | None = None,
                   edges: Sequence[tuple[str, str]] = (), frames: int = 100, fps: float | None = None,
                   trail: int = 15, rotate: float = 0.0, azimuth: float = -60.0,
                   elevation: float = 30.0) -> Path:
    """A short movie of the 3D skeleton (and a trail of each keypoint's last ``trail`` frames).

    Parameters
    ----------
    ds
        A 3D poses dataset (``position (time, space=x,y,z, keypoints, individuals)``).
    path
        Output video file, written under its final name only once complete.
    edges
        Pairs of keypoint names drawn as skeleton segments.
    frames
        Caps the number of rendered frames (the first ones).
    fps
        Frame rate of the movie; default the data's.
    rotate
        Degrees of camera azimuth added every frame (0: a fixed view), so the skeleton is seen
        from all sides as the movie plays, as the original rotating skeleton movies were.
    azimuth, elevation
        The view of the first frame, degrees (matplotlib's ``view_init``).
    """
    from ..video import write_video

    points, keypoints = _positions(ds, individual)
    points = points[:frames]
    if not len(points):
        raise ValueError("Expected at least one frame to render, but the dataset has none")
    fps = float(fps or ds.attrs.get("fps", 30.0))

    def render():
        fig = _figure(figsize=(4, 4), dpi=80)
        ax = fig.add_subplot(projection="3d")
        for t in range(len(points)):
            ax.cla()
            _limits(ax, points)
            ax.view_init(elev=elevation, azim=azimuth + rotate * t)
            start = max(0, t - trail)
            for k in range(len(keypoints)):
                ax.plot(points[start:t + 1, k, 0], points[start:t + 1, k, 1], points[start:t + 1, k, 2], lw=1)
            _skeleton(ax, points[t], keypoints, edges)
            ax.set_title(f"frame {int(ds['time'].values[t])}", fontsize=8)
            yield _to_bgr(fig)

    return write_video(path, render(), fps=fps)


def plot_camera_layout(group, ax=None, *, points: np.ndarray | None = None):
    """Cameras of a group in the world frame (centre and viewing axis), with optional ``points (n, 3)``."""
    if ax is None:
        ax = _figure(figsize=(5, 5)).add_subplot(projection="3d")
    centres = np.stack([c.centre for c in group.cameras])
    spread = float(np.ptp(centres, axis=0).max()) if len(centres) > 1 else 1.0
    if points is not None and len(points):
        spread = max(spread, float(np.nanmax(np.ptp(points, axis=0))))
        ax.scatter(points[:, 0], points[:, 1], points[:, 2], s=2, color="grey")
    length = 0.3 * (spread or 1.0)
    for cam, centre in zip(group.cameras, centres):
        axis = cam.rotation.T @ np.array([0.0, 0.0, 1.0])
        ax.quiver(*centre, *(axis * length), color="C3")
        ax.text(*centre, cam.name, fontsize=8)
    everything = centres if points is None or not len(points) else np.vstack([centres, points])
    _limits(ax, everything)
    return ax


def plot_calibration(group, detections: dict, *, board_points: np.ndarray | None = None):
    """Figure: the corners found in each camera's image (one panel each) and the camera layout."""
    names = list(detections)
    fig = _figure(figsize=(4 * (len(names) + 1), 4))
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names) + 1, i + 1)
        cam = group.cameras[group.names.index(name)]
        found = [d for d in detections[name] if d is not None]
        for d in found:
            ax.plot(d.corners[:, 0], d.corners[:, 1], ".", ms=2)
        ax.set_xlim(0, cam.size[0])
        ax.set_ylim(cam.size[1], 0)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: board in {len(found)}/{len(detections[name])} frames", fontsize=9)
    plot_camera_layout(group, fig.add_subplot(1, len(names) + 1, len(names) + 1, projection="3d"),
                       points=board_points)
    return fig
