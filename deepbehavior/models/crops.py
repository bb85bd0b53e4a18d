"""Crop geometry of top-down keypoints: where a crop lies in the frame, and mapping points both ways.

A crop is a square window of ``size`` frame pixels centred on an animal, resampled to ``out_size``
network pixels, optionally rotated and mirrored (for augmentation). It is one 2x3 affine matrix
from frame pixels to crop pixels; points map forward with it and back with its inverse, so a
keypoint found in the crop lands on the same spot of the frame. Pixel coordinates are continuous
with pixel centres at integers (OpenCV's convention for ``warpAffine``), in x, y order.
"""

from __future__ import annotations

import cv2
import numpy as np


def crop_matrix(centre, *, size: float, out_size: int, angle: float = 0.0, flip: bool = False) -> np.ndarray:
    """The 2x3 affine matrix from frame pixels to crop pixels.

    Parameters
    ----------
    centre
        ``(x, y)`` of the crop's centre in frame pixels.
    size
        Side of the square window, frame pixels.
    out_size
        Side of the crop, network pixels.
    angle
        Rotation of the content, degrees counter-clockwise as seen on screen (y down).
    flip
        Mirror left-right (after rotating).

    Examples
    --------
    >>> m = crop_matrix((100, 50), size=64, out_size=32)
    >>> apply_matrix(m, np.array([[100.0, 50.0]])).tolist()   # the centre goes to the crop's centre
    [[15.5, 15.5]]
    """
    if size <= 0 or out_size <= 0:
        raise ValueError(f"Expected crop size and out_size > 0, but got {size} and {out_size}")
    half = (out_size - 1) / 2.0
    return affine_matrix(centre, scale=out_size / float(size), angle=angle, flip=flip, out_centre=(half, half))


def affine_matrix(centre, *, scale: float, angle: float = 0.0, flip: bool = False, out_centre=(0.0, 0.0)) -> np.ndarray:
    """The 2x3 matrix that scales by ``scale``, turns by ``angle`` degrees (counter-clockwise on screen)
    and mirrors left-right (``flip``) about ``centre`` (input pixels), which lands on ``out_centre``."""
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta) * scale, np.sin(theta) * scale
    # y points down, so a counter-clockwise turn on screen is [[cos, sin], [-sin, cos]]
    linear = np.array([[cos, sin], [-sin, cos]])
    if flip:
        linear = np.array([[-1.0, 0.0], [0.0, 1.0]]) @ linear
    offset = np.asarray(out_centre, dtype=np.float64) - linear @ np.asarray(centre, dtype=np.float64)
    return np.hstack([linear, offset[:, None]])


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 affine matrix (crop pixels back to frame pixels)."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points ``(..., 2)`` (x, y) through a 2x3 affine matrix; NaN stays NaN."""
    points = np.asarray(points, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def cut(image: np.ndarray, matrix: np.ndarray, out_size, *, fill: int = 0) -> np.ndarray:
    """The crop of ``image (H, W[, C])`` through ``matrix``: ``(out_h, out_w[, C])``, same dtype.

    ``out_size`` is one side (a square) or ``(out_w, out_h)``.
    """
    size = (int(out_size), int(out_size)) if np.isscalar(out_size) else (int(out_size[0]), int(out_size[1]))
    return cv2.warpAffine(image, np.asarray(matrix, dtype=np.float64), size,
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def swap_order(names, pairs) -> list[int]:
    """Keypoint order after a left-right mirror: ``pairs`` of names swap places, the rest stay.

    Examples
    --------
    >>> swap_order(["snout", "leftear", "rightear"], [("leftear", "rightear")])
    [0, 2, 1]
    """
    names = list(names)
    order = list(range(len(names)))
    for a, b in pairs:
        if a not in names or b not in names:
            raise ValueError(f"Expected both keypoints of the pair ({a}, {b}) among {names}, but got a missing one")
        i, j = names.index(a), names.index(b)
        order[i], order[j] = j, i
    return order


def guess_flip_pairs(names) -> list[tuple[str, str]]:
    """Left/right pairs found by name: ``leftear``/``rightear``, ``Left_paw``/``Right_paw``, ``LEar``/``REar``.

    Examples
    --------
    >>> guess_flip_pairs(["snout", "leftear", "rightear", "LHand", "RHand", "tail"])
    [('leftear', 'rightear'), ('LHand', 'RHand')]
    """
    names = list(names)
    pairs = []
    for name in names:
        candidates = [name.replace(left, right, 1) for left, right in (("left", "right"), ("Left", "Right"),
                                                                      ("LEFT", "RIGHT")) if left in name]
        if len(name) > 1 and name[0] == "L" and (name[1].isupper() or name[1] in "_-"):
            candidates.append("R" + name[1:])
        pairs += [(name, other) for other in candidates if other != name and other in names]
    return pairs
