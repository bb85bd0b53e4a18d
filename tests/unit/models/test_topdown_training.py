"""Top-down keypoints, trained for real but tiny: a few epochs on a handful of synthetic triangles (known
corners), in one process. Checks the loop learns, writes loadable checkpoints, resumes, fine-tunes
from its own checkpoint, predicts through the inference interface, and that the config picks it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from deepbehavior.config import TopDownConfig, TrainConfig
from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset
from deepbehavior.models.topdown import is_checkpoint, load_checkpoint
from deepbehavior.models.topdown_predictor import TopDownPredictor
from deepbehavior.models.topdown_train import TopDownSpec, load_matching, read_split, train_topdown
from deepbehavior.models.yolo_train import LocalSession, LoopSpec, make_spec

TINY = {"crop_size": 48, "centroid_size": 64, "width": 8, "window": 0.0, "margin": 0.1}


@pytest.fixture(scope="module")
def triangles(tmp_path_factory):
    return write_synthetic_dataset(tmp_path_factory.mktemp("tri"), kind="pose", images=12, val_images=3, size=64)


def _spec(data, out, **kwargs):
    values = dict(data=str(data), out=str(out), settings=TINY, epochs=3, samples_per_epoch=48, batch=8,
                  lr=3e-3, patience=10, threads=1)
    values.update(kwargs)
    return TopDownSpec(**values)


@pytest.fixture(scope="module")
def trained(triangles, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    session = LocalSession(storage=out / "checkpoints")
    metrics = train_topdown(_spec(triangles, out), session)
    return out, session, metrics


def test_loop_learns_and_writes_checkpoints(trained):
    out, session, metrics = trained
    table = pd.read_csv(out / "results.csv")
    assert list(table["epoch"]) == [1, 2, 3]
    assert table["train/heatmap_loss"].iloc[-1] < table["train/heatmap_loss"].iloc[0]
    for name in ("kpt_error_px", "kpt_median_px", "pck", "kpt_detected", "cpu_s"):
        assert name in table
    assert is_checkpoint(out / "weights" / "best.pt") and is_checkpoint(out / "weights" / "last.pt")
    model = load_checkpoint(out / "weights" / "best.pt")
    assert model.keypoint_names == ("top", "left", "right") and model.flip_idx == (0, 2, 1)
    assert model.settings.window > 16  # sized from the labels
    assert len(session.reported) == 3 and (out / "checkpoints" / "epoch_0003").is_dir()


def test_rerun_resumes_after_the_last_checkpoint(trained, triangles, capsys):
    out, _, _ = trained
    session = LocalSession(storage=out / "checkpoints")
    train_topdown(_spec(triangles, out, epochs=4), session)
    assert "resuming after epoch 3 of 4" in capsys.readouterr().out
    assert [int(r["epoch"]) for r in session.reported] == [3]
    assert list(pd.read_csv(out / "results.csv")["epoch"]) == [1, 2, 3, 4]


def test_fine_tuning_starts_from_the_checkpoint(trained, triangles, tmp_path):
    out, _, _ = trained
    best = out / "weights" / "best.pt"
    state = torch.load(best, weights_only=True)["state_dict"]
    from deepbehavior.models.topdown import TopDownNet, TopDownSettings

    fresh = TopDownNet(3, TopDownSettings(**{**TINY, "window": 30.0}))
    assert load_matching(fresh, state) == (len(state), len(state))
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in state.items())
    # a model with other body parts keeps every weight but the last layer's
    other = TopDownNet(5, TopDownSettings(**{**TINY, "window": 30.0}))
    kept, total = load_matching(other, state)
    assert kept == total - 2  # the instance head's weight and bias

    scratch = LocalSession(storage=tmp_path / "a")
    train_topdown(_spec(triangles, tmp_path / "scratch", epochs=1, lr=1e-9), scratch)
    tuned = LocalSession(storage=tmp_path / "b")
    train_topdown(_spec(triangles, tmp_path / "tuned", epochs=1, lr=1e-9, init=str(best)), tuned)
    # with a vanishing learning rate, the first epoch shows the starting weights: the trained ones fit better
    assert tuned.reported[0]["train/heatmap_loss"] < 0.95 * scratch.reported[0]["train/heatmap_loss"]


def test_predictor_follows_the_inference_contract(trained, triangles):
    out, _, _ = trained
    predictor = TopDownPredictor(str(out / "weights" / "best.pt"), max_individuals=2, conf=0.0, device="cpu", threads=1)
    description = predictor.describe()
    assert description.kind == "poses" and description.keypoint_names == ("top", "left", "right")
    import pickle

    predictor = pickle.loads(pickle.dumps(predictor))
    from deepbehavior.models.dataset_checks import check_dataset

    split = read_split(check_dataset(triangles).data, "val", 3)
    frames = np.stack(split.images)
    result = predictor({"frames": frames, "frame": np.arange(len(frames))})
    assert "frames" not in result and list(result["frame"]) == [0, 1, 2]
    assert result["keypoints"].shape == (3, 2, 3, 2) and result["keypoint_conf"].shape == (3, 2, 3)
    # with no threshold, slot 0 of every frame holds an animal, and its parts lie in the window around
    # its centre once mapped back to the frame
    assert np.isfinite(result["keypoints"][:, 0]).all()
    raw = predictor.model.predict(frames, max_individuals=2, min_confidence=0.0)
    np.testing.assert_allclose(raw["keypoints"], result["keypoints"])
    offset = np.abs(raw["keypoints"][:, 0] - raw["centre"][:, 0, None, :])
    assert (offset <= predictor.model.settings.window / 2 + 0.5).all()


def test_config_picks_topdown_for_keypoints_and_ultralytics_otherwise(trained, tmp_path):
    out, _, _ = trained
    spec = make_spec(TrainConfig(data="d.yaml"), task="pose", data=tmp_path / "d.yaml", out=tmp_path)
    assert isinstance(spec, TopDownSpec) and spec.init is None
    # the input size is the labels' choice unless set, and a setting travels to the recipe
    assert spec.recipe["crop_size"] == TopDownConfig().crop_size == 0 and "rotation" not in spec.augmentation
    set_ = make_spec(TrainConfig(data="d", topdown=TopDownConfig(crop_size=96, rotation=20.0, flip=False,
                                                                 flip_pairs=["a:b"])), task="pose", data="d", out=tmp_path)
    assert set_.recipe["crop_size"] == 96 and set_.recipe["flip"] is False and set_.recipe["flip_pairs"] == ["a:b"]
    assert set_.augmentation["rotation"] == 20.0
    assert make_spec(TrainConfig(data="d", time=0.25), task="pose", data="d", out=tmp_path).time_s == 900.0
    tuned = make_spec(TrainConfig(data="d", model=str(out / "weights" / "best.pt")), task="pose", data="d",
                      out=tmp_path)
    assert isinstance(tuned, TopDownSpec) and tuned.init == str(out / "weights" / "best.pt")
    bottom_up = make_spec(TrainConfig(data="d", model="yolo11n-pose.yaml"), task="pose", data="d", out=tmp_path)
    assert isinstance(bottom_up, LoopSpec) and bottom_up.model == "yolo11n-pose.yaml"
    detector = make_spec(TrainConfig(data="d"), task="detect", data="d", out=tmp_path)
    assert isinstance(detector, LoopSpec) and detector.model == "yolo11n.yaml"
    with pytest.raises(ValueError, match="Expected a keypoint dataset"):
        make_spec(TrainConfig(data="d", model="topdown"), task="detect", data="d", out=tmp_path)
    with pytest.raises(ValueError, match="train.topdown.crop_size a multiple of 16"):
        TopDownConfig(crop_size=100)
    assert math.isfinite(TopDownConfig().lr)


@pytest.mark.slow
def test_the_recipe_is_printed_and_stored_with_the_model(trained):
    out, _, _ = trained
    import json

    recipe = load_checkpoint(out / "weights" / "best.pt").metadata["recipe"]
    assert recipe["mode"] in ("crop", "frame") and recipe["crop_size"] == TINY["crop_size"]  # a setting wins
    assert set(recipe["reasons"]) >= {"mode", "window", "crop_size", "rotation", "flip_pairs", "flip", "views"}
    assert json.loads((out / "recipe.json").read_text())["crop_size"] == TINY["crop_size"]
    table = pd.read_csv(out / "results.csv")
    assert {"val/collapsed_parts", "val/swapped_pairs"} <= set(table.columns)


@pytest.mark.slow
def test_a_time_budget_stops_training_and_whole_frame_mode_predicts_at_the_fixed_window(triangles, tmp_path, capsys):
    session = LocalSession(storage=tmp_path / "checkpoints")
    train_topdown(_spec(triangles, tmp_path, epochs=5, time_s=0.01, recipe={"mode": "frame"}), session)
    printed = capsys.readouterr().out
    assert "recipe chosen from the labels" in printed and "mode       frame: set" in printed
    assert "time budget" in printed and len(pd.read_csv(tmp_path / "results.csv")) == 1
    model = load_checkpoint(tmp_path / "weights" / "best.pt")
    assert model.settings.centre is not None
    pred = model.predict(np.zeros((2, 64, 64, 3), np.uint8), max_individuals=1)
    np.testing.assert_allclose(pred["centre"][:, 0], np.repeat([model.settings.centre], 2, axis=0), rtol=1e-5)
