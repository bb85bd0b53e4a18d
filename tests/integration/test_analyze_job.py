"""`deepbehavior analyze` on a tiny cohort of stores: table, figures, overlay video, and the CLI."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from deepbehavior.config import RegionsConfig, SocialConfig
from jobs.analyze import AnalyzeJob
from deepbehavior.schema import make_poses
from deepbehavior.store import create_store, regions, write_region
from deepbehavior.video import probe, write_video

from tests.helpers.stores import PAIR_FPS as FPS, PAIR_FRAMES as N, two_animal_poses as _poses

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cohort(tmp_path):
    entries = []
    for subject, group, close in (("m01", "control", True), ("m02", "treated", False)):
        video = tmp_path / "videos" / f"{subject}.mp4"
        write_video(video, (np.full((128, 160, 3), 40, np.uint8) for _ in range(N)), fps=FPS)
        entries.append({"subject": subject, "group": group, "session": "d1",
                        "videos": {"top": str(video.relative_to(tmp_path))}})
        ds = _poses(close)
        path = tmp_path / "stores" / f"{subject}_d1.zarr"
        create_store(path, ds.assign_coords(view=["top"]), chunk=50)
        for region in regions(path):
            write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "tiny", "sessions": entries}))
    return manifest


def test_analyze_job_writes_table_figures_and_overlay(cohort, tmp_path):
    from jobs.analyze import main

    out = tmp_path / "out"
    cfg = AnalyzeJob(out=str(out), cohort=str(cohort), stores=str(tmp_path / "stores"),
                     measures=["locomotion", "regions", "social"], overlay=True, overlay_frames=20,
                     regions=RegionsConfig(regions={"left": [10, 0, 30, 10], "right": [[50, 0], [60, 0], [60, 10], [50, 10]]}),
                     social=SocialConfig(threshold=50.0, min_duration_s=0.5))
    main.run(cfg)
    table = pd.read_parquet(out / "measures.parquet")
    assert set(table["subject"]) == {"m01", "m02"}
    get = table.set_index(["subject", "measure"])["value"]
    assert get["m01", "social.interaction_count"] == 1
    assert get["m01", "social.interaction_time"] == pytest.approx(3.0)
    assert get["m02", "social.interaction_count"] == 0
    # Centroid of nose and tail is the body centre: x in [10, 30) for 20 frames.
    assert get["m01", "regions.time_in_left"] == pytest.approx(2.0)
    assert get["m02", "regions.entries_left"] == 1
    for key in ("m01_d1", "m02_d1"):
        for name in ("trajectory", "speed", "distance"):
            png = out / "figures" / key / f"{name}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "figures" / "groups" / "social.interaction_time.png").is_file()
    info = probe(out / "videos" / "m01_d1_overlay.mp4")
    assert info.frames == 20 and (info.width, info.height) == (160, 128)


def test_analyze_cli_with_overrides(cohort, tmp_path):
    out = tmp_path / "cli"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "deepbehavior.cli", "analyze", f"out={out}", f"cohort={cohort}",
               f"stores={tmp_path / 'stores'}", "measures=[social,regions]", "social.threshold=20",
               "regions.regions={left:[10,0,30,10]}",
               "social.min_duration_s=1.0", "figures=false"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "measures.csv")
    row = table[(table.subject == "m01") & (table.measure == "social.interaction_count")]
    assert row["value"].tolist() == [1.0]  # gap 10 < 20 for 3 s
    left = table[(table.subject == "m01") & (table.measure == "regions.time_in_left")]
    assert left["value"].tolist() == [2.0]
    bad = subprocess.run([*command[:-4], "measures=[nonsense]"], capture_output=True, text=True, env=env,
                         timeout=240, cwd=tmp_path)
    assert bad.returncode == 2 and "Expected measures from" in bad.stderr


def test_analyze_writes_rotating_skeleton_movie_for_3d_stores(cohort, tmp_path):
    from deepbehavior.viz.skeleton import layout_edges
    from jobs.analyze import main

    # A 3D store (as `deepbehavior triangulate` writes it) for m01; m02 keeps its 2D store.
    names = ["Neck", "RShoulder", "RElbow", "RWrist"]
    t = np.arange(N, dtype=float)
    position = np.zeros((N, 3, len(names), 1))
    for k in range(len(names)):
        position[:, :, k, 0] = np.stack([10.0 * k + 0 * t, np.sin(t / 10), 100.0 - 10 * k + t / 10], axis=1)
    ds = make_poses(position, fps=FPS, keypoints=names, individuals=["person"], views=["3d"])
    path = tmp_path / "stores" / "m01_d1.zarr"
    shutil.rmtree(path)
    create_store(path, ds, chunk=50)
    for region in regions(path):
        write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
    out = tmp_path / "movie"
    main.run(AnalyzeJob(out=str(out), cohort=str(cohort), stores=str(tmp_path / "stores"), figures=False,
                        movie=True, movie_frames=12))
    info = probe(out / "videos" / "m01_d1_skeleton3d.mp4")
    assert info.frames == 12 and info.fps == pytest.approx(FPS)
    assert not (out / "videos" / "m02_d1_skeleton3d.mp4").exists()  # a 2D store has no 3D movie
    table = pd.read_csv(out / "measures.csv").set_index(["subject", "measure"])["value"]
    # Locomotion of the 3D person: the path length of its keypoints' centroid (the 3D units).
    step = np.linalg.norm(np.diff(position.mean(axis=2)[:, :, 0], axis=0), axis=1)
    assert table["m01", "locomotion.distance_person"] == pytest.approx(step.sum(), rel=1e-4)
    assert len(layout_edges(names)) == 3


def test_analyze_reads_each_sessions_tracked_store_where_there_is_one(cohort, tmp_path, capsys):
    from jobs.analyze import main

    # Only m01 was tracked: it is read from <out>/tracked, m02 from <out>/stores, and both say so.
    out = tmp_path
    shutil.copytree(out / "stores" / "m01_d1.zarr", out / "tracked" / "m01_d1.zarr")
    shutil.copytree(out / "stores" / "m01_d1.zarr.progress", out / "tracked" / "m01_d1.zarr.progress")
    main.run(AnalyzeJob(out=str(out), cohort=str(cohort), measures=["social"], figures=False,
                        social=SocialConfig(threshold=50.0, min_duration_s=0.5)))
    printed = capsys.readouterr().out
    assert f"m01_d1: {out / 'tracked'} (tracked)" in printed and f"m02_d1: {out / 'stores'} (not tracked)" in printed
    assert set(pd.read_csv(out / "measures.csv")["subject"]) == {"m01", "m02"}
    # Every session tracked: the one line of before.
    shutil.copytree(out / "stores" / "m02_d1.zarr", out / "tracked" / "m02_d1.zarr")
    shutil.copytree(out / "stores" / "m02_d1.zarr.progress", out / "tracked" / "m02_d1.zarr.progress")
    main.run(AnalyzeJob(out=str(out), cohort=str(cohort), measures=["social"], figures=False,
                        social=SocialConfig(threshold=50.0, min_duration_s=0.5)))
    assert f"reading stores from {out / 'tracked'}: the tracked stores" in capsys.readouterr().out
