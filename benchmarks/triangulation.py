"""Triangulation speed and accuracy against aniposelib, and memory of a store larger than a chunk.

Writes ``benchmarks/results/triangulation.json``: ``points_per_s`` / ``median_error`` (ours,
default ``dlt``, the numba kernel warm; ``jit_compile_or_cache_load_s`` its one-off start,
``numpy_engine_points_per_s`` the NumPy reference) and ``aniposelib_points_per_s`` /
``aniposelib_median_error`` (aniposelib's ``CameraGroup.triangulate``, default mode, warm: its JIT
compile excluded) on the same 3-camera input with 1 px noise, errors in mm, timed in interleaved
rounds (medians; ``speedup_wall`` / ``speedup_cpu`` their spread); ``peak_rss_mb`` of this process; and ``store_memory``: the
peak RSS of a subprocess triangulating stores of 2, 8 and 32 chunks (it should stay flat).

``skeleton``: realistic points, a 14-keypoint mouse walking an arena (``deepbehavior.synthetic.camera_rigs``) filmed by
4 cameras 0.7-0.9 m away (f = 1400 px, 1 px noise), 2000 frames (28k points) and 20,000 frames (280k points,
a realistic session). Our modes ``dlt`` (the default: one depth-reweighted re-solve; one thread below
``PARALLEL_MIN_POINTS`` points, all threads from there), ``dlt_one_thread``, ``dlt_no_refine`` (the plain
linear least squares aniposelib computes), ``weighted`` (per-view confidences) and ``robust`` against
aniposelib's ``triangulate`` in each of its modes (SVD, ``fast=True``), compared two ways: ``complete``,
aniposelib doing the same work as ours (distorted pixels in, with its undistortion), and
``pre_undistorted``, aniposelib given points we undistorted beforehand, its undistortion untimed (ours
still includes it). Everything is timed in interleaved rounds (every variant once per round, the order
rotated) so that the load of the shared machine falls on all alike; wall clock and CPU time
(``time.process_time``, all threads), min/median/max over rounds; speedups per round against aniposelib's
fastest mode by median, with their spread; ``meets_50x`` where the median speedup is at least 50 (the
issue's target) and ``summary`` listing them. Also with 10 % of the views missing (NaN, as a store holds
them) and with camera 2's calibration replaced by camera 3's (``swap``), and robust mode against
``triangulate_ransac`` on a subset (it takes milliseconds a point). Errors: median mm against the true
skeleton. ``python benchmarks/triangulation.py --skeleton`` runs this part alone
into ``triangulation_skeleton.json``, with the whole command (``whole_command_detail``): the wall
time, launch to exit in fresh processes, of ``deepbehavior triangulate`` on a 2D store of 20,000
frames of the walking mouse and an anipose ``calibration.toml`` against a plain aniposelib script
reading the same two files (``PLAIN_TRIANGULATE``), in interleaved rounds, after checking that both
give the same 3D points.

Both JSONs carry the headline keys of ``_timing.headline``: ``ratio_vs_baseline_best`` (ours over
aniposelib in its faster mode, same points, warm) and ``whole_command_ratio`` (the aniposelib
script's median wall time over ours; in ``triangulation.json`` None, pointing to the skeleton file).
"""

import json
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_model  # noqa: E402
from _timing import headline, wall  # noqa: E402
from _timing import spread as spread3  # noqa: E402

from deepbehavior.geometry import Camera, CameraGroup
from deepbehavior.geometry.camera import rotation_vector
from deepbehavior.synthetic.camera_rigs import mouse_skeleton, perturb_camera, ring_rig
from deepbehavior.geometry.triangulation import triangulate_points

RESULTS = Path(__file__).parent / "results" / "triangulation.json"


def rig(n=3) -> CameraGroup:
    cams = []
    for i in range(n):
        a = 2 * np.pi * i / n
        centre = np.array([1000 * np.cos(a), 1000 * np.sin(a), 300.0])
        z = -centre / np.linalg.norm(centre)
        x = np.cross([0, 0, 1.0], z)
        x /= np.linalg.norm(x)
        rot = np.stack([x, np.cross(z, x), z])
        cams.append(Camera(name=f"cam{i}", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                           dist=[-0.25, 0.08, 0.001, -0.0005, 0.0], rvec=rotation_vector(rot), tvec=-rot @ centre))
    return CameraGroup(cams)


def best_time(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def best_times(fn, repeat=3):
    """Best wall-clock and best CPU time (this process, all threads) of ``repeat`` runs, and the
    output. On a shared machine the CPU time is the steadier of the two: it leaves out the time
    spent waiting for a core."""
    walls, cpus = [], []
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), out


