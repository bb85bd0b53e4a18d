"""Calibrate 2..N cameras from a checkerboard or ChArUco board: ``cameras`` names them and
``sources`` gives, per camera, a glob of image files (sorted by name) or one video (every
``every``-th frame). The i-th image/frame of every camera must be the same moment. Finds the board
(frames without it are reported, not fatal), calibrates each camera, links the cameras through
shared views, refines everything jointly (bundle adjustment), and writes
``<out>/calibration.toml`` (anipose-compatible), ``<out>/calibration.yml`` (OpenCV),
``<out>/calibration_report.json`` (reprojection errors in pixels, frames without the board) and
``<out>/calibration.png`` (corners found and camera layout).

With ``check=true calibration=FILE`` it calibrates nothing: it finds the board in ``sources`` and
reports, per camera of the existing calibration, the board's reprojection error with the camera
alone and against the consensus of the other cameras (pixels), names a camera far above the others
in a warning, and measures the square size (``<out>/calibration_check.json``), so a bad calibration
is caught before a cohort is triangulated.
"""

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from deepbehavior.config import Board, require

from ._hydra import hydra_job


@dataclass
class CalibrateJob:
    """``deepbehavior calibrate``: ``cameras`` names the cameras and ``sources`` gives, per camera,
    a glob of images or a video (synchronised: the i-th image/frame of each is the same moment).
    ``every`` keeps every n-th video frame. Writes ``calibration.toml``/``.yml``, a report, a figure.
    With ``check=true``, checks the existing ``calibration`` on those boards instead (``cameras``
    default to its cameras) and writes ``calibration_check.json``."""

    # Folder for calibration.toml/.yml, the report and the figure.
    out: str = MISSING
    # Camera names, in the order of sources.
    cameras: list[str] = field(default_factory=list)
    # Per camera: a glob of images or a video of the board.
    sources: list[str] = field(default_factory=list)
    board: Board = field(default_factory=Board)
    every: int = 10
    # Refine all cameras together after the pairwise estimates.
    bundle_adjustment: bool = True
    # Fewest board views a camera needs.
    min_views: int = 3
    # check=true: no calibrating; report each camera's board error under `calibration` instead
    check: bool = False
    # With check=true: the calibration file to check (TOML, OpenCV YAML/XML or Caltech .mat).
    calibration: Optional[str] = None

    def __post_init__(self):
        require(self.every >= 1, f"Expected every >= 1 frame, but got {self.every}")
        require(self.min_views >= 1, f"Expected min_views >= 1, but got {self.min_views}")


VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg"}


def check(cfg: CalibrateJob, calibrated, detections: dict, board) -> None:
    """The check form: per-camera errors of an existing calibration on these boards."""
    import sys

    from deepbehavior.geometry.calibration_check import check_calibration
    from deepbehavior.files import write_atomic

    found = {n: sum(d is not None for d in dets) for n, dets in detections.items()}
    print(f"board found in {', '.join(f'{n} {k}/{len(detections[n])}' for n, k in found.items())} frames")
    result = check_calibration(calibrated, detections, board)
    result.update({"calibration": str(Path(cfg.calibration).resolve()), "frames_with_board": found})
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "calibration_check.json", json.dumps(result, indent=2) + "\n")
    for name, row in result["cameras"].items():
        print(f"camera {name}: board alone {row['board_rms_px']:.2f} px RMS ({row['board_frames']} frames), "
              f"against the other cameras {row['consensus_median_px']:.2f} px median")
    print(f"square size {result['square_size_measured']:.2f} (expected {result['square_size']:g}) "
          f"-> {out / 'calibration_check.json'}")
    if result["note"]:
        print(result["note"])
    for line in result["warnings"]:
        print(f"[calibrate] WARNING {line}", file=sys.stderr)


@hydra_job("calibrate", CalibrateJob)
def main(cfg: CalibrateJob) -> None:
    from deepbehavior.geometry.calib_io import save_opencv, save_toml
    from deepbehavior.geometry.calibration import calibrate_group, detect_in_images, detect_in_video
    from deepbehavior.files import atomic_path, write_atomic
    from deepbehavior.viz.three_d import plot_calibration

    cameras = list(cfg.cameras)
    if cfg.check:
        if not cfg.calibration:
            raise ValueError("Expected calibration=FILE with check=true, but got none")
        if not Path(cfg.calibration).is_file():
            raise FileNotFoundError(f"Expected a calibration file at {cfg.calibration}, but there is none")
        from deepbehavior.geometry.calib_io import load_calibration

        calibrated = load_calibration(cfg.calibration)
        cameras = cameras or calibrated.names
        unknown = [c for c in cameras if c not in calibrated.names]
        if unknown:
            raise ValueError(f"Expected cameras of {cfg.calibration} ({calibrated.names}), but got {unknown}")
    if len(cameras) != len(cfg.sources) or not cameras:
        raise ValueError(f"Expected one source per camera, but got cameras={cameras} "
                         f"and sources={list(cfg.sources)}")
    board = cfg.board
    detections, sizes = {}, {}
    for name, source in zip(cameras, cfg.sources):
        if Path(source).suffix.lower() in VIDEO_SUFFIXES:
            if not Path(source).is_file():
                raise FileNotFoundError(f"Expected a video for camera {name!r} at {source}, but there is none")
            detections[name], sizes[name] = detect_in_video(source, board, every=cfg.every)
        else:
            paths = sorted(glob.glob(source))
            if not paths:
                raise FileNotFoundError(f"Expected images for camera {name!r} matching {source}, but found none")
            detections[name], sizes[name] = detect_in_images(paths, board)
    counts = {len(d) for d in detections.values()}
    if len(counts) != 1:
        raise ValueError(f"Expected the same number of images/frames for every camera, but got "
                         f"{ {n: len(d) for n, d in detections.items()} }")
    if cfg.check:
        check(cfg, calibrated, detections, board)
        return
    group, report = calibrate_group(detections, board, sizes, bundle_adjustment=cfg.bundle_adjustment,
                                    min_views=cfg.min_views)
    group.metadata.update({"unit": "mm", "error": report.rms, "adjusted": report.bundle_adjusted})
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_toml(group, out / "calibration.toml")
    save_opencv(group, out / "calibration.yml")
    write_atomic(out / "calibration_report.json", json.dumps(report.as_dict(), indent=2) + "\n")
    fig = plot_calibration(group, detections)
    with atomic_path(out / "calibration.png") as tmp:
        fig.savefig(tmp, dpi=100)
    for name, missing in report.frames_missing.items():
        if missing:
            print(f"camera {name}: board not found in frames {missing}")
    print(f"calibrated {len(group)} cameras: RMS {report.rms:.3f} px "
          f"({', '.join(f'{n} {v:.3f}' for n, v in report.per_camera_rms.items())}) -> {out / 'calibration.toml'}")
