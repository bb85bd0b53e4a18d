"""``infer`` checks videos, images and weights before any cluster starts (issue #15)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepbehavior.synthetic import mice as synthetic
from deepbehavior.cohort import ManifestError
from deepbehavior.config import PredictConfig
from jobs.infer import InferJob
from deepbehavior.video import VideoError


def random_yolo(path):
    """A nano detector with seeded random weights, saved as ultralytics saves trained ones."""
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    YOLO("yolo11n.yaml").save(path)
    return path


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    video = synthetic.render_session(folder / "v.mp4", frames=20, width=96, height=64, seed=0, noise=0).video
    return folder, video, random_yolo(folder / "random.pt")


@pytest.fixture()
def no_cluster(monkeypatch):
    """Any start of Ray fails the test: every check here must come before it."""
    import deepbehavior.runtime.environment
    import jobs.infer

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started before the inputs were checked")

    monkeypatch.setattr(deepbehavior.runtime.environment, "start_ray", refuse)
    return jobs.infer.main.run


def _job(tmp_path, videos, weights, **model):
    # runner=ray: these tests check that everything is checked before Ray starts (the default runs
    # a short job in-process, without Ray)
    return InferJob(out=str(tmp_path / "out"), videos=[str(v) for v in videos], runner="ray",
                    model=PredictConfig(weights=str(weights), imgsz=96, **model))


def test_a_text_file_named_mp4_is_refused_without_suggesting_a_rerun(material, tmp_path, no_cluster):
    _, _, weights = material
    text = tmp_path / "notes.mp4"
    text.write_text("these are my notes, not a video\n" * 50)
    other = tmp_path / "empty.mp4"
    other.write_bytes(b"")
    with pytest.raises(VideoError) as error:
        no_cluster(_job(tmp_path, [text, other], weights))
    message = str(error.value)
    assert str(text) in message and "could not be opened" in message and "\n" not in message
    assert "(and 1 more sessions with unreadable videos)" in message
    assert "rerun" not in message
    assert not (tmp_path / "out" / "stores").exists()


def test_an_unreadable_video_is_named_before_the_cluster_and_the_others_run(material, tmp_path, monkeypatch, capsys):
    """With a readable video beside it, the bad one's session is reported at once, before Ray
    starts, and the readable one goes on (stopped here at the start of Ray)."""
    import deepbehavior.runtime.environment
    import jobs.infer

    _, video, weights = material
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)

    class Started(Exception):
        pass

    def start(*args, **kwargs):
        raise Started

    monkeypatch.setattr(deepbehavior.runtime.environment, "start_ray", start)
    with pytest.raises(Started):
        jobs.infer.main.run(_job(tmp_path, [video, text], weights))
    assert "notes_s1: unreadable video, skipped: Expected a video OpenCV can decode" in capsys.readouterr().out


def test_a_photo_is_refused_not_an_empty_store(material, tmp_path, no_cluster):
    """Issue #15: ``videos=[photo.jpg]`` exited 0 with a store of no frames."""
    _, _, weights = material
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), np.full((64, 96, 3), 120, np.uint8))
    with pytest.raises(ManifestError, match=r"photo.jpg, but got a still image \(.jpg\); make a video"):
        no_cluster(_job(tmp_path, [photo], weights))


def test_a_folder_of_images_is_refused_with_how_to_make_a_clip(material, tmp_path, no_cluster):
    _, _, weights = material
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((64, 96, 3), 10 * i, np.uint8))
    with pytest.raises(ManifestError, match="but got a folder of 3 images; make a video of the images first"):
        no_cluster(_job(tmp_path, [frames], weights))


def test_weights_that_are_not_a_model_give_one_line_naming_the_file(material, tmp_path, no_cluster):
    """Issue #15: a .pt that is not a model failed with the bare error ``'backbone'``."""
    import torch

    _, video, _ = material
    not_models = {"state_dict.pt": torch.nn.Linear(2, 2).state_dict(),
                  "wrapped_module.pt": {"model": torch.nn.Linear(2, 2)},
                  "text.pt": None}
    for name, content in not_models.items():
        path = tmp_path / name
        if content is None:
            path.write_text("not a checkpoint")
        else:
            torch.save(content, path)
        with pytest.raises(ValueError) as error:
            no_cluster(_job(tmp_path, [video], path))
        message = str(error.value)
        assert message.startswith(f"Expected an ultralytics detection or pose model in {path}, but "), message
        assert "\n" not in message


def test_mediapipe_with_too_many_people_is_refused_before_the_cluster(material, tmp_path, no_cluster):
    _, video, _ = material
    job = InferJob(out=str(tmp_path / "out"), videos=[str(video)], runner="ray",
                   model=PredictConfig(backend="mediapipe", max_individuals=99))
    with pytest.raises(ValueError, match=r"max_individuals in \[1, 16\] for the mediapipe people backend"):
        no_cluster(job)


