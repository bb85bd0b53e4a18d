"""The command line: job listing and one-line errors with a non-zero exit for bad input."""

import subprocess
import sys

import pytest


def _cli(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300)
    return result.returncode, result.stdout, result.stderr.strip()


def test_help_lists_every_job(tmp_path):
    code, out, _ = _cli("--help", cwd=tmp_path)
    assert code == 0
    for job in ("demo", "infer", "train", "calibrate", "triangulate", "import", "analyze", "frames", "label"):
        assert f"  {job} " in out


@pytest.mark.parametrize("args, message", [
    (["nosuchjob"], "deepbehavior: error: unknown job 'nosuchjob'"),
    (["infer", "out=o", "modle.imgsz=320"], "deepbehavior infer: error: Could not override 'modle.imgsz'"),
    (["infer", "out=o", "model.conf=2", "videos=[a.mp4]"], "deepbehavior infer: error: Expected model.conf in [0, 1], but got 2.0"),
    (["infer", "out=o", "model.weights=absent.pt", "videos=[a.mp4]"],
     "deepbehavior infer: error: Expected model weights at absent.pt, but there is no such file"),
    (["infer", "out=o"], "deepbehavior infer: error: Expected either cohort=FILE or videos=[...], but got neither"),
    (["infer", "out=o", "cohort=none.yaml", "model.weights=w.pt"], "deepbehavior infer: error: Expected a cohort manifest at none.yaml"),
])
def test_bad_input_gives_one_line_and_non_zero_exit(tmp_path, args, message):
    (tmp_path / "w.pt").write_bytes(b"")
    code, _, err = _cli(*args, cwd=tmp_path)
    assert code == 2
    assert err.startswith(message), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err


def test_missing_video_is_one_line(tmp_path):
    from tests.helpers.models import random_yolo

    random_yolo(tmp_path / "w.pt")
    code, _, err = _cli("infer", "out=o", "model.weights=w.pt", "videos=[missing.mp4]", cwd=tmp_path)
    assert code == 2
    assert err == "deepbehavior infer: error: Expected a video file at missing.mp4, but there is none"
