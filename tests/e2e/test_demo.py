"""The main job end to end, as the README runs it: a synthetic cohort → top-down keypoint model (train job,
in its own process) → inference → Zarr → kinematics of the body, scored against the exact keypoints it was drawn from."""

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


def _truth(out, i):
    """The exact keypoints of session ``i`` (``(time, keypoints, 2)`` px), rendered again from its seed."""
    from deepbehavior.synthetic import mice as synthetic

    truth = synthetic.render_session(out / f"check{i}.mp4", frames=300, width=320, height=240, fps=30.0, seed=i)
    return truth.poses["position"].isel(individuals=0).transpose("time", "keypoints", "space").values


# Thresholds (px, median over a session's 300 frames), about twice what the demo measured on
# 2026-11-30 (10 epochs: 0.67-0.96 px, the paw 1.7-1.9 px, but the body 1.9-2.7 px in a later run;
# 20 epochs, the default since: 0.7-1.0 px for every part; README, "What was measured"); the mouse is ~85 px
# from nose to tail tip in its 320 x 240 frames. The simplest baseline, every part put on the found
# body centre, is 13-49 px off for all but the body.
MEDIAN_ERROR_PX = {"nose": 2.0, "head": 2.0, "body": 1.5, "tailbase": 2.0, "tailtip": 2.0, "paw": 4.0}


def test_every_keypoint_is_within_a_few_pixels_of_ground_truth(demo):
    from deepbehavior.synthetic import mice as synthetic

    out, _ = demo
    summary = pd.read_csv(out / "tables" / "summary.csv")
    assert len(summary) == 2 and set(summary["group"]) == {"control", "treated"}
    assert (summary["missing_fraction"] < 0.05).all()
    report = json.loads((out / "demo_report.json").read_text())
    for i, session in enumerate(("m01_day1", "m02_day1")):
        # the error computed here from the store and the closed-form truth, not taken from the demo's tables
        ds = xr.open_zarr(out / "stores" / f"{session}.zarr")
        predicted = ds["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
        truth = _truth(out, i)
        error = np.linalg.norm(predicted - truth, axis=-1)  # (time, keypoints)
        assert np.isfinite(error).all(axis=1).mean() > 0.95  # the mouse found in nearly every frame
        for j, name in enumerate(synthetic.KEYPOINTS):
            median = np.nanmedian(error[:, j])
            assert median < MEDIAN_ERROR_PX[name], (session, name, median)
            assert summary.loc[i, f"median_error_{name}_px"] == pytest.approx(median, rel=1e-6)
            # the baseline of a user who only found the animal: every part on the body centre
            if name != "body":
                baseline = np.median(np.linalg.norm(truth[:, j] - truth[:, synthetic.KEYPOINTS.index("body")], axis=-1))
                assert median < baseline / 4, (session, name, median, baseline)
        assert summary.loc[i, "median_centre_error_px"] == pytest.approx(summary.loc[i, "median_error_body_px"])
    assert report["median_centre_error_px"] == pytest.approx(summary["median_centre_error_px"].median())
    assert report["median_keypoint_error_px"] == pytest.approx(
        {name: summary[f"median_error_{name}_px"].median() for name in synthetic.KEYPOINTS})


def test_speed_and_path_length_match_the_body_truth(demo):
    """Issue #15: against the exact body path, the demo overestimated speed and path by 10-11 %
    (its truth was the box centre); now both are within 3 % of the body's true ones."""
    from deepbehavior.synthetic import mice as synthetic

    out, _ = demo
    summary = pd.read_csv(out / "tables" / "summary.csv")
    # The truth is the closed-form body path, not anything the pipeline computed.
    for i, row in summary.iterrows():
        truth = synthetic.render_session(out / "check.mp4", frames=300, width=320, height=240, fps=30.0, seed=i)
        body = truth.poses["position"].sel(keypoints="body").isel(individuals=0).values
        np.testing.assert_allclose(row["true_mean_speed"], truth.speed[:, 0].mean(), rtol=1e-9)
        steps = np.linalg.norm(np.diff(body, axis=0), axis=1).sum()
        assert row["true_path_length"] == pytest.approx(steps, rel=2e-3)
    relative_speed_error = summary["median_speed_error"] / summary["true_mean_speed"]
    assert (relative_speed_error < 0.25).all(), relative_speed_error.tolist()
    assert np.allclose(summary["mean_speed"], summary["true_mean_speed"], rtol=0.03), summary["mean_speed_error_pct"]
    assert np.allclose(summary["path_length"], summary["true_path_length"], rtol=0.03), \
        summary["path_length_error_pct"]


def test_stores_open_with_xarray_and_are_complete(demo):
    from deepbehavior.synthetic import mice as synthetic

    out, _ = demo
    for session in ("m01_day1", "m02_day1"):
        ds = xr.open_zarr(out / "stores" / f"{session}.zarr")
        assert ds["position"].dims == ("time", "space", "keypoints", "individuals") and str(ds["view"].values) == "top"
        assert ds.attrs["ds_type"] == "poses" and list(ds["keypoints"].values) == list(synthetic.KEYPOINTS)
        assert ds.sizes["time"] == 300 and ds.attrs["fps"] == 30.0
        assert ds.attrs["provenance"]["versions"]["torch"]
        assert ds.attrs["provenance"]["inputs"][0]["size_bytes"] > 0
        done = out / "stores" / f"{session}.zarr.progress" / "done"
        assert sorted(p.name for p in done.iterdir()) == [f"top.{i}" for i in range(3)]
        table = pd.read_csv(out / "tables" / f"{session}_kinematics.csv")
        assert list(table.columns) == ["frame", "time_s", "x", "y", "vx", "vy", "ax", "ay", "speed"]
        for figure in ("trajectory", "speed"):
            assert (out / "figures" / f"{session}_{figure}.png").stat().st_size > 10_000
