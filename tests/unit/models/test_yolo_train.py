"""The training loop, its metrics and report: closed-form checks, then tiny real runs on CPU."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from deepbehavior.config import RayConfig, TrainConfig
from deepbehavior.models.dataset_checks import check_dataset
from deepbehavior.models.keypoint_metrics import box_iou, keypoint_errors, match_by_iou, summarize_keypoint_errors
from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset
from deepbehavior.models.train_report import compare_runs, write_report
from deepbehavior.models.yolo_train import NO_AUGMENTATION, LoopSpec, epoch_line, make_spec, train_locally

# Small enough for a shared 2-core machine: a few seconds per epoch.
FAST = {"imgsz": 128, "nbs": 8, "warmup_epochs": 0, "optimizer": "AdamW", "lr0": 0.002, **NO_AUGMENTATION}


# ------------------------------------------------------------------------------------------------
# Closed-form metrics


def test_box_iou_known_values():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_matching_takes_the_most_confident_prediction_first():
    true = np.array([[0, 0, 10, 10], [50, 50, 60, 60]])
    pred = np.array([[0, 0, 10, 11], [1, 0, 10, 10], [100, 100, 110, 110]])
    matched = match_by_iou(true, pred, np.array([0.2, 0.9, 0.99]))
    np.testing.assert_array_equal(matched, [1, -1])


def test_keypoint_errors_and_pck_against_hand_computed_values():
    true_boxes = np.array([[0, 0, 100, 50], [200, 200, 240, 240]], dtype=float)
    true_kpts = np.array([[[10, 10], [20, 20], [30, 30]], [[210, 210], [220, 220], [230, 230]]], dtype=float)
    visible = np.array([[True, True, False], [True, True, True]])
    pred_boxes = true_boxes[:1] + 1  # only the first object is detected
    pred_kpts = true_kpts[:1] + np.array([[3, 4], [6, 8], [0, 0]])  # errors 5 and 10 pixels
    errors, scale = keypoint_errors(true_boxes, true_kpts, visible, pred_boxes, pred_kpts, np.array([0.9]))
    np.testing.assert_allclose(errors[0, :2], [5.0, 10.0])
    assert math.isnan(errors[0, 2]) and np.isinf(errors[1]).all()
    np.testing.assert_allclose(scale, [100.0, 40.0])
    summary = summarize_keypoint_errors(errors, scale, pck_threshold=0.07)  # 7 px limit for object 0
    assert summary["kpt_error_px"] == pytest.approx(7.5)
    assert summary["pck"] == pytest.approx(1 / 5)  # one of five visible keypoints within 7 px
    assert summary["kpt_detected"] == pytest.approx(2 / 5)


def test_epoch_line_shows_losses_metrics_speed_and_time_left():
    metrics = {"epoch": 1, "time_s": 12.34, "images": 100, "images_per_s": 8.1, "train/box_loss": 1.23456,
               "train/kpt_loss": 0.5, "metrics/mAP50(B)": 0.75, "metrics/mAP50-95(B)": 0.5, "kpt_error_px": 3.25,
               "lr/pg0": 0.01}
    line = epoch_line(metrics, epochs=5, seconds_left=3 * 61.0)
    assert line == ("deepbehavior train: epoch 2/5 | loss box 1.235 kpt 0.500 | mAP50 0.750 mAP50-95 0.500 "
                    "kpt_err_px 3.250 | 8.1 img/s | train 12.3 s | left ~3m03s")
    assert epoch_line({"epoch": 0}, epochs=1, seconds_left=None) == "deepbehavior train: epoch 1/1"
    assert epoch_line({"epoch": 0}, epochs=9, seconds_left=7322).endswith("left ~2h02m")


# ------------------------------------------------------------------------------------------------
# Report and sweep comparison


def test_report_and_comparison_of_runs(tmp_path):
    for name, fitness in (("train.lr0=0.01", [0.1, 0.3, 0.2]), ("train.lr0=0.001", [0.05, 0.4, 0.35])):
        history = [{"epoch": e, "train/box_loss": 2.0 - e, "metrics/mAP50(B)": f * 2, "fitness": f, "lr/pg0": 0.1}
                   for e, f in enumerate(fitness)]
        table = write_report(history[:2], tmp_path / name, plot=False)  # a loop's epoch before its last
        assert list(table["epoch"]) == [1, 2] and not (tmp_path / name / "results.png").exists()
        table = write_report(history, tmp_path / name)
        assert list(table["epoch"]) == [1, 2, 3]
        assert (tmp_path / name / "results.png").stat().st_size > 1000
    comparison = compare_runs(tmp_path)
    assert list(comparison["run"]) == ["train.lr0=0.001", "train.lr0=0.01"]
    assert list(comparison["best_epoch"]) == [2, 2]
    assert list(comparison["metrics/mAP50(B)"]) == [0.8, 0.6]
    assert "lr/pg0" not in comparison
    assert pd.read_csv(tmp_path / "comparison.csv").shape == (2, comparison.shape[1])


def test_make_spec_maps_config_to_ultralytics_arguments(tmp_path):
    train = TrainConfig(data="d.yaml", model="yolo11n.yaml", imgsz=160, lr0=0.02, augment=False,
                        overrides={"mosaic": 0.5})
    spec = make_spec(train, task="pose", data=tmp_path / "d.yaml", out=tmp_path)
    assert spec.model == "yolo11n-pose.yaml"
    assert spec.overrides["imgsz"] == 160 and spec.overrides["lr0"] == 0.02
    assert spec.overrides["mosaic"] == 0.5 and spec.overrides["fliplr"] == 0.0
    with pytest.raises(ValueError, match="Expected a detection architecture"):
        make_spec(TrainConfig(data="d", model="yolo11s-pose.yaml"), task="detect", data="d", out=tmp_path)


# ------------------------------------------------------------------------------------------------
# Real (tiny) training runs


def _dataset(folder, **kwargs):
    summary = check_dataset(write_synthetic_dataset(folder / "data", images=16, val_images=4, **kwargs))
    path = folder / "data.resolved.yaml"
    path.write_text(yaml.safe_dump(summary.data))
    return summary, path


def _predict(weights, image):
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    from ultralytics import YOLO

    model = YOLO(str(weights))
    return model, model.predict(str(image), imgsz=128, verbose=False, device="cpu")[0]


@pytest.mark.parametrize("kind,classes", [("detect", 1), ("detect", 2), ("pose", 1)])
def test_local_run_writes_loadable_weights_and_report(tmp_path, kind, classes):
    summary, data = _dataset(tmp_path, kind=kind, classes=classes)
    model = "yolo11n-pose.yaml" if kind == "pose" else "yolo11n.yaml"
    spec = LoopSpec(data=str(data), out=str(tmp_path / "out"), task=kind, model=model, epochs=1, batch=8,
                    overrides=FAST)
    metrics = train_locally(spec, storage=tmp_path / "ckpt")
    assert metrics["images"] == 16 and "metrics/mAP50(B)" in metrics and "metrics/mAP50-95(B)" in metrics
    if kind == "pose":
        assert {"kpt_error_px", "pck", "metrics/mAP50(P)"} <= set(metrics)
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(table["epoch"]) == [1]
    assert (tmp_path / "out" / "results.png").is_file()
    yolo, result = _predict(tmp_path / "out" / "weights" / "best.pt", tmp_path / "data/images/val/val0000.png")
    assert yolo.task == kind
    assert list(yolo.names.values()) == list(summary.names)
    if kind == "pose":
        assert tuple(result.keypoints.data.shape[1:]) == (3, 3)
    else:
        assert result.boxes is not None
    assert (tmp_path / "ckpt" / "epoch_0001" / "state.pt").is_file()


def test_the_loop_trains_at_the_threads_it_is_given(tmp_path):
    import torch

    from deepbehavior.models.train_session import LocalSession, process_state_kept
    from deepbehavior.models.yolo_train import train_loop
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    from ultralytics.utils import NUM_THREADS  # what ultralytics' device selection sets: min(8, CPUs - 1)

    class ThreadsSeen(LocalSession):
        seen: list = []

        def report(self, metrics, checkpoint_dir):
            self.seen.append(torch.get_num_threads())
            super().report(metrics, checkpoint_dir)

    _, data = _dataset(tmp_path)
    threads = NUM_THREADS + 1
    spec = LoopSpec(data=str(data), out=str(tmp_path / "out"), task="detect", epochs=1, batch=8, threads=threads,
                    overrides=FAST)
    with process_state_kept():
        train_loop(spec, ThreadsSeen(storage=tmp_path / "ckpt"))
    assert ThreadsSeen.seen == [threads]


def test_local_run_resumes_from_its_checkpoint(tmp_path):
    _, data = _dataset(tmp_path)
    common = dict(data=str(data), out=str(tmp_path / "out"), task="detect", batch=8, overrides=FAST)
    train_locally(LoopSpec(epochs=1, **common), storage=tmp_path / "ckpt")
    first = pd.read_csv(tmp_path / "out" / "results.csv")
    metrics = train_locally(LoopSpec(epochs=2, **common), storage=tmp_path / "ckpt")
    assert metrics["epoch"] == 1  # the second call trained only epoch 2 (counted from 0: 1)
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(table["epoch"]) == [1, 2]
    assert table.loc[0, "train/box_loss"] == first.loc[0, "train/box_loss"]  # epoch 1 kept, not redone
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["epoch_0001", "epoch_0002"]


def test_two_ray_workers_share_each_epoch_and_converge(tmp_path):
    from deepbehavior.runtime.distributed_training import fit

    _, data = _dataset(tmp_path)
    spec = LoopSpec(data=str(data), out=str(tmp_path / "out"), task="detect", epochs=3, batch=4,
                    overrides={**FAST, "nbs": 4})
    result = fit(spec, num_workers=2, storage=tmp_path / "ckpt", ray=RayConfig(num_cpus=2))
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(table["epoch"]) == [1, 2, 3]
    assert (table["images"] == 16).all()  # two shards of 8 images make every epoch
    for loss in ("train/box_loss", "train/dfl_loss"):
        assert table[loss].iloc[-1] < 0.9 * table[loss].iloc[0], table[loss].tolist()
    assert result.metrics["epoch"] == 2
    assert (tmp_path / "ckpt" / "train" / "epoch_0003" / "state.pt").is_file()
