"""Identity tracking: ID switches, IDF1 and speed of ``track.method=pose`` against the naive matcher
and ultralytics' ByteTrack on the same inputs, and its speed and memory at scale.

Writes ``benchmarks/results/tracking.json`` with:

- ``accuracy``: for each input (synthetic crossing animals; the SLEAP flies and the DLC open-field
  mice of ``../shared/data`` turned into detector-like detections, see
  ``deepbehavior.synthetic.crossing_animals.detections``; the flies as SLEAP predicted them, extra instances
  included) and each method (``pose``, ``naive``: Hungarian on centroids, last seen position, no
  gate; ``bytetrack``: ultralytics' ByteTrack on the boxes around the keypoints, its tracks folded
  into the animals): ``id_switches``, ``idf1``, ``mota``, ``fn``, ``fp``, ``seconds``;
- ``scale``: frames per second of ``pose`` (compiled kernel; ``pose_reference``, the NumPy
  reference, on the first 10k frames) and ``naive`` on 100k frames x 3 animals x 13
  keypoints (5 slots a frame: noise, dropout, false and duplicate detections), ``bytetrack`` on
  the first 10k of them;
- ``steady``: frames per second of ``pose``, ultralytics' ByteTrack at its best (boxes made
  beforehand, ``BYTETracker.update`` each frame with its defaults and lap, tracks folded into the
  animals) and ``naive`` on the same first 10k of those frames, one thread each, ``--rounds``
  interleaved rounds (min/median/max), with the ID switches of each;
- ``memory``: peak resident memory of a fresh process that tracks a Zarr store of 10k and of 100k
  such frames read a block at a time (flat memory: the two peaks are close);
- ``whole_command_s``: wall time, launch to exit in fresh processes, of ``deepbehavior track``
  (method pose, ``figures=false``) and of two plain scripts a user would write (ByteTrack;
  Hungarian on centroids: read the Zarr store, track, ``np.save`` the animals' keypoints) on one
  stored session of ``--whole-frames`` frames (default 18,000: 10 minutes at 30 frames/s) x 3
  animals x 13 keypoints, ``--rounds`` interleaved rounds; the outputs' shapes (equal) and ID
  switches against the true animals;
- the headline keys of ``benchmarks/_timing.py``: our steady rate over ByteTrack's, and the plain
  ByteTrack script's wall time over ours; ``machine``, load averages and ``date``.

Run: ``python benchmarks/tracking.py [--parts accuracy,scale,steady,memory,whole] [--whole-frames N]
[--rounds R]`` (about 15 minutes on 2 busy cores); parts left out are kept from the previous JSON
and listed in ``parts_kept_from_previous_run`` with that run's date.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
RESULT = REPO / "benchmarks" / "results" / "tracking.json"
DATA = REPO.parent / "shared" / "data"
SCALE_FRAMES, BYTETRACK_FRAMES = 100_000, 10_000
MEMORY_FRAMES = (10_000, 100_000)
CONDITIONS = {
    "random": dict(noise=2.5, keypoint_dropout=0.2, instance_dropout=0.05, false_positives=0.05, duplicates=0.05),
    "bursty": dict(noise=5.0, keypoint_dropout=0.01, instance_dropout=0.02, bursty=True, false_positives=0.05,
                   duplicates=0.05),
}

from _machine import LOAD_NOTE, described  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

from deepbehavior.tracking.metrics import clear_mot, covers_from_labels  # noqa: E402
from deepbehavior.tracking.motion import track_points  # noqa: E402
from deepbehavior.synthetic.crossing_animals import crossing_animals, detections  # noqa: E402


def _flies() -> np.ndarray | None:
    try:
        import sleap_io
    except ImportError:
        return None
    path = DATA / "sleap-flies" / "centered_pair_predictions.slp"
    return sleap_io.load_file(str(path)).numpy().astype(np.float64) if path.exists() else None


def _mice(upsample: int = 20, offset: int = 100) -> np.ndarray | None:
    """Three mice from the DLC open-field labels (as in tests/unit/test_tracking_known_answer.py)."""
    import pandas as pd

    csv = DATA / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    if not csv.exists():
        return None
    poses = pd.read_csv(csv, header=[0, 1, 2], index_col=0).to_numpy(float).reshape(-1, 4, 2)
    fine = np.linspace(0, len(poses) - 1, (len(poses) - 1) * upsample + 1)
    slow = np.stack([[np.interp(fine, np.arange(len(poses)), poses[:, k, c]) for c in range(2)]
                     for k in range(4)]).transpose(2, 0, 1)
    n = len(slow) - 2 * offset
    return np.stack([slow[:n], slow[offset:offset + n] * [-1, 1] + [640, 0], slow[2 * offset:] * [1, -1] + [0, 480]],
                    axis=1)


def inputs() -> list[tuple[str, np.ndarray, np.ndarray, int, float]]:
    """(name, points, labels, animals, max_jump) for every accuracy input."""
    out = []
    for n in (2, 3):
        truth = crossing_animals(n, 1500)
        for cond, settings in CONDITIONS.items():
            out.append((f"crossing{n}_{cond}", *detections(truth, np.random.default_rng(0), **settings), n, 15.0))
    flies = _flies()
    if flies is not None:
        for cond, settings in CONDITIONS.items():
            out.append((f"sleap_flies_{cond}", *detections(flies[:, :2], np.random.default_rng(0), **settings), 2, 20.0))
        order = np.argsort(np.random.default_rng(0).random(flies.shape[:2]), axis=1)
        points = np.take_along_axis(flies, order[:, :, None, None], axis=1)
        labels = np.take_along_axis(np.where(np.arange(flies.shape[1]) < 2, np.arange(flies.shape[1]), -1)[None]
                                    .repeat(len(flies), 0), order, axis=1)
        labels = np.where(np.isfinite(points).all(-1).any(-1), labels, -1)
        out.append(("sleap_flies_as_predicted", points, labels, 2, 20.0))
    mice = _mice()
    if mice is not None:
        for cond, settings in CONDITIONS.items():
            out.append((f"dlc_mice_{cond}", *detections(mice, np.random.default_rng(0), **settings), 3, 25.0))
    return out


@contextlib.contextmanager
def _reference():
    """The pose matcher's NumPy reference (one frame at a time in Python) instead of its kernel."""
    from deepbehavior.tracking import matcher

    saved = matcher._kernels
    matcher._kernels = lambda: None
    try:
        yield
    finally:
        matcher._kernels = saved


