"""The scale of a calibration, checked wherever it is used: one view of its own board.

A calibration made here records one synchronised view of its board (:data:`BOARD_VIEW`: the
corners' board coordinates and each camera's detected pixels, :func:`board_view_of`). Every
triangulation re-triangulates that view with the cameras it is given (:func:`scale_check`): the
distances between the corners must come out as on the board. Reprojection errors cannot see a rig
whose translations were all scaled (the pixels are the same; every 3D length is not); this can.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .camera import CameraGroup

#: Metadata key of a calibration that holds one view of its board: the corners' board coordinates
#: and each camera's detected pixels (:func:`encode_board_view`), so that every later use of the
#: calibration can check its scale (:func:`scale_check`). A string, so that TOML and OpenCV files
#: both keep it.
BOARD_VIEW = "board_view"
#: Corners a board view keeps at most (evenly spread over the board).
BOARD_VIEW_CORNERS = 24


def encode_board_view(object_points: np.ndarray, pixels: dict[str, np.ndarray]) -> str:
    """``"x,y,z;… | name:u,v;… | …"``: board points ``(N, 3)`` (board units) and each camera's
    pixels ``(N, 2)`` of the same corners, at most :data:`BOARD_VIEW_CORNERS` of them."""
    object_points = np.asarray(object_points, dtype=np.float64).reshape(-1, 3)
    keep = np.unique(np.linspace(0, len(object_points) - 1, min(BOARD_VIEW_CORNERS, len(object_points))).round()
                     .astype(int))

    def points(values) -> str:
        return ";".join(",".join(f"{v:.6g}" for v in row) for row in np.asarray(values)[keep])

    parts = [points(object_points)] + [f"{name}:{points(px)}" for name, px in pixels.items()]
    return " | ".join(parts)


def decode_board_view(text: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The board points and pixels of :func:`encode_board_view`; ValueError when malformed."""
    def rows(part: str, width: int) -> np.ndarray:
        values = np.asarray([[float(v) for v in row.split(",")] for row in part.strip().split(";")])
        if values.ndim != 2 or values.shape[1] != width or not np.all(np.isfinite(values)):
            raise ValueError(f"Expected rows of {width} finite numbers in the calibration's {BOARD_VIEW}, but got "
                             f"{part.strip()[:40]!r}")
        return values

    parts = str(text).split("|")
    board = rows(parts[0], 3)
    pixels = {}
    for part in parts[1:]:
        name, sep, values = part.strip().rpartition(":")
        if not sep or not name:
            raise ValueError(f"Expected 'camera:u,v;…' in the calibration's {BOARD_VIEW}, but got "
                             f"{part.strip()[:40]!r}")
        pixels[name] = rows(values, 2)
        if len(pixels[name]) != len(board):
            raise ValueError(f"Expected {len(board)} corners of camera {name} in the calibration's {BOARD_VIEW}, "
                             f"but got {len(pixels[name])}")
    return board, pixels


def board_view_of(detections: dict[str, Sequence], board) -> str | None:
    """The :func:`encode_board_view` of the synchronised frame where every camera found the most
    corners in common, or None when no frame has six or more corners seen by every camera.

    ``detections``: per camera name, one :class:`~.calibration.Detection` or None per frame;
    ``board``: the :class:`~deepbehavior.config.Board` (its ``object_points``).
    """
    names = list(detections)
    best, best_ids, best_frame = 0, None, None
    for f in range(len(detections[names[0]])):
        found = [detections[n][f] for n in names]
        if any(d is None for d in found):
            continue
        common = set(found[0].ids.tolist()).intersection(*(d.ids.tolist() for d in found[1:]))
        if len(common) > best:
            best, best_ids, best_frame = len(common), np.array(sorted(common)), f
    if best < 6:
        return None
    pixels = {}
    for n in names:
        det = detections[n][best_frame]
        where = {int(i): k for k, i in enumerate(det.ids)}
        pixels[n] = np.asarray([det.corners[where[int(i)]] for i in best_ids])
    return encode_board_view(board.object_points[best_ids], pixels)


def scale_check(group: CameraGroup) -> dict | None:
    """The calibration's own board view, triangulated with its cameras, against the board.

    Returns None when the calibration records no :data:`BOARD_VIEW` (or fewer than two of its
    cameras), else ``ratio`` (median over corner pairs of triangulated distance / board
    distance: 1 for a right scale, 100 for translations 100× too long), ``measured`` and
    ``expected`` (the square size, in the calibration's ``unit``: expected × ratio),
    ``cameras`` and ``reprojection_px`` (each camera's median reprojection error of the view's
    corners, pixels). A malformed record gives ``{"error": message}``.
    """
    from .triangulation import triangulate

    text = group.metadata.get(BOARD_VIEW)
    if not text:
        return None
    try:
        board, pixels = decode_board_view(text)
    except ValueError as exc:
        return {"error": str(exc)}
    names = [n for n in group.names if n in pixels]
    if len(names) < 2:
        return None
    sub = group.subset(names)
    observed = np.stack([pixels[n] for n in names])
    points = triangulate(sub, observed, errors=False)[0]
    i, j = np.triu_indices(len(board), 1)
    expected = np.linalg.norm(board[i] - board[j], axis=1)
    measured = np.linalg.norm(points[i] - points[j], axis=1)
    ok = np.isfinite(measured) & (expected > 0)
    if not ok.any():
        return {"error": "the board view did not triangulate"}
    ratio = float(np.median(measured[ok] / expected[ok]))
    square = float(group.metadata.get("square_size", np.min(expected[ok])))
    errors = {n: float(np.nanmedian(np.linalg.norm(cam.project(points) - observed[c], axis=-1)))
              for c, (n, cam) in enumerate(zip(names, sub.cameras))}
    return {"ratio": ratio, "measured": ratio * square, "expected": square,
            "unit": str(group.metadata.get("unit", "calibration units")), "cameras": names,
            "reprojection_px": errors}
