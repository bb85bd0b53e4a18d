"""Calibration as a Python step: board images or videos of 1..N cameras in, a camera group out."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Board
    from ..geometry.calibration import CalibrationReport as Errors
    from ..geometry.camera import CameraGroup

#: Files read as videos (every ``every``-th frame); anything else is a glob of images.
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg"}


@dataclass(frozen=True)
class CalibrationReport:
    """What :func:`calibrate` found.

    Attributes
    ----------
    cameras
        The calibrated :class:`~deepbehavior.geometry.camera.CameraGroup`, in the board's unit
        (``Board.square_size``, mm by default).
    errors
        Reprojection errors in pixels (``rms``, ``per_camera_rms``), frames used and frames
        without the board (:class:`deepbehavior.geometry.calibration.CalibrationReport`).
    paths
        The files written when :func:`calibrate` was given ``out`` (``calibration.toml``,
        ``calibration.yml``); else empty.
    """

    cameras: CameraGroup
    errors: Errors
    paths: tuple[Path, ...] = ()


def _images(source: str | os.PathLike | Sequence[str | os.PathLike], camera: str) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        paths = sorted(glob.glob(str(source)))
        if not paths:
            raise FileNotFoundError(f"Expected images for camera {camera!r} matching {source}, but found none")
        return paths
    return [str(p) for p in source]


def calibrate(
    sources: Mapping[str, str | os.PathLike | Sequence[str | os.PathLike]],
    *,
    board: Board | None = None,
    every: int = 10,
    bundle_adjustment: bool = True,
    min_views: int = 3,
    out: str | os.PathLike | None = None,
) -> CalibrationReport:
    """Calibrate cameras that filmed the same calibration board at the same moments.

    Parameters
    ----------
    sources
        Camera name -> a glob of image files (sorted by name), a list of image files, or one video;
        the i-th image (or sampled frame) of every camera is the same moment.
    board
        The board (:class:`deepbehavior.config.Board`: kind, inner corners, square size in mm);
        None: a 9 x 6 chessboard of 25 mm squares.
    every
        Keep every ``every``-th frame of a video.
    bundle_adjustment
        Refine every camera and board pose jointly after the pairwise estimate.
    min_views
        Fewest frames with the board a camera needs.
    out
        Also write ``calibration.toml`` (anipose) and ``calibration.yml`` (OpenCV) in this folder.

    Returns
    -------
    CalibrationReport
        The camera group and its reprojection errors (pixels).

    Examples
    --------
    >>> report = db.calibrate({"left": "left*.jpg", "right": "right*.jpg"})  # doctest: +SKIP
    >>> report.errors.rms  # doctest: +SKIP
    """
    from ..config import Board
    from ..geometry.calib_io import save_opencv, save_toml
    from ..geometry.calibration import calibrate_group, detect_in_images, detect_in_video

    board = Board() if board is None else board
    if not sources:
        raise ValueError("Expected one source per camera, but got none")
    if every < 1:
        raise ValueError(f"Expected every >= 1 frame, but got {every}")
    detections: dict[str, Any] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for name, source in sources.items():
        if isinstance(source, (str, os.PathLike)) and Path(source).suffix.lower() in VIDEO_SUFFIXES:
            if not Path(source).is_file():
                raise FileNotFoundError(f"Expected a video for camera {name!r} at {source}, but there is none")
            detections[name], sizes[name] = detect_in_video(source, board, every=every)
        else:
            detections[name], sizes[name] = detect_in_images(_images(source, name), board)
    counts = {n: len(d) for n, d in detections.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"Expected the same number of images/frames for every camera, but got {counts}")
    group, errors = calibrate_group(detections, board, sizes, bundle_adjustment=bundle_adjustment,
                                    min_views=min_views)
    group.metadata.update({"unit": "mm", "error": errors.rms, "adjusted": errors.bundle_adjusted})
    paths: tuple[Path, ...] = ()
    if out is not None:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        save_toml(group, folder / "calibration.toml")
        save_opencv(group, folder / "calibration.yml")
        paths = (folder / "calibration.toml", folder / "calibration.yml")
    return CalibrationReport(group, errors, paths)
