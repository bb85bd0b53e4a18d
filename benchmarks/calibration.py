"""Calibration time and accuracy against aniposelib 0.8, on the same board detections.

Two sets of boards: the real OpenCV stereo pairs (2 cameras, 13 frames of a 9x6 chessboard, 25 mm
squares, detected once by our detector and handed to both), and a synthetic 4-camera rig around
an arena (``ring_rig``) with one camera's parameters perturbed (camera 2 turned 5 degrees off the
ring's symmetric layout by ``perturb_camera``, so no two cameras share a pose pattern), a 9x6
chessboard (25 mm) waved through it in 24 frames, corners with 0.3 px noise.

Timed (process CPU and wall, ``REPEAT`` runs; the former method on the stereo pairs only: on the
4-camera boards it ran for minutes): ours, ``calibrate_group`` (OpenCV intrinsics,
pairwise poses, bundle adjustment by Levenberg–Marquardt on the Schur complement); ours with the
former bundle adjustment (scipy ``least_squares`` trf with ``jac_sparsity``, ``x_scale="jac"``);
aniposelib's ``CameraGroup.calibrate_rows`` (its intrinsics from ``initCameraMatrix2D``, its
``bundle_adjust_iter``). Board detection is excluded from all of them: the corners are detected
once (or generated) and the same detections are handed to every calibration.

Accuracy, the same measure for every calibration: each board corner seen by two or more cameras is
triangulated with the calibration and reprojected into every camera that saw it; the RMS of those
pixel residuals, the median distance between neighbouring corners (the true square is 25 mm) and,
for the synthetic rig, the camera centres' errors (mm, in the first camera's frame, where both
toolboxes put the world).

Writes ``benchmarks/results/calibration.json`` after each case (``--stereo``: the real pairs only).
"""

import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_model  # noqa: E402

from deepbehavior.geometry import CameraGroup
from deepbehavior.geometry.calibration import Board, calibrate_group, detect_in_images
from deepbehavior.geometry.calibration_check import corner_pixels, measured_square
from deepbehavior.synthetic.camera_rigs import board_detections, perturb_camera, ring_rig
from deepbehavior.geometry.triangulation import triangulate

RESULTS = Path(__file__).parent / "results" / "calibration.json"
REPEAT = 1
BOARD = Board(kind="chessboard", columns=9, rows=6, square_size=25.0)


def timed(fn, repeat=REPEAT):
    best_cpu, best_wall, out = np.inf, np.inf, None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    return best_cpu, best_wall, out


def quality(group: CameraGroup, detections: dict, truth: CameraGroup | None = None) -> dict:
    pixels = corner_pixels(detections, BOARD, group.names)
    points, _ = triangulate(group, pixels)
    residual = group.reprojection_error(points.reshape(-1, 3), pixels.reshape(len(group), -1, 2))
    residual = residual[np.isfinite(residual) & np.isfinite(points.reshape(-1, 3)).all(axis=1)[None]]
    out = {"triangulated_rms_px": float(np.sqrt(np.mean(residual ** 2))),
           "square_mm": measured_square(points, BOARD)}
    if truth is not None:
        # both calibrations put the world at the first camera: compare centres in its frame
        first = truth.cameras[0]
        true_centres = np.array([first.rotation @ c.centre + first.tvec for c in truth.cameras])
        got = np.array([c.centre for c in group.cameras])
        out["centre_error_mm"] = float(np.max(np.linalg.norm(got - true_centres, axis=1)))
        out["focal_error_pct"] = float(np.max([abs(g.matrix[0, 0] / t.matrix[0, 0] - 1) * 100
                                               for g, t in zip(group.cameras, truth.cameras)]))
    return out


def aniposelib_calibrate(detections: dict, sizes: dict):
    from aniposelib.boards import Checkerboard
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    names = list(detections)
    agroup = AGroup([ACamera(name=n, size=sizes[n]) for n in names])
    rows = [[{"framenum": (0, f), "corners": d.corners.reshape(-1, 1, 2).astype(np.float32),
              "ids": d.ids.reshape(-1, 1).astype(np.int32)} for f, d in enumerate(detections[n]) if d is not None]
            for n in names]
    board = Checkerboard(BOARD.columns, BOARD.rows, BOARD.square_size)
    with open(os.devnull, "w") as quiet, _redirect(quiet):
        error = agroup.calibrate_rows(rows, board, init_intrinsics=True, init_extrinsics=True, verbose=False)
    return agroup, error