def test_a_real_video_is_probed_with_its_true_size(shared_data):
    from deepbehavior.video import probe_videos

    video = shared_data / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
    info = probe_videos([video, video])  # each video once
    assert list(info) == [str(video)]
    found = info[str(video)]
    assert (found.frames, found.width, found.height) == (2330, 640, 480)
    assert found.fps == pytest.approx(30.0, rel=1e-4)  # the container says 30.0003


def test_an_unreadable_video_fails_its_session_typed_and_the_job_exits_1(material, tmp_path, capsys):
    """The same failure record and exit rule as every cohort job: the readable session's store is
    written, the unreadable one is named (kind input) on stderr and in the report, status 1; a rerun
    leaves the finished store alone."""
    import json

    import jobs.infer
    from deepbehavior import store

    _, video, weights = material
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 50)
    job = InferJob(out=str(tmp_path / "out"), videos=[str(video), str(text)], runner="local",
                   model=PredictConfig(weights=str(weights), imgsz=96, conf=0.0))
    for attempt in range(2):
        with pytest.raises(SystemExit) as exit_info:
            jobs.infer.main.run(job)
        assert exit_info.value.code == 1
        report = tmp_path / "out" / "infer_report.json"
        failures = json.loads(report.read_text())["failures"]
        assert [(f["session"], f["kind"], f["stage"], f["view"], f["unreadable"]) for f in failures] == [
            ("notes_s1", "input", "infer", "*", True)]
        assert "Expected a video OpenCV can decode" in failures[0]["error"]
        err = capsys.readouterr().err.strip().splitlines()
        assert err[-2].startswith("deepbehavior infer: session notes_s1 failed (input; view=* start=0 stop=0 "
                                  "unreadable=True): ") and err[-2].endswith(f"report: {report}")
        assert err[-1].startswith("deepbehavior infer: error: 1 of 2 sessions failed: notes_s1; fix their inputs")
        good = next((tmp_path / "out" / "stores").glob("*.zarr"))
        assert store.is_complete(good) and open_done(good) == 20
        if attempt == 0:
            written = (good / "zarr.json").stat().st_mtime_ns
    assert (good / "zarr.json").stat().st_mtime_ns == written  # the finished store was not redone


def open_done(path) -> int:
    from deepbehavior.store import open_store

    return open_store(path).sizes["time"]


def test_the_local_runner_loads_the_model_once_and_refuses_bad_weights_before_any_work(material, tmp_path,
                                                                                         monkeypatch):
    """The in-process runner runs the very predictor the job loaded to check the weights: one load
    (each costs most of a CPU-second), and weights that are not a model still fail in one line before
    a store or the videos' cohort is written."""
    import jobs.infer
    from deepbehavior import store
    from deepbehavior.runtime import inference, stages

    loads = []
    real = stages.load_backend

    def counting(name):
        loads.append(name)
        return real(name)

    monkeypatch.setattr(stages, "load_backend", counting)
    monkeypatch.setattr(inference, "load_backend", counting)
    _, video, weights = material
    job = InferJob(out=str(tmp_path / "out"), videos=[str(video)], runner="local",
                   model=PredictConfig(weights=str(weights), imgsz=96, conf=0.0))
    jobs.infer.main.run(job)
    assert loads == ["yolo"]
    assert store.is_complete(next((tmp_path / "out" / "stores").glob("*.zarr")))

    bad = tmp_path / "text.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ValueError) as error:
        jobs.infer.main.run(InferJob(out=str(tmp_path / "bad"), videos=[str(video)], runner="local",
                                     model=PredictConfig(weights=str(bad), imgsz=96)))
    assert str(error.value).startswith(f"Expected an ultralytics detection or pose model in {bad}, but ")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "bad").exists()


def test_only_torch_backends_look_for_a_gpu(monkeypatch):
    # importing torch to ask for CUDA costs seconds; a MediaPipe job runs on the CPU whatever the machine has
    import jobs.infer

    asked = []
    monkeypatch.setattr(jobs.infer, "_cuda_available", lambda: asked.append(True) or True)
    cfg = InferJob(out="unused", videos=["v.mp4"], model=PredictConfig(backend="mediapipe"))
    assert jobs.infer.pick_runner(cfg, [], "mediapipe") == "local" and not asked
    cfg = InferJob(out="unused", videos=["v.mp4"], model=PredictConfig(backend="yolo", weights="w.pt"))
    assert jobs.infer.pick_runner(cfg, [], "yolo") == "local" and asked  # a GPU, but a short job: still local
