"""Labelling throughput: picking and extracting frames against the plain OpenCV scripts a user
would write, saving labels over HTTP, import and export.

    python benchmarks/labeling.py [--n 20] [--candidates 200] [--rounds 3] [--parts select,whole,server,formats]

On the DeepLabCut open-field video (``../shared/data/dlc-openfield/videos/m3v1mp4.mp4``, 2330
frames of 640x480), for ``uniform`` and ``kmeans`` picks of ``--n`` frames:

select (in this process, imports done, interleaved rounds)
    ours: ``labeling.selection.select`` then ``extract_frames`` into a project (PNG images);
    plain: the scripts below run as functions.
whole (a new process each, launch to exit, interleaved rounds)
    ours: ``python -m deepbehavior.cli frames videos=[video] out=DIR n=N method=M candidates=C``;
    plain: the same scripts as files, ``python plain_V.py video DIR N C``.

The plain scripts are the simplest a user writes. Uniform: ``cv2.VideoCapture``, for each of the
``n`` evenly spread frame numbers seek (``CAP_PROP_POS_FRAMES``) and read, ``cv2.imwrite`` a PNG
(``plain_uniform``, as DeepLabCut's uniform extraction does); or the same frames in one forward
pass, ``grab`` every frame and ``retrieve`` the wanted ones (``plain_uniform_forward``); the
baseline at its best is the faster of the two (``plain_best``), since a seek decodes from the key
frame before its target.
K-means, as DeepLabCut's ``extract_frames(algo="kmeans")`` does it (grey frames downsampled to 30
px wide, k-means with k = n, one frame per cluster), at its best: the same ``--candidates`` evenly
spaced frames as ours instead of every frame, read in one forward pass (``grab`` for the frames in
between, ``retrieve`` for the candidates), scikit-learn's ``MiniBatchKMeans`` when installed, else
SciPy's ``kmeans2``; the picked frames are then sought, read and written as PNG. Both sides write
the same number of images (checked before timing).

Also label saves per second through the labelling server (each an atomic file replace), and the
seconds to import the 116-image DLC labels and export them as YOLO. Writes
``benchmarks/results/labeling.json`` with the headline keys of ``benchmarks/_timing.py``.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]
from _machine import LOAD_NOTE, described  # noqa: E402
from deepbehavior.files import write_atomic  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
VIDEO = DATA / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
OUT = HERE / "results" / "labeling.json"
METHODS = ("uniform", "kmeans")
PARTS = ("select", "whole", "server", "formats")

PLAIN_UNIFORM = """
import sys, cv2, os
video, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
capture = cv2.VideoCapture(video)
total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
for i in range(n):
    index = int((i + 0.5) * total / n)
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    if ok:
        cv2.imwrite(os.path.join(out, f"img{index:06d}.png"), frame)
"""

# The same frames in one forward pass (grab every frame, retrieve the wanted ones): faster than
# seeking when the picks are closer than about half the key-frame interval apart.
PLAIN_UNIFORM_FORWARD = """
import sys, cv2, os
video, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(out, exist_ok=True)
capture = cv2.VideoCapture(video)
total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
wanted = {int((i + 0.5) * total / n) for i in range(n)}
for index in range(max(wanted) + 1):
    capture.grab()
    if index in wanted:
        cv2.imwrite(os.path.join(out, f"img{index:06d}.png"), capture.retrieve()[1])
"""

PLAIN_KMEANS = """
import sys, cv2, os, numpy as np
video, out, n, candidates = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
capture = cv2.VideoCapture(video)
total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
wanted = [int((i + 0.5) * total / candidates) for i in range(candidates)]
keep, small = set(wanted), []
for index in range(wanted[-1] + 1):
    capture.grab()
    if index in keep:
        frame = capture.retrieve()[1]
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        small.append(cv2.resize(grey, None, fx=30 / grey.shape[1], fy=30 / grey.shape[1],
                                interpolation=cv2.INTER_NEAREST).ravel())
data = np.asarray(small, dtype=float) / 255
try:
    from sklearn.cluster import MiniBatchKMeans
    labels = MiniBatchKMeans(n_clusters=n, tol=1e-3, batch_size=100, max_iter=50, random_state=0).fit(data).labels_
except ImportError:
    from scipy.cluster.vq import kmeans2
    _, labels = kmeans2(data, n, minit="++", seed=0)
rng = np.random.default_rng(0)
picks = sorted(wanted[rng.choice(np.flatnonzero(labels == c))] for c in range(n) if (labels == c).any())
for index in picks:
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    if ok:
        cv2.imwrite(os.path.join(out, f"img{index:06d}.png"), frame)
