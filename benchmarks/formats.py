"""Reading speed of the format readers on the shared samples, scaled up, into results/formats.json.

Keys: ``tensorbox_stream_frames_per_s``, ``darknet_frames_per_s``, ``openpose_read_frames_per_s``,
``openpose_write_frames_per_s``, ``sleap_frames_per_s`` (1100 frames, 24 nodes, 27 tracks), plus
``machine`` and ``date``. Run: ``python benchmarks/formats.py`` (needs ../shared/data).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import psutil

from deepbehavior import schema
from deepbehavior.formats import load_file, save_openpose

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
REPEAT = 100  # the 30-frame samples, written this many times over


from _machine import cpu_model as _cpu_model  # noqa: E402


def _rate(frames: int, func) -> float:
    start = time.perf_counter()
    func()
    return frames / (time.perf_counter() - start)


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
        poses = load_file(formats / "openpose_cam1")
        big = poses.isel(time=[i % 30 for i in range(30 * 20)]).assign_coords(schema.time_coords(range(600), poses.attrs["fps"]))
        out["openpose_write_frames_per_s"] = _rate(600, lambda: save_openpose(big, tmp / "op", video_name="v"))
        out["openpose_read_frames_per_s"] = _rate(600, lambda: load_file(tmp / "op"))
    out["sleap_frames_per_s"] = _rate(1100, lambda: load_file(DATA / "sleap-flies" / "centered_pair_predictions.h5"))
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
