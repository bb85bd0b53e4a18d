"""Synthetic sessions: rendered videos of mice with exact ground truth, for the demo and the tests.

A mouse is a dark ellipse (body) with a head, a tail and a paw, moving smoothly around a light
arena. Its centre follows a sum of slow sinusoids, so position, velocity and speed are known in
closed form; the heading follows the direction of motion. The ground truth comes back as datasets
of the project's schema: keypoints (nose, head, body, tailbase, tailtip, paw), the box that
encloses the rendered animal, and the box of its body ellipse, whose centre is the body's centre
(the ``body`` keypoint, the point the speeds are of) in every frame. The whole-animal box centre is
not: it shifts with the swinging paw and swings round at every turn, which adds length to its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import xarray as xr

from .. import schema
from ..video import write_video

KEYPOINTS = ("nose", "head", "body", "tailbase", "tailtip", "paw")
BODY_HALF_LENGTH = 0.085  # of the arena's shorter side
BODY_HALF_WIDTH = 0.045


@dataclass(frozen=True)
class Motion:
    """Centre path ``c(t) = centre + sum_k a_k * sin(w_k t + p_k)`` per axis (pixels, seconds)."""

    centre: np.ndarray  # (2,)
    amplitude: np.ndarray  # (k, 2)
    omega: np.ndarray  # (k, 2) rad/s
    phase: np.ndarray  # (k, 2)

    def position(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)[:, None, None]
        return self.centre + (self.amplitude * np.sin(self.omega * t + self.phase)).sum(axis=1)

    def velocity(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)[:, None, None]
        return (self.amplitude * self.omega * np.cos(self.omega * t + self.phase)).sum(axis=1)


def random_motion(rng: np.random.Generator, width: int, height: int, *, terms: int = 2) -> Motion:
    """A smooth path that stays inside the arena (with a margin for the animal's size)."""
    margin = 0.2 * min(width, height)
    half = np.array([width / 2 - margin, height / 2 - margin])
    weights = rng.uniform(0.4, 1.0, size=(terms, 2))
    amplitude = half * weights / weights.sum(axis=0)
    omega = rng.uniform(0.3, 1.2, size=(terms, 2)) * rng.choice([-1, 1], size=(terms, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(terms, 2))
    return Motion(np.array([width / 2, height / 2]), amplitude, omega, phase)


def _pose(centre: np.ndarray, heading: np.ndarray, scale: float, t: np.ndarray) -> np.ndarray:
    """Keypoints ``(time, 2, keypoints)`` of a mouse at ``centre`` facing ``heading`` (radians)."""
    forward = np.stack([np.cos(heading), np.sin(heading)], axis=1)
    side = np.stack([-forward[:, 1], forward[:, 0]], axis=1)
    length = BODY_HALF_LENGTH * scale
    stride = np.sin(2 * np.pi * 2.0 * t)[:, None]  # the paw swings twice a second
    offsets = {
        "nose": 1.75 * length * forward,
        "head": 1.2 * length * forward,
        "body": 0 * forward,
        "tailbase": -1.0 * length * forward,
        "tailtip": -2.4 * length * forward + 0.25 * length * side,
        "paw": 0.55 * length * forward + 0.6 * length * side + 0.3 * length * stride * forward,
    }
    return np.stack([centre + offsets[name] for name in KEYPOINTS], axis=2)


def _box_of(pose: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre and size of the box around the rendered body, head and paw (not the thin tail)."""
    pad = BODY_HALF_WIDTH * scale
    parts = pose[:, :, [KEYPOINTS.index(k) for k in ("nose", "head", "body", "tailbase", "paw")]]
    low = parts.min(axis=2) - pad
    high = parts.max(axis=2) + pad
    return (low + high) / 2, high - low


def _body_box_of(pose: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Centre and size of the box around the drawn body ellipse, centred on the ``body`` keypoint."""
    point = {name: pose[:, :, i] for i, name in enumerate(KEYPOINTS)}
    axis = point["head"] - point["tailbase"]
    angle = np.arctan2(axis[:, 1], axis[:, 0])
    a, b = 1.1 * BODY_HALF_LENGTH * scale, BODY_HALF_WIDTH * scale  # the semi-axes _draw uses
    half = np.stack([np.hypot(a * np.cos(angle), b * np.sin(angle)),
                     np.hypot(a * np.sin(angle), b * np.cos(angle))], axis=1)
    return point["body"], 2 * half


def _draw(frame: np.ndarray, pose: np.ndarray, scale: float, colour: int) -> None:
    """Draw one mouse, ``pose`` ``(2, keypoint)`` pixels, onto ``frame`` in place."""
    point = {name: pose[:, i] for i, name in enumerate(KEYPOINTS)}
    length, width = BODY_HALF_LENGTH * scale, BODY_HALF_WIDTH * scale
    axis = point["head"] - point["tailbase"]
    angle = float(np.degrees(np.arctan2(axis[1], axis[0])))

    def px(p):
        return tuple(int(round(v * 16)) for v in p)  # 4 bits of sub-pixel precision

    cv2.line(frame, px(point["tailbase"]), px(point["tailtip"]), (colour + 40,) * 3, max(1, int(width / 5)), cv2.LINE_AA, 4)
    cv2.ellipse(frame, px(point["body"]), px((length * 1.1, width)), angle, 0, 360, (colour,) * 3, -1, cv2.LINE_AA, 4)
    cv2.ellipse(frame, px(point["head"]), px((length * 0.6, width * 0.75)), angle, 0, 360, (colour + 15,) * 3, -1, cv2.LINE_AA, 4)
    cv2.circle(frame, px(point["nose"]), int(width * 0.3 * 16), (colour + 60,) * 3, -1, cv2.LINE_AA, 4)
    cv2.circle(frame, px(point["paw"]), int(width * 0.35 * 16), (colour + 25,) * 3, -1, cv2.LINE_AA, 4)


@dataclass(frozen=True)
class SyntheticSession:
    video: Path
    poses: xr.Dataset  # ground-truth keypoints (time, space, keypoints, individuals), one view "camera"
    boxes: xr.Dataset  # ground-truth boxes (time, space, individuals), one view "camera"
    speed: np.ndarray  # ground-truth speed of each mouse's body centre, (time, individuals), px/s
    body_boxes: xr.Dataset | None = None  # boxes of the body ellipse, centred on the body's centre


def render_session(
    path: str | Path,
    *,
    frames: int = 300,
    width: int = 320,
    height: int = 240,
    fps: float = 30.0,
    mice: int = 1,
    seed: int = 0,
    noise: float = 4.0,
) -> SyntheticSession:
    """Render one session's video to ``path`` and return it with its ground truth.

    ``noise`` is the standard deviation (grey levels) of pixel noise on the arena.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    scale = float(min(width, height))
    motions = [random_motion(rng, width, height) for _ in range(mice)]
    centres = np.stack([m.position(t) for m in motions], axis=-1)  # (time, 2, mouse)
    velocities = np.stack([m.velocity(t) for m in motions], axis=-1)
    headings = np.arctan2(velocities[:, 1], velocities[:, 0])
    poses = np.stack([_pose(centres[..., i], headings[:, i], scale, t) for i in range(mice)], axis=-1)
    box_centre, box_size = zip(*(_box_of(poses[..., i], scale) for i in range(mice)))
    box_centre, box_size = np.stack(box_centre, axis=-1), np.stack(box_size, axis=-1)
    body_centre, body_size = zip(*(_body_box_of(poses[..., i], scale) for i in range(mice)))
    body_centre, body_size = np.stack(body_centre, axis=-1), np.stack(body_size, axis=-1)

    background = np.full((height, width, 3), 200, dtype=np.uint8)
    cv2.rectangle(background, (4, 4), (width - 5, height - 5), (170, 170, 170), 2)

    def frames_iter():
        for i in range(frames):
            frame = background.copy()
            for m in range(mice):
                _draw(frame, poses[i, :, :, m], scale, colour=40 + 50 * m)
            if noise:
                frame = np.clip(frame + rng.normal(0, noise, frame.shape), 0, 255).astype(np.uint8)
            yield frame

    video = write_video(path, frames_iter(), fps=fps)
    names = [f"mouse{i}" for i in range(mice)]
    gt_poses = schema.make_poses(poses, fps=fps, keypoints=KEYPOINTS, individuals=names, views=["camera"],
                                 source_software="deepbehavior.synthetic")
    gt_boxes = schema.make_boxes(box_centre, box_size, fps=fps, individuals=names, views=["camera"],
                                 class_names=("mouse",), individuals_are=schema.IDENTITIES,
                                 source_software="deepbehavior.synthetic")
    body_boxes = schema.make_boxes(body_centre, body_size, fps=fps, individuals=names, views=["camera"],
                                   class_names=("mouse",), individuals_are=schema.IDENTITIES,
                                   source_software="deepbehavior.synthetic")
    speed = np.linalg.norm(velocities, axis=1)
    return SyntheticSession(Path(video), gt_poses, gt_boxes, speed, body_boxes)


def _write_frames(sessions: list[SyntheticSession], folder: Path, frames_per_session: int, val_fraction: float,
                  seed: int):
    """Write evenly spaced frames of each session as ``images/{train,val}/s<S>_f<frame>.png`` (the split
    drawn with ``seed``); yield ``(S, frame, label path, width, height)`` for the caller to label."""
    from ..video import read_frames

    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        (folder / "images" / split).mkdir(parents=True, exist_ok=True)
        (folder / "labels" / split).mkdir(parents=True, exist_ok=True)
    for s_index, session in enumerate(sessions):
        n = session.poses.sizes["time"]
        picks = np.unique(np.linspace(0, n - 1, frames_per_session).round().astype(int))
        images = read_frames(session.video, 0, n)
        height, width = images.shape[1:3]
        for i in picks:
            split = "val" if rng.random() < val_fraction else "train"
            name = f"s{s_index}_f{i:05d}"
            cv2.imwrite(str(folder / "images" / split / f"{name}.png"), images[i])
            yield s_index, i, folder / "labels" / split / f"{name}.txt", width, height


def write_yolo_dataset(
    sessions: list[SyntheticSession],
    folder: str | Path,
    *,
    frames_per_session: int = 60,
    val_fraction: float = 0.2,
    seed: int = 0,
    box: str = "animal",
) -> Path:
    """Write a YOLO detection dataset (one class, ``mouse``) from evenly spaced frames.

    ``box`` is ``"animal"`` (the box around the whole drawn animal) or ``"body"`` (the box of the
    body ellipse: a detector trained on it finds the body's centre). Returns the path of its
    ``data.yaml``.
    """
    if box not in ("animal", "body"):
        raise ValueError(f"Expected box 'animal' or 'body', but got {box!r}")
    chosen = [session.body_boxes if box == "body" else session.boxes for session in sessions]
    # YOLO labels put (0, 0) at the top-left pixel's corner; the rendering's is its centre
    centres = [schema.to_corner_origin(boxes["position"].values) for boxes in chosen]  # (time, 2, individuals)
    sizes = [boxes["shape"].values for boxes in chosen]
    folder = Path(folder)
    for s, i, label, width, height in _write_frames(sessions, folder, frames_per_session, val_fraction, seed):
        centre, size = centres[s], sizes[s]
        lines = [
            f"0 {centre[i, 0, k] / width:.6f} {centre[i, 1, k] / height:.6f} "
            f"{size[i, 0, k] / width:.6f} {size[i, 1, k] / height:.6f}"
            for k in range(centre.shape[2])
        ]
        label.write_text("\n".join(lines) + "\n")
    data = folder / "data.yaml"
    data.write_text(f"path: {folder.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: mouse\n")
    return data


def write_pose_dataset(
    sessions: list[SyntheticSession],
    folder: str | Path,
    *,
    frames_per_session: int = 60,
    val_fraction: float = 0.2,
    seed: int = 0,
) -> Path:
    """Write a YOLO pose dataset (class ``mouse``, the six keypoints of :data:`KEYPOINTS`) from evenly
    spaced frames, labelled with the exact keypoints; the training set of the top-down recipe.

    Each mouse's box is the box around its keypoints widened as
    :func:`deepbehavior.models.pose_dataset.keypoint_box` widens hand-labelled ones. The mice have no
    left/right pairs of parts, so a mirrored sample keeps its order (``flip_idx`` the identity).
    Returns the path of its ``data.yaml``.
    """
    import yaml

    from ..models.pose_dataset import keypoint_box

    folder = Path(folder)
    # YOLO labels: origin at the top-left pixel's corner; (time, individuals, keypoints, 2) per session
    poses = [schema.to_corner_origin(session.poses["position"].transpose("time", "individuals", "keypoints",
                                                                         "space").values) for session in sessions]
    for s, i, label, width, height in _write_frames(sessions, folder, frames_per_session, val_fraction, seed):
        lines = []
        for points in poses[s][i]:  # (keypoints, 2) of one mouse, pixels
            box = keypoint_box(points, width=width, height=height)
            values = [(box[0] + box[2]) / 2 / width, (box[1] + box[3]) / 2 / height,
                      (box[2] - box[0]) / width, (box[3] - box[1]) / height]
            for x, y in points:
                values += [x / width, y / height, 2.0]
            lines.append("0 " + " ".join(f"{v:.6f}" for v in values))
        label.write_text("\n".join(lines) + "\n")
    data = {"path": str(folder.resolve()), "train": "images/train", "val": "images/val", "names": {0: "mouse"},
            "kpt_shape": [len(KEYPOINTS), 3], "flip_idx": list(range(len(KEYPOINTS))),
            "kpt_names": {0: list(KEYPOINTS)}}
    path = folder / "data.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
