"""Two-camera human 3D end to end, as a user runs it: calibration + 2D poses of both views →
``deepbehavior triangulate`` → ``deepbehavior analyze measures=[human]`` → the reaching measures.

There is no real two-camera recording of a person here, so the 2D poses come from
:mod:`deepbehavior.synthetic.human_reach`: a person whose arm angles and wrist path are known in closed
form, filmed by a distorted two-camera rig, with pixel noise, dropouts and outlier frames. The
"pose from both views" step is also run once with the real pretrained backend on real photos; the
two photos are not views of one scene, so only the plumbing is checked there, not the geometry.
"""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from deepbehavior.synthetic import human_reach as synthetic_human
from deepbehavior.analysis.human import filter_confidence_sd
from deepbehavior.config import HumanConfig
from jobs.analyze import AnalyzeJob
from deepbehavior.models.pose_layout import KEYPOINT_NAMES
from deepbehavior.store import is_complete, open_store

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
MOVIE_FRAMES = 10


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The synthetic session, triangulated with the CLI, then analysed with the analyze job."""
    root = tmp_path_factory.mktemp("human3d")
    paths = synthetic_human.write_session(root / "session", noise_px=1.0, dropout=0.02,
                                          outlier_frames=(20, 45, 62, 90), outlier_px=60.0, seed=0)
    stores = root / "stores3d"
    result = subprocess.run(
        [sys.executable, "-m", "deepbehavior.cli", "triangulate", f"out={stores}", f"store={paths['store']}",
         f"calibration={paths['calibration']}", "name=sub01_reach.zarr"],
        capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    from jobs.analyze import main as analyze

    # A short movie: rendering 3D frames with Matplotlib costs ~0.3 s each on this CPU.
    analyze.run(AnalyzeJob(out=str(root / "analysis"), cohort=str(paths["cohort"]), stores=str(stores),
                           measures=["human"], figures=False, human=HumanConfig(k=3.0, side="R"),
                           movie=True, movie_frames=MOVIE_FRAMES))
    return {**paths, "root": root, "stores": stores, "stdout": result.stdout}


def test_two_view_store_is_written_as_infer_writes_it(session):
    ds = open_store(session["store"])
    assert is_complete(session["store"])
    assert list(ds["view"].values) == ["cam1", "cam2"]
    assert list(ds["keypoints"].values) == list(KEYPOINT_NAMES)
    assert ds.attrs["model"]["layout"] == "openpose_body25_hands" and ds.attrs["individuals_are"] == "slots"
    assert ds.attrs["session"] == "sub01_reach" and set(ds.attrs["videos"]) == {"cam1", "cam2"}


def test_triangulated_store_recovers_the_skeleton(session):
    ds3 = open_store(session["stores"] / "sub01_reach.zarr").load()
    truth = synthetic_human.human_reach_3d()
    got = ds3["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
    want = truth["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
    error = np.linalg.norm(got - want, axis=-1)
    # 1 px of noise at 3 m with f = 900 px is ~3.3 mm across the view and ~2x that in depth.
    assert np.nanmedian(error) < 6.0
    assert "median reprojection error" in session["stdout"]
    assert (session["stores"] / "trajectories3d.png").read_bytes()[:4] == b"\x89PNG"


def test_confidence_filter_drops_exactly_the_injected_outliers(session):
    ds3 = open_store(session["stores"] / "sub01_reach.zarr").load()
    outliers = json.loads(session["truth"].read_text())["outliers"]
    assert len(outliers) == 12
    truth = synthetic_human.human_reach_3d()["position"].isel(individuals=0)
    raw = ds3["position"].isel(individuals=0)
    kept = filter_confidence_sd(ds3, k=3.0)["position"].isel(individuals=0)
    for o in outliers:
        def at(array, o=o):  # the outlier's frame number picks the row: time is in seconds
            return array.isel(time=o["frame"]).sel(keypoints=o["keypoint"]).values

        # Each was a real outlier in 3D (the noise leaves ~4 mm; the low weight of the bad view
        # in the triangulation keeps some outliers as close as ~20 mm), and the filter removed it.
        assert int(ds3["frame"].values[o["frame"]]) == o["frame"]
        assert float(np.linalg.norm(at(raw) - at(truth))) > 15.0, o
        assert np.isnan(at(kept)).all(), o
    dropped = raw.notnull().all("space") & kept.isnull().any("space")
    assert int(dropped.sum()) == len(outliers)  # and nothing else


def test_human_measures_match_the_closed_form(session):
    table = pd.read_csv(session["root"] / "analysis" / "measures.csv")
    assert set(table["session"]) == {"reach"} and set(table["unit"]) >= {"deg", "mm", "mm/s"}
    got = {m.removeprefix("human."): v for m, v in zip(table["measure"], table["value"])}
    want = json.loads(session["truth"].read_text())["measures"]
    # Tolerances from the noise: after triangulation (~4 mm) and robust smoothing (~2 mm left,
    # measured) a 260-300 mm arm segment turns by ~0.5 deg; extremes pick the largest such error
    # (x3), and the 92 mm hand segment of the wrist angle by three times more.
    for name in ("shoulder", "elbow", "knee"):
        assert got[f"{name}_angle_mean"] == pytest.approx(want[f"{name}_angle_mean"], abs=0.5)
        assert got[f"{name}_angle_min"] == pytest.approx(want[f"{name}_angle_min"], abs=2.0)
        assert got[f"{name}_angle_max"] == pytest.approx(want[f"{name}_angle_max"], abs=2.0)
    assert got["wrist_angle_mean"] == pytest.approx(want["wrist_angle_mean"], abs=1.0)
    assert got["wrist_angle_min"] == pytest.approx(want["wrist_angle_min"], abs=4.0)
    assert got["wrist_angle_max"] == pytest.approx(want["wrist_angle_max"], abs=4.0)
    # What jitter the smoothing leaves can only lengthen the path: ~2 mm of residual error over
    # 119 steps adds 5-9 % to the 680 mm path (measured over seeds); outliers left in would add
    # 150-400 mm each.
    assert want["wrist_path_length"] * 0.98 < got["wrist_path_length"] < want["wrist_path_length"] * 1.12
    assert want["wrist_speed_mean"] * 0.98 < got["wrist_speed_mean"] < want["wrist_speed_mean"] * 1.12
    # The peak is where the arm moves fastest and jitter matters least (within 4 % over seeds).
    assert got["wrist_speed_peak"] == pytest.approx(want["wrist_speed_peak"], rel=0.06)


def test_analyze_draws_the_rotating_skeleton_movie(session):
    from deepbehavior.video import probe

    info = probe(session["root"] / "analysis" / "videos" / "sub01_reach_skeleton3d.mp4")
    assert info.frames == MOVIE_FRAMES


@pytest.mark.skipif(importlib.util.find_spec("mediapipe") is None, reason="needs mediapipe==0.10.21")
def test_mediapipe_infers_both_views_of_a_two_camera_session(tmp_path):
    """Real photos of people as the two views of one session: the store has both views, in the
    OpenPose layout, with each view's people found inside that view's frame."""
    from deepbehavior.config import PredictConfig, RayConfig, StoreConfig
    from jobs.infer import InferJob
    from deepbehavior.video import write_video
    from jobs.infer import main as infer

    assets = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
    sizes = {"cam1": (480, 640), "cam2": (640, 360)}  # bus.jpg is portrait, zidane.jpg landscape
    videos = {}
    for view, name in (("cam1", "bus.jpg"), ("cam2", "zidane.jpg")):
        photo = cv2.resize(cv2.imread(str(assets / name)), sizes[view])
        videos[view] = str(write_video(tmp_path / f"{view}.mp4", [photo] * 3, fps=10))
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text(yaml.safe_dump({"sessions": [{"subject": "p01", "session": "s1", "videos": videos}]}))
    infer.run(InferJob(out=str(tmp_path / "out"), cohort=str(manifest), model=PredictConfig(backend="mediapipe",
              batch_size=3), store=StoreConfig(chunk=3), ray=RayConfig(num_cpus=2)))
    ds = open_store(tmp_path / "out" / "stores" / "p01_s1.zarr")
    assert list(ds["view"].values) == ["cam1", "cam2"]
    assert list(ds["keypoints"].values) == list(KEYPOINT_NAMES)
    assert ds.attrs["model"]["backend"] == "mediapipe_holistic"
    for view, (width, height) in sizes.items():
        position = ds["position"].sel(view=view).isel(individuals=0)
        for name in ("Nose", "RShoulder", "LShoulder"):
            x, y = position.sel(keypoints=name).transpose("space", "time").values
            assert np.isfinite(x).all() and ((x >= 0) & (x < width) & (y >= 0) & (y < height)).all(), (view, name)
        # Facing the camera, a person's right shoulder is on the image's left.
        assert (position.sel(keypoints="RShoulder", space="x") < position.sel(keypoints="LShoulder", space="x")).all()
