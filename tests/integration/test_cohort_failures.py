"""The cohort jobs share one policy, seen from the command line: in a cohort with a good session, one
already done, one whose store is damaged and one whose store is missing, the good one is written,
the done one skipped, the broken ones named (kind, reason, report) on stderr and in the report, and
the job exits with status 1; bad input exits with status 2 before any work."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from deepbehavior.store import open_store

REPO = Path(__file__).resolve().parents[2]


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "deepbehavior.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600, env=env)


def _damage(store: Path) -> None:
    """Overwrite one stored chunk of ``position`` with bytes no codec can decode."""
    chunks = sorted(f for f in glob.glob(str(store / "position" / "c" / "**"), recursive=True) if Path(f).is_file())
    Path(chunks[0]).write_bytes(b"not a zstd frame" * 4)


def _manifest(path: Path, subjects, views=("top",)) -> Path:
    path.write_text(yaml.safe_dump({"cohort": "four", "sessions": [
        {"subject": s, "group": "g", "session": "d1", "videos": {k: f"{s}_{k}.mp4" for k in views}}
        for s in subjects]}))
    return path


def _check_failures(done: subprocess.CompletedProcess, report: Path) -> dict:
    """Exit 1; the damaged (m03, data) and missing (m04, input) sessions named on stderr with the report."""
    assert done.returncode == 1, done.stderr
    err = done.stderr.strip().splitlines()
    job = done.args[3]
    named = {line.split(" ")[3]: line for line in err if line.startswith(f"deepbehavior {job}: session ")}
    assert set(named) == {"m03_d1", "m04_d1"}, err
    assert "failed (data" in named["m03_d1"] and "decompression" in named["m03_d1"].lower()
    assert "failed (input" in named["m04_d1"] and "m04_d1.zarr" in named["m04_d1"]
    assert all(line.endswith(f"report: {report}") for line in named.values())
    assert err[-1].startswith(f"deepbehavior {job}: error: 2 of 4 sessions failed: m03_d1, m04_d1;")
    failures = {f["session"]: f for f in json.loads(report.read_text())["failures"]}
    assert {k: (f["kind"], f["stage"]) for k, f in failures.items()} == {"m03_d1": ("data", job),
                                                                        "m04_d1": ("input", job)}
    return json.loads(report.read_text())


def test_track_cli(tmp_path):
    from deepbehavior.config import TrackConfig
    from jobs.track import TrackJob
    from jobs.track import main as track
    from tests.helpers.stores import crossing_truth as _truth, shuffled_slots as _slots, write_by_region as _write

    stores = tmp_path / "stores"
    for k, subject in enumerate(("m01", "m02", "m03")):
        _write(stores / f"{subject}_d1.zarr", _slots(_truth(), seed=k))
    _damage(stores / "m03_d1.zarr")
    out = tmp_path / "run"
    # max_jump as the command line gives it, a float: a Python int 15 fingerprints differently from
    # Hydra's 15.0 (and the session would fail as made with other settings)
    settings = ["track.n_identities=2", "track.max_jump=15", "track.max_extrapolate=5", "figures=false"]
    track.run(TrackJob(out=str(out), cohort=str(_manifest(tmp_path / "done.yaml", ["m02"])), stores=str(stores),
                       figures=False, track=TrackConfig(n_identities=2, max_jump=15.0, max_extrapolate=5)))
    before = (out / "tracked" / "m02_d1.zarr" / "zarr.json").stat().st_mtime_ns
    manifest = _manifest(tmp_path / "cohort.yaml", ["m01", "m02", "m03", "m04"])

    bad = _cli("track", f"out={out}", f"cohort={manifest}", f"stores={tmp_path / 'elsewhere'}", *settings,
               cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        f"deepbehavior track: error: Expected a folder of stores at {tmp_path / 'elsewhere'}, but there is none"]
    assert not (out / "tracked" / "m01_d1.zarr").exists()  # nothing was worked on

    done = _cli("track", f"out={out}", f"cohort={manifest}", f"stores={stores}", *settings, cwd=tmp_path)
    report = _check_failures(done, out / "track_report.json")
    assert report["done"] == ["m01_d1"] and report["skipped"] == ["m02_d1"]
    tracked = open_store(out / "tracked" / "m01_d1.zarr")
    assert tracked.attrs["individuals_are"] == "identities" and tracked.sizes["time"] == 200
    assert (out / "tracked" / "m02_d1.zarr" / "zarr.json").stat().st_mtime_ns == before  # not rewritten
    assert not (out / "tracked" / "m03_d1.zarr").exists()
    summary = pd.read_csv(out / "track_summary.csv").set_index("name")["status"].to_dict()
    assert summary == {"m01_d1": "tracked", "m02_d1": "skipped", "m03_d1": "failed", "m04_d1": "failed"}


def test_triangulate_cli(tmp_path):
    from jobs.triangulate import TriangulateJob
    from deepbehavior.geometry import Camera, CameraGroup
    from deepbehavior.geometry.calib_io import save_calibration
    from jobs.triangulate import main as triangulate
    from tests.helpers.stores import write_2d_store as _write_2d_store

    cams = [Camera(name="front", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]], tvec=[0, 0, 1000]),
            Camera(name="side", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   rvec=[0, -0.6, 0], tvec=[500, 0, 1100])]
    group = CameraGroup(cams)
    calib = save_calibration(group, tmp_path / "rig.toml")
    world = np.random.default_rng(2).uniform(-100, 100, size=(40, 2, 1, 3))
    stores = tmp_path / "stores"
    for subject in ("m01", "m02", "m03"):
        _write_2d_store(stores / f"{subject}_d1.zarr", group, world)
    _damage(stores / "m03_d1.zarr")
    out = tmp_path / "out"
    views = {"views": ("front", "side")}
    triangulate.run(TriangulateJob(out=str(out), cohort=str(_manifest(tmp_path / "done.yaml", ["m02"], **views)),
                                   stores=str(stores), calibration=str(calib), figure=False))
    manifest = _manifest(tmp_path / "cohort.yaml", ["m01", "m02", "m03", "m04"], **views)

    bad = _cli("triangulate", f"out={out}", f"cohort={manifest}", f"stores={stores}",
               f"calibration={tmp_path / 'none.toml'}", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Expected a calibration file at" in bad.stderr
    assert not (out / "stores3d" / "m01_d1.zarr").exists()

    done = _cli("triangulate", f"out={out}", f"cohort={manifest}", f"stores={stores}", f"calibration={calib}",
                "figure=false", cwd=tmp_path)
    report = _check_failures(done, out / "triangulate_report.json")
    assert report["written"] == ["m01_d1"] and report["skipped"] == ["m02_d1"]
    assert report["failures"][1]["store"] == str(stores / "m04_d1.zarr")
    assert report["failures"][1]["calibration"] == str(calib)
    got = open_store(out / "stores3d" / "m01_d1.zarr")["position"]
    np.testing.assert_allclose(got.transpose("time", "keypoints", "individuals", "space").values, world, atol=1e-3)
    assert not (out / "stores3d" / "m03_d1.zarr").exists()


def test_analyze_cli(tmp_path):
    """analyze recomputes its table on every run (nothing is skipped): the good sessions are measured,
    the broken ones named."""
    from deepbehavior.store import create_store, regions, write_region
    from tests.helpers.stores import two_animal_poses as _poses

    stores = tmp_path / "stores"
    for subject, close in (("m01", True), ("m02", False), ("m03", True)):
        path = stores / f"{subject}_d1.zarr"
        ds = _poses(close)
        create_store(path, ds.assign_coords(view=["top"]), chunk=50)
        for region in regions(path):
            write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
    _damage(stores / "m03_d1.zarr")
    manifest = _manifest(tmp_path / "cohort.yaml", ["m01", "m02", "m03", "m04"])
    out = tmp_path / "out"
    args = [f"out={out}", f"cohort={manifest}", f"stores={stores}", "social.threshold=20",
            "social.min_duration_s=1.0", "figures=false"]

    bad = _cli("analyze", *args, "regions.regions={left:[30,0,10,10]}", "measures=[regions]", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Expected region 'left' as [x0, y0, x1, y1] with x1 > x0" in bad.stderr
    assert not (out / "measures.csv").exists()

    done = _cli("analyze", *args, "measures=[social]", cwd=tmp_path)
    report = _check_failures(done, out / "analyze_report.json")
    assert report["done"] == ["m01_d1", "m02_d1"] and report["skipped"] == []
    table = pd.read_csv(out / "measures.csv")
    assert sorted(set(table.subject)) == ["m01", "m02"]
    counts = table[table.measure == "social.interaction_count"].set_index("subject")["value"]
    assert counts.to_dict() == {"m01": 1.0, "m02": 0.0}  # one 3 s bout at 10 px < 20 px in m01, none in m02
    stored = json.loads((out / "measures_fingerprint.json").read_text())["stores"]
    assert sorted(stored) == ["m01_d1", "m02_d1"]