STORE_SCRIPT = r"""
import resource, sys, tempfile
import numpy as np, dask
sys.path.insert(0, sys.argv[3])
from triangulation import rig
from deepbehavior import schema
from deepbehavior.geometry.triangulation import triangulate_dataset, write_3d
import xarray as xr
chunks, chunk = int(sys.argv[1]), int(sys.argv[2])
group = rig()
tmp = tempfile.mkdtemp()
n = chunks * chunk
# write the 2D store chunk by chunk so building it does not raise the peak
template = None
for c in range(chunks):
    world = np.random.default_rng(c).uniform(-100, 100, size=(chunk, 20, 2, 3))
    px = np.moveaxis(group.project(world), (0, -1), (-1, 1))
    ds = schema.make_poses(px, fps=30.0, views=group.names, time=np.arange(c * chunk, (c + 1) * chunk))
    enc = {k: {"chunks": (chunk,) + v.shape[1:]} for k, v in ds.data_vars.items()}
    if c == 0:
        ds.to_zarr(tmp + "/in.zarr", mode="w", zarr_format=3, consolidated=False, encoding=enc)
    else:
        ds.to_zarr(tmp + "/in.zarr", append_dim="time", zarr_format=3, consolidated=False)
def hwm():  # VmHWM: this process's peak RSS (ru_maxrss would include the forking parent's)
    return [float(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
before = hwm()
ds = xr.open_zarr(tmp + "/in.zarr", zarr_format=3, consolidated=False)
with dask.config.set(scheduler="threads", num_workers=2):
    write_3d(triangulate_dataset(ds, group), tmp + "/out.zarr")
print(before / 1024, hwm() / 1024)
"""


def store_memory(chunk=2000):
    out = {}
    for chunks in (2, 8, 32):
        res = subprocess.run([sys.executable, "-c", STORE_SCRIPT, str(chunks), str(chunk), str(Path(__file__).parent)],
                             capture_output=True, text=True, check=True)
        before, after = map(float, res.stdout.split())
        out[f"{chunks}_chunks"] = {"frames": chunks * chunk, "points": chunks * chunk * 40,
                                   "input_mb": chunks * chunk * 40 * 3 * 3 * 4 / 1e6,
                                   "peak_rss_mb_before_triangulating": before, "peak_rss_mb": after}
    return out


def spread(values) -> dict:
    """Min, median and max of a list of numbers."""
    values = np.asarray(values, dtype=float)
    return {"min": float(values.min()), "median": float(np.median(values)), "max": float(values.max())}