"""
PLAIN = {"uniform": PLAIN_UNIFORM, "uniform_forward": PLAIN_UNIFORM_FORWARD, "kmeans": PLAIN_KMEANS}
# The plain variants of each method; its baseline at its best is the one of lower median time.
VARIANTS = {"uniform": ("uniform", "uniform_forward"), "kmeans": ("kmeans",)}


def kmeans_library() -> str:
    try:
        import sklearn  # noqa: F401
        return "sklearn MiniBatchKMeans"
    except ImportError:
        return "scipy.cluster.vq.kmeans2 (scikit-learn is not installed)"


def _images(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.png"))


def ours_select(video: Path, out: Path, method: str, n: int, candidates: int) -> int:
    """``select`` then ``extract_frames`` into a new project at ``out``; images written."""
    from deepbehavior.labeling.project import Project
    from deepbehavior.labeling.selection import extract_frames, select

    project = Project.create(out)
    picks = select([video], n, method=method, candidates=max(candidates, n))
    return len(extract_frames([video], picks, project))


def plain_select(video: Path, out: Path, variant: str, n: int, candidates: int) -> int:
    """The plain script ``variant`` (a key of ``PLAIN``) run in this process; images written."""
    saved = sys.argv
    sys.argv = ["plain", str(video), str(out), str(n), str(candidates)]
    try:
        exec(compile(PLAIN[variant], f"plain_{variant}", "exec"), {"__name__": "__plain__"})
    finally:
        sys.argv = saved
    return len(_images(out))


def _interleaved(runs: dict, rounds: int, n: int, what: str) -> dict:
    """Time each of ``runs`` (side -> function(out folder, round) -> seconds) once a round, in an
    order rotated each round; the first round's image counts must all be ``n``. Seconds per side,
    and the plain variants' best median over ours."""
    sides = list(runs)
    times: dict[str, list[float]] = {side: [] for side in sides}
    for i in range(rounds):
        for side in sides[i % len(sides):] + sides[:i % len(sides)]:
            times[side].append(runs[side](i))
        if i == 0:
            written = {side: len(_images(runs[side].out(0))) for side in sides}
            if set(written.values()) != {n}:
                raise RuntimeError(f"{what}: Expected {n} images from every side, but got {written}")
    seconds = {side: spread(v) for side, v in times.items()}
    # the best and the ratio from the rounds as recorded (3 decimals): the JSON agrees with itself
    median = {side: statistics.median(seconds[side]["rounds"]) for side in sides}
    best = min((side for side in sides if side != "ours"), key=median.get)
    return {"images": n, "seconds": seconds, "plain_best": best,
            "ratio_plain_over_ours": round(median[best] / median["ours"], 3)}


class _Run:
    """One side of a comparison: ``run(i)`` writes into ``out(i)`` and returns its seconds."""

    def __init__(self, folder: Path, call):
        self.folder, self.call = folder, call

    def out(self, i: int) -> Path:
        return self.folder.with_name(f"{self.folder.name}-{i}")

    def __call__(self, i: int) -> float:
        return self.call(self.out(i))


def compare_select(video: Path, work: Path, n: int, candidates: int, rounds: int) -> dict:
    """Seconds of ours and of each plain variant in this process, per method, interleaved rounds."""
    def timed(function, *args):
        def call(out):
            start = time.perf_counter()
            function(video, out, *args)
            return time.perf_counter() - start
        return call

    out = {}
    for method in METHODS:
        runs = {"ours": _Run(work / f"ours-{method}", timed(ours_select, method, n, candidates))}
        for variant in VARIANTS[method]:
            runs[f"plain_{variant}"] = _Run(work / f"plain-{variant}", timed(plain_select, variant, n, candidates))
        out[method] = _interleaved(runs, rounds, n, f"select {method}")
        print(f"select {method}: {json.dumps(out[method])}", flush=True)
    return out


