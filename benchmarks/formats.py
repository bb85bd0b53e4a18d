"""Reading speed of the format readers on the shared samples, scaled up, against movement's loaders
and as a whole ``deepbehavior import`` command, into ``results/formats.json``.

Keys:

- the headline keys (``_timing.headline``), both on the real SLEAP file
  (``sleap-flies/centered_pair_predictions.slp``: 1100 frames, 24 nodes, 27 tracks):
  ``ratio_vs_baseline_best``, movement's ``load_poses.from_sleap_file`` time over our ``load_file``
  (movement 0.15 has one mode; ours also checks every value and keeps frame numbers), and
  ``whole_command_ratio``, a plain movement script (load, ``Dataset.to_netcdf``) over
  ``deepbehavior import`` (file to a checked, chunked Zarr store), launch to exit;
- ``sleap_slp``, ``dlc_h5``, ``dlc_csv``: ``{"ours_s", "movement_s", "speed_ratio"}``, the loaders
  side by side (seconds min/median/max over interleaved rounds; ``speed_ratio`` movement / ours),
  the DeepLabCut files a synthetic 54,000-frame, 4-keypoint session (half an hour at 30 fps);
- ``whole_command_s`` / ``whole_command_per_file``: per file (the SLEAP file and the DeepLabCut
  ``.h5``), the seconds of each command, their ``ratio`` (movement / ours, medians) and
  ``same_result`` (positions and confidences of our store and of the movement script's netCDF
  checked equal before timing);
- ``tensorbox_stream_frames_per_s``, ``darknet_frames_per_s``, ``openpose_read_frames_per_s``,
  ``openpose_write_frames_per_s``, ``sleap_frames_per_s`` (the analysis .h5): our readers alone;
- ``machine``, ``date`` and the 1-minute load average at start and end (the machine is shared).

Run: ``python benchmarks/formats.py`` (needs ../shared/data; about 3 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import described  # noqa: E402
from _timing import headline, spread, wall  # noqa: E402

from deepbehavior import schema  # noqa: E402
from deepbehavior.formats import load_file, save_file, save_openpose  # noqa: E402
from deepbehavior.formats._movement import to_movement  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))
REPEAT = 100  # the 30-frame samples, written this many times over
SESSION_FRAMES = 54_000  # half an hour at 30 fps


def _rate(frames: int, func) -> float:
    start = time.perf_counter()
    func()
    return frames / (time.perf_counter() - start)


def interleaved(calls: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds of each call over ``rounds`` rounds, every call once a round, the order rotated from
    round to round (the load of the shared machine falls on all alike)."""
    times = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return times


def dlc_session(path: Path, n_frames: int = SESSION_FRAMES) -> Path:
    """A DeepLabCut prediction file of one mouse, 4 keypoints, uniform positions (px) and likelihoods."""
    import numpy as np

    rng = np.random.default_rng(0)
    ds = schema.make_poses(rng.uniform(0, 640, (n_frames, 2, 4, 1)), rng.uniform(0, 1, (n_frames, 4, 1)), fps=30,
                           keypoints=["snout", "leftear", "rightear", "tailbase"])
    return save_file(ds, path, "dlc")


def _against_movement(work: Path, rounds: int, n_frames: int) -> dict:
    """Our ``load_file`` against movement's loader on the real SLEAP file and a DeepLabCut session
    (.h5 and .csv), interleaved; seconds spread and ``speed_ratio`` = movement / ours (medians)."""
    from movement.io import load_poses

    slp = DATA / "sleap-flies" / "centered_pair_predictions.slp"
    pairs = {"sleap_slp": (lambda: load_file(slp, fps=30), lambda: load_poses.from_sleap_file(slp, fps=30))}
    for suffix in ("h5", "csv"):
        path = dlc_session(work / f"predictions.{suffix}", n_frames)
        pairs[f"dlc_{suffix}"] = (lambda p=path: load_file(p, fps=30),
                                  lambda p=path: load_poses.from_dlc_file(p, fps=30))
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (ours, theirs) in pairs.items():
            times = interleaved({"ours": ours, "movement": theirs}, rounds)
            out[name] = {"ours_s": spread(times["ours"]), "movement_s": spread(times["movement"]),
                         "speed_ratio": round(statistics.median(times["movement"]) / statistics.median(times["ours"]), 3)}
    return out