def interleaved(calls: dict, rounds: int) -> dict:
    """Wall-clock and CPU times (s) of each call over ``rounds`` rounds; each round calls every
    function once, the order rotated from round to round, so that the load of the shared machine
    falls on all of them alike. CPU time is this process's, all threads (``time.process_time``)."""
    times = {name: {"wall": [], "cpu": []} for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            cpu, wall = time.process_time(), time.perf_counter()
            calls[name]()
            times[name]["wall"].append(time.perf_counter() - wall)
            times[name]["cpu"].append(time.process_time() - cpu)
    return times


def one_thread(fn):
    """``fn`` with our linear kernel kept on the calling thread whatever the number of points."""
    from deepbehavior.geometry import _kernels

    def call():
        threshold = _kernels.PARALLEL_MIN_POINTS
        _kernels.PARALLEL_MIN_POINTS = 1 << 62
        try:
            return fn()
        finally:
            _kernels.PARALLEL_MIN_POINTS = threshold
    return call


ANIPOSELIB_MODES = {
    # its complete work on the same input as ours: distorted pixels in, 3D points out
    "complete": {"svd": ({}, False), "fast": ({"fast": True}, False)},
    # the points undistorted beforehand by us (undistort=False): its undistortion left out of its time
    "pre_undistorted": {"svd_on_undistorted": ({"undistort": False}, True),
                        "fast_on_undistorted": ({"fast": True, "undistort": False}, True)},
}
OUR_MODES = {
    "dlt": {},  # the default: one depth-reweighted re-solve; one thread below PARALLEL_MIN_POINTS
    "dlt_one_thread": {"one_thread": True},
    "dlt_no_refine": {"refine": 0},  # the plain linear least squares aniposelib's default computes
    "weighted": {"conf": True},
    "robust": {"method": "robust"},
}
TARGET = 50.0


def compare(group, agroup, pixels, world, confidence, rounds: int, modes=tuple(OUR_MODES)) -> dict:
    """Our modes against aniposelib's ``triangulate`` (each of its modes, with and without its
    undistortion), timed interleaved; ratios per round against its fastest complete mode and its
    fastest mode on pre-undistorted points, by median wall and by median CPU time."""
    undistorted = group.undistort(pixels)
    calls, errors = {}, {}
    for kind, table in ANIPOSELIB_MODES.items():
        for name, (kwargs, pre) in table.items():
            data = undistorted if pre else pixels

            def call(data=data, kwargs=kwargs):
                with np.errstate(all="ignore"):
                    return agroup.triangulate(data, **kwargs)
            agroup.triangulate(data[:, :1000], **kwargs)  # its JIT compile first
            calls["aniposelib_" + name] = call
    for name in modes:
        options = dict(OUR_MODES[name])
        conf = confidence if options.pop("conf", False) else None
        alone = options.pop("one_thread", False)

        def call(conf=conf, options=options):
            return triangulate_points(group, pixels, conf, **options)
        call()  # compile, or load from numba's cache
        calls[name] = one_thread(call) if alone else call
    for name, call in calls.items():
        found = call()
        errors[name] = float(np.nanmedian(np.linalg.norm(found - world, axis=1)))
    times = interleaved(calls, rounds)
    out = {"rounds": rounds, "aniposelib_triangulate": {}, "ours": {}}
    best = {}
    for kind, table in ANIPOSELIB_MODES.items():
        rows = {name: {"wall_s": spread(times["aniposelib_" + name]["wall"]),
                       "cpu_s": spread(times["aniposelib_" + name]["cpu"]),
                       "median_error_mm": errors["aniposelib_" + name]} for name in table}
        best[kind] = {clock: min(table, key=lambda m: np.median(times["aniposelib_" + m][clock]))
                      for clock in ("wall", "cpu")}
        out["aniposelib_triangulate"][kind] = {"modes": rows, "fastest_by_wall": best[kind]["wall"],
                                               "fastest_by_cpu": best[kind]["cpu"]}
    for name in modes:
        row = {"wall_s": spread(times[name]["wall"]), "cpu_s": spread(times[name]["cpu"]),
               "points_per_s_median_wall": pixels.shape[1] / np.median(times[name]["wall"]),
               "median_error_mm": errors[name]}
        for kind in ANIPOSELIB_MODES:
            ratios = {}
            for clock in ("wall", "cpu"):
                theirs = np.asarray(times["aniposelib_" + best[kind][clock]][clock])
                ratios[clock] = spread(theirs / np.asarray(times[name][clock]))
                ratios[clock]["meets_50x"] = bool(ratios[clock]["median"] >= TARGET)
            row["speedup_vs_aniposelib_" + kind] = ratios
        out["ours"][name] = row
    return out


def skeleton(sizes=((2000, 15), (20000, 7)), ransac_points=200):
    """Our modes against aniposelib on the walking mouse (see the module's description)."""
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    def agroup_of(group):
        return AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                       for c in group.cameras])

    good = ring_rig(4)
    out = {"cameras": 4, "keypoints": 14, "noise_px": 1.0, "target": f">= {TARGET:g}x aniposelib, equal error",
           "error_unit": "mm, median distance to the true skeleton",
           "timing": ("interleaved rounds (each round calls every variant once, order rotated), warm; wall clock and "
                      "CPU time of the process, all threads (s; min/median/max over rounds); speedups per round "
                      "against aniposelib's fastest mode by median (chosen per clock), with min/median/max over "
                      "rounds; meets_50x: the median speedup is at least 50"),
           "comparisons": {
               "complete": "aniposelib does the same work as ours: distorted pixels in, 3D points out "
                           "(triangulate(undistort=True), SVD or fast=True)",
               "pre_undistorted": "generous to aniposelib: it is given the points undistorted by us beforehand "
                                  "(undistort=False), its undistortion left out of its time; ours still includes "
                                  "undistortion"},
           "threads": "dlt: as the job calls it (one thread below PARALLEL_MIN_POINTS = 65536 points, all threads "
                      "from there); dlt_one_thread: always one thread"}
    for frames, rounds in sizes:
        world = mouse_skeleton(frames, seed=0).reshape(-1, 3)
        rng = np.random.default_rng(0)
        pixels = good.project(world) + rng.normal(scale=1.0, size=(4, len(world), 2))
        confidence = rng.uniform(0.6, 1.0, size=pixels.shape[:2])
        row = {"frames": frames, "points": len(world),
               **compare(good, agroup_of(good), pixels, world, confidence, rounds)}
        out[f"good_rig_{frames}_frames"] = row
        print(frames, json.dumps(row, indent=1), flush=True)
    # data a store holds (10 % of views NaN) and a wrong calibration, at the smaller size
    frames, rounds = sizes[0]
    world = mouse_skeleton(frames, seed=0).reshape(-1, 3)
    rng = np.random.default_rng(0)
    pixels = good.project(world) + rng.normal(scale=1.0, size=(4, len(world), 2))
    confidence = rng.uniform(0.6, 1.0, size=pixels.shape[:2])
    missing = pixels.copy()
    missing[rng.random(pixels.shape[:2]) < 0.1] = np.nan
    subset = np.linspace(0, len(world) - 1, ransac_points).round().astype(int)
    for name, group, data in (("good_rig_10pct_views_missing", good, missing),
                              ("one_camera_swapped", perturb_camera(good, 2, "swap"), pixels)):
        row = {"frames": frames, "points": len(world),
               **compare(group, agroup_of(group), data, world, confidence, rounds)}
        out[f"{name}_{frames}_frames"] = row
        print(name, json.dumps(row, indent=1), flush=True)
    # robust mode against aniposelib's triangulate_ransac, on a subset (it takes milliseconds a point)
    ransac = {"points": ransac_points, "of": len(world)}
    for name, group in (("good_rig", good), ("one_camera_swapped", perturb_camera(good, 2, "swap"))):
        agroup = agroup_of(group)
        agroup.triangulate_ransac(pixels[:, subset[:2]])  # its JIT compile first
        start, start_cpu = time.perf_counter(), time.process_time()
        theirs = agroup.triangulate_ransac(pixels[:, subset])[0]
        ransac_t, ransac_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        triangulate_points(group, pixels[:, :100], method="robust")
        t, cpu, ours = best_times(lambda: triangulate_points(group, pixels, method="robust"), repeat=rounds)
        ransac[name] = {
            "aniposelib_s_per_point": ransac_t / len(subset), "aniposelib_cpu_s_per_point": ransac_cpu / len(subset),
            "aniposelib_median_error_mm_on_subset": float(np.median(np.linalg.norm(theirs - world[subset], axis=1))),
            "robust_s_per_point": t / len(world), "robust_cpu_s_per_point": cpu / len(world),
            "robust_median_error_mm_on_subset": float(np.median(np.linalg.norm(ours[subset] - world[subset], axis=1))),
            "robust_median_error_mm": float(np.median(np.linalg.norm(ours - world, axis=1))),
            "speedup": (ransac_t / len(subset)) / (t / len(world)),
            "cpu_speedup": (ransac_cpu / len(subset)) / (cpu / len(world))}
    out["robust_vs_triangulate_ransac"] = ransac
    out["summary"] = summary(out)
    return out


