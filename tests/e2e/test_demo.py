"""The main job end to end, as the README runs it: a synthetic cohort → detector → Ray → Zarr → kinematics."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xarray as xr

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "demo", f"out={out}"],
                            capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result.stdout


def test_demo_prints_where_everything_is(demo):
    out, stdout = demo
    for where in ("stores:", "tables:", "weights:", str(out)):
        assert where in stdout


def test_detected_centres_are_within_a_few_pixels_of_ground_truth(demo):
    out, _ = demo
    summary = pd.read_csv(out / "tables" / "summary.csv")
    assert len(summary) == 2 and set(summary["group"]) == {"control", "treated"}
    assert (summary["median_centre_error_px"] < 3.0).all(), summary["median_centre_error_px"].tolist()
    assert (summary["missing_fraction"] < 0.05).all()
    report = json.loads((out / "demo_report.json").read_text())
    assert report["median_centre_error_px"] == pytest.approx(summary["median_centre_error_px"].median())


def test_speed_and_path_length_match_ground_truth(demo):
    out, _ = demo
    summary = pd.read_csv(out / "tables" / "summary.csv")
    relative_speed_error = summary["median_speed_error"] / summary["true_mean_speed"]
    assert (relative_speed_error < 0.25).all(), relative_speed_error.tolist()
    assert np.allclose(summary["mean_speed"], summary["true_mean_speed"], rtol=0.15)
    # Detector jitter adds length to a path; it must stay close to the true one.
    assert np.allclose(summary["path_length"], summary["true_path_length"], rtol=0.35)


def test_stores_open_with_xarray_and_are_complete(demo):
    out, _ = demo
    for session in ("m01_day1", "m02_day1"):
        ds = xr.open_zarr(out / "stores" / f"{session}.zarr")
        assert ds["position"].dims == ("time", "space", "individuals") and str(ds["view"].values) == "top"
        assert ds.sizes["time"] == 300 and ds.attrs["fps"] == 30.0
        assert ds.attrs["provenance"]["versions"]["ultralytics"]
        assert ds.attrs["provenance"]["inputs"][0]["size_bytes"] > 0
        done = out / "stores" / f"{session}.zarr.progress" / "done"
        assert sorted(p.name for p in done.iterdir()) == [f"top.{i}" for i in range(3)]
        table = pd.read_csv(out / "tables" / f"{session}_kinematics.csv")
        assert list(table.columns) == ["frame", "time_s", "x", "y", "vx", "vy", "ax", "ay", "speed"]
        for figure in ("trajectory", "speed"):
            assert (out / "figures" / f"{session}_{figure}.png").stat().st_size > 10_000
