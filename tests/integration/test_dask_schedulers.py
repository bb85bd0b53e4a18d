"""``analyze`` and ``triangulate`` with ``dask.scheduler=threads`` (in process) and ``processes`` (a local
multi-process dask.distributed cluster): the same tables and stores, whichever runs them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml

from deepbehavior.geometry import Camera, CameraGroup
from deepbehavior.geometry.calib_io import save_calibration
from deepbehavior.runtime.dask_cluster import DaskConfig
from tests.helpers.stores import two_animal_poses, write_2d_store

pytest.importorskip("distributed", reason="dask.scheduler=processes needs dask.distributed (extra 'cluster')")
pytestmark = pytest.mark.slow  # starts a local cluster of worker processes


def _analyze_cohort(folder):
    from deepbehavior.store import create_store, regions, write_region

    entries = []
    for subject, group, close in (("m01", "control", True), ("m02", "treated", False)):
        entries.append({"subject": subject, "group": group, "session": "d1", "videos": {"top": f"{subject}.mp4"}})
        ds = two_animal_poses(close)
        path = folder / "stores" / f"{subject}_d1.zarr"
        create_store(path, ds.assign_coords(view=["top"]), chunk=50)
        for region in regions(path):
            write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
    manifest = folder / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "tiny", "sessions": entries}))
    return manifest


def test_analyze_gives_the_same_table_in_process_and_on_a_local_process_cluster(tmp_path):
    from jobs.analyze import AnalyzeJob, main

    manifest = _analyze_cohort(tmp_path)
    tables = {}
    for scheduler in ("threads", "processes"):
        out = tmp_path / scheduler
        main.run(AnalyzeJob(out=str(out), cohort=str(manifest), stores=str(tmp_path / "stores"), figures=False,
                            dask=DaskConfig(scheduler=scheduler)))
        tables[scheduler] = pd.read_parquet(out / "measures.parquet")
    assert len(tables["threads"]) > 0 and set(tables["threads"]["session"]) == {"d1"}
    pd.testing.assert_frame_equal(tables["threads"], tables["processes"])


def test_triangulate_gives_the_same_stores_in_process_and_on_a_local_process_cluster(tmp_path):
    from jobs.triangulate import TriangulateJob, main

    cams = [Camera(name="front", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   tvec=[0, 0, 1000]),
            Camera(name="side", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   rvec=[0, -0.6, 0], tvec=[500, 0, 1100])]
    group = CameraGroup(cams)
    calibration = save_calibration(group, tmp_path / "rig.toml")
    world = np.random.default_rng(1).uniform(-100, 100, size=(120, 2, 1, 3))
    for i in range(2):
        write_2d_store(tmp_path / "stores" / f"m{i}_d1.zarr", group, world[i:] if i else world)
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "t", "sessions": [
        {"subject": f"m{i}", "session": "d1", "videos": {"front": f"f{i}.mp4", "side": f"s{i}.mp4"}}
        for i in range(2)]}))
    for scheduler in ("threads", "processes"):
        main.run(TriangulateJob(out=str(tmp_path / scheduler), cohort=str(manifest), stores=str(tmp_path / "stores"),
                                calibration=str(calibration), chunk=25, figure=False,
                                dask=DaskConfig(scheduler=scheduler)))
    for i in range(2):
        a, b = (xr.open_zarr(tmp_path / s / "stores3d" / f"m{i}_d1.zarr") for s in ("threads", "processes"))
        position = a["position"].transpose("time", "keypoints", "individuals", "space").values
        np.testing.assert_allclose(position, world[i:] if i else world, atol=1e-3)  # the true points
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=f"m{i}_d1: {name}")