def summary(out: dict) -> dict:
    """Which of the default ``dlt`` (and plain ``dlt_no_refine``) comparisons meet the target:
    the median speedup per size, comparison and clock."""
    rows = {}
    for key, row in out.items():
        if not (isinstance(row, dict) and "ours" in row):
            continue
        for mode in ("dlt", "dlt_one_thread", "dlt_no_refine"):
            for kind in ANIPOSELIB_MODES:
                for clock in ("wall", "cpu"):
                    ratio = row["ours"][mode]["speedup_vs_aniposelib_" + kind][clock]
                    rows[f"{key}/{mode}/vs_{kind}/{clock}"] = {"median_speedup": round(ratio["median"], 1),
                                                               "meets_50x": ratio["meets_50x"]}
    return rows


def real_stereo(rounds=15) -> dict:
    """The real OpenCV stereo pairs (../shared/data/stereo-chessboard/opencv: 13 frames of a 9x6
    chessboard, 25 mm squares): the corners both cameras detected, triangulated by us and by
    aniposelib with the same calibration (ours, from these boards); agreement in mm, the measured
    square against its true 25 mm, and the time of each (interleaved; 702 points, so fixed
    per-call costs weigh more than on a session). Two cameras leave the linear solution
    ill-conditioned for some corners: aniposelib's homogeneous SVD and our inhomogeneous normal
    equations (two least-squares forms of DLT) then differ by up to a few tenths of a mm."""
    import os

    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    from deepbehavior.geometry.calibration import Board, calibrate_group, detect_in_images
    from deepbehavior.geometry.calibration_check import corner_pixels, measured_square

    data = Path(os.environ.get("DEEPBEHAVIOR_DATA", "/work/shared/data")) / "stereo-chessboard/opencv"
    if not data.is_dir():
        return {"skipped": f"{data} not found"}
    board = Board(kind="chessboard", columns=9, rows=6, square_size=25.0)
    detections, sizes = {}, {}
    for cam in ("left", "right"):
        detections[cam], sizes[cam] = detect_in_images(sorted(data.glob(f"{cam}*.jpg")), board)
    group = calibrate_group(detections, board, sizes)[0]
    names = ["left", "right"]
    pixels = corner_pixels(detections, board, names)  # (camera, frame, corner, 2)
    both = np.isfinite(pixels).all(axis=(0, 2, 3))
    pixels = pixels[:, both]
    flat = pixels.reshape(2, -1, 2)
    agroup = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                     for c in group.cameras])
    calls = {"aniposelib_svd": lambda: agroup.triangulate(flat),
             "aniposelib_fast": lambda: agroup.triangulate(flat, fast=True),
             "dlt": lambda: triangulate_points(group, flat),
             "dlt_no_refine": lambda: triangulate_points(group, flat, refine=0)}
    found = {name: call() for name, call in calls.items()}  # and compile
    times = interleaved(calls, rounds)
    out = {"frames": int(both.sum()), "points": flat.shape[1], "rounds": rounds,
           "calibration": "ours, from these boards",
           "true_square_mm": 25.0}
    for name in calls:
        out[name] = {"wall_s": spread(times[name]["wall"]), "cpu_s": spread(times[name]["cpu"]),
                     "measured_square_mm": measured_square(found[name].reshape(pixels.shape[1], -1, 3), board)}
    for name in ("dlt", "dlt_no_refine"):
        gap = np.linalg.norm(found[name] - found["aniposelib_svd"], axis=1)
        out[name]["vs_aniposelib_svd_mm"] = {"median": float(np.median(gap)), "max": float(np.max(gap))}
        for clock in ("wall", "cpu"):
            theirs = np.minimum(times["aniposelib_svd"][clock], times["aniposelib_fast"][clock])
            out[name][f"speedup_{clock}"] = spread(theirs / np.asarray(times[name][clock]))
    return out


