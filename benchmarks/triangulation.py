"""Triangulation speed and accuracy against aniposelib, and memory of a store larger than a chunk.

Writes ``benchmarks/results/triangulation.json``: ``points_per_s`` / ``median_error`` (ours,
default ``dlt``, the numba kernel warm; ``jit_compile_or_cache_load_s`` its one-off start,
``numpy_engine_points_per_s`` the NumPy reference) and ``aniposelib_points_per_s`` / ``aniposelib_median_error`` (aniposelib's
``CameraGroup.triangulate``, default mode, warm: its JIT compile excluded) on the same 3-camera
input with 1 px noise, errors in mm; ``peak_rss_mb`` of this process; and ``store_memory``: the
peak RSS of a subprocess triangulating stores of 2, 8 and 32 chunks (it should stay flat).

``skeleton``: realistic points, a 14-keypoint mouse walking an arena (``deepbehavior.synthetic.camera_rigs``) filmed by
4 cameras 0.7-0.9 m away (f = 1400 px, 1 px noise), 2000 frames. Modes ``dlt`` (and
``dlt_no_refine``, without the depth-reweighted re-solve: aniposelib's algorithm), ``weighted``
(per-view confidences) and ``robust`` against aniposelib's ``triangulate`` and
``triangulate_ransac`` (the latter on a subset of points, as it takes milliseconds per point),
each on the good rig and on the rig with camera 2's calibration replaced by camera 3's (``swap``);
and with 10 % of the views missing (NaN, as a store holds them); errors in mm against the true
skeleton. aniposelib is timed at its best: the fastest of its modes (JAX SVD or ``fast=True``),
with its own undistortion or on points undistorted beforehand; ours includes undistortion and
every per-call step, by default (one thread below 65536 points) and forced parallel over points
(``parallel_*``; the robust kernel is parallel on the main thread either way).
Ratios from this one run. ``python benchmarks/triangulation.py --skeleton`` runs this part alone
into ``triangulation_skeleton.json``.
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


def aniposelib_best(agroup, group, pixels, world, repeat=3) -> dict:
    """aniposelib's ``triangulate`` at its best: each of its modes (the default SVD per point in
    JAX, and ``fast=True``: OpenCV pairwise triangulation and the median), with its own
    undistortion and on points we undistorted beforehand (``undistort=False``), warm; the fastest."""
    undistorted = group.undistort(pixels)
    modes = {}
    for mode, kwargs, data in (("svd", {}, pixels), ("fast", {"fast": True}, pixels),
                               ("svd_on_undistorted", {"undistort": False}, undistorted),
                               ("fast_on_undistorted", {"fast": True, "undistort": False}, undistorted)):
        agroup.triangulate(data[:, :1000], **kwargs)  # its JIT compile first
        with np.errstate(all="ignore"):
            t, cpu, found = best_times(lambda: agroup.triangulate(data, **kwargs), repeat=repeat)
        modes[mode] = {"s": t, "cpu_s": cpu, "points_per_s": pixels.shape[1] / t,
                       "median_error": float(np.nanmedian(np.linalg.norm(found - world, axis=1)))}
    best = min(modes, key=lambda m: modes[m]["s"])
    best_cpu = min(modes, key=lambda m: modes[m]["cpu_s"])
    return {"modes": modes, "best_mode": best, **modes[best], "best_cpu_mode": best_cpu,
            "cpu_s": modes[best_cpu]["cpu_s"]}


def ours_timed(group, pixels, world, conf=None, repeat=15, **kwargs) -> dict:
    """Our ``triangulate_points``, warm, as the job calls it: by default (below
    ``PARALLEL_MIN_POINTS`` points, one thread) and with the points forced onto all threads."""
    from deepbehavior.geometry import _kernels

    t, cpu, found = best_times(lambda: triangulate_points(group, pixels, conf, **kwargs), repeat=repeat)
    threshold = _kernels.PARALLEL_MIN_POINTS
    _kernels.PARALLEL_MIN_POINTS = 0
    try:
        parallel_t, _ = best_time(lambda: triangulate_points(group, pixels, conf, **kwargs), repeat=repeat)
    finally:
        _kernels.PARALLEL_MIN_POINTS = threshold
    error = np.linalg.norm(found - world, axis=1)
    return {"s": t, "cpu_s": cpu, "points_per_s": pixels.shape[1] / t, "parallel_s": parallel_t,
            "parallel_points_per_s": pixels.shape[1] / parallel_t, "median_error": float(np.nanmedian(error)),
            "found": found}


def skeleton(frames=2000, ransac_points=200):
    """Our three modes against aniposelib on the walking mouse (see the module's description)."""
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    world = mouse_skeleton(frames, seed=0).reshape(-1, 3)
    good = ring_rig(4)
    rng = np.random.default_rng(0)
    pixels = good.project(world) + rng.normal(scale=1.0, size=(4, len(world), 2))
    confidence = rng.uniform(0.6, 1.0, size=pixels.shape[:2])
    # as a store holds them: some views missing (NaN), here 10 % of them at random
    missing = pixels.copy()
    missing[rng.random(pixels.shape[:2]) < 0.1] = np.nan
    subset = np.linspace(0, len(world) - 1, ransac_points).round().astype(int)
    out = {"points": len(world), "cameras": 4, "keypoints": 14, "frames": frames,
           "ransac_points": ransac_points, "error_unit": "mm, median distance to the true skeleton",
           "timing": "best of 3 (aniposelib) and 15 (ours) warm runs, wall clock (s) and CPU time of the process, "
                     "all threads (cpu_s: steadier on the shared machine); ours includes undistortion and all "
                     "per-call work; aniposelib's fastest of its modes, with or without its undistortion"}
    for rig_name, group, data in (("good_rig", good, pixels), ("good_rig_10pct_views_missing", good, missing),
                                  ("one_camera_swapped", perturb_camera(good, 2, "swap"), pixels)):
        agroup = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                         for c in group.cameras])
        triangulate_points(group, data[:, :100], method="robust")  # ours: compile or load from cache
        triangulate_points(group, data[:, :100])
        theirs = aniposelib_best(agroup, group, data, world)
        row = {"aniposelib_triangulate": theirs}
        # dlt_no_refine: the plain linear least squares aniposelib's default computes (no depth reweighting)
        for mode, kwargs in (("dlt", {}), ("dlt_no_refine", {"refine": 0}), ("weighted", {"conf": confidence}),
                             ("robust", {"method": "robust"})):
            ours = ours_timed(group, data, world, **kwargs)
            error = np.linalg.norm(ours.pop("found") - world, axis=1)
            row[mode] = {**ours, "median_error_on_subset": float(np.nanmedian(error[subset])),
                         "speedup_vs_triangulate": theirs["s"] / ours["s"],
                         "cpu_speedup_vs_triangulate": theirs["cpu_s"] / ours["cpu_s"],
                         "speedup_vs_triangulate_parallel": theirs["s"] / ours["parallel_s"]}
        if rig_name != "good_rig_10pct_views_missing":
            start, start_cpu = time.perf_counter(), time.process_time()
            theirs_ransac = agroup.triangulate_ransac(data[:, subset])[0]
            ransac_t = time.perf_counter() - start
            ransac_cpu = time.process_time() - start_cpu
            row["aniposelib_triangulate_ransac"] = {
                "points_per_s": len(subset) / ransac_t, "cpu_s_per_point": ransac_cpu / len(subset),
                "median_error_on_subset": float(np.median(np.linalg.norm(theirs_ransac - world[subset], axis=1)))}
            for mode in ("dlt", "dlt_no_refine", "weighted", "robust"):
                row[mode]["speedup_vs_triangulate_ransac"] = (ransac_t / len(subset)) / row[mode]["s"] * len(world)
                row[mode]["cpu_speedup_vs_triangulate_ransac"] = (ransac_cpu / len(subset)) / row[mode]["cpu_s"] * len(world)
        out[rig_name] = row
        print(rig_name, json.dumps(row, indent=1), flush=True)
    return out


