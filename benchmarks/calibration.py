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

Whole command (``whole_command``): the wall time, launch to exit in fresh processes, of
``deepbehavior calibrate`` on the real stereo images against a plain aniposelib script
(``PLAIN_CALIBRATE``: its own board detection, ``Checkerboard.detect_images``, then
``calibrate_rows`` with its defaults and ``dump``), both from the same image files to a
``calibration.toml``, interleaved rounds; each calibration's error is measured the same way on the
same detections (as above) and its own reported error kept beside it.

The same-detections comparison on the real pairs is timed in ``--rounds`` interleaved rounds (ours,
aniposelib, ...), the whole commands in as many; the synthetic 4-camera case runs only with
``--synthetic`` (aniposelib took 23 minutes on it), else its last result is carried over, dated.

Writes ``benchmarks/results/calibration.json`` after each case, with the headline keys of
``_timing.headline``: ``ratio_vs_baseline_best`` = aniposelib's median CPU time over ours on the same
detections of the real pairs, ``whole_command_ratio`` = the plain script's median wall time over ours.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_model  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

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


def run_case(name: str, detections: dict, sizes: dict, truth: CameraGroup | None, *, former: bool = True,
             rounds: int = REPEAT, warm: bool = True) -> dict:
    """Ours and aniposelib's ``calibrate_rows`` on the same detections, warm (one untimed call each
    first), in ``rounds`` interleaved rounds (ours, aniposelib, aniposelib, ours, ...), CPU and wall time
    of this process; with ``former``, ours with the former bundle adjustment once."""
    cpu, walls = {"ours": [], "aniposelib": []}, {"ours": [], "aniposelib": []}
    calls = {"ours": lambda: calibrate_group(detections, BOARD, sizes),
             "aniposelib": lambda: aniposelib_calibrate(detections, sizes)}
    # one untimed call each first: aniposelib's first call also imports jax (seconds of CPU), ours loads its modules
    results = {side: call() for side, call in calls.items()} if warm else {}
    for r in range(rounds):
        for side in ("ours", "aniposelib") if r % 2 == 0 else ("aniposelib", "ours"):
            print(f"[{name}] round {r + 1}/{rounds}: {side} ...", flush=True)
            c, w, results[side] = timed(calls[side], repeat=1)
            cpu[side].append(c)
            walls[side].append(w)
    ours, report = results["ours"]
    theirs = as_ours(results["aniposelib"][0])
    out = {
        "cameras": len(sizes),
        "frames": len(next(iter(detections.values()))),
        "frames_with_board": {n: int(sum(d is not None for d in v)) for n, v in detections.items()},
        "rounds": rounds,
        "ours": {"cpu_s": spread(cpu["ours"]), "wall_s": spread(walls["ours"]), "board_rms_px": report.rms,
                 **quality(ours, detections, truth)},
        "aniposelib": {"cpu_s": spread(cpu["aniposelib"]), "wall_s": spread(walls["aniposelib"]),
                       **quality(theirs, detections, truth)},
        "speedup_cpu_vs_aniposelib": statistics.median(cpu["aniposelib"]) / statistics.median(cpu["ours"]),
        "speedup_wall_vs_aniposelib": statistics.median(walls["aniposelib"]) / statistics.median(walls["ours"]),
        "speedup_cpu_per_round": spread([a / b for a, b in zip(cpu["aniposelib"], cpu["ours"])]),
        "detection": "excluded: the same detections are handed to both",
        "warm": ("one untimed call of each before the rounds (aniposelib's first call also imports jax)" if warm
                 else "no: the first call of each is timed"),
        "aniposelib_settings": "calibrate_rows(init_intrinsics=True, init_extrinsics=True), its defaults otherwise "
                               "(bundle_adjust_iter: n_iters=6, max_nfev=200, ftol=1e-4)",
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
        out["speedup_cpu_vs_former"] = trf_cpu / statistics.median(cpu["ours"])
    return out


# ---------------------------------------------------------------------------------------------
# whole commands, each a new process: `deepbehavior calibrate` against a plain aniposelib script

ROOT = Path(__file__).resolve().parents[1]
# What a user of aniposelib writes to calibrate cameras from synchronised image files: its own board
# detection, calibrate_rows with its defaults, the error in the metadata (as anipose does), dump.
PLAIN_CALIBRATE = """\
import glob
import sys

import cv2
from aniposelib.boards import Checkerboard
from aniposelib.cameras import CameraGroup

out, columns, rows, square = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sources = dict(zip(sys.argv[5::2], sys.argv[6::2]))  # camera name -> glob of its images
cgroup = CameraGroup.from_names(list(sources))
board = Checkerboard(columns, rows, square_length=square)
detections = []
for camera, pattern in zip(cgroup.cameras, sources.values()):
    images = sorted(glob.glob(pattern))
    height, width = cv2.imread(images[0]).shape[:2]
    camera.set_size((width, height))
    detections.append(board.detect_images(images))
error = cgroup.calibrate_rows(detections, board, verbose=False)
cgroup.metadata["error"] = float(error)
cgroup.dump(out)
"""


def whole_command(data: Path, rounds: int = 3, work: Path | None = None, *, cameras=("left", "right")) -> dict:
    """Wall time, launch to exit in fresh processes, of ``deepbehavior calibrate`` against
    :data:`PLAIN_CALIBRATE` on the images ``<data>/<camera>*.jpg``, interleaved (order alternating);
    each writes a ``calibration.toml``. Before timing, each runs once and both calibrations are
    checked: the same cameras, and each one's triangulated reprojection error and measured square on
    the same detections (ours), with the tool's own reported error."""
    from deepbehavior.geometry.calib_io import load_calibration

    work = Path(tempfile.mkdtemp(prefix="bench-calibrate-")) if work is None else Path(work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    plain = work / "plain_calibrate.py"
    plain.write_text(PLAIN_CALIBRATE)
    globs = [str(data / f"{cam}*.jpg") for cam in cameras]
    board_args = [f"board.columns={BOARD.columns}", f"board.rows={BOARD.rows}", f"board.square_size={BOARD.square_size}"]
    commands = {
        "deepbehavior_calibrate": [sys.executable, "-m", "deepbehavior.cli", "calibrate", f"out={work / 'ours'}",
                                   f"cameras=[{','.join(cameras)}]", f"sources=[{','.join(globs)}]", *board_args],
        "aniposelib_script": [sys.executable, str(plain), str(work / "aniposelib.toml"), str(BOARD.columns),
                              str(BOARD.rows), str(BOARD.square_size),
                              *[x for cam, g in zip(cameras, globs) for x in (cam, g)]],
    }
    first = {name: wall(command, env) for name, command in commands.items()}
    detections, sizes = {}, {}
    for cam, pattern in zip(cameras, globs):
        detections[cam], sizes[cam] = detect_in_images(sorted(Path(pattern).parent.glob(Path(pattern).name)), BOARD)
    ours = load_calibration(work / "ours" / "calibration.toml")
    theirs = load_calibration(work / "aniposelib.toml")
    if ours.names != list(cameras) or theirs.names != list(cameras):
        raise RuntimeError(f"the two commands disagree, not timing them: cameras {ours.names} and {theirs.names}")
    check = {"deepbehavior": {"reported_error_px": ours.metadata.get("error"), **quality(ours, detections)},
             "aniposelib": {"reported_error_px": theirs.metadata.get("error"), **quality(theirs, detections)},
             "measure": "each calibration's corners triangulated and reprojected on the same detections (RMS px), "
                        "median neighbouring-corner distance (true square 25 mm); reported_error_px: the tool's own "
                        "figure (ours: board RMS; aniposelib: calibrate_rows' return value)"}
    for side in ("deepbehavior", "aniposelib"):
        if not abs(check[side]["square_mm"] - BOARD.square_size) < 0.05 * BOARD.square_size:
            raise RuntimeError(f"the two commands disagree, not timing them: {side} measures the 25 mm square as "
                               f"{check[side]['square_mm']:.2f} mm")
    times = {name: [] for name in commands}
    for r in range(rounds):
        for name in list(commands)[::1 if r % 2 == 0 else -1]:
            times[name].append(wall(commands[name], env))
        print(f"whole command round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
              flush=True)
    median = {name: statistics.median(v) for name, v in times.items()}
    return {
        "images": {cam: len(d) for cam, d in detections.items()},
        "rounds": rounds,
        "deepbehavior_calibrate": " ".join(["deepbehavior calibrate out=… cameras=[left,right]",
                                            "sources=[…/left*.jpg,…/right*.jpg]", *board_args]),
        "aniposelib_script": PLAIN_CALIBRATE,
        "first_run_s": {k: round(v, 3) for k, v in first.items()},
        "check_before_timing": check,
        "whole_command_s": {name: spread(v) for name, v in times.items()},
        # > 1: deepbehavior's whole command is faster than the plain aniposelib script
        "whole_command_ratio": median["aniposelib_script"] / median["deepbehavior_calibrate"],
        "outputs": "ours: calibration.toml, .yml, calibration_report.json, calibration.png; aniposelib: calibration.toml",
        "load_average_1_5_15_min_before": load_before, "load_average_1_5_15_min_after": os.getloadavg(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of the same-detections comparison and of the whole commands")
    parser.add_argument("--synthetic", action="store_true",
                        help="also run the synthetic 4-camera case (aniposelib took 23 minutes on it)")
    parser.add_argument("--stereo", action="store_true", help="the real pairs only (kept for old habits; the default)")
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    result = {"machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(), "ram_gb": psutil.virtual_memory().total / 1e9,
                          "load_average_1_5_15_min_before": os.getloadavg(),
                          "note": "shared VM: other jobs may have run at the same time; ratios come from one "
                                  "interleaved run"},
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rounds": args.rounds}
    data = Path(os.environ.get("DEEPBEHAVIOR_DATA", "/work/shared/data")) / "stereo-chessboard/opencv"
    if not data.is_dir():
        raise SystemExit(f"benchmarks/calibration.py: error: Expected the stereo images at {data}, but they are absent")
    detections, sizes = {}, {}
    for cam in ("left", "right"):
        detections[cam], sizes[cam] = detect_in_images(sorted(data.glob(f"{cam}*.jpg")), BOARD)
    stereo = run_case("opencv_stereo", detections, sizes, None, rounds=args.rounds)
    result["opencv_stereo"] = stereo
    whole = whole_command(data, args.rounds)
    result["whole_command_detail"] = whole
    result.update(headline(
        best=stereo["speedup_cpu_vs_aniposelib"],
        best_what=(f"calibrate_group against aniposelib's CameraGroup.calibrate_rows (its defaults) on the same "
                   f"board detections of the 13 real stereo pairs (detection excluded), median CPU time over "
                   f"{args.rounds} interleaved rounds (by wall time {stereo['speedup_wall_vs_aniposelib']:.1f}x)"),
        whole=whole["whole_command_ratio"],
        whole_what=(f"wall time, launch to exit (fresh processes, median of {args.rounds} interleaved rounds), of "
                    "`deepbehavior calibrate` on the 13 real stereo pairs (9x6 chessboard, 25 mm) against a plain "
                    "aniposelib script (Checkerboard.detect_images, calibrate_rows with its defaults, dump), both "
                    "from the same JPEG files to a calibration.toml")))
    if args.synthetic:
        rig = perturb_camera(ring_rig(4), 2, "rotate", amount=5.0)
        synthetic, _ = board_detections(rig, BOARD, frames=24, noise=0.3, seed=1)
        result["synthetic_4_cameras"] = run_case("synthetic_4_cameras", synthetic,
                                                 {c.name: c.size for c in rig.cameras}, rig, former=False, rounds=1,
                                                 warm=False)
        result["synthetic_4_cameras"]["run_date"] = result["date"]
    elif "synthetic_4_cameras" in previous:
        result["synthetic_4_cameras"] = {
            **previous["synthetic_4_cameras"],
            "carried_over": f"not re-run (aniposelib took 23 minutes on it; --synthetic runs it): the result of the "
                            f"run of {previous.get('synthetic_4_cameras', {}).get('run_date', previous.get('date'))}",
            "run_date": previous["synthetic_4_cameras"].get("run_date", previous.get("date"))}
    result["machine"]["load_average_1_5_15_min_after"] = os.getloadavg()
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