# ---------------------------------------------------------------------------------------------
# whole commands, each a new process: `deepbehavior triangulate` against a plain aniposelib script

ROOT = Path(__file__).resolve().parents[1]
# What a user of aniposelib writes to triangulate the same 2D store with the same calibration file:
# the simplest read of the store (xarray), CameraGroup.load of the TOML, triangulate, np.save.
PLAIN_TRIANGULATE = """\
import sys

import numpy as np
import xarray as xr
from aniposelib.cameras import CameraGroup

store, calibration, out, mode = sys.argv[1:5]
cgroup = CameraGroup.load(calibration)
xy = (xr.open_zarr(store)["position"].sel(view=cgroup.get_names())
      .transpose("view", "time", "keypoints", "individuals", "space").values)
p3d = cgroup.triangulate(xy.reshape(len(xy), -1, 2), fast=mode == "fast")
np.save(out, p3d.reshape(xy.shape[1:-1] + (3,)))
"""
PLAIN_MODES = ("svd", "fast")  # aniposelib's two triangulate modes; the faster (median) is the baseline


def session_files(work: Path, frames: int, *, chunk: int = 1000, seed: int = 0):
    """The files a user has before triangulating: the 2D poses store of the walking mouse seen by the
    4-camera ring (1 px noise, chunks of ``chunk`` frames, as ``infer`` writes them) and an anipose
    ``calibration.toml`` written by aniposelib from the same cameras. Returns (store, calibration,
    true world points ``(time, keypoint, individual, 3)`` in mm)."""
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    from deepbehavior import schema
    from deepbehavior.store import create_store, regions, write_region
    from deepbehavior.synthetic.camera_rigs import MOUSE_KEYPOINTS

    group = ring_rig(4)
    world = mouse_skeleton(frames, seed=seed)[:, :, None, :]
    rng = np.random.default_rng(seed)
    pixels = group.project(world) + rng.normal(scale=1.0, size=(len(group),) + world.shape[:-1] + (2,))
    ds = schema.make_poses(np.moveaxis(pixels, (0, -1), (-1, 1)), fps=60.0, views=group.names,
                           keypoints=list(MOUSE_KEYPOINTS), individuals=["mouse"])
    store = create_store(work / "session_2d.zarr", ds, chunk=chunk, overwrite=True)
    for region in regions(store):
        write_region(store, ds.sel(view=region.view).isel(time=slice(region.start, region.stop)), region)
    calibration = work / "calibration.toml"
    AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
            for c in group.cameras]).dump(str(calibration))
    return store, calibration, world


