"""Cost of sending decoder messages to the log, into results/decoder_log.json.

``video.iter_frames`` points file descriptor 2 at the decoder log around each decoder call and back
before handing out each frame (two ``dup2`` calls and two ``fstat`` calls per frame). Measured side
by side, in one run, with the simplest reader a user would write (``cv2.VideoCapture.read`` in a
loop) on the real recordings in ../shared/data, best of ``ROUNDS`` alternating rounds. Keys: one per
video ``{"frames", "ours_s", "plain_opencv_s", "ratio"}`` (ours / plain), ``enter_leave_us`` (one
redirect and restore, µs), ``machine``, ``date``. Run: ``python benchmarks/decoder_log.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import cv2

from deepbehavior import video

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
VIDEOS = ["sleap-flies/centered_pair_small.mp4", "dlc-openfield/videos/m3v1mp4.mp4"]
FRAMES = 600
ROUNDS = 5

from _machine import cpu_model  # noqa: E402


def _ours(path: Path) -> float:
    start = time.perf_counter()
    for _ in video.iter_frames(path, 0, FRAMES):
        pass
    return time.perf_counter() - start


def _plain(path: Path) -> float:
    start = time.perf_counter()
    capture = cv2.VideoCapture(str(path))
    for _ in range(FRAMES):
        ok, _frame = capture.read()
        assert ok
    capture.release()
    return time.perf_counter() - start


def main() -> dict:
    os.environ[video.DECODER_LOG_ENV] = str(Path(tempfile.mkdtemp()) / "decoder.log")
    results: dict = {}
    for name in VIDEOS:
        path = DATA / name
        if not path.exists():
            continue
        ours, plain = [], []
        for _ in range(ROUNDS):
            ours.append(_ours(path))
            plain.append(_plain(path))
        results[name] = {"frames": FRAMES, "ours_s": min(ours), "plain_opencv_s": min(plain),
                         "ratio": min(ours) / min(plain)}
    log = video._DECODER_LOG
    start, n = time.perf_counter(), 20000
    for _ in range(n):
        log.enter()
        log.leave()
    results["enter_leave_us"] = (time.perf_counter() - start) / n * 1e6
    results["machine"] = f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()}; shared with other work"
    results["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out = REPO / "benchmarks" / "results" / "decoder_log.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
