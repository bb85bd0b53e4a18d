"""Pinhole cameras with OpenCV's lens distortion, and groups of calibrated cameras.

A camera maps a world point ``X`` (calibration units, usually mm) to its own frame by
``Xc = R @ X + t`` (``R`` from the Rodrigues vector ``rvec``), to normalized coordinates
``(Xc[0] / Xc[2], Xc[1] / Xc[2])``, through the distortion ``(k1, k2, p1, p2, k3)`` and to pixels
by the camera matrix ``K``. Pixel ``(0, 0)`` is the centre of the top-left pixel (OpenCV's and the
Caltech toolbox's convention). The first camera of a calibrated group is usually the world frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np


def _vector(value, length: int, name: str) -> np.ndarray:
    out = np.asarray(value, dtype=np.float64).reshape(-1)
    if out.shape != (length,):
        raise ValueError(f"Expected {name} with {length} values, but got shape {np.shape(value)}")
    return out


def rotation_matrix(rvec) -> np.ndarray:
    """The ``(3, 3)`` rotation matrix of a Rodrigues vector (radians)."""
    return cv2.Rodrigues(_vector(rvec, 3, "rvec"))[0]


def rotation_vector(matrix) -> np.ndarray:
    """The Rodrigues vector ``(3,)`` of a ``(3, 3)`` rotation matrix."""
    return cv2.Rodrigues(np.asarray(matrix, dtype=np.float64).reshape(3, 3))[0].reshape(3)


@dataclass(frozen=True, eq=False)
class Camera:
    """One calibrated camera.

    Parameters
    ----------
    name
        The camera's name (the ``view`` label of the stores it filmed).
    size
        Image ``(width, height)`` in pixels.
    matrix
        Camera matrix ``K`` ``(3, 3)``: focal lengths and principal point in pixels (and skew).
    dist
        OpenCV distortion coefficients ``(k1, k2, p1, p2[, k3[, …]])``; zeros when omitted.
    rvec, tvec
        World-to-camera rotation (Rodrigues vector, radians) and translation (calibration units).
    """

    name: str
    size: tuple[int, int]
    matrix: np.ndarray
    dist: np.ndarray = field(default_factory=lambda: np.zeros(5))
    rvec: np.ndarray = field(default_factory=lambda: np.zeros(3))
    tvec: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def __post_init__(self):
        matrix = np.array(self.matrix, dtype=np.float64)
        if matrix.shape != (3, 3):
            raise ValueError(f"Expected a (3, 3) camera matrix for camera {self.name!r}, but got {matrix.shape}")
        dist = np.array(self.dist, dtype=np.float64).reshape(-1)
        if dist.size not in (0, 4, 5, 8, 12, 14):
            raise ValueError(f"Expected 4, 5, 8, 12 or 14 distortion coefficients for camera {self.name!r}, "
                             f"but got {dist.size}")
        if dist.size < 5:
            dist = np.concatenate([dist, np.zeros(5 - dist.size)])
        size = tuple(int(v) for v in self.size)
        if len(size) != 2:
            raise ValueError(f"Expected size (width, height) for camera {self.name!r}, but got {self.size}")
        for key, value in (("matrix", matrix), ("dist", dist), ("rvec", _vector(self.rvec, 3, "rvec")),
                           ("tvec", _vector(self.tvec, 3, "tvec")), ("size", size), ("name", str(self.name))):
            if isinstance(value, np.ndarray):
                value.setflags(write=False)
            object.__setattr__(self, key, value)

    @property
    def rotation(self) -> np.ndarray:
        """World-to-camera rotation matrix ``(3, 3)``."""
        return rotation_matrix(self.rvec)

    @property
    def extrinsics(self) -> np.ndarray:
        """``[R | t]`` ``(3, 4)``: world point (homogeneous) to camera frame."""
        return np.hstack([self.rotation, self.tvec[:, None]])

    @property
    def projection(self) -> np.ndarray:
        """``K [R | t]`` ``(3, 4)``, the projection of undistorted pixels."""
        return self.matrix @ self.extrinsics

    @property
    def centre(self) -> np.ndarray:
        """Position of the optical centre in world coordinates ``(3,)``."""
        return -self.rotation.T @ self.tvec

    def replace(self, **changes) -> Camera:
        """A copy with some fields changed."""
        values = {k: getattr(self, k) for k in ("name", "size", "matrix", "dist", "rvec", "tvec")}
        return Camera(**{**values, **changes})

    def distort(self, normalized) -> np.ndarray:
        """Pixels ``(..., 2)`` of normalized undistorted coordinates ``(..., 2)``."""
        xy = np.asarray(normalized, dtype=np.float64)
        if self.dist.size > 5:
            flat = xy.reshape(-1, 1, 2)
            points = np.concatenate([flat, np.ones(flat.shape[:2] + (1,))], axis=-1)
            out, _ = cv2.projectPoints(points, np.zeros(3), np.zeros(3), self.matrix, self.dist)
            return out.reshape(xy.shape)
        k1, k2, p1, p2, k3 = self.dist
        x, y = xy[..., 0], xy[..., 1]
        x2, y2, xy_ = x * x, y * y, x * y
        r2 = x2 + y2
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        xd = x * radial + 2.0 * p1 * xy_ + p2 * (r2 + 2.0 * x2)
        yd = y * radial + p1 * (r2 + 2.0 * y2) + 2.0 * p2 * xy_
        m = self.matrix
        return np.stack([m[0, 0] * xd + m[0, 1] * yd + m[0, 2], m[1, 1] * yd + m[1, 2]], axis=-1)

    def undistort(self, pixels) -> np.ndarray:
        """Normalized undistorted coordinates ``(..., 2)`` of pixels ``(..., 2)``; NaN stays NaN.

        OpenCV's fixed-point inversion (5 iterations) is followed by Newton steps on the
        5-coefficient model until they stop improving (3 at most), which brings the round trip
        ``distort(undistort(p))`` to ~1e-12 pixels even for strong barrel distortion.
        """
        pixels = np.asarray(pixels, dtype=np.float64)
        flat = np.ascontiguousarray(pixels.reshape(-1, 1, 2))
        if flat.shape[0] == 0:
            return np.zeros(pixels.shape)
        out = cv2.undistortPoints(flat, self.matrix, self.dist).reshape(-1, 2)
        if self.dist.size == 5 and np.any(self.dist):
            for _ in range(3):
                before = out
                out = self._newton_step(out, flat.reshape(-1, 2))
                # quadratic convergence: a step this small leaves an error of about its square
                if not np.nanmax(np.abs(out - before), initial=0.0) > 1e-9:
                    break
        return out.reshape(pixels.shape)

    def _newton_step(self, xy: np.ndarray, pixels: np.ndarray) -> np.ndarray:
        k1, k2, p1, p2, k3 = self.dist
        m = self.matrix
        yd = (pixels[:, 1] - m[1, 2]) / m[1, 1]
        xd = (pixels[:, 0] - m[0, 2] - m[0, 1] * yd) / m[0, 0]
        x, y = xy[:, 0], xy[:, 1]
        x2, y2, xy_ = x * x, y * y, x * y
        r2 = x2 + y2
        radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dradial = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)  # d radial / d r2
        fx = x * radial + 2.0 * p1 * xy_ + p2 * (r2 + 2.0 * x2) - xd
        fy = y * radial + p1 * (r2 + 2.0 * y2) + 2.0 * p2 * xy_ - yd
        a = radial + 2.0 * x2 * dradial + 2.0 * p1 * y + 6.0 * p2 * x
        b = 2.0 * xy_ * dradial + 2.0 * p1 * x + 2.0 * p2 * y
        d = radial + 2.0 * y2 * dradial + 6.0 * p1 * y + 2.0 * p2 * x
        det = a * d - b * b
        return np.stack([x - (d * fx - b * fy) / det, y - (a * fy - b * fx) / det], axis=-1)

    def project(self, points) -> np.ndarray:
        """Pixels ``(..., 2)`` of world points ``(..., 3)``; NaN for points behind the camera."""
        points = np.asarray(points, dtype=np.float64)
        if points.shape[-1] != 3:
            raise ValueError(f"Expected world points of shape (..., 3), but got {points.shape}")
        cam = points @ self.rotation.T + self.tvec
        z = cam[..., 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            normalized = np.where(z > 0, cam[..., :2] / z, np.nan)
        return self.distort(normalized)


class CameraGroup:
    """Calibrated cameras filming the same scene, in one world frame.

    Arrays of observations put the camera first: pixels ``(camera, ..., 2)``.
    """

    def __init__(self, cameras: Sequence[Camera], *, metadata: dict | None = None):
        cameras = tuple(cameras)
        if not cameras:
            raise ValueError("Expected at least one camera in a camera group, but got none")
        names = [c.name for c in cameras]
        if len(set(names)) != len(names):
            raise ValueError(f"Expected unique camera names, but got {names}")
        self.cameras = cameras
        self.metadata = dict(metadata or {})

    def __len__(self) -> int:
        return len(self.cameras)

    def __repr__(self) -> str:
        return f"CameraGroup({list(self.names)})"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def subset(self, names: Sequence[str]) -> CameraGroup:
        """The cameras named, in that order (the order of a store's ``view`` dimension)."""
        by_name = {c.name: c for c in self.cameras}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise KeyError(f"Expected cameras {list(names)} in the calibration, but {missing} are not among {self.names}")
        return CameraGroup([by_name[n] for n in names], metadata=self.metadata)

    def extrinsics(self) -> np.ndarray:
        """``[R | t]`` of every camera, ``(camera, 3, 4)``."""
        return np.stack([c.extrinsics for c in self.cameras])

    def project(self, points) -> np.ndarray:
        """Pixels ``(camera, ..., 2)`` of world points ``(..., 3)``."""
        return np.stack([c.project(points) for c in self.cameras])

    def undistort(self, pixels) -> np.ndarray:
        """Normalized coordinates ``(camera, ..., 2)`` of pixels ``(camera, ..., 2)``."""
        pixels = self._check(pixels)
        return np.stack([c.undistort(p) for c, p in zip(self.cameras, pixels)])

    def reprojection_error(self, points, pixels) -> np.ndarray:
        """Distance ``(camera, ...)`` in pixels between ``pixels`` and the projections of ``points``."""
        pixels = self._check(pixels)
        return np.linalg.norm(self.project(points) - pixels, axis=-1)

    def _check(self, pixels) -> np.ndarray:
        pixels = np.asarray(pixels, dtype=np.float64)
        if pixels.ndim < 2 or pixels.shape[0] != len(self) or pixels.shape[-1] != 2:
            raise ValueError(f"Expected pixels of shape ({len(self)}, ..., 2), one row per camera, "
                             f"but got {pixels.shape}")
        return pixels