def score(points, labels, n, max_jump, method) -> dict:
    start = time.perf_counter()
    if method == "pose_reference":
        with _reference():
            slot_of, *_ = track_points(points, n_identities=n, max_jump=max_jump, method="pose")
    else:
        slot_of, *_ = track_points(points, n_identities=n, max_jump=max_jump, method=method)
    seconds = time.perf_counter() - start
    present = np.stack([(labels == a).any(1) for a in range(n)], axis=1)
    metrics = clear_mot(covers_from_labels(slot_of, labels), present)
    return {k: metrics[k] for k in ("id_switches", "idf1", "mota", "fn", "fp")} | {"seconds": round(seconds, 3)}


_WORKER = """
import sys, warnings, numpy as np, xarray as xr
warnings.simplefilter("ignore")
from deepbehavior.tracking import track_identities

def peak_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

before = peak_mb()
ds = xr.open_zarr(sys.argv[1], zarr_format=3)
out = track_identities(ds, n_identities=3, max_jump=15.0, chunk=10_000)
print(before, peak_mb(), out.attrs["swaps_repaired"])
"""


def _store(path: Path, n_frames: int, piece: int = 10_000) -> None:
    from deepbehavior.schema import make_poses

    for start in range(0, n_frames, piece):
        stop = min(n_frames, start + piece)
        truth = crossing_animals(3, stop - start)  # the same swing each piece: positions stay bounded
        pts, _ = detections(truth, np.random.default_rng(start), **CONDITIONS["random"])
        ds = make_poses(pts.transpose(0, 3, 2, 1).astype(np.float32), fps=30.0, time=np.arange(start, stop),
                        individuals_are="slots")
        # Label coordinates stay out: Zarr v3 has no stable string dtype yet.
        ds = ds.drop_vars([c for c in ds.coords if ds[c].dtype.kind in "UO"]).chunk(time=piece)
        ds.attrs = {k: v for k, v in ds.attrs.items() if isinstance(v, (str, int, float))}
        if start == 0:
            ds.to_zarr(path, mode="w", zarr_format=3)
        else:
            ds.to_zarr(path, append_dim="time", zarr_format=3)


