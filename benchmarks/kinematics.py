"""Velocity throughput against ``movement`` at its best, the whole command against a plain movement
script, and peak memory on Dask-backed Zarr stores.

Writes ``benchmarks/results/kinematics.json`` with:

- the headline keys (``_timing.headline``): ``ratio_vs_baseline_best``, our velocity rate over
  ``movement.kinematics.compute_velocity`` (movement 0.15, its only mode: ``xarray.differentiate``,
  one thread like ours) on the same 1M-frame in-memory array, median over interleaved rounds; and
  ``whole_command_ratio``, the wall time of a plain movement script over ours, launch to exit;
- ``points_per_s`` / ``movement_points_per_s`` / ``np_gradient_points_per_s``: min/median/max points
  (one (x, y) per keypoint, individual and frame) per second over the rounds; ``np_gradient`` is the
  plain code, ``np.gradient(values, 1 / fps, axis=0)`` on the same NumPy array (the headline's
  baseline is the faster of it and movement; ``ratio_vs_np_gradient`` and ``ratio_vs_movement`` each);
- ``whole_command_s``: a synthetic DeepLabCut ``.h5`` of one half-hour session (54,000 frames at
  30 fps, 4 keypoints, a random walk), read to a table of distance travelled and mean speed of the
  animal's centroid. Ours, as a user runs it: ``deepbehavior import`` (file to Zarr store) then
  ``deepbehavior analyze measures=[locomotion] figures=false`` (store to table), two fresh processes
  (``import``, ``analyze`` and their sum). Theirs: one script with movement's ``from_dlc_file``,
  ``compute_speed`` and ``compute_path_length`` of the centroid, to a CSV. Both tables are checked
  to agree (relative 1e-5) before timing; rounds interleaved (ours, theirs, ours, ...);
- ``peak_rss_mb_small`` / ``peak_rss_mb_large``: peak resident memory of a fresh process that
  opens a Zarr store lazily, computes velocity and speed and writes the speed to a new store,
  for a small and a 10× larger store (flat memory means chunks stream through);
- ``machine``, ``date`` and the 1-minute load average at start and end (the machine is shared).

Run: ``python benchmarks/kinematics.py`` (about 3 minutes on 2 cores); ``--help`` for sizes;
``--throughput-only`` reruns the velocity timing alone and updates those keys of the existing JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import described  # noqa: E402
from deepbehavior.files import write_atomic  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULT = REPO / "benchmarks" / "results" / "kinematics.json"
FRAMES = 1_000_000
SESSION_FRAMES = 54_000  # half an hour at 30 fps
KEYPOINTS = 4
FPS = 30.0
STORE_CHUNK = 20_000
SMALL, LARGE = 200_000, 2_000_000


def _positions(n_frames: int, *, start: int = 0) -> xr.DataArray:
    """Positions as a store holds them: ``time`` in seconds and the frame numbers in ``frame``."""
    rng = np.random.default_rng(0)
    data = np.cumsum(rng.normal(size=(n_frames, 2, KEYPOINTS, 1)).astype(np.float32), axis=0)
    frames = np.arange(start, start + n_frames)
    return xr.DataArray(
        data,
        dims=("time", "space", "keypoints", "individuals"),
        coords={"time": frames / FPS, "frame": ("time", frames), "space": ["x", "y"],
                "keypoints": [f"k{i}" for i in range(KEYPOINTS)], "individuals": ["a"]},
        attrs={"fps": FPS},
    )


def throughput(n_frames: int = FRAMES, rounds: int = 5) -> dict:
    """Points per second of our ``compute_velocity`` and movement's on the same array, interleaved
    rounds (the order alternating), each round one call of each."""
    from movement.kinematics import compute_velocity as movement_velocity

    from deepbehavior.analysis.kinematics import compute_velocity

    position = _positions(n_frames)
    points = n_frames * KEYPOINTS
    values, step = position.values, 1 / FPS
    calls = {"ours": lambda: compute_velocity(position), "movement": lambda: movement_velocity(position),
             # the plain code: NumPy's central differences on the same array, evenly spaced frames
             "np_gradient": lambda: np.gradient(values, step, axis=0)}
    np.testing.assert_allclose(calls["ours"]().values, calls["movement"]().values, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(calls["ours"]().values, calls["np_gradient"](), rtol=1e-4, atol=1e-3)
    rates = {name: [] for name in calls}
    for r in range(rounds):
        names = list(calls)
        for name in names[r % len(names):] + names[:r % len(names)]:  # each side first in turn
            start = time.perf_counter()
            calls[name]()
            rates[name].append(points / (time.perf_counter() - start))
    return rates


# The script a movement user writes for the same table: read the file, the centroid's speed and
# distance travelled, a CSV. Arguments: the .h5, fps, the output CSV.
MOVEMENT_SCRIPT = """
import sys
import pandas as pd
from movement.io import load_poses
from movement.kinematics import compute_path_length, compute_speed

