"""Identity tracking: ID switches, IDF1 and speed of ``track.method=pose`` against the naive matcher
and ultralytics' ByteTrack on the same inputs, and its speed and memory at scale.

Writes ``benchmarks/results/tracking.json`` with:

- ``accuracy``: for each input (synthetic crossing animals; the SLEAP flies and the DLC open-field
  mice of ``../shared/data`` turned into detector-like detections, see
  ``deepbehavior.tracking.simulate.detections``; the flies as SLEAP predicted them, extra instances
  included) and each method (``pose``, ``naive``: Hungarian on centroids, last seen position, no
  gate; ``bytetrack``: ultralytics' ByteTrack on the boxes around the keypoints, its tracks folded
  into the animals): ``id_switches``, ``idf1``, ``mota``, ``fn``, ``fp``, ``seconds``;
- ``scale``: frames per second of ``pose`` (compiled kernel; ``pose_reference``, the NumPy
  reference, on the first 10k frames) and ``naive`` on 100k frames x 3 animals x 13
  keypoints (5 slots a frame: noise, dropout, false and duplicate detections), ``bytetrack`` on
  the first 10k of them;
- ``memory``: peak resident memory of a fresh process that tracks a Zarr store of 10k and of 100k
  such frames read a block at a time (flat memory: the two peaks are close);
- ``machine`` and ``date``.

Run: ``python benchmarks/tracking.py`` (about 10 minutes on 2 busy cores).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import psutil

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

from _machine import cpu_model  # noqa: E402

from deepbehavior.tracking.metrics import clear_mot, covers_from_labels  # noqa: E402
from deepbehavior.tracking.motion import track_points  # noqa: E402
from deepbehavior.tracking.simulate import crossing_animals, detections  # noqa: E402


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


def main() -> dict:
    warnings.simplefilter("ignore")
    import ultralytics.trackers  # noqa: F401  (imported before any timing: torch takes seconds)

    # numba compiles the matcher's kernel on its first call (cached on disk afterwards): not timed.
    warm = detections(crossing_animals(2, 50), np.random.default_rng(0))[0]
    track_points(warm, n_identities=2, max_jump=15.0)

    accuracy = {}
    for name, points, labels, n, max_jump in inputs():
        accuracy[name] = {m: score(points, labels, n, max_jump, m) for m in ("pose", "naive", "bytetrack")}
        print(name, {m: (r["id_switches"], round(r["idf1"], 3)) for m, r in accuracy[name].items()}, flush=True)
    truth = crossing_animals(3, SCALE_FRAMES, n_keypoints=13)
    points, labels = detections(truth, np.random.default_rng(1), **CONDITIONS["random"])
    scale = {"frames": SCALE_FRAMES, "animals": 3, "keypoints": 13, "slots": points.shape[1]}
    for method, frames in (("pose", SCALE_FRAMES), ("pose_reference", BYTETRACK_FRAMES), ("naive", SCALE_FRAMES),
                           ("bytetrack", BYTETRACK_FRAMES)):
        result = score(points[:frames], labels[:frames], 3, 15.0, method)
        scale[method] = result | {"frames": frames, "frames_per_s": round(frames / result["seconds"], 1)}
        print("scale", method, scale[method], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        mem = memory(Path(tmp))
    result = {
        "accuracy": accuracy,
        "scale": scale,
        "memory": mem,
        "machine": {"cpu": cpu_model(), "cores": psutil.cpu_count(logical=True),
                    "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version(),
                    "load_average_1min_at_end": round(psutil.getloadavg()[0], 1)},
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = RESULT.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=2) + "\n")
    tmp_path.replace(RESULT)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