class _redirect:
    """Silence aniposelib's prints (it prints its camera dictionaries)."""

    def __init__(self, target):
        self.target = target

    def __enter__(self):
        self.saved = sys.stdout
        sys.stdout = self.target

    def __exit__(self, *exc):
        sys.stdout = self.saved


def as_ours(agroup) -> CameraGroup:
    from deepbehavior.geometry import Camera

    return CameraGroup([Camera(name=c.get_name(), size=tuple(c.get_size()), matrix=c.get_camera_matrix(),
                               dist=np.asarray(c.get_distortions()).ravel()[:5], rvec=c.get_rotation(),
                               tvec=c.get_translation()) for c in agroup.cameras])


def run_case(name: str, detections: dict, sizes: dict, truth: CameraGroup | None, *, former: bool = True) -> dict:
    print(f"[{name}] ours ...", flush=True)
    ours_cpu, ours_wall, (ours, report) = timed(lambda: calibrate_group(detections, BOARD, sizes))
    print(f"[{name}] aniposelib ...", flush=True)
    theirs_cpu, theirs_wall, (agroup, _) = timed(lambda: aniposelib_calibrate(detections, sizes))
    theirs = as_ours(agroup)
    out = {
        "cameras": len(sizes),
        "frames": len(next(iter(detections.values()))),
        "frames_with_board": {n: int(sum(d is not None for d in v)) for n, v in detections.items()},
        "ours": {"cpu_s": ours_cpu, "wall_s": ours_wall, "board_rms_px": report.rms, **quality(ours, detections, truth)},
        "aniposelib": {"cpu_s": theirs_cpu, "wall_s": theirs_wall, **quality(theirs, detections, truth)},
        "speedup_cpu_vs_aniposelib": theirs_cpu / ours_cpu,
        "speedup_wall_vs_aniposelib": theirs_wall / ours_wall,
        "detection": "excluded: the same detections are handed to both",
    }
    if former:
        print(f"[{name}] ours, former bundle adjustment ...", flush=True)
        import deepbehavior.geometry.calibration as calibration

        original = calibration.bundle_adjust

        def trf(*args, **kwargs):
            return original(*args, solver="trf", **kwargs)

        calibration.bundle_adjust = trf
        try:
            trf_cpu, trf_wall, (trf_group, _) = timed(lambda: calibrate_group(detections, BOARD, sizes), repeat=1)
        finally:
            calibration.bundle_adjust = original
        out["ours_former_trf"] = {"cpu_s": trf_cpu, "wall_s": trf_wall, **quality(trf_group, detections, truth)}
        out["speedup_cpu_vs_former"] = trf_cpu / ours_cpu
    return out


def main():
    result = {"machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(), "ram_gb": psutil.virtual_memory().total / 1e9,
                          "note": "shared VM: other jobs ran at the same time; ratios come from one run"},
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "repeat": REPEAT}
    data = Path(os.environ.get("DEEPBEHAVIOR_DATA", "/work/shared/data")) / "stereo-chessboard/opencv"
    if data.is_dir():
        detections, sizes = {}, {}
        for cam in ("left", "right"):
            detections[cam], sizes[cam] = detect_in_images(sorted(data.glob(f"{cam}*.jpg")), BOARD)
        result["opencv_stereo"] = run_case("opencv_stereo", detections, sizes, None)
        write(result)
    if "--stereo" in sys.argv:
        return
    rig = perturb_camera(ring_rig(4), 2, "rotate", amount=5.0)
    detections, _ = board_detections(rig, BOARD, frames=24, noise=0.3, seed=1)
    result["synthetic_4_cameras"] = run_case("synthetic_4_cameras", detections,
                                             {c.name: c.size for c in rig.cameras}, rig, former=False)
    write(result)


def write(result: dict) -> None:
    """Write the results so far (each case as it finishes)."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.partial")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