ds = load_poses.from_dlc_file(sys.argv[1], fps=float(sys.argv[2]))
rows = []
for individual in ds.individuals.values:
    centroid = ds.position.sel(individuals=individual).mean("keypoints", skipna=True)
    rows.append({"individual": str(individual),
                 "distance": float(compute_path_length(centroid)),
                 "speed_mean": float(compute_speed(centroid).mean(skipna=True))})
pd.DataFrame(rows).to_csv(sys.argv[3], index=False)
"""


def write_session(path: Path, n_frames: int) -> Path:
    """A DeepLabCut ``.h5`` of one mouse: a random walk (px) with 4 keypoints jittered around it."""
    from deepbehavior import schema
    from deepbehavior.formats import save_file

    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(0, 2.0, (n_frames, 2)), axis=0) + [320, 240]
    position = walk[:, :, None, None] + rng.normal(0, 3.0, (n_frames, 2, KEYPOINTS, 1))
    ds = schema.make_poses(position, rng.uniform(0.5, 1, (n_frames, KEYPOINTS, 1)), fps=FPS,
                           keypoints=["snout", "leftear", "rightear", "tailbase"])
    return save_file(ds, path, "dlc")


def _ours_table(out: Path) -> dict:
    import pandas as pd

    table = pd.read_csv(out / "measures.csv").set_index("measure")["value"]
    return {"distance": table["locomotion.distance_individual0"],
            "speed_mean": table["locomotion.speed_mean_individual0"]}


def whole_command(work: Path, n_frames: int = SESSION_FRAMES, rounds: int = 3) -> dict:
    """Wall seconds of ``deepbehavior import`` + ``analyze`` and of the plain movement script on one
    session file, interleaved; both tables checked to agree first. Ratio: movement / ours (medians)."""
    work.mkdir(parents=True, exist_ok=True)
    source = write_session(work / "m01_d1.h5", n_frames)
    (work / "cohort.yaml").write_text("sessions:\n- {subject: m01, group: g, session: d1, videos: {view0: none.mp4}}\n")
    script = work / "movement_locomotion.py"
    script.write_text(textwrap.dedent(MOVEMENT_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    cli = [sys.executable, "-m", "deepbehavior.cli"]

    def ours(run: Path) -> tuple[float, float]:
        imported = wall([*cli, "import", f"out={run}", f"source={source}", "name=m01_d1", f"fps={FPS}"], env)
        analyzed = wall([*cli, "analyze", f"out={run}", f"cohort={work / 'cohort.yaml'}", "measures=[locomotion]",
                         "figures=false"], env)
        return imported, analyzed

    def theirs(csv: Path) -> float:
        return wall([sys.executable, str(script), str(source), str(FPS), str(csv)], env)

    times = {"deepbehavior_import": [], "deepbehavior_analyze": [], "deepbehavior_import_analyze": [],
             "movement_script": []}
    for r in range(rounds):
        order = ("ours", "theirs") if r % 2 == 0 else ("theirs", "ours")
        for side in order:
            if side == "ours":
                imported, analyzed = ours(work / f"ours-{r}")
                times["deepbehavior_import"].append(imported)
                times["deepbehavior_analyze"].append(analyzed)
                times["deepbehavior_import_analyze"].append(imported + analyzed)
            else:
                times["movement_script"].append(theirs(work / f"movement-{r}.csv"))
    import pandas as pd

    mine = _ours_table(work / "ours-0")
    plain = pd.read_csv(work / "movement-0.csv").iloc[0]
    agree = {k: bool(np.isclose(mine[k], plain[k], rtol=1e-5)) for k in mine}
    if not all(agree.values()):
        raise AssertionError(f"deepbehavior {mine} and movement {dict(plain)} disagree")
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "whole_command_s": {k: spread(v) for k, v in times.items()},
        "ratio": med["movement_script"] / med["deepbehavior_import_analyze"],
        "ratio_analyze_only": med["movement_script"] / med["deepbehavior_analyze"],
        "same_result": {"deepbehavior": {k: float(v) for k, v in mine.items()},
                        "movement": {k: float(plain[k]) for k in mine}, "agree_rtol_1e-5": agree},
        "session_frames": n_frames, "rounds": rounds,
    }


_WORKER = """
import sys, xarray as xr, dask
from deepbehavior.analysis.kinematics import compute_speed

