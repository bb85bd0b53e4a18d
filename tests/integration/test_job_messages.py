"""Messages of whole jobs name the real key, file and value (issue 31), each with its exact text: import's
"already exists" (force=true), its warning for a frame rate nothing stated, the files export says it wrote
(NWB and Lightning Pose, one per individual), training's resume line, videos=a.mp4, and model.backend=mediapipe
without mediapipe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from deepbehavior.cli import jobs_package  # noqa: E402


def _job(name: str):
    return __import__(f"{jobs_package().__name__}.{name}", fromlist=["main"])


@pytest.fixture(scope="module")
def flies(shared_data):
    return shared_data / "sleap-flies"


def test_import_without_a_rate_warns_once_and_an_existing_store_says_force(flies, tmp_path, capsys):
    job = _job("import_files")
    source = flies / "centered_pair_predictions.h5"  # a SLEAP labels file: no frame rate in it
    job.main.run(job.ImportJob(out=str(tmp_path), source=str(source), min_track_frames=100))
    err = capsys.readouterr().err.splitlines()
    assert err == [job.assumed_rate_warning([source])]
    from deepbehavior.store import open_store

    ds = open_store(tmp_path / "stores" / "centered_pair_predictions.zarr")
    assert ds.attrs["fps"] == 30.0 and ds.attrs["fps_assumed"] is True  # the store keeps the mark
    store = tmp_path / "stores" / "centered_pair_predictions.zarr"
    with pytest.raises(FileExistsError) as raised:
        job.main.run(job.ImportJob(out=str(tmp_path), source=str(source), fps=15.0))
    assert str(raised.value) == f"Expected no store at {store}, but one exists (pass force=true to replace it)"
    job.main.run(job.ImportJob(out=str(tmp_path), source=str(source), fps=15.0, force=True, min_track_frames=100))
    assert capsys.readouterr().err == ""  # the rate was given: nothing assumed, nothing said
    assert open_store(store).attrs["fps"] == 15.0


@pytest.mark.parametrize("fmt, suffix", [("nwb", ".nwb"), ("lightning_pose", ".csv")])
def test_export_prints_the_files_it_wrote(flies, tmp_path, capsys, fmt, suffix):
    imported, export = _job("import_files"), _job("export")
    imported.main.run(imported.ImportJob(out=str(tmp_path), source=str(flies / "centered_pair_predictions.slp"),
                                         fps=15.0, min_track_frames=100))
    store = tmp_path / "stores" / "centered_pair_predictions.zarr"
    capsys.readouterr()
    export.main.run(export.ExportJob(out=str(tmp_path / "out"), format=fmt, store=str(store)))
    printed = capsys.readouterr().out.splitlines()
    files = [tmp_path / "out" / f"centered_pair_predictions_{track}{suffix}" for track in ("1", "2")]
    assert printed == [f"{store} -> {f} ({fmt})" for f in files]
    assert sorted((tmp_path / "out").iterdir()) == files


def _cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300, env=env)
    return result.returncode, result.stdout, result.stderr


def test_a_list_setting_takes_one_value(flies, tmp_path):
    code, out, err = _cli("frames", f"out={tmp_path / 'labels'}", f"videos={flies / 'centered_pair_small.mp4'}", "n=2",
                          cwd=tmp_path)
    assert code == 0, err
    assert "ListConfig" not in err and len(list((tmp_path / "labels").rglob("*.png"))) == 2


def test_mediapipe_backend_without_mediapipe_fails_in_one_line(flies, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # as after a wheel install without it: every import of mediapipe fails
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['mediapipe'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)])}
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "infer", f"out={tmp_path / 'o'}",
                             f"videos=[{flies / 'centered_pair_small.mp4'}]", "model.backend=mediapipe"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    from deepbehavior.models.mediapipe_pose import INSTALL

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"deepbehavior infer: error: Expected the mediapipe package for model.backend=mediapipe, but it is not "
        f"installed; install it with: {INSTALL} (--no-deps: its declared numpy<2, protobuf<5 and "
        f"opencv-contrib-python would replace this installation's own)"]


def test_resuming_names_the_checkpoint_of_the_epoch_it_resumes_after(tmp_path, capsys):
    import yaml

    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.yolo_train import NO_AUGMENTATION, LoopSpec, train_locally
    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset

    summary = check_dataset(write_synthetic_dataset(tmp_path / "data", images=8, val_images=2))
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(summary.data))
    fast = {"imgsz": 64, "nbs": 8, "warmup_epochs": 0, "optimizer": "AdamW", "lr0": 0.002, **NO_AUGMENTATION}
    common = dict(data=str(data), out=str(tmp_path / "out"), task="detect", batch=8, overrides=fast)
    train_locally(LoopSpec(epochs=1, **common), storage=tmp_path / "ckpt")
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["epoch_0001"]  # named by the epochs done
    capsys.readouterr()
    train_locally(LoopSpec(epochs=2, **common), storage=tmp_path / "ckpt")
    said = [line for line in capsys.readouterr().out.splitlines() if "resuming" in line]
    assert said == [f"deepbehavior train: resuming after epoch 1 of 2 from {tmp_path / 'ckpt' / 'epoch_0001'}"]
