"""The cohort analysis (locomotion, regions and social measures) against the plain NumPy/pandas
script a user would write for the same measures (``benchmarks/plain_measures.py``), on a synthetic
cohort of two-mouse sessions stored in Zarr (half an hour at 30 fps each).

Writes ``benchmarks/results/analyze.json`` with:

- the headline keys (``_timing.headline``): ``ratio_vs_baseline_best``, the plain script's time over
  ``analyze_cohort``'s in one process on the same stores (both with ``workers`` sessions at a time in
  threads, the stores' page cache warm), median over interleaved rounds; ``whole_command_ratio``,
  the wall time of ``python plain_measures.py`` over ``deepbehavior analyze ... figures=false``
  (launch to exit, fresh processes, interleaved rounds);
- ``in_process_s`` / ``whole_command_s``: min/median/max seconds of each side over the rounds;
- ``same_result``: every one of the table's values checked against the plain script's (relative
  1e-5) before timing, and how many were compared;
- ``sessions``, ``frames_per_session``, ``frames_per_s`` (ours, median), ``peak_rss_mb``,
  ``machine``, ``date`` and the 1-minute load average at start and end (the machine is shared).

Run: ``python benchmarks/analyze.py`` (about 2 minutes on 2 cores); ``--help`` for sizes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import plain_measures  # noqa: E402
from _machine import described  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

from deepbehavior.analysis.cohort import analyze_cohort  # noqa: E402
from deepbehavior.analysis.measure_settings import MeasureSettings  # noqa: E402
from deepbehavior.cohort import load_cohort  # noqa: E402
from deepbehavior.config import RegionsConfig, SocialConfig  # noqa: E402
from deepbehavior.schema import make_poses  # noqa: E402
from deepbehavior.store import create_store, regions, write_atomic, write_region  # noqa: E402

REPO = HERE.parent
SESSIONS = 6
FRAMES = 54_000  # 30 minutes at 30 fps
FPS = 30.0
WORKERS = 2
SETTINGS = MeasureSettings(
    measures=("locomotion", "regions", "social"),
    regions=RegionsConfig(regions={k: list(v) for k, v in plain_measures.REGIONS.items()}, keypoint="body"),
    social=SocialConfig(threshold=plain_measures.THRESHOLD, min_duration_s=plain_measures.MIN_DURATION_S,
                        centre="body"))
# The same settings as `deepbehavior analyze` arguments.
CLI_SETTINGS = ["measures=[locomotion,regions,social]", "regions.keypoint=body", "social.centre=body",
                f"social.threshold={plain_measures.THRESHOLD}", f"social.min_duration_s={plain_measures.MIN_DURATION_S}",
                *(f"+regions.regions.{k}=[{','.join(map(str, v))}]" for k, v in plain_measures.REGIONS.items())]


def _session(seed: int, frames: int):
    rng = np.random.default_rng(seed)
    steps = rng.normal(0, 2.0, size=(frames, 2, 2))
    centres = np.clip(np.cumsum(steps, axis=0) + [320, 240], 0, [640, 480])
    position = np.stack([centres + [5, 0], centres, centres - [5, 0]], axis=2)  # nose, body, tail
    return make_poses(position, fps=FPS, keypoints=["nose", "body", "tail"], individuals=["a", "b"])


def write_cohort(root: Path, sessions: int, frames: int) -> tuple[Path, Path]:
    """``sessions`` stores ``root/stores/m<i>_d1.zarr`` and their manifest; (manifest, stores folder)."""
    entries = []
    for i in range(sessions):
        ds = _session(i, frames)
        path = root / "stores" / f"m{i:02d}_d1.zarr"
        create_store(path, ds, chunk=10_000)
        for region in regions(path):
            write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
        entries.append({"subject": f"m{i:02d}", "group": "g" + str(i % 2), "session": "d1",
                        "videos": {"view0": "none.mp4"}})
    (root / "cohort.yaml").write_text(yaml.safe_dump({"sessions": entries}))
    return root / "cohort.yaml", root / "stores"


def compare(ours, plain) -> dict:
    """Every value of our table (columns subject, session, measure, value) against the plain one's."""
    ours = ours.assign(session=ours["subject"] + "_" + ours["session"]).set_index(["session", "measure"])["value"]
    theirs = plain.set_index(["session", "measure"])["value"]
    if set(ours.index) != set(theirs.index):
        raise AssertionError(f"measures differ: ours only {sorted(set(ours.index) - set(theirs.index))[:5]}, "
                             f"plain only {sorted(set(theirs.index) - set(ours.index))[:5]}")
    theirs = theirs.reindex(ours.index)
    close = np.isclose(ours.values, theirs.values, rtol=1e-5, equal_nan=True)
    if not close.all():
        bad = ours.index[~close][:5]
        raise AssertionError(f"values differ at {list(bad)}: ours {ours[bad].tolist()}, plain {theirs[bad].tolist()}")
    return {"values_compared": int(close.size), "all_agree_rtol_1e-5": True}