def peak_mb():
    # VmHWM starts afresh at exec; ru_maxrss would inherit the parent's peak through fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

dask.config.set(scheduler="threads", num_workers=2)
source, target = sys.argv[1], sys.argv[2]
before = peak_mb()
position = xr.open_zarr(source, zarr_format=3)["position"]
speed = compute_speed(position, fps=float(position.attrs["fps"]))
speed.to_dataset(name="speed").to_zarr(target, mode="w", zarr_format=3)
print(before, peak_mb())
"""


def _write_store(path: Path, n_frames: int) -> None:
    """Write a store in pieces so that building it never holds it all in memory."""
    for start in range(0, n_frames, STORE_CHUNK * 10):
        stop = min(n_frames, start + STORE_CHUNK * 10)
        piece = _positions(stop - start, start=start)
        # Label coordinates stay out: Zarr v3 has no stable string dtype yet.
        ds = piece.drop_vars(["space", "keypoints", "individuals"]).to_dataset(name="position").chunk(time=STORE_CHUNK)
        if start == 0:
            ds.to_zarr(path, mode="w", zarr_format=3)
        else:
            ds.to_zarr(path, append_dim="time", zarr_format=3)


def peak_rss_mb(n_frames: int, workdir: Path) -> tuple[float, float]:
    """(peak RSS after imports, peak RSS at the end) of a fresh process, MB."""
    source, target = workdir / f"pos{n_frames}.zarr", workdir / f"speed{n_frames}.zarr"
    _write_store(source, n_frames)
    result = subprocess.run(
        [sys.executable, "-c", _WORKER, str(source), str(target)], check=True, capture_output=True, text=True
    )
    before, after = result.stdout.strip().splitlines()[-1].split()
    return float(before), float(after)


def _throughput_keys(rates: dict, args) -> dict:
    ours, theirs = statistics.median(rates["ours"]), statistics.median(rates["movement"])
    plain = statistics.median(rates["np_gradient"])
    return {
        "ratio_vs_baseline_best": round(ours / max(theirs, plain), 3),
        "baseline_best": f"the faster of np.gradient(values, 1 / fps, axis=0) (the plain code, on the NumPy array) and "
                         f"movement 0.15 kinematics.compute_velocity (xarray differentiate, one thread like ours) on "
                         f"the same {args.frames:,}-frame x {KEYPOINTS}-keypoint float32 array; median points/s over "
                         f"{args.rounds} interleaved rounds; each ratio in ratio_vs_np_gradient / ratio_vs_movement",
        "points_per_s": spread(rates["ours"]),
        "movement_points_per_s": spread(rates["movement"]),
        "np_gradient_points_per_s": spread(rates["np_gradient"]),
        "ratio_vs_np_gradient": round(ours / plain, 3),
        "ratio_vs_movement": round(ours / theirs, 3),
    }


def _update_throughput(out: Path, rates: dict, args, load_start: float) -> dict:
    """The existing result with the velocity timing's keys replaced (``--throughput-only``)."""
    result = {**json.loads(out.read_text()), **_throughput_keys(rates, args),
              "throughput_date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "throughput_load_average_1min": [load_start, round(os.getloadavg()[0], 2)]}
    write_atomic(out, json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames of the in-memory velocity array")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds of the velocity timing")
    parser.add_argument("--session-frames", type=int, default=SESSION_FRAMES, help="frames of the session file")
    parser.add_argument("--whole-rounds", type=int, default=3, help="interleaved rounds of the whole commands")
    parser.add_argument("--out", default=str(RESULT))
    parser.add_argument("--throughput-only", action="store_true",
                        help="time the velocity kernels alone; update their keys of the existing JSON")
    args = parser.parse_args(argv)
    load_start = round(os.getloadavg()[0], 2)
    rates = throughput(args.frames, args.rounds)
    if args.throughput_only:
        return _update_throughput(Path(args.out), rates, args, load_start)
    with tempfile.TemporaryDirectory() as tmp:
        whole = whole_command(Path(tmp) / "whole", args.session_frames, args.whole_rounds)
        (imports, small), (_, large) = peak_rss_mb(SMALL, Path(tmp)), peak_rss_mb(LARGE, Path(tmp))
    ours, theirs = statistics.median(rates["ours"]), statistics.median(rates["movement"])
    plain = statistics.median(rates["np_gradient"])
    result = {
        **headline(
            best=ours / max(theirs, plain),
            best_what=f"the faster of np.gradient(values, 1 / fps, axis=0) (the plain code, on the NumPy array) and "
                      f"movement 0.15 kinematics.compute_velocity (xarray differentiate, one thread like ours) on "
                      f"the same {args.frames:,}-frame x {KEYPOINTS}-keypoint float32 array; median points/s over "
                      f"{args.rounds} interleaved rounds; each ratio in ratio_vs_np_gradient / ratio_vs_movement",
            whole=whole["ratio"],
            whole_what=f"one DeepLabCut .h5 session ({args.session_frames:,} frames, {KEYPOINTS} keypoints, 30 fps) "
                       f"to a table of the centroid's distance travelled and mean speed: `deepbehavior import` "
                       f"(file to Zarr store) then `deepbehavior analyze measures=[locomotion] figures=false`, two "
                       f"fresh processes, against one plain movement script (load_poses.from_dlc_file, centroid, "
                       f"compute_speed, compute_path_length, to CSV); same numbers checked; medians over "
                       f"{args.whole_rounds} interleaved rounds; analyze alone on the stored session: "
                       f"{whole['ratio_analyze_only']:.2f}x",
        ),
        "points_per_s": spread(rates["ours"]),
        "movement_points_per_s": spread(rates["movement"]),
        "np_gradient_points_per_s": spread(rates["np_gradient"]),
        "ratio_vs_np_gradient": round(ours / plain, 3),
        "ratio_vs_movement": round(ours / theirs, 3),
        **whole,
        "peak_rss_mb_small": small,
        "peak_rss_mb_large": large,
        "rss_mb_after_imports": imports,
        "frames": args.frames,
        "keypoints": KEYPOINTS,
        "store_frames_small": SMALL,
        "store_frames_large": LARGE,
        "store_chunk_frames": STORE_CHUNK,
        "machine": described(shared="other work ran on this machine at the same time; see the load averages"),
        "load_average_1min_start": load_start,
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    write_atomic(args.out, json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
