"""Small labelling projects with known labels."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.labeling.project import Project
from deepbehavior.video import write_video


@pytest.fixture
def make_project(tmp_path):
    def make(n_images: int = 3, *, classes=("mouse", "paw"), keypoints=("nose", "tail"), skeleton=((0, 1),),
             size=(320, 240), name="project"):
        project = Project.create(tmp_path / name, classes=classes, keypoints=keypoints, skeleton=skeleton)
        for i in range(n_images):
            image = np.full((size[1], size[0], 3), 10 * i, np.uint8)
            project.add_image(name=f"img{i:03d}.png", image=image)
        project.save_meta()
        return project

    return make


@pytest.fixture(scope="module")
def scenes_video(tmp_path_factory):
    """60 frames, 64×48: three scenes of 20 frames (dark, bright, striped), each with a frame-number dot."""
    frames = []
    for i in range(60):
        frame = np.full((48, 64, 3), 20 if i < 20 else 230, np.uint8)
        if i >= 40:
            frame[:, ::8] = 0
        frame[2:6, 2 + (i % 20):6 + (i % 20)] = 128
        frames.append(frame)
    return write_video(tmp_path_factory.mktemp("video") / "scenes.avi", frames, fps=10, codec="MJPG")
