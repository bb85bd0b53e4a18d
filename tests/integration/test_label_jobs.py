"""The frames and label jobs: pick frames into a project, import, export, and the CLI once."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from jobs.frames import FramesJob
from jobs.label import LabelJob
from deepbehavior.video import write_video
from jobs import frames as frames_job
from jobs import label as label_job

REPO = Path(__file__).resolve().parents[2]


def test_frames_then_label_export(tmp_path):
    video = write_video(tmp_path / "v.avi", [np.full((48, 64, 3), i * 4, np.uint8) for i in range(40)],
                        fps=10, codec="MJPG")
    project = tmp_path / "project"
    frames_job.main.run(FramesJob(out=str(project), videos=[str(video)], n=4, method="uniform",
                                  classes=["mouse"], keypoints=["nose", "tail"], skeleton=[[0, 1]]))
    meta = json.loads((project / "project.json").read_text())
    assert sorted(meta["sources"]) == [f"v_{f:06d}.png" for f in (5, 15, 25, 35)]
    assert meta["skeleton"] == [[0, 1]]
    with pytest.raises(ValueError, match="none is labelled"):
        label_job.main.run(LabelJob(out=str(tmp_path / "exports"), project=str(project), export="yolo"))
    from deepbehavior.labeling.project import Project

    Project(project).write_label("v_000005.png", [{"class": 0, "box": [1, 2, 30, 40],
                                                    "keypoints": [[5, 6], None]}])
    label_job.main.run(LabelJob(out=str(tmp_path / "exports"), project=str(project), export="yolo"))
    data = yaml.safe_load((tmp_path / "exports" / "yolo" / "data.yaml").read_text())
    assert data["kpt_shape"] == [2, 3] and data["names"] == {0: "mouse"}
    label_job.main.run(LabelJob(out=str(tmp_path / "exports"), project=str(project), export="coco"))
    coco = json.loads((tmp_path / "exports" / "coco.json").read_text())
    assert coco["annotations"][0]["keypoints"] == [5, 6, 2, 0, 0, 0]


def test_frames_from_a_store_picks_where_the_points_jumped(tmp_path):
    from deepbehavior.schema import make_poses
    from deepbehavior.store import write_dataset

    video = write_video(tmp_path / "v.avi", [np.full((48, 64, 3), i * 4, np.uint8) for i in range(40)],
                        fps=10, codec="MJPG")
    position = np.zeros((40, 2, 1, 1))
    position[30:] = 25.0  # one jump, into frame 30
    write_dataset(make_poses(position, fps=10.0, individuals_are="slots"), tmp_path / "v.zarr", chunk=20)
    project = tmp_path / "project"
    frames_job.main.run(FramesJob(out=str(project), videos=[str(video)], stores=[str(tmp_path / "v.zarr")], n=1,
                                  method="jumps"))
    assert sorted(json.loads((project / "project.json").read_text())["sources"]) == ["v_000030.png"]


def test_label_cli_imports_yolo_mark_and_reports(shared_data, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "deepbehavior.cli", "label", f"project={tmp_path / 'p'}",
         f"import_from={shared_data / 'yolo-mark-example'}", "export=yolo"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "imported 6 images with 14 instances" in result.stdout
    assert "5 listed images are missing" in result.stdout and "4 label files have no image" in result.stdout
    assert (tmp_path / "p" / "exports" / "yolo" / "data.yaml").is_file()


def test_label_job_without_project_is_a_one_line_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="project.json"):
        label_job.main.run(LabelJob(out=str(tmp_path), project=str(tmp_path / "none")))
