"""The cohort table: a tiny cohort of stores with known motion, measured with Dask."""

import numpy as np
import pandas as pd
import pytest
import yaml

from deepbehavior.analysis.measure_settings import MeasureSettings
from deepbehavior.analysis.cohort import analyze_cohort, pivot_measures, write_table
from deepbehavior.cohort import load_cohort
from deepbehavior.config import RegionsConfig, SocialConfig
from deepbehavior.schema import make_poses, select_view
from deepbehavior.store import create_store, regions, write_region

FPS = 10.0
N = 100


def gap_of(kind: str) -> np.ndarray:
    gap = np.full(N, 100.0)
    if kind == "bouts":
        gap[20:50] = 10.0  # 3.0 s from 2.0 s
        gap[80:100] = 20.0  # 2.0 s
    return gap


def poses(kind: str):
    """Animal a walks along y = 5 at 1 px/frame; b keeps a known gap along y."""
    t = np.arange(N, dtype=float)
    a = np.stack([t, np.full(N, 5.0)], axis=1)
    b = a + np.stack([np.zeros(N), gap_of(kind)], axis=1)
    position = np.zeros((N, 2, 3, 2))
    for i, centre in enumerate((a, b)):
        position[:, :, 0, i] = centre + [5.0, 0.0]
        position[:, :, 1, i] = centre
        position[:, :, 2, i] = centre - [5.0, 0.0]
    return make_poses(position, fps=FPS, keypoints=["nose", "body", "tail"], individuals=["a", "b"])


def write_store(path, ds, chunk=40):
    create_store(path, ds, chunk=chunk)
    for region in regions(path):
        write_region(path, select_view(ds, region.view).isel(time=slice(region.start, region.stop)), region)


def make_cohort(tmp_path, kinds=(("m01", "control", "bouts", None), ("m02", "control", "apart", None),
                                 ("m03", "treated", "bouts", 0.5))):
    entries = []
    for subject, group, kind, pixel in kinds:
        entry = {"subject": subject, "group": group, "session": "d1", "videos": {"top": f"{subject}.mp4"}}
        if pixel:
            entry["pixel_size_mm"] = pixel
        entries.append(entry)
        write_store(tmp_path / "stores" / f"{subject}_d1.zarr", poses(kind))
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"cohort": "tiny", "sessions": entries}))
    return manifest


SETTINGS = MeasureSettings(
    measures=("locomotion", "regions", "social"),
    regions=RegionsConfig(regions={"left": [10, 0, 30, 10], "right": [50, 0, 60, 10]}, keypoint="body",
                          individual="a"),
    social=SocialConfig(threshold=50.0, min_duration_s=0.5, centre="body"),
)


def test_table_rows_and_values(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path), check_files=False)
    table = analyze_cohort(cohort, tmp_path / "stores", SETTINGS, workers=2)
    assert list(table.columns) == ["subject", "group", "session", "measure", "value", "unit", "flag"]
    # In "bouts" b teleports 90 px in a frame (the gap switches) while walking 1 px a frame: flagged
    # for every row of the session, naming b and the frames; steady "apart" motion is not.
    flags = table.groupby("subject")["flag"].unique().to_dict()
    assert list(flags["m02"]) == [""]
    for subject in ("m01", "m03"):
        assert len(flags[subject]) == 1 and flags[subject][0].startswith("implausible speed (b: ")
        assert "a:" not in flags[subject][0]
    per_session = table.groupby("subject").size()
    assert per_session.to_dict() == {"m01": 18, "m02": 18, "m03": 18}  # 4 locomotion + 5 regions + 9 social
    assert not table.duplicated(["subject", "session", "measure"]).any()

    def value(subject, measure):
        row = table[(table.subject == subject) & (table.measure == measure)]
        assert len(row) == 1, (subject, measure)
        return row.iloc[0]

    assert value("m01", "social.interaction_count").value == 2
    assert value("m01", "social.interaction_time").value == pytest.approx(5.0)
    assert value("m01", "social.interaction_latency").value == pytest.approx(2.0)
    assert value("m02", "social.interaction_count").value == 0
    assert value("m01", "regions.time_in_left").value == pytest.approx(2.0)
    assert value("m01", "regions.entries_right").value == 1
    assert value("m01", "locomotion.distance_a").value == pytest.approx(99.0)
    assert value("m01", "locomotion.distance_a").unit == "px"
    # m03 has 0.5 mm pixels: locomotion in mm, regions/social stay in px as configured.
    assert value("m03", "locomotion.distance_a").value == pytest.approx(49.5)
    assert value("m03", "locomotion.distance_a").unit == "mm"
    assert value("m03", "locomotion.speed_mean_a").value == pytest.approx(5.0)
    assert value("m03", "locomotion.speed_mean_a").unit == "mm/s"
    assert value("m03", "regions.time_in_left").unit == "s"
    assert set(table[table.subject == "m03"].group) == {"treated"}