def main():
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    group = rig()
    n = 200_000
    rng = np.random.default_rng(0)
    points = rng.uniform(-150, 150, size=(n, 3))
    pixels = group.project(points) + rng.normal(scale=1.0, size=(len(group), n, 2))
    # the numba kernel compiles on first use (or loads from its on-disk cache): timed apart
    start = time.perf_counter()
    triangulate_points(group, pixels[:, :100])
    jit_s = time.perf_counter() - start
    ours_t, ours = best_time(lambda: triangulate_points(group, pixels), repeat=5)
    numpy_t, _ = best_time(lambda: triangulate_points(group, pixels, engine="numpy"), repeat=2)
    agroup = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                     for c in group.cameras])
    agroup.triangulate(pixels[:, :1000])  # compile its jax function first
    theirs_t, theirs = best_time(lambda: agroup.triangulate(pixels), repeat=2)
    result = {
        "points": n,
        "cameras": len(group),
        "points_per_s": n / ours_t,
        "aniposelib_points_per_s": n / theirs_t,
        "speedup": theirs_t / ours_t,
        "jit_compile_or_cache_load_s": jit_s,
        "numpy_engine_points_per_s": n / numpy_t,
        "median_error": float(np.median(np.linalg.norm(ours - points, axis=1))),
        "aniposelib_median_error": float(np.median(np.linalg.norm(theirs - points, axis=1))),
        "error_unit": "mm (1 px noise, cameras 1 m away, f = 800 px)",
        "skeleton": skeleton(),
        "store_memory": store_memory(),
        "peak_rss_mb": psutil.Process().memory_info().rss / 1e6,
        "machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(),
                    "ram_gb": psutil.virtual_memory().total / 1e9, "python": platform.python_version()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    import resource

    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.partial")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)
    print(json.dumps(result, indent=2))


def main_skeleton():
    """``--skeleton``: only the skeleton comparison, into ``triangulation_skeleton.json``."""
    result = {"skeleton": skeleton(),
              "machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(), "ram_gb": psutil.virtual_memory().total / 1e9,
                          "python": platform.python_version(),
                          "note": "shared VM: other jobs ran at the same time; ratios come from one run"},
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    path = RESULTS.with_name("triangulation_skeleton.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main_skeleton() if "--skeleton" in sys.argv else main()