# The script a movement user writes to turn a prediction file into a dataset file: movement's loader,
# then xarray's netCDF writer (movement's own format). Arguments: the file, its kind, fps, the output.
MOVEMENT_SCRIPT = """
import sys
from movement.io import load_poses

path, kind, fps, out = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
ds = (load_poses.from_sleap_file if kind == "sleap" else load_poses.from_dlc_file)(path, fps=fps)
ds.to_netcdf(out)
"""


def same_poses(store: Path, netcdf: Path) -> dict:
    """Our store's positions and confidences against the netCDF the movement script wrote: same
    shape and names, positions equal (NaN where the other has NaN), confidences equal wherever a
    position was seen (movement gives an unseen point of a present track confidence 0, we give NaN)."""
    import numpy as np
    import xarray as xr

    from deepbehavior.store import open_store

    ours, theirs = open_store(store), xr.open_dataset(netcdf)
    aligned = {}
    for var in ("position", "confidence"):
        a = ours[var].transpose(*theirs[var].dims)
        for dim in ("keypoints", "individuals"):
            if dim == "individuals" and a.sizes[dim] == theirs.sizes[dim] == 1:
                continue  # one animal: DeepLabCut's single-animal layout names none (we say individual0, movement individual_0)
            a = a.sel({dim: [str(v) for v in theirs[dim].values]})
        aligned[var] = (a.values, theirs[var].values)
    (pa, pb), (ca, cb) = aligned["position"], aligned["confidence"]
    seen = np.isfinite(pb).all(axis=theirs["position"].get_axis_num("space"))
    checks = {"position": bool(pa.shape == pb.shape and np.allclose(pa, pb, equal_nan=True)),
              "confidence_where_seen": bool(ca.shape == cb.shape and np.allclose(ca[seen], cb[seen], equal_nan=True))}
    theirs.close()
    if not all(checks.values()):
        raise AssertionError(f"{store} and {netcdf} differ: {checks}")
    return {"frames": int(ours.sizes["time"]), "points": int(pa.size // pa.shape[1]), "points_seen": int(seen.sum()),
            **checks}


def whole_command(work: Path, files: dict[str, tuple[Path, str]], rounds: int) -> dict:
    """Wall seconds of ``deepbehavior import`` and of the plain movement script for each file
    (name -> (path, "sleap" | "dlc")), fresh processes, interleaved; outputs compared first."""
    script = work / "movement_import.py"
    script.write_text(textwrap.dedent(MOVEMENT_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "ignore"}
    out = {}
    for name, (path, kind) in files.items():
        def ours(r, path=path, name=name):
            return wall([sys.executable, "-m", "deepbehavior.cli", "import", f"out={work / f'{name}-ours-{r}'}",
                         f"source={path}", "name=session", "fps=30"], env)

        def theirs(r, path=path, name=name, kind=kind):
            return wall([sys.executable, str(script), str(path), kind, "30", str(work / f"{name}-movement-{r}.nc")], env)

        times = {"deepbehavior_import": [], "movement_script": []}
        for r in range(rounds):
            for side in (("deepbehavior_import", "movement_script") if r % 2 == 0
                         else ("movement_script", "deepbehavior_import")):
                times[side].append((ours if side == "deepbehavior_import" else theirs)(r))
        same = same_poses(work / f"{name}-ours-0" / "stores" / "session.zarr", work / f"{name}-movement-0.nc")
        out[name] = {"seconds": {k: spread(v) for k, v in times.items()},
                     "ratio": round(statistics.median(times["movement_script"])
                                    / statistics.median(times["deepbehavior_import"]), 3),
                     "same_result": same}
    return out


def readers(work: Path) -> dict:
    """Frames per second of our readers alone on the shared samples, written many times over."""
    formats = DATA / "deepbehavior-formats"
    out = {}
    stream = (formats / "tensorbox_predictions_stream.json").read_text()
    (work / "big_stream.json").write_text(stream * REPEAT)  # frame names repeat: read in file order
    n = load_file(work / "big_stream.json").sizes["time"]
    out["tensorbox_stream_frames_per_s"] = _rate(n, lambda: load_file(work / "big_stream.json"))
    darknet = (formats / "darknet_ext_output.txt").read_text()
    (work / "big_darknet.txt").write_text(darknet * REPEAT)
    out["darknet_frames_per_s"] = _rate(30 * REPEAT, lambda: load_file(work / "big_darknet.txt"))
    poses = to_movement(load_file(formats / "openpose_cam1"))
    index = [i % 30 for i in range(30 * 20)]
    big = schema.make_poses(poses["position"].values[index], poses["confidence"].values[index], fps=30,
                            keypoints=list(poses["keypoints"].values), time=range(600))
    out["openpose_write_frames_per_s"] = _rate(600, lambda: save_openpose(big, work / "op", video_name="v"))
    out["openpose_read_frames_per_s"] = _rate(600, lambda: load_file(work / "op"))
    out["sleap_frames_per_s"] = _rate(1100, lambda: load_file(DATA / "sleap-flies" / "centered_pair_predictions.h5"))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the loaders")
    parser.add_argument("--whole-rounds", type=int, default=3, help="interleaved rounds of the whole commands")
    parser.add_argument("--frames", type=int, default=SESSION_FRAMES, help="frames of the DeepLabCut session")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "formats.json"))
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        raise SystemExit(f"benchmarks/formats.py: error: Expected the shared data at {DATA}, but it is absent")
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        out: dict = readers(work)
        out.update(_against_movement(work, args.rounds, args.frames))
        slp = DATA / "sleap-flies" / "centered_pair_predictions.slp"
        whole = whole_command(work, {"sleap_slp": (slp, "sleap"), "dlc_h5": (work / "predictions.h5", "dlc")},
                              args.whole_rounds)
    loaders = f"DeepLabCut .h5 of {args.frames:,} frames: {out['dlc_h5']['speed_ratio']:.2f}x, .csv " \
              f"{out['dlc_csv']['speed_ratio']:.2f}x"
    result = {
        **headline(
            best=out["sleap_slp"]["speed_ratio"],
            best_what=f"movement 0.15 load_poses.from_sleap_file (its one mode, via sleap-io) against our load_file "
                      f"on the real SLEAP file centered_pair_predictions.slp (1100 frames, 24 nodes, 27 tracks), "
                      f"medians over {args.rounds} interleaved rounds; from_dlc_file on a {loaders}",
            whole=whole["sleap_slp"]["ratio"],
            whole_what=f"`deepbehavior import source=centered_pair_predictions.slp` (read, check, chunked Zarr store "
                       f"with provenance) against a plain movement script (from_sleap_file, Dataset.to_netcdf), "
                       f"fresh processes, same positions and confidences checked, medians over {args.whole_rounds} "
                       f"interleaved rounds; on the {args.frames:,}-frame DeepLabCut .h5 (from_dlc_file): "
                       f"{whole['dlc_h5']['ratio']:.2f}x",
        ),
        **out,
        "whole_command_s": {name: w["seconds"] for name, w in whole.items()},
        "whole_command_per_file": {name: {k: w[k] for k in ("ratio", "same_result")} for name, w in whole.items()},
        "dlc_session_frames": args.frames,
        "rounds": args.rounds,
        "whole_rounds": args.whole_rounds,
        "machine": described(shared="other work ran on this machine at the same time; see the load averages"),
        "load_average_1min_start": load_start,
        "load_average_1min_end": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".json.partial")
    tmp_path.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp_path, path)
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
