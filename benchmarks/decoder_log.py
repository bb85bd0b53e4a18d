"""Cost of sending decoder messages to the log, into results/decoder_log.json.

``video.iter_frames`` points file descriptor 2 at the decoder log around each decoder call and back
before handing out each frame (two ``dup2`` calls and two ``fstat`` calls per frame). Measured side
by side, in one run, with the simplest reader a user would write (``cv2.VideoCapture.read`` in a
loop, the baseline at its best: nothing between the decoder and the frame) on the real recordings
in ../shared/data, ``ROUNDS`` alternating rounds (ours first in even rounds, plain first in odd
ones). Keys: one per video ``{"frames", "ours_s", "plain_opencv_s", "ratio", "seconds",
"speed_ratio_ours_over_plain"}`` (``ours_s``/``plain_opencv_s``: best round; ``ratio``: ours / plain
time of the best rounds, as before; ``seconds``: min/median/max of each side;
``speed_ratio_ours_over_plain``: plain median time over ours), ``enter_leave_us`` (one redirect
and restore, µs), the headline keys of ``benchmarks/_timing.py`` (the lower of the videos' speed
ratios; no whole command: this is a per-frame cost inside every video command, measured in their
benchmarks), ``machine``, load averages, ``date``. Run: ``python benchmarks/decoder_log.py``.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2

from deepbehavior import video

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
VIDEOS = ["sleap-flies/centered_pair_small.mp4", "dlc-openfield/videos/m3v1mp4.mp4"]
FRAMES = 600
ROUNDS = 7

from _machine import cpu_model  # noqa: E402
from _timing import headline, spread  # noqa: E402


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
    load_start = os.getloadavg()
    results: dict = {}
    for name in VIDEOS:
        path = DATA / name
        if not path.exists():
            continue
        ours, plain = [], []
        for i in range(ROUNDS):
            if i % 2:
                plain.append(_plain(path))
                ours.append(_ours(path))
            else:
                ours.append(_ours(path))
                plain.append(_plain(path))
        results[name] = {"frames": FRAMES, "ours_s": min(ours), "plain_opencv_s": min(plain),
                         "ratio": min(ours) / min(plain), "seconds": {"ours": spread(ours), "plain_opencv": spread(plain)},
                         "speed_ratio_ours_over_plain": round(statistics.median(plain) / statistics.median(ours), 3)}
    log = video._DECODER_LOG
    start, n = time.perf_counter(), 20000
    for _ in range(n):
        log.enter()
        log.leave()
    results["enter_leave_us"] = (time.perf_counter() - start) / n * 1e6
    videos = {k: v for k, v in results.items() if isinstance(v, dict)}
    if videos:
        worst = min(videos, key=lambda k: videos[k]["speed_ratio_ours_over_plain"])
        best_what = ("a plain cv2.VideoCapture.read loop (nothing between decoder and frame) on the same "
                     f"{FRAMES} frames, median over {ROUNDS} alternating rounds; the lower of the videos' ratios ("
                     + ", ".join(f"{k}: {v['speed_ratio_ours_over_plain']:.3f}" for k, v in videos.items()) + ")")
        best = videos[worst]["speed_ratio_ours_over_plain"]
    else:
        best, best_what = None, "no video of ../shared/data was found, so nothing was measured"
    results = {**headline(best=best, best_what=best_what, whole=None,
                          whole_what="none of its own: the decoder log is a per-frame cost inside every video "
                                     "command (infer, frames, pose), so it is measured in those commands' "
                                     "whole-command benchmarks (inference.json, labeling.json, pose.json)"),
               **results}
    results["machine"] = f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()}; shared with other work"
    results["load_average_1_5_15_min_start"] = [round(x, 2) for x in load_start]
    results["load_average_1_5_15_min_end"] = [round(x, 2) for x in os.getloadavg()]
    results["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out = REPO / "benchmarks" / "results" / "decoder_log.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