def whole_command(frames: int = 20000, rounds: int = 5, work: Path | None = None, *, figures: bool = True,
                  modes: tuple = PLAIN_MODES) -> dict:
    """Wall time, launch to exit in fresh processes, of ``deepbehavior triangulate`` (``figure=false``:
    the 3D store, its reprojection errors and the camera table; and as by default, with its two
    figures) against :data:`PLAIN_TRIANGULATE` in each aniposelib mode, on the same store and
    calibration file; interleaved rounds (order rotated). Before timing, each command runs once
    (filling numba's and the OS's caches; its time is reported apart) and the results are checked:
    every point triangulated by both, and the same 3D points (median gap in mm, errors against the
    true skeleton). ``figures=False`` leaves out the run with figures, ``modes`` the aniposelib modes
    timed (for a quick test)."""
    import os
    import tempfile

    from deepbehavior.store import open_store

    work = Path(tempfile.mkdtemp(prefix="bench-triangulate-")) if work is None else Path(work)
    work.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    store, calibration, world = session_files(work, frames)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    plain = work / "plain_triangulate.py"
    plain.write_text(PLAIN_TRIANGULATE)
    cli = [sys.executable, "-m", "deepbehavior.cli", "triangulate", f"store={store}", f"calibration={calibration}",
           "force=true"]
    commands = {"deepbehavior_triangulate": lambda i: cli + [f"out={work / 'ours'}", "figure=false"]}
    if figures:
        commands["deepbehavior_triangulate_with_figures"] = lambda i: cli + [f"out={work / 'ours_figures'}"]
    for mode in modes:
        commands[f"aniposelib_script_{mode}"] = (
            lambda i, mode=mode: [sys.executable, str(plain), str(store), str(calibration),
                                  str(work / f"plain_{mode}.npy"), mode])
    first = {name: wall(command(0), env) for name, command in commands.items()}
    ours = open_store(work / "ours" / "poses3d.zarr")["position"].transpose(
        "time", "keypoints", "individuals", "space").values
    check = {"points": int(world[..., 0].size),
             "deepbehavior_triangulated": int(np.isfinite(ours).all(-1).sum()),
             "deepbehavior_median_error_mm": float(np.median(np.linalg.norm(ours - world, axis=-1)))}
    for mode in modes:
        theirs = np.load(work / f"plain_{mode}.npy")
        check[f"aniposelib_{mode}_triangulated"] = int(np.isfinite(theirs).all(-1).sum())
        check[f"aniposelib_{mode}_median_error_mm"] = float(np.median(np.linalg.norm(theirs - world, axis=-1)))
        gap = np.linalg.norm(ours - theirs, axis=-1)
        check[f"gap_to_aniposelib_{mode}_mm"] = {"median": float(np.median(gap)), "max": float(np.max(gap))}
    same = (all(check[k] == check["points"] for k in check if k.endswith("triangulated"))
            and all(check[f"gap_to_aniposelib_{m}_mm"]["median"] < 0.5 for m in modes))
    if not same:
        raise RuntimeError(f"the two commands disagree, not timing them: {check}")
    times = {name: [] for name in commands}
    names = list(commands)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(wall(commands[name](r + 1), env))
        print(f"whole command round {r + 1}/{rounds}: "
              + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    median = {name: float(np.median(v)) for name, v in times.items()}
    fastest = min(modes, key=lambda m: median[f"aniposelib_script_{m}"])
    baseline = median[f"aniposelib_script_{fastest}"]
    return {
        "frames": frames, "points": check["points"], "cameras": 4, "rounds": rounds,
        "input": "a 2D poses store (Zarr, 1000-frame chunks, as infer writes it) of the walking mouse "
                 "(deepbehavior.synthetic.camera_rigs, 14 keypoints, 60 fps, 1 px noise) and calibration.toml "
                 "written by aniposelib's CameraGroup.dump from the same 4 cameras; both commands read these files",
        "deepbehavior_triangulate": " ".join(["deepbehavior", "triangulate", "store=… calibration=… out=… force=true",
                                              "figure=false"]) + " (3D store with reprojection errors, camera table);"
                                   " _with_figures: its default figure=true (also two PNG figures)",
        "aniposelib_script": PLAIN_TRIANGULATE,
        "aniposelib_fastest_mode": fastest,
        "check_before_timing": check,
        "first_run_s": {k: round(v, 3) for k, v in first.items()},
        "first_run_note": "untimed warm-up: the first run after install also fills numba's on-disk cache",
        "whole_command_s": {name: spread3(v) for name, v in times.items()},
        # > 1: deepbehavior's whole command is faster than the plain aniposelib script at its faster mode
        "whole_command_ratio": baseline / median["deepbehavior_triangulate"],
        "whole_command_ratio_with_figures": (baseline / median["deepbehavior_triangulate_with_figures"]
                                             if figures else None),
        # the same ratio within each round (the two commands ran back to back), min/median/max
        "whole_command_ratio_per_round": spread3([a / b for a, b in zip(times[f"aniposelib_script_{fastest}"],
                                                                        times["deepbehavior_triangulate"])]),
        "threads": "both sides use every core (numba and Dask threads; jax/OpenCV threads)",
        "load_average_1_5_15_min_before": load_before, "load_average_1_5_15_min_after": os.getloadavg(),
    }


WHOLE_WORDS = ("wall time, launch to exit (fresh processes, median of {rounds} interleaved rounds), of "
               "`deepbehavior triangulate store=… calibration=… figure=false` against a plain aniposelib script "
               "(xarray.open_zarr of the same 2D store, CameraGroup.load of the same calibration.toml, "
               "triangulate in its faster mode ({fastest}), np.save), {frames} frames x 14 keypoints x 4 cameras; "
               "with its default figures the ratio is {figures:.2f}")


def main():
    import os

    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    load_before = os.getloadavg()
    group = rig()
    n = 200_000
    rng = np.random.default_rng(0)
    points = rng.uniform(-150, 150, size=(n, 3))
    pixels = group.project(points) + rng.normal(scale=1.0, size=(len(group), n, 2))
    # the numba kernel compiles on first use (or loads from its on-disk cache): timed apart
    start = time.perf_counter()
    triangulate_points(group, pixels[:, :100])
    jit_s = time.perf_counter() - start
    numpy_t, _ = best_time(lambda: triangulate_points(group, pixels, engine="numpy"), repeat=2)
    agroup = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                     for c in group.cameras])
    agroup.triangulate(pixels[:, :1000])  # compile its jax function first
    ours, theirs = triangulate_points(group, pixels), agroup.triangulate(pixels)
    agroup.triangulate(pixels[:, :1000], fast=True)
    # interleaved: ours (the job's default, all threads at this size) and aniposelib in each of its
    # modes, its SVD (default) and fast=True, both with its own undistortion: the same work as ours
    times = interleaved({"ours": lambda: triangulate_points(group, pixels),
                         "aniposelib": lambda: agroup.triangulate(pixels),
                         "aniposelib_fast": lambda: agroup.triangulate(pixels, fast=True)}, rounds=5)
    fastest = min(("aniposelib", "aniposelib_fast"), key=lambda k: np.median(times[k]["wall"]))
    ours_t, theirs_t = np.median(times["ours"]["wall"]), np.median(times[fastest]["wall"])
    result = {
        "points": n,
        "cameras": len(group),
        "timing": "interleaved rounds, medians; speedup_* spread per round, against aniposelib's faster mode",
        "points_per_s": n / ours_t,
        "aniposelib_points_per_s": n / np.median(times["aniposelib"]["wall"]),
        "aniposelib_fast_points_per_s": n / np.median(times["aniposelib_fast"]["wall"]),
        "aniposelib_fastest_mode": {"aniposelib": "svd (default)", "aniposelib_fast": "fast=True"}[fastest],
        "speedup": theirs_t / ours_t,
        "speedup_wall": spread(np.asarray(times[fastest]["wall"]) / times["ours"]["wall"]),
        "speedup_cpu": spread(np.asarray(times[fastest]["cpu"]) / times["ours"]["cpu"]),
        "jit_compile_or_cache_load_s": jit_s,
        "numpy_engine_points_per_s": n / numpy_t,
        "median_error": float(np.median(np.linalg.norm(ours - points, axis=1))),
        "aniposelib_median_error": float(np.median(np.linalg.norm(theirs - points, axis=1))),
        "error_unit": "mm (1 px noise, cameras 1 m away, f = 800 px)",
        "skeleton": "in triangulation_skeleton.json (python benchmarks/triangulation.py --skeleton)",
        "store_memory": store_memory(),
        "peak_rss_mb": psutil.Process().memory_info().rss / 1e6,
        "machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(),
                    "ram_gb": psutil.virtual_memory().total / 1e9, "python": platform.python_version()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **headline(best=theirs_t / ours_t,
                   best_what=("triangulate_points (dlt, the job's default) against aniposelib's CameraGroup.triangulate "
                              "in its faster mode on these points (median wall over 5 interleaved rounds; SVD and "
                              "fast=True both timed, each with its undistortion), 200,000 uniform random points, "
                              "3 cameras, warm"),
                   whole=None,
                   whole_what=("not measured here (uniform random points, a kernel figure): the whole command "
                               "`deepbehavior triangulate` against a plain aniposelib script is in "
                               "triangulation_skeleton.json, on a realistic 20,000-frame session")),
    }
    result["machine"]["load_average_1_5_15_min_before"] = load_before
    result["machine"]["load_average_1_5_15_min_after"] = os.getloadavg()
    result["machine"]["note"] = "shared VM: other jobs may have run at the same time; ratios come from one interleaved run"
    import resource

    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.partial")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps(result, indent=2))


