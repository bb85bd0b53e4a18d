"""Small labelling projects with known labels."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.labeling.project import Project


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
