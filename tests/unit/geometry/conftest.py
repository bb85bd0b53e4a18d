"""Synthetic camera rigs with known geometry for the geometry tests."""

import numpy as np
import pytest

from deepbehavior.geometry import Camera, CameraGroup
from deepbehavior.geometry.camera import rotation_vector


def look_at(centre, target=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """World-to-camera (rvec, tvec) of a camera at ``centre`` looking at ``target`` (y roughly down)."""
    centre = np.asarray(centre, dtype=float)
    z = np.asarray(target, dtype=float) - centre
    z /= np.linalg.norm(z)
    x = np.cross([0.0, 0.0, 1.0], z) if abs(z[2]) < 0.99 else np.array([1.0, 0.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rot = np.stack([x, y, z])
    return rotation_vector(rot), -rot @ centre


def make_rig(n_cameras: int = 3, *, distortion: bool = True, radius: float = 1000.0) -> CameraGroup:
    cameras = []
    for i in range(n_cameras):
        angle = 2 * np.pi * i / n_cameras
        rvec, tvec = look_at([radius * np.cos(angle), radius * np.sin(angle), 300.0 + 50 * i])
        dist = [-0.25 + 0.02 * i, 0.08, 0.001, -0.0005, 0.0] if distortion else [0, 0, 0, 0, 0]
        cameras.append(Camera(name=f"cam{i}", size=(640, 480), matrix=[[800 + 10 * i, 0, 320], [0, 805, 240], [0, 0, 1]],
                              dist=dist, rvec=rvec, tvec=tvec))
    return CameraGroup(cameras, metadata={"unit": "mm"})


@pytest.fixture
def rig_factory():
    return make_rig


@pytest.fixture
def rig() -> CameraGroup:
    return make_rig(3)


@pytest.fixture
def points() -> np.ndarray:
    return np.random.default_rng(1).uniform(-150, 150, size=(2000, 3))


@pytest.fixture
def pose_factory():
    """:func:`look_at`: the (rvec, tvec) of a camera at a point looking at a target."""
    return look_at
