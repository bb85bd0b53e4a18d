"""Messages name the real key, file and value (issue 31): each message path with its exact text, where it can
be reached without running a whole job (tests/integration/test_job_messages.py runs the jobs themselves)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import pytest

from deepbehavior.cli import jobs_package


def _jobs(name: str):
    return importlib.import_module(f"{jobs_package().__name__}.{name}")


# -------------------------------------------------------------------------------- a list given one value

def test_a_list_setting_given_one_value_becomes_that_list():
    hydra = _jobs("_hydra")
    schema = _jobs("infer").main.schema
    assert hydra.lists_as_given(schema, ["out=o", "videos=a.mp4", "model.imgsz=320"]) == \
        ["out=o", "videos=[a.mp4]", "model.imgsz=320"]
    assert hydra.lists_as_given(schema, ["videos=a.mp4,b.mp4"]) == ["videos=[a.mp4,b.mp4]"]
    # what Hydra reads itself is left to it: lists, null, interpolations, sweeps, settings that are no list
    kept = ["videos=[a.mp4]", "videos=null", "videos=${oc.env:V}", "cohort=c.yaml", "model.weights=w.pt"]
    assert hydra.lists_as_given(schema, kept) == kept
    assert hydra.lists_as_given(schema, ["-m", "videos=a.mp4,b.mp4"]) == ["-m", "videos=a.mp4,b.mp4"]
    frames = _jobs("frames").main.schema  # nested and optional lists too
    assert hydra.lists_as_given(frames, ["stores=s.zarr"]) == ["stores=[s.zarr]"]
    triangulate = _jobs("triangulate").main.schema
    assert hydra.lists_as_given(triangulate, ["triangulate.views=front"]) == ["triangulate.views=[front]"]


# -------------------------------------------------------------------------------- the demo's two rates

def test_the_demo_says_both_rates_and_the_steady_one_is_the_progress_lines():
    from deepbehavior.runtime.inference import Progress, RunReport

    lines = []
    progress = Progress({"s1": 100}, every=0.0, printer=lines.append)
    progress.add("s1", 10)
    time.sleep(0.05)
    progress.add("s1", 40)
    last = progress.line()
    report = RunReport(frames=50, seconds=10.0, shards_done=1, failures=[], steady_fps=progress.rate)
    line = _jobs("demo").rate_line(report)
    steady = f"{progress.rate:.1f}"
    assert f"{steady} frames/s," in last  # the number the console showed
    assert line == (f"inference: 50 frames in 10.0 s, 5.0 frames/s end to end (start-up and model loading "
                    f"included; inference_frames_per_s in the report), {steady} frames/s from the first "
                    f"predictions on (the progress lines' rate; inference_steady_frames_per_s)")


# -------------------------------------------------------------------------------- calibrate check=true

def test_calibrate_check_does_not_send_the_user_to_itself():
    from deepbehavior.geometry.calibration import Board
    from deepbehavior.geometry.calibration_check import TWO_CAMERAS_NOTE_IN_CHECK, check_calibration
    from deepbehavior.geometry.diagnostics import TWO_CAMERAS_NOTE
    from deepbehavior.synthetic.camera_rigs import board_detections, perturb_camera, ring_rig

    board = Board(kind="charuco", columns=8, rows=6, square_size=24.0, marker_size=18.0)
    rig = ring_rig(4)
    detections, _ = board_detections(rig, board, frames=12, noise=0.3, seed=4)
    wrong = perturb_camera(rig, 1, "shift")
    result = check_calibration(wrong, detections, board)
    (line,) = result["warnings"]
    assert "camera cam1" in line and "check=true" not in line
    assert "its calibration is probably wrong: recalibrate, or leave it out with triangulate.views=[cam0,cam2,cam3]" \
        in line
    two = check_calibration(rig.subset(["cam0", "cam1"]), {n: detections[n] for n in ("cam0", "cam1")}, board)
    assert two["note"] == TWO_CAMERAS_NOTE_IN_CHECK and "check=true" not in two["note"]
    assert "deepbehavior calibrate check=true" in TWO_CAMERAS_NOTE  # where triangulate says it, it is advice


# -------------------------------------------------------------------------------- mediapipe not installed

def test_mediapipe_missing_is_one_line_with_the_command_to_run(monkeypatch):
    import importlib.util

    from deepbehavior.config import PredictConfig
    from deepbehavior.models import mediapipe_pose
    from deepbehavior.runtime.stages import predictor_kwargs

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mediapipe" else real(name, *a))
    expected = ('Expected the mediapipe package for model.backend=mediapipe, but it is not installed; install it '
                'with: pip install --no-deps "mediapipe==0.10.21" (--no-deps: its declared numpy<2, protobuf<5 and '
                "opencv-contrib-python would replace this installation's own)")
    with pytest.raises(ValueError) as raised:
        predictor_kwargs(PredictConfig(backend="mediapipe"))
    assert str(raised.value) == expected and "\n" not in expected
    with pytest.raises(ValueError, match="mediapipe package"):
        mediapipe_pose.MediaPipeHolisticPredictor()
    setup = (Path(__file__).resolve().parents[2] / "scripts" / "setup.sh").read_text()
    assert mediapipe_pose.INSTALL.split("install ", 1)[1] in setup  # setup.sh installs it the same way


# -------------------------------------------------------------------------------- import: an assumed rate

def test_the_assumed_rate_warning_names_the_file_the_rate_and_the_keys():
    job = _jobs("import_files")
    one = job.assumed_rate_warning([Path("flies.h5")])
    assert one == ("deepbehavior import: warning: frame rate unknown for flies.h5: the file does not record it and "
                   "neither fps= nor video= was given, so 30 frames/s is assumed (times in seconds depend on it); "
                   "pass fps=RATE or video=VIDEO")
    assert "flies.h5 (and 2 more files):" in job.assumed_rate_warning([Path("flies.h5"), Path("b"), Path("c")])