def whole_headline(whole: dict, rounds: int, frames: int) -> dict:
    """The headline's whole-command keys of ``triangulation_skeleton.json``."""
    return headline(best=None, best_what="(only the whole-command keys are used)", whole=whole["whole_command_ratio"],
                    whole_what=WHOLE_WORDS.format(rounds=rounds, fastest=whole["aniposelib_fastest_mode"],
                                                  frames=frames, figures=whole["whole_command_ratio_with_figures"]))


def main_whole_only(whole_frames: int = 20000, whole_rounds: int = 5):
    """``--skeleton --whole-only``: only the whole command, replacing it in ``triangulation_skeleton.json``
    (the kernel comparison there is kept, with its own date)."""
    path = RESULTS.with_name("triangulation_skeleton.json")
    result = json.loads(path.read_text())
    whole = whole_command(whole_frames, whole_rounds)
    keys = whole_headline(whole, whole_rounds, whole_frames)
    result.update({k: keys[k] for k in ("whole_command_ratio", "whole_command")})
    result["whole_command_detail"] = whole
    result["whole_command_date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(whole, indent=2))


def main_skeleton(whole_frames: int = 20000, whole_rounds: int = 5):
    """``--skeleton``: the skeleton comparison and the whole command, into ``triangulation_skeleton.json``."""
    import os

    load_before = os.getloadavg()
    skeleton_result = skeleton()
    whole = whole_command(whole_frames, whole_rounds)
    like = skeleton_result["good_rig_20000_frames"]["ours"]["dlt"]["speedup_vs_aniposelib_complete"]["cpu"]
    result = {**headline(
                  best=like["median"],
                  best_what=("dlt (the job's default) against aniposelib's CameraGroup.triangulate in its fastest mode "
                             "by median CPU time (SVD or fast=True, with its undistortion: the same work), 20,000 "
                             "frames of the walking mouse x 14 keypoints, 4 cameras, warm, median over interleaved "
                             f"rounds (per-round spread {like['min']:.1f}-{like['max']:.1f}); see skeleton.summary"),
                  whole=whole["whole_command_ratio"],
                  whole_what=whole_headline(whole, whole_rounds, whole_frames)["whole_command"]),
              "whole_command_detail": whole,
              "skeleton": skeleton_result,
              "real_stereo_chessboard": real_stereo(),
              "real_four_camera_session": "not run: ../shared/data holds no multi-camera session with 2D points and a "
                                          "calibration of more than two cameras (its README lists none)",
              "machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(), "ram_gb": psutil.virtual_memory().total / 1e9,
                          "python": platform.python_version(),
                          "load_average_1_5_15_min_before": load_before,
                          "load_average_1_5_15_min_after": os.getloadavg(),
                          "note": "shared VM: other jobs ran at the same time; ratios come from one interleaved run"},
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = RESULTS.with_name("triangulation_skeleton.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skeleton", action="store_true",
                        help="the skeleton comparison and the whole command, into triangulation_skeleton.json")
    parser.add_argument("--whole-frames", type=int, default=20000, help="frames of the whole-command session")
    parser.add_argument("--whole-rounds", type=int, default=5, help="interleaved rounds of the whole commands")
    parser.add_argument("--whole-only", action="store_true",
                        help="with --skeleton: only the whole command, replacing it in triangulation_skeleton.json")
    args = parser.parse_args()
    if args.skeleton and args.whole_only:
        main_whole_only(args.whole_frames, args.whole_rounds)
    elif args.skeleton:
        main_skeleton(args.whole_frames, args.whole_rounds)
    else:
        main()
