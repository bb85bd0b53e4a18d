"""The social overlay video: the session's frames with each animal's keypoints or box, the line
between the two animals and their distance, drawn from the store.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import xarray as xr

from .. import schema
from ..analysis._tracks import as_position
from ..video import iter_frames, write_video

# BGR colours, one per individual (cycled).
COLOURS = ((60, 180, 255), (255, 140, 40), (80, 220, 80), (200, 80, 220))


def draw_frame(
    frame: np.ndarray,
    points: Mapping[str, np.ndarray],
    *,
    boxes: Mapping[str, np.ndarray] | None = None,
    link: tuple[np.ndarray, np.ndarray] | None = None,
    label: str = "",
) -> np.ndarray:
    """A copy of ``frame`` (BGR) with the animals drawn.

    Parameters
    ----------
    points
        ``name -> (keypoints, 2)`` pixel positions (NaN: not drawn).
    boxes
        ``name -> (cx, cy, w, h)`` in pixels (NaN: not drawn).
    link
        Two ``(x, y)`` points to join with a line (the inter-animal distance), or None.
    label
        Text written at the top left (e.g. "d = 41.2 px").
    """
    out = frame.copy()
    # The link goes under the animals, so that their points stay visible where it starts.
    if link is not None:
        a, b = (np.asarray(p, dtype=float) for p in link)
        if np.isfinite(a).all() and np.isfinite(b).all():
            cv2.line(out, (int(round(a[0])), int(round(a[1]))), (int(round(b[0])), int(round(b[1]))),
                     (255, 255, 255), 1, cv2.LINE_AA)
    for i, (name, xy) in enumerate(points.items()):
        colour = COLOURS[i % len(COLOURS)]
        for x, y in np.asarray(xy, dtype=float).reshape(-1, 2):
            if np.isfinite(x) and np.isfinite(y):
                cv2.circle(out, (int(round(x)), int(round(y))), 3, colour, -1, cv2.LINE_AA)
        if boxes is not None and name in boxes:
            cx, cy, w, h = np.asarray(boxes[name], dtype=float)
            if np.isfinite([cx, cy, w, h]).all():
                cv2.rectangle(out, (int(round(cx - w / 2)), int(round(cy - h / 2))),
                              (int(round(cx + w / 2)), int(round(cy + h / 2))), colour, 2)
    if label:
        cv2.putText(out, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def render_social_overlay(
    video: str | os.PathLike,
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    view: str | None = None,
    individuals: Sequence[str] | None = None,
    keypoint: str | None = None,
    frames: int | None = None,
    fps: float | None = None,
) -> Path:
    """Write the overlay video of a session.

    Parameters
    ----------
    video
        The session's video for ``view``.
    ds
        The session's poses or boxes dataset (2D, pixels); its ``time`` holds frame numbers of
        ``video``.
    path
        Output video file (mp4).
    individuals
        The two animals joined by the distance line (default: the first two; one animal: no line).
    keypoint
        Point of each animal for the distance (None: the mean of its keypoints, or the box centre).
    frames
        Draw only the first ``frames`` frames of the dataset (None: all).
    """
    position = as_position(ds, view=view)
    if position.sizes["space"] != 2:
        raise ValueError(f"Expected 2D positions (pixels) to draw on the video, but got {position.sizes['space']} axes")
    if frames is not None:
        position = position.isel(time=slice(0, frames))
    position = position.load()
    names = [str(v) for v in position["individuals"].values]
    pair = list(individuals) if individuals else names[:2]
    box = None
    if "shape" in ds:
        box = schema.select_view(ds["shape"], view).isel(time=slice(0, position.sizes["time"])).load()
    has_kp = "keypoints" in position.dims
    centre = position.sel(keypoints=keypoint) if (has_kp and keypoint) else (
        position.mean("keypoints", skipna=True) if has_kp else position)
    times = schema.frames(position.assign_attrs(fps=ds.attrs.get("fps")))
    start, stop = int(times[0]), int(times[-1]) + 1
    fps = float(fps or ds.attrs["fps"])

    def frames_out():
        index = {t: i for i, t in enumerate(times)}
        for number, frame in enumerate(iter_frames(video, start, stop), start=start):
            i = index.get(number)
            if i is None:
                yield frame
                continue
            here = position.isel(time=i)
            points = {n: (here.sel(individuals=n).transpose(..., "space").values.reshape(-1, 2)) for n in names}
            boxes = None
            if box is not None:
                boxes = {n: np.concatenate([here.sel(individuals=n).values.reshape(2),
                                            box.isel(time=i).sel(individuals=n).values.reshape(2)]) for n in names}
            link, label = None, ""
            if len(pair) == 2:
                a = centre.isel(time=i).sel(individuals=pair[0]).values
                b = centre.isel(time=i).sel(individuals=pair[1]).values
                link = (a, b)
                distance = float(np.hypot(*(a - b)))
                label = f"frame {number}  d = {distance:.1f} px" if np.isfinite(distance) else f"frame {number}"
            yield draw_frame(frame, points, boxes=boxes, link=link, label=label)

    return write_video(path, frames_out(), fps=fps)
