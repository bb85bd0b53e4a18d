"""Reading speed of the format readers on the shared samples, scaled up, into results/formats.json.

Keys: ``tensorbox_stream_frames_per_s``, ``darknet_frames_per_s``, ``openpose_read_frames_per_s``,
``openpose_write_frames_per_s``, ``sleap_frames_per_s`` (1100 frames, 24 nodes, 27 tracks), and side
by side with the simplest thing a user would call, movement's loader, in the same run:
``sleap_slp`` and ``dlc_h5``/``dlc_csv`` (a synthetic 54,000-frame, 4-keypoint prediction file, half
an hour at 30 fps), each ``{"ours_s", "movement_s", "ratio"}`` (ours / movement; ours also checks
every value and keeps frame numbers); plus ``machine`` and ``date``. Run: ``python benchmarks/formats.py`` (needs ../shared/data).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import psutil

from deepbehavior import schema
from deepbehavior.formats import load_file, save_file, save_openpose
from deepbehavior.formats._movement import to_movement

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
REPEAT = 100  # the 30-frame samples, written this many times over


from _machine import cpu_model as _cpu_model  # noqa: E402


def _rate(frames: int, func) -> float:
    start = time.perf_counter()
    func()
    return frames / (time.perf_counter() - start)


def _seconds(func, repeat: int = 3) -> float:
    """Best of ``repeat`` runs (the VM's speed drifts)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _against_movement() -> dict:
    import numpy as np
    from movement.io import load_poses

    out = {}
    slp = DATA / "sleap-flies" / "centered_pair_predictions.slp"
    pairs = {"sleap_slp": (lambda: load_file(slp), lambda: load_poses.from_sleap_file(slp, fps=30))}
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        n = 54_000
        ds = schema.make_poses(rng.uniform(0, 640, (n, 2, 4, 1)), rng.uniform(0, 1, (n, 4, 1)), fps=30,
                               keypoints=["snout", "leftear", "rightear", "tailbase"])
        for suffix in ("h5", "csv"):
            path = save_file(ds, Path(tmp) / f"predictions.{suffix}", "dlc")
            pairs[f"dlc_{suffix}"] = (lambda p=path: load_file(p, fps=30),
                                      lambda p=path: load_poses.from_dlc_file(p, fps=30))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, (ours, theirs) in pairs.items():
                a, b = _seconds(ours), _seconds(theirs)
                out[name] = {"ours_s": round(a, 4), "movement_s": round(b, 4), "ratio": round(a / b, 2)}
    return out


def main() -> dict:
    formats = DATA / "deepbehavior-formats"
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stream = (formats / "tensorbox_predictions_stream.json").read_text()
        (tmp / "big_stream.json").write_text(stream * REPEAT)  # frame names repeat: read in file order
        n = load_file(tmp / "big_stream.json").sizes["time"]
        out["tensorbox_stream_frames_per_s"] = _rate(n, lambda: load_file(tmp / "big_stream.json"))
        darknet = (formats / "darknet_ext_output.txt").read_text()
        (tmp / "big_darknet.txt").write_text(darknet * REPEAT)
        out["darknet_frames_per_s"] = _rate(30 * REPEAT, lambda: load_file(tmp / "big_darknet.txt"))
        poses = to_movement(load_file(formats / "openpose_cam1"))
        index = [i % 30 for i in range(30 * 20)]
        big = schema.make_poses(poses["position"].values[index], poses["confidence"].values[index], fps=30,
                                keypoints=list(poses["keypoints"].values), time=range(600))
        out["openpose_write_frames_per_s"] = _rate(600, lambda: save_openpose(big, tmp / "op", video_name="v"))
        out["openpose_read_frames_per_s"] = _rate(600, lambda: load_file(tmp / "op"))
    out["sleap_frames_per_s"] = _rate(1100, lambda: load_file(DATA / "sleap-flies" / "centered_pair_predictions.h5"))
    out.update(_against_movement())
    out["machine"] = {"cpu": _cpu_model(), "cores": psutil.cpu_count(),
                      "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "python": platform.python_version()}
    out["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    path = REPO / "benchmarks" / "results" / "formats.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".json.partial")
    tmp_path.write_text(json.dumps(out, indent=2))
    os.replace(tmp_path, path)
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