def compare_whole(video: Path, work: Path, n: int, candidates: int, rounds: int) -> dict:
    """Wall seconds, launch to exit, of ``deepbehavior frames`` and of each plain script, per
    method, interleaved rounds; the first round's images checked equal in number."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    work.mkdir(parents=True, exist_ok=True)
    scripts = {}
    for variant, text in PLAIN.items():
        scripts[variant] = work / f"plain_{variant}.py"
        scripts[variant].write_text(text)

    def ours(method):
        return lambda out: wall([sys.executable, "-m", "deepbehavior.cli", "frames", f"videos=[{video}]", f"out={out}",
                                 f"n={n}", f"method={method}", f"candidates={max(candidates, n)}"], env)

    def plain(variant):
        return lambda out: wall([sys.executable, str(scripts[variant]), str(video), str(out), str(n), str(candidates)],
                                env)

    result = {}
    for method in METHODS:
        runs = {"ours": _Run(work / f"whole-ours-{method}", ours(method))}
        for variant in VARIANTS[method]:
            runs[f"plain_{variant}"] = _Run(work / f"whole-plain-{variant}", plain(variant))
        result[method] = _interleaved(runs, rounds, n, f"frames {method}")
        print(f"whole {method}: {json.dumps(result[method])}", flush=True)
    return result


def server_saves(work: Path, saves: int = 200) -> dict:
    from deepbehavior.labeling.project import Project
    from deepbehavior.labeling.server import make_server

    import numpy as np

    project = Project.create(work / "server")
    project.add_image(name="blank.png", image=np.zeros((480, 640, 3), np.uint8))
    project.save_meta()
    server = make_server(project, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1])
    revision = 0
    start = time.perf_counter()
    for i in range(saves):
        body = json.dumps({"revision": revision, "instances": [{"class": 0, "box": [i, i, i + 10, i + 10]}]})
        conn.request("PUT", "/api/labels/blank.png", body=body, headers={"Content-Type": "application/json"})
        revision = json.loads(conn.getresponse().read())["revision"]
    elapsed = time.perf_counter() - start
    server.shutdown()
    return {"label_saves_per_s": round(saves / elapsed, 1), "label_save_ms": round(1000 * elapsed / saves, 2)}


def formats(work: Path) -> dict:
    from deepbehavior.labeling.formats import export_labels, import_labels

    start = time.perf_counter()
    dlc, _ = import_labels(DATA / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv",
                           work / "dlc", format="dlc")
    imported = time.perf_counter() - start
    start = time.perf_counter()
    export_labels(dlc, work / "yolo", format="yolo")
    return {"import_dlc_116_images_s": round(imported, 2),
            "export_yolo_116_images_s": round(time.perf_counter() - start, 2)}


def summary(result: dict, n: int, candidates: int) -> dict:
    """The headline keys (benchmarks/_timing.py): the uniform pick (the job's default method)."""
    def median(row, side):
        return row["seconds"][side]["median"]

    best, best_what = None, "no select part in this run"
    if "select" in result:
        u, k = result["select"]["uniform"], result["select"]["kmeans"]
        best = u["ratio_plain_over_ours"]
        best_what = (f"plain OpenCV on the DLC open-field video, in one process with imports done, median over "
                     f"interleaved rounds: uniform {n} frames written as PNG by the faster of seek-and-read "
                     f"({median(u, 'plain_uniform'):.2f} s) and one forward pass ({median(u, 'plain_uniform_forward'):.2f}"
                     f" s) vs ours (select + extract_frames) {median(u, 'ours'):.2f} s; k-means as DeepLabCut does it "
                     f"on the same {candidates} candidates ({kmeans_library()}) {median(k, 'plain_kmeans'):.2f} s vs ours "
                     f"{median(k, 'ours'):.2f} s, ratio {k['ratio_plain_over_ours']:.2f}")
    whole, whole_what = None, "no whole-command part in this run"
    if "whole_command_s" in result:
        u, k = result["whole_command_s"]["uniform"], result["whole_command_s"]["kmeans"]
        whole = u["ratio_plain_over_ours"]
        whole_what = (f"`deepbehavior frames videos=[m3v1mp4.mp4] n={n} method=uniform` vs the faster plain OpenCV "
                      f"uniform script (seek and read: {median(u, 'plain_uniform'):.2f} s; one forward pass: "
                      f"{median(u, 'plain_uniform_forward'):.2f} s; {n} PNGs), fresh processes, median wall: ours "
                      f"{median(u, 'ours'):.2f} s; method=kmeans candidates={candidates} vs the DeepLabCut-style "
                      f"k-means script: {median(k, 'ours'):.2f} s vs {median(k, 'plain_kmeans'):.2f} s, ratio "
                      f"{k['ratio_plain_over_ours']:.2f}; the same number of images written")
    return headline(best=best, best_what=best_what, whole=whole, whole_what=whole_what)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="frames to pick")
    parser.add_argument("--candidates", type=int, default=200, help="k-means candidate frames (both sides)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {','.join(PARTS)}")
    parser.add_argument("--video", default=str(VIDEO))
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    if set(parts) - set(PARTS):
        raise SystemExit(f"labeling.py: error: Expected --parts from {','.join(PARTS)}, but got {parts}")
    video = Path(args.video)
    if not video.is_file():
        raise SystemExit(f"labeling.py: error: Expected the open-field video at {video}, but it is absent")
    load_start = os.getloadavg()
    import cv2  # noqa: F401  (imported before any timing)
    from deepbehavior.labeling import selection  # noqa: F401

    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if "select" in parts:
            (work / "select").mkdir()
            result["select"] = compare_select(video, work / "select", args.n, args.candidates, args.rounds)
        if "whole" in parts:
            result["whole_command_s"] = compare_whole(video, work / "whole", args.n, args.candidates, args.rounds)
        if "server" in parts:
            result.update(server_saves(work))
        if "formats" in parts:
            result.update(formats(work))
    result = {**summary(result, args.n, args.candidates), **result}
    result.update({
        "frames_picked": args.n, "kmeans_candidates": args.candidates, "rounds": args.rounds,
        "kmeans_library_of_plain_script": kmeans_library(),
        "video": f"{video.name}, 2330 frames of 640x480 (DeepLabCut open field)" if video == VIDEO else str(video),
        "machine": described(load=LOAD_NOTE),
        "load_average_1_5_15_min_start": [round(x, 2) for x in load_start],
        "load_average_1_5_15_min_end": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    write_atomic(args.out, json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
