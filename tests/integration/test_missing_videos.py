"""A missing, unreadable or truncated video fails its own session; the rest of the cohort runs."""

import cv2
import numpy as np
import pytest

from deepbehavior import store, synthetic
from deepbehavior.cohort import Cohort, Session, load_cohort, write_cohort
from deepbehavior.config import RayConfig
from deepbehavior.runtime.environment import start_ray, stop_ray
from deepbehavior.runtime.inference import infer_cohort


def random_yolo(path):
    """A YOLO model with seeded random weights (tests.helpers is shadowed by a site-packages 'tests')."""
    from deepbehavior.runtime.environment import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    YOLO("yolo11n.yaml").save(path)
    return path


@pytest.mark.timeout(600)
def test_bad_videos_fail_their_sessions_only(tmp_path, capfd):
    good = synthetic.render_session(tmp_path / "good.mp4", frames=40, width=96, height=64, seed=0, noise=0).video
    whole = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(whole), cv2.VideoWriter_fourcc(*"MJPG"), 30, (96, 64))
    for i in range(60):
        writer.write(np.full((64, 96, 3), 3 * i, np.uint8))
    writer.release()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    unreadable = tmp_path / "noise.mp4"
    unreadable.write_bytes(b"\x00not a video" * 100)
    sessions = (Session("m0", "g", "d1", {"top": good}), Session("m1", "g", "d1", {"top": tmp_path / "gone.mp4"}),
                Session("m2", "g", "d1", {"top": cut}), Session("m3", "g", "d1", {"top": unreadable}))
    manifest = write_cohort(Cohort("t", ("top",), sessions), tmp_path / "cohort.yaml")
    cohort = load_cohort(manifest, check_files=False)  # as `infer` reads it: the missing video is no refusal
    weights = random_yolo(tmp_path / "random.pt")
    start_ray(RayConfig(num_cpus=2))
    try:
        report = infer_cohort(cohort, tmp_path / "out", backend="yolo", chunk=20, retries=0, printer=lambda m: None,
                              backend_kwargs={"weights": str(weights), "imgsz": 96, "conf": 0.0,
                                              "max_individuals": 1, "threads": 1})
    finally:
        stop_ray()
    _, err = capfd.readouterr()
    failed = {f["session"]: f["error"] for f in report.failures}
    # FFmpeg's messages about the damaged files are in the job's decoder log, not on the console,
    # which has at most one line per damaged file, naming it and the log
    log = tmp_path / "out" / "decoder.log"
    assert "jpeg" in log.read_text().lower()
    for name in ("cut.avi", "noise.mp4"):
        about = [line for line in err.splitlines() if name in line]
        assert len(about) <= 1 and all(str(log) in line for line in about), about
    assert "[mjpeg" not in err and "invalid len" not in err
    assert set(failed) == {"m1_d1", "m2_d1", "m3_d1"}
    assert "gone.mp4" in failed["m1_d1"]
    assert "truncated" in failed["m2_d1"] and "Expected 60 frames" in failed["m2_d1"]
    assert "noise.mp4" in failed["m3_d1"]
    assert store.is_complete(tmp_path / "out" / "stores" / "m0_d1.zarr")
    assert report.frames == 40 and report.shards_done == 2