def in_process(cohort_path: Path, stores: Path, rounds: int, workers: int = WORKERS) -> dict:
    """Seconds of ``analyze_cohort`` and of the plain script's function on the same stores,
    interleaved rounds (the order alternating); the tables compared first."""
    cohort = load_cohort(cohort_path, check_files=False)
    calls = {"deepbehavior_analyze_cohort": lambda: analyze_cohort(cohort, stores, SETTINGS, workers=workers,
                                                                   printer=lambda _: None),
             "plain_numpy_pandas": lambda: plain_measures.measure_stores(stores, workers)}
    same = compare(calls["deepbehavior_analyze_cohort"](), calls["plain_numpy_pandas"]())
    times = {name: [] for name in calls}
    for r in range(rounds):
        for name in (list(calls) if r % 2 == 0 else list(calls)[::-1]):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return {"times": times, "same_result": same}


def whole_command(root: Path, cohort_path: Path, stores: Path, rounds: int, workers: int = WORKERS) -> dict:
    """Wall seconds of ``deepbehavior analyze`` and of ``python plain_measures.py`` on the same stores,
    fresh processes, interleaved; both tables compared first."""
    import pandas as pd

    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    ours = [sys.executable, "-m", "deepbehavior.cli", "analyze", f"cohort={cohort_path}", f"stores={stores}",
            f"workers={workers}", "figures=false", *CLI_SETTINGS]
    plain = [sys.executable, str(HERE / "plain_measures.py"), str(stores)]
    times = {"deepbehavior_analyze": [], "plain_script": []}
    for r in range(rounds):
        for name in (list(times) if r % 2 == 0 else list(times)[::-1]):
            if name == "deepbehavior_analyze":
                times[name].append(wall([*ours, f"out={root / f'ours-{r}'}"], env))
            else:
                times[name].append(wall([*plain, str(root / f"plain-{r}.csv"), str(workers)], env))
    same = compare(pd.read_csv(root / "ours-0" / "measures.csv", dtype={"session": str}),
                   pd.read_csv(root / "plain-0.csv", dtype={"session": str}))
    return {"times": times, "same_result": same}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=SESSIONS)
    parser.add_argument("--frames", type=int, default=FRAMES, help="frames per session")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, in process and whole command")
    parser.add_argument("--out", default=str(HERE / "results" / "analyze.json"))
    args = parser.parse_args(argv)
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cohort_path, stores = write_cohort(root, args.sessions, args.frames)
        inner = in_process(cohort_path, stores, args.rounds)
        whole = whole_command(root, cohort_path, stores, args.rounds)
    med = {k: statistics.median(v) for k, v in {**inner["times"], **whole["times"]}.items()}
    size = f"{args.sessions} two-mouse sessions x {args.frames:,} frames (3 keypoints, 30 fps) in Zarr stores"
    out = {
        **headline(
            best=med["plain_numpy_pandas"] / med["deepbehavior_analyze_cohort"],
            best_what=f"the plain NumPy/pandas script (benchmarks/plain_measures.py: xarray.open_zarr, np.gradient, "
                      f"np.diff, boolean masks; {WORKERS} sessions at a time in threads like ours) for the same 20 "
                      f"locomotion, regions and social measures a session, in one process, on {size}; "
                      f"median seconds over {args.rounds} interleaved rounds",
            whole=med["plain_script"] / med["deepbehavior_analyze"],
            whole_what=f"`deepbehavior analyze measures=[locomotion,regions,social] figures=false workers={WORKERS}` "
                       f"(table to parquet and CSV, fingerprint, report) against `python benchmarks/plain_measures.py "
                       f"STORES OUT.csv {WORKERS}` on the same {size}; fresh processes, launch to exit; every value "
                       f"checked equal; medians over {args.rounds} interleaved rounds",
        ),
        "in_process_s": {k: spread(v) for k, v in inner["times"].items()},
        "whole_command_s": {k: spread(v) for k, v in whole["times"].items()},
        "same_result": {"in_process": inner["same_result"], "whole_command": whole["same_result"]},
        "sessions": args.sessions,
        "frames_per_session": args.frames,
        "frames_per_s": args.sessions * args.frames / med["deepbehavior_analyze_cohort"],
        "workers": WORKERS,
        "rounds": args.rounds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "machine": described(shared="other work ran on this machine at the same time; see the load averages"),
        "load_average_1min_start": load_start,
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
