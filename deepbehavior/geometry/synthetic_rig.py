"""Synthetic multi-camera rigs and a moving animal skeleton with known geometry.

For tests and benchmarks of triangulation and camera diagnostics: :func:`mouse_skeleton` walks a
14-keypoint mouse (about 90 mm nose to tail base, 80 mm tail) around an arena with a gait, head
sweeps and rearing, so points are spatially clustered and correlated as in real recordings (not
uniform random clouds); :func:`ring_rig` places cameras around the arena looking down at it;
:func:`perturb_camera` breaks one camera the ways real calibrations break (parameters copied from
another camera, a shift, a rotation).
"""

from __future__ import annotations

import numpy as np

from .camera import Camera, CameraGroup, rotation_matrix, rotation_vector

MOUSE_KEYPOINTS = ("nose", "left_ear", "right_ear", "neck", "spine1", "spine2", "spine3", "tail_base",
                   "tail_mid", "tail_tip", "left_fore_paw", "right_fore_paw", "left_hind_paw", "right_hind_paw")
MOUSE_EDGES = ((0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9),
               (4, 10), (4, 11), (6, 12), (6, 13))


def mouse_skeleton(frames: int = 600, *, fps: float = 60.0, arena: float = 400.0, seed: int = 0) -> np.ndarray:
    """World points ``(time, keypoint, 3)`` in mm of a mouse moving about an arena (floor z = 0).

    The body follows a smooth random path (speed 0–250 mm/s), its heading the path's direction;
    paws swing in a trot at 6 Hz, the head sweeps side to side, the body rears now and then
    (nose up to 60 mm high) and the tail sways.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    # smooth path: sum of a few random sinusoids per axis, inside the arena
    centre = np.zeros((frames, 2))
    for axis in range(2):
        for k in range(1, 4):
            freq = rng.uniform(0.03, 0.15) * k
            centre[:, axis] += arena * 0.12 / k * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    velocity = np.gradient(centre, axis=0)
    heading = np.unwrap(np.arctan2(velocity[:, 1], velocity[:, 0] + 1e-9))
    forward = np.stack([np.cos(heading), np.sin(heading)], axis=1)
    side = np.stack([-forward[:, 1], forward[:, 0]], axis=1)
    rear = np.clip(np.sin(2 * np.pi * 0.07 * t + rng.uniform(0, 6)), 0, None) ** 4  # 0..1
    sweep = 0.35 * np.sin(2 * np.pi * 0.6 * t)
    phase = 2 * np.pi * 6.0 * t
    # body-frame layout (forward, side, up) in mm
    body = {
        "tail_base": (-45.0, 0.0, 15.0), "spine3": (-25.0, 0.0, 22.0), "spine2": (-5.0, 0.0, 26.0),
        "spine1": (15.0, 0.0, 24.0), "neck": (30.0, 0.0, 22.0),
    }
    out = np.empty((frames, len(MOUSE_KEYPOINTS), 3))

    def place(fwd, lat, up):
        xy = centre + forward * fwd[:, None] + side * lat[:, None]
        return np.concatenate([xy, up[:, None]], axis=1)

    ones = np.ones(frames)
    for name, (f, s, u) in body.items():
        lift = rear * max(f + 45.0, 0.0) * 0.5  # rearing tilts the body up about the tail base
        pull = rear * max(f + 45.0, 0.0) * 0.4
        out[:, MOUSE_KEYPOINTS.index(name)] = place(f * ones - pull, s * ones, u + lift)
    neck = out[:, MOUSE_KEYPOINTS.index("neck")]
    head_dir = forward * np.cos(sweep)[:, None] + side * np.sin(sweep)[:, None]
    head_side = np.stack([-head_dir[:, 1], head_dir[:, 0]], axis=1)
    pitch = 0.9 * rear
    nose = neck.copy()
    nose[:, :2] += head_dir * (22 * np.cos(pitch))[:, None]
    nose[:, 2] += 22 * np.sin(pitch) - 6 * (1 - rear)
    out[:, MOUSE_KEYPOINTS.index("nose")] = nose
    for name, sign in (("left_ear", 1.0), ("right_ear", -1.0)):
        ear = neck.copy()
        ear[:, :2] += head_dir * 6 + head_side * 9 * sign
        ear[:, 2] += 8
        out[:, MOUSE_KEYPOINTS.index(name)] = ear
    base = out[:, MOUSE_KEYPOINTS.index("tail_base")]
    sway = 0.5 * np.sin(2 * np.pi * 1.3 * t)
    for name, length, bend in (("tail_mid", 40.0, 1.0), ("tail_tip", 80.0, 2.0)):
        direction = -forward * np.cos(sway * bend)[:, None] + side * np.sin(sway * bend)[:, None]
        tail = base.copy()
        tail[:, :2] += direction * length
        tail[:, 2] = np.maximum(base[:, 2] - length * 0.15, 2.0)
        out[:, MOUSE_KEYPOINTS.index(name)] = tail
    for name, f, s, offset in (("left_fore_paw", 20.0, 12.0, 0.0), ("right_fore_paw", 20.0, -12.0, np.pi),
                               ("left_hind_paw", -30.0, 14.0, np.pi), ("right_hind_paw", -30.0, -14.0, 0.0)):
        stride = 12.0 * np.sin(phase + offset)
        lift = 6.0 * np.clip(np.cos(phase + offset), 0, None)
        paw = place(f * ones + stride, s * ones, lift + 1.0)
        if f > 0:  # fore paws follow the chest up when rearing
            paw[:, 2] += rear * 35.0
            paw[:, :2] -= forward * (rear * 25.0)[:, None]
        out[:, MOUSE_KEYPOINTS.index(name)] = paw
    return out


def look_at(centre, target=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera ``(rvec, tvec)`` of a camera at ``centre`` looking at ``target``."""
    centre = np.asarray(centre, dtype=float)
    z = np.asarray(target, dtype=float) - centre
    z /= np.linalg.norm(z)
    x = np.cross([0.0, 0.0, 1.0], z) if abs(z[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    rot = np.stack([x, np.cross(z, x), z])
    return rotation_vector(rot), -rot @ centre


def ring_rig(n_cameras: int = 4, *, radius: float = 700.0, height: float = 500.0, focal: float = 1400.0,
             size: tuple[int, int] = (1280, 1024), distortion: bool = True) -> CameraGroup:
    """``n_cameras`` cameras evenly around the arena centre, ``radius`` mm out and ``height`` mm up,
    looking at the centre, with slightly different lenses (mm units)."""
    cams = []
    for i in range(n_cameras):
        a = 2 * np.pi * i / n_cameras + 0.3
        rvec, tvec = look_at([radius * np.cos(a), radius * np.sin(a), height + 20.0 * i], (0.0, 0.0, 20.0))
        dist = [-0.12 + 0.02 * i, 0.05, 0.0005, -0.0003, 0.0] if distortion else [0.0] * 5
        cams.append(Camera(name=f"cam{i}", size=size,
                           matrix=[[focal + 15 * i, 0, size[0] / 2 + 5 * i], [0, focal + 15 * i, size[1] / 2 - 4 * i],
                                   [0, 0, 1]],
                           dist=dist, rvec=rvec, tvec=tvec))
    return CameraGroup(cams, metadata={"unit": "mm"})


def perturb_camera(group: CameraGroup, index: int, how: str, *, amount: float | None = None) -> CameraGroup:
    """A copy of ``group`` with camera ``index`` broken.

    ``how``: ``"swap"`` (its intrinsics, distortion and pose copied from the next camera, as when a
    calibration file lists one camera twice), ``"shift"`` (moved ``amount`` mm, default 60, along its
    x axis) or ``"rotate"`` (turned ``amount`` degrees, default 5, about its y axis).
    """
    cams = list(group.cameras)
    cam = cams[index]
    if how == "swap":
        other = cams[(index + 1) % len(cams)]
        cams[index] = other.replace(name=cam.name)
    elif how == "shift":
        cams[index] = cam.replace(tvec=cam.tvec + np.array([amount or 60.0, 0.0, 0.0]))
    elif how == "rotate":
        angle = np.deg2rad(amount or 5.0)
        turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
        cams[index] = cam.replace(rvec=rotation_vector(turn @ rotation_matrix(cam.rvec)), tvec=turn @ cam.tvec)
    else:
        raise ValueError(f"Expected how to be 'swap', 'shift' or 'rotate', but got {how!r}")
    return CameraGroup(cams, metadata=dict(group.metadata))


def board_detections(group: CameraGroup, board, frames: int = 30, *, noise: float = 0.3, seed: int = 0,
                     height: float = 150.0) -> tuple[dict, list[tuple[np.ndarray, np.ndarray]]]:
    """Detections of a calibration board waved through the rig, as :func:`.calibration.detect_board`
    returns them: per camera name a list of :class:`.calibration.Detection` (None where fewer than
    6 corners are in the image and facing the camera), with ``noise`` px of Gaussian noise.

    Returns the detections and the true board-to-world pose ``(rotation matrix, translation)``
    of each frame.
    """
    from .calibration import Detection

    rng = np.random.default_rng(seed)
    corners = board.object_points
    centre = corners.mean(axis=0)
    out = {name: [] for name in group.names}
    poses = []
    for _ in range(frames):
        tilt = rng.normal(scale=0.5, size=3)
        tilt[2] = rng.uniform(-np.pi, np.pi)
        rot = rotation_matrix(tilt)
        position = np.array([rng.uniform(-120, 120), rng.uniform(-120, 120), height + rng.uniform(-60, 60)])
        world = (corners - centre) @ rot.T + position
        poses.append((rot, position - rot @ centre))
        normal = rot[:, 2]
        for cam in group.cameras:
            px = cam.project(world) + rng.normal(scale=noise, size=(len(world), 2))
            depth = world @ cam.rotation.T + cam.tvec
            facing = abs(normal @ (cam.centre - world.mean(axis=0))) / np.linalg.norm(cam.centre - world.mean(axis=0))
            inside = ((px >= 0) & (px < np.asarray(cam.size))).all(axis=1) & (depth[:, 2] > 0)
            ids = np.flatnonzero(inside)
            ok = facing > 0.3 and len(ids) >= 6 and (board.kind == "charuco" or len(ids) == len(corners))
            out[cam.name].append(Detection(ids, px[ids]) if ok else None)
    return out, poses
