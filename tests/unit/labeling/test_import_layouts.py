"""Label import from a Lightning Pose project (CSV at the root, ``labeled-data/imgNN.png``) and from any
DLC-layout CSV whose image paths resolve relative to it; a CSV that imports nothing is an error (issue 28)."""

from __future__ import annotations

import shutil

import pytest

from deepbehavior.labeling.formats import import_labels

PREFIX = "labeled-data/m4s1/"


@pytest.fixture
def lightning_pose_project(shared_data, tmp_path):
    """Three open-field frames laid out as Lightning Pose does: CollectedData.csv beside labeled-data/."""
    source = shared_data / "dlc-openfield" / "labeled-data" / "m4s1"
    lines = (source / "CollectedData_Pranav.csv").read_text().splitlines()
    header, rows = lines[:3], lines[3:6]
    (tmp_path / "lp" / "labeled-data").mkdir(parents=True)
    for row in rows:
        name = row.split(",")[0].removeprefix(PREFIX)
        shutil.copyfile(source / name, tmp_path / "lp" / "labeled-data" / name)
    csv = tmp_path / "lp" / "CollectedData.csv"
    csv.write_text("\n".join(header + [r.replace(PREFIX, "labeled-data/") for r in rows]) + "\n")
    return csv, [r.split(",") for r in rows]


@pytest.mark.parametrize("format", ["lightning_pose", "dlc"])
def test_a_lightning_pose_layout_imports_every_image_with_its_points(lightning_pose_project, tmp_path, format):
    csv, rows = lightning_pose_project
    project, report = import_labels(csv, tmp_path / f"project-{format}", format=format)
    assert report.images == 3 and report.missing_images == []
    assert len(project.images()) == 3
    labelled = project.labelled()
    snouts = sorted(round(label["instances"][0]["keypoints"][0][0] - 0.5, 3) for label in labelled.values())
    assert snouts == sorted(round(float(r[1]), 3) for r in rows)  # the CSV's x (pixel centres) of the snout


def test_a_csv_whose_images_resolve_nowhere_is_an_error_naming_it(lightning_pose_project, tmp_path):
    csv, _ = lightning_pose_project
    broken = tmp_path / "elsewhere" / "CollectedData.csv"
    broken.parent.mkdir()
    broken.write_text(csv.read_text())
    with pytest.raises(ValueError, match=r"elsewhere/CollectedData.csv: Expected labelled images to import, but got 0"):
        import_labels(broken, tmp_path / "project-broken", format="dlc")
    assert not (tmp_path / "project-broken").exists()  # refused before anything was created