def memory(workdir: Path) -> dict:
    out = {}
    for n in MEMORY_FRAMES:
        path = workdir / f"slots{n}.zarr"
        _store(path, n)
        done = subprocess.run([sys.executable, "-c", _WORKER, str(path)], check=True, capture_output=True, text=True,
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
        before, after, _ = done.stdout.strip().splitlines()[-1].split()
        out[str(n)] = {"peak_rss_mb": float(after), "rss_mb_after_imports": float(before)}
        print(f"memory {n} frames: {after} MB", flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# whole command: `deepbehavior track` against the plain scripts a user would write, fresh processes

WHOLE_FRAMES, WHOLE_ANIMALS, WHOLE_KEYPOINTS, WHOLE_MAX_JUMP = 18_000, 3, 13, 15.0

# What a user of ultralytics writes to track stored detections with ByteTrack: read the store, one
# box per detection around its keypoints, BYTETracker with ultralytics' default settings frame by
# frame (ultralytics' own Boxes type), each new track given the free animal last seen nearest to
# it, the animals' keypoints written as (time, animal, keypoint, xy).
PLAIN_BYTETRACK = """
import sys, warnings, numpy as np, xarray as xr
from types import SimpleNamespace
warnings.simplefilter("ignore")
from ultralytics.engine.results import Boxes
from ultralytics.trackers import BYTETracker

store, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = xr.open_zarr(store)
points = ds["position"].transpose("time", "individuals", "keypoints", "space").values
lo, hi = np.nanmin(points, axis=2), np.nanmax(points, axis=2)
boxes = np.concatenate([lo - 5, hi + 5], axis=-1)
tracker = BYTETracker(SimpleNamespace(track_high_thresh=0.25, track_low_thresh=0.1, new_track_thresh=0.25,
                                      track_buffer=30, match_thresh=0.8, fuse_score=True))
animals = np.full((len(points), n, *points.shape[2:]), np.nan)
animal_of, last = {}, np.full((n, 2), np.nan)
for t in range(len(points)):
    ok = np.flatnonzero(np.isfinite(boxes[t]).all(1))
    rows = np.concatenate([boxes[t, ok], np.ones((len(ok), 1)), np.zeros((len(ok), 1))], axis=1)
    tracks = tracker.update(Boxes(rows, orig_shape=(480, 640)))
    busy = {animal_of[int(r[4])] for r in tracks if int(r[4]) in animal_of}
    for r in tracks:
        slot, track = ok[int(r[-1])], int(r[4])
        centre = (lo[t, slot] + hi[t, slot]) / 2
        if track not in animal_of:
            free = [a for a in range(n) if a not in busy]
            if not free:
                continue
            gap = [np.hypot(*(last[a] - centre)) if np.isfinite(last[a]).all() else np.inf for a in free]
            animal_of[track] = free[int(np.argmin(gap))]
            busy.add(animal_of[track])
        a = animal_of[track]
        if np.isnan(animals[t, a]).all():
            animals[t, a], last[a] = points[t, slot], centre
np.save(out, animals)
"""

# The simplest tracker a user writes: Hungarian assignment of each frame's detection centroids to
# the animals' last seen centroids (scipy), written the same way.
PLAIN_HUNGARIAN = """
import sys, warnings, numpy as np, xarray as xr
from scipy.optimize import linear_sum_assignment
warnings.simplefilter("ignore")

store, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ds = xr.open_zarr(store)
points = ds["position"].transpose("time", "individuals", "keypoints", "space").values
centroid = np.nanmean(points, axis=2)
animals = np.full((len(points), n, *points.shape[2:]), np.nan)
last = np.full((n, 2), np.nan)
for t in range(len(points)):
    seen = np.flatnonzero(np.isfinite(centroid[t]).all(1))
    if not len(seen):
        continue
    cost = np.nan_to_num(np.linalg.norm(last[:, None] - centroid[t, seen][None], axis=-1), nan=1e6)
    rows, cols = linear_sum_assignment(cost)
    animals[t, rows], last[rows] = points[t, seen[cols]], centroid[t, seen[cols]]
np.save(out, animals)
"""


def session_store(path: Path, frames: int, *, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Write a stored session of detections as ``deepbehavior infer`` leaves it (Zarr v3, 1000-frame
    chunks, slots in random order every frame): ``frames`` frames of 3 animals x 13 keypoints with
    noise, dropouts, false and duplicate detections. Returns its (time, slot, keypoint, xy) points
    and (time, slot) true animal of each detection (-1: none)."""
    from deepbehavior.schema import make_poses
    from deepbehavior.store import write_dataset

    truth = crossing_animals(WHOLE_ANIMALS, frames, n_keypoints=WHOLE_KEYPOINTS)
    points, labels = detections(truth, np.random.default_rng(seed), **CONDITIONS["random"])
    points = points.astype(np.float32)
    confidence = np.where(np.isfinite(points).all(-1), 1.0, np.nan).transpose(0, 2, 1)
    ds = make_poses(points.transpose(0, 3, 2, 1), confidence, fps=30.0, individuals_are="slots")
    write_dataset(ds, path, chunk=1000)
    return points, labels


def slots_of(animals: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(time, animal) the input slot whose keypoints each output animal holds (-1: none), found by
    comparing coordinates (both outputs copy the detections' keypoints unchanged)."""
    slot_of = np.full(animals.shape[:2], -1, dtype=np.int64)
    for a in range(animals.shape[1]):
        gap = np.abs(animals[:, a, None].astype(np.float64) - points[:, :, :].astype(np.float64))  # (t, slot, k, 2)
        both = np.isfinite(gap)
        mean_gap = np.where(both.any((-1, -2)), np.nansum(gap, (-1, -2)) / np.maximum(both.sum((-1, -2)), 1), np.inf)
        best = np.argmin(mean_gap, axis=1)
        held = np.take_along_axis(mean_gap, best[:, None], axis=1)[:, 0] < 1e-3
        slot_of[:, a] = np.where(held, best, -1)
    return slot_of


def _id_switches(slot_of: np.ndarray, labels: np.ndarray, n: int) -> dict:
    present = np.stack([(labels == a).any(1) for a in range(n)], axis=1)
    metrics = clear_mot(covers_from_labels(slot_of, labels), present)
    return {"id_switches": int(metrics["id_switches"]), "idf1": round(float(metrics["idf1"]), 4)}


def _ours_animals(out: Path, name: str) -> np.ndarray:
    import xarray as xr

    ds = xr.open_zarr(out / "tracked" / f"{name}.zarr")
    return ds["position"].transpose("time", "individuals", "keypoints", "space").values


def whole_command(work: Path, frames: int = WHOLE_FRAMES, rounds: int = 3) -> dict:
    """Wall time, launch to exit, of ``deepbehavior track`` (method pose) and of the two plain
    scripts on the same stored session, in interleaved rounds (ours, ByteTrack, Hungarian, rotated
    each round); the first round's tracks are checked: the same shape from each, and the ID switches
    of each against the true animals."""
    work.mkdir(parents=True, exist_ok=True)
    name = "m01_s1"
    store = work / f"{name}.zarr"
    points, labels = session_store(store, frames)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore", "YOLO_OFFLINE": "1",
           "YOLO_AUTOINSTALL": "False", "OMP_NUM_THREADS": "1"}
    scripts = {}
    for label, text in (("bytetrack", PLAIN_BYTETRACK), ("hungarian", PLAIN_HUNGARIAN)):
        scripts[label] = work / f"plain_{label}.py"
        scripts[label].write_text(text)

    def command(label: str, i: int) -> tuple[list[str], Path]:
        out = work / f"{label}-{i}"
        if label == "deepbehavior_track":
            return [sys.executable, "-m", "deepbehavior.cli", "track", f"store={store}", f"out={out}",
                    f"track.n_identities={WHOLE_ANIMALS}", f"track.max_jump={WHOLE_MAX_JUMP}", "figures=false"], out
        out = out.with_suffix(".npy")
        return [sys.executable, str(scripts[label.removeprefix("plain_")]), str(store), str(out),
                str(WHOLE_ANIMALS)], out

    labels_run = ("deepbehavior_track", "plain_bytetrack", "plain_hungarian")
    times: dict[str, list[float]] = {label: [] for label in labels_run}
    check = {}
    for i in range(rounds):
        for label in labels_run[i % 3:] + labels_run[:i % 3]:
            cmd, out = command(label, i)
            times[label].append(wall(cmd, env))
            if i == 0:  # the first round's outputs are checked: same shape, ID switches against the truth
                animals = _ours_animals(out, name) if label == "deepbehavior_track" else np.load(out)
                check[label] = {"shape": list(animals.shape),
                                **_id_switches(slots_of(animals, points), labels, WHOLE_ANIMALS)}
        if i == 0 and len({tuple(c["shape"]) for c in check.values()}) != 1:
            raise RuntimeError(f"whole command: Expected the same (time, animal, keypoint, xy) shape from every "
                               f"command, but got {check}")
        print(f"whole command round {i + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()),
              flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    return {
        "frames": frames, "animals": WHOLE_ANIMALS, "keypoints": WHOLE_KEYPOINTS, "slots": int(points.shape[1]),
        "rounds": rounds, "seconds": {k: spread(v) for k, v in times.items()}, "outputs": check,
        "ratio_vs_plain_bytetrack": round(median["plain_bytetrack"] / median["deepbehavior_track"], 3),
        "ratio_vs_plain_hungarian": round(median["plain_hungarian"] / median["deepbehavior_track"], 3),
        "ours_writes": "tracked Zarr store, quality report CSV, track summary CSV and report JSON (figures=false)",
        "plain_writes": "one .npy of (time, animal, keypoint, xy)",
    }


def steady(points: np.ndarray, labels: np.ndarray, rounds: int) -> dict:
    """Frames per second of ``pose``, ultralytics' ByteTrack and the naive matcher on the same
    frames, interleaved (rotated order each round), one thread each. ByteTrack gets its boxes
    computed beforehand and runs alone (``track_boxes``: ultralytics' ``BYTETracker.update`` each
    frame with its defaults, lap installed, then its tracks folded into the animals): its best."""
    from deepbehavior.tracking import boxtrackers
    from deepbehavior.tracking.matcher import match_naive

    centre, size = boxtrackers.boxes_from_points(points)
    runs = {
        "pose": lambda: track_points(points, n_identities=3, max_jump=15.0, method="pose")[0],
        "bytetrack": lambda: boxtrackers.track_boxes(centre, size, None, 3)[0],
        "naive": lambda: match_naive(points, 3),
    }
    names = list(runs)
    fps: dict[str, list[float]] = {k: [] for k in names}
    found = {}
    for i in range(rounds):
        for name in names[i % len(names):] + names[:i % len(names)]:
            start = time.perf_counter()
            found[name] = runs[name]()
            fps[name].append(len(points) / (time.perf_counter() - start))
    present = np.stack([(labels == a).any(1) for a in range(3)], axis=1)
    out = {"frames": len(points), "rounds": rounds, "threads": 1}
    for name in names:
        metrics = clear_mot(covers_from_labels(found[name], labels), present)
        out[name] = {"frames_per_s": spread(fps[name]), "id_switches": int(metrics["id_switches"]),
                     "idf1": round(float(metrics["idf1"]), 4)}
    return out


PARTS = ("accuracy", "scale", "steady", "memory", "whole")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated parts to run, of {','.join(PARTS)}; the others are kept from the "
                             "previous JSON (and marked so)")
    parser.add_argument("--whole-frames", type=int, default=WHOLE_FRAMES,
                        help="frames of the stored session the whole commands track")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (steady rates, whole commands)")
    parser.add_argument("--out", default=str(RESULT))
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise SystemExit(f"tracking.py: error: Expected --parts from {','.join(PARTS)}, but got {unknown}")
    out_path = Path(args.out)
    previous = json.loads(out_path.read_text()) if out_path.exists() else {}
    load_start = os.getloadavg()
    warnings.simplefilter("ignore")
    import ultralytics.trackers  # noqa: F401  (imported before any timing: torch takes seconds)

    # numba compiles the matcher's kernel on its first call (cached on disk afterwards): not timed.
    warm = detections(crossing_animals(2, 50), np.random.default_rng(0))[0]
    track_points(warm, n_identities=2, max_jump=15.0)

    result: dict = {}
    if "accuracy" in parts:
        accuracy = {}
        for name, points, labels, n, max_jump in inputs():
            accuracy[name] = {m: score(points, labels, n, max_jump, m) for m in ("pose", "naive", "bytetrack")}
            print(name, {m: (r["id_switches"], round(r["idf1"], 3)) for m, r in accuracy[name].items()}, flush=True)
        result["accuracy"] = accuracy
    if "scale" in parts or "steady" in parts:
        truth = crossing_animals(3, SCALE_FRAMES, n_keypoints=13)
        points, labels = detections(truth, np.random.default_rng(1), **CONDITIONS["random"])
    if "steady" in parts:
        result["steady"] = steady(points[:BYTETRACK_FRAMES], labels[:BYTETRACK_FRAMES], args.rounds)
        print("steady", json.dumps(result["steady"]), flush=True)
    if "scale" in parts:
        scale = {"frames": SCALE_FRAMES, "animals": 3, "keypoints": 13, "slots": points.shape[1]}
        for method, frames in (("pose", SCALE_FRAMES), ("pose_reference", BYTETRACK_FRAMES), ("naive", SCALE_FRAMES),
                               ("bytetrack", BYTETRACK_FRAMES)):
            scored = score(points[:frames], labels[:frames], 3, 15.0, method)
            scale[method] = scored | {"frames": frames, "frames_per_s": round(frames / scored["seconds"], 1)}
            print("scale", method, scale[method], flush=True)
        result["scale"] = scale
    if "memory" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            result["memory"] = memory(Path(tmp))
    if "whole" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            result["whole_command_s"] = whole_command(Path(tmp), args.whole_frames, args.rounds)
    kept = [p for p in PARTS if p not in parts and ({"whole": "whole_command_s"}.get(p, p)) in previous]
    for part in kept:
        key = {"whole": "whole_command_s"}.get(part, part)
        result[key] = previous[key]
    result = {**summary(result), **result}
    result.update({
        "parts_kept_from_previous_run": {p: previous.get("date") for p in kept},
        "machine": described(load=LOAD_NOTE),
        "load_average_1_5_15_min_start": [round(x, 2) for x in load_start],
        "load_average_1_5_15_min_end": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=2) + "\n")
    tmp_path.replace(out_path)
    return result


def _switches(n: int) -> str:
    return f"{n} ID switch" + ("" if n == 1 else "es")


def summary(result: dict) -> dict:
    """The headline keys (benchmarks/_timing.py) from the steady and whole-command parts."""
    best, best_what = None, "no steady part in this run"
    if "steady" in result:
        st = result["steady"]
        med = {k: st[k]["frames_per_s"]["median"] for k in ("pose", "bytetrack", "naive")}
        best = med["pose"] / med["bytetrack"]
        best_what = (f"ultralytics ByteTrack (BYTETracker.update each frame, its default settings, lap installed, "
                     f"boxes made beforehand, tracks folded into the animals) on the same {st['frames']} frames x 3 "
                     f"animals x 13 keypoints, one thread each, median frames/s over {st['rounds']} interleaved "
                     f"rounds: pose {med['pose']:.0f}/s ({_switches(st['pose']['id_switches'])}) vs ByteTrack "
                     f"{med['bytetrack']:.0f}/s ({_switches(st['bytetrack']['id_switches'])}); the naive "
                     f"Hungarian matcher, the simplest one, runs {med['naive']:.0f}/s "
                     f"({_switches(st['naive']['id_switches'])}), ratio {med['pose'] / med['naive']:.2f}")
    whole, whole_what = None, "no whole-command part in this run"
    if "whole_command_s" in result:
        w = result["whole_command_s"]
        sec, outs = w["seconds"], w["outputs"]
        whole = w["ratio_vs_plain_bytetrack"]
        whole_what = (f"`deepbehavior track` (method pose, figures=false; writes the tracked Zarr store and quality "
                      f"reports) vs a plain script (read the Zarr store with xarray, ultralytics BYTETracker over "
                      f"boxes around the keypoints, fold tracks into the animals, np.save) on one stored session of "
                      f"{w['frames']} frames x 3 animals x 13 keypoints, fresh processes, median wall over "
                      f"{w['rounds']} interleaved rounds: {sec['deepbehavior_track']['median']:.1f} s "
                      f"({_switches(outs['deepbehavior_track']['id_switches'])}) vs "
                      f"{sec['plain_bytetrack']['median']:.1f} s ({_switches(outs['plain_bytetrack']['id_switches'])}); "
                      f"the plain Hungarian script takes {sec['plain_hungarian']['median']:.1f} s "
                      f"({_switches(outs['plain_hungarian']['id_switches'])}), ratio {w['ratio_vs_plain_hungarian']:.2f}")
    return headline(best=best, best_what=best_what, whole=whole, whole_what=whole_what)


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