def test_write_table_parquet_and_csv_agree(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path, kinds=(("m01", "control", "bouts", None),)), check_files=False)
    table = analyze_cohort(cohort, tmp_path / "stores", SETTINGS, workers=1)
    parquet, csv = write_table(table, tmp_path / "out")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), table)
    back = pd.read_csv(csv, dtype={"subject": str, "group": str, "session": str})
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    assert not list((tmp_path / "out").glob(".*partial"))
    wide = pivot_measures(table)
    assert wide.loc[0, "social.interaction_count"] == 2


def test_missing_store_and_mm_without_pixel_size_are_named(tmp_path):
    cohort = load_cohort(make_cohort(tmp_path, kinds=(("m01", "control", "bouts", None),)), check_files=False)
    with pytest.raises(FileNotFoundError, match="m01_d1"):
        analyze_cohort(cohort, tmp_path / "elsewhere", SETTINGS)
    settings = MeasureSettings(measures=("social",), social=SocialConfig(unit="mm"))
    with pytest.raises(ValueError, match="pixel_size_mm for session m01_d1"):
        analyze_cohort(cohort, tmp_path / "stores", settings)


def test_reaching_and_human_families_on_a_3d_store(tmp_path):
    """One 3D session: a single straight reach (Gaussian speed) by the right wrist, elbow held at 90 degrees."""
    from scipy.stats import norm

    from deepbehavior.config import HumanConfig, ReachingConfig

    n, fps = 200, 100.0
    t = np.arange(n) / fps
    reach = 30.0 * norm.cdf((t - 1.0) / 0.1)  # mm along x
    position = np.zeros((n, 3, 3, 1))
    position[:, :, 0, 0] = [0.0, 0.0, 0.0]                      # RShoulder
    position[:, 0, 1, 0], position[:, 1, 1, 0] = reach, -100.0  # RElbow below the shoulder, moving
    position[:, 0, 2, 0], position[:, 1, 2, 0] = reach + 80.0, -100.0  # RWrist: forearm along x
    position[:, 0, 0, 0] = reach                                 # the shoulder moves with the arm
    ds = make_poses(position, fps=fps, keypoints=["RShoulder", "RElbow", "RWrist"], space=["x", "y", "z"])
    write_store(tmp_path / "stores" / "h01_d1.zarr", ds.assign_attrs(space_unit="mm"), chunk=80)
    manifest = tmp_path / "c.yaml"
    manifest.write_text(yaml.safe_dump({"sessions": [{"subject": "h01", "session": "d1", "videos": {"view0": "x.mp4"}}]}))
    settings = MeasureSettings(measures=("reaching", "human"),
                               reaching=ReachingConfig(keypoint="RWrist", start_speed=60.0, stop_speed=20.0),
                               human=HumanConfig(smooth=False))
    table = analyze_cohort(load_cohort(manifest, check_files=False), tmp_path / "stores", settings)
    get = table.set_index("measure")
    assert get.loc["reaching.reach_count", "value"] == 1
    peak = 30.0 / (0.1 * np.sqrt(2 * np.pi))
    assert get.loc["reaching.reach_peak_speed_mean", "value"] == pytest.approx(peak, rel=0.01)
    assert get.loc["reaching.reach_peak_speed_mean", "unit"] == "mm/s"
    assert get.loc["human.elbow_angle_mean", "value"] == pytest.approx(90.0, abs=1e-3)
    assert get.loc["human.wrist_path_length", "value"] == pytest.approx(30.0 * (norm.cdf(10) - norm.cdf(-10)), rel=1e-3)
    assert "human.knee_angle_mean" not in get.index  # no leg keypoints: left out
