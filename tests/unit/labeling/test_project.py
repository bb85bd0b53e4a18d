import json
import threading

import pytest

from deepbehavior.formats.yolo import box_from_keypoints
from deepbehavior.labeling.project import LabelError, Project, RevisionConflict


def test_write_then_read_keeps_label_and_counts_revisions(make_project):
    project = make_project()
    inst = [{"class": 1, "box": [30.0, 40.0, 10.0, 20.0], "keypoints": [[1.5, 2.5], None]}]
    first = project.write_label("img000.png", inst, base_revision=0)
    assert first["revision"] == 1 and (first["width"], first["height"]) == (320, 240)
    assert first["instances"][0]["box"] == [10.0, 20.0, 30.0, 40.0]  # corners put in order
    second = project.write_label("img000.png", [], base_revision=1)
    reread = Project(project.root).read_label("img000.png")
    assert second["revision"] == reread["revision"] == 2 and reread["instances"] == []
    assert project.progress() == {"total": 3, "labelled": 1, "skipped": 0, "unlabelled": 2}


def test_stale_save_is_refused_with_the_current_label(make_project):
    project = make_project()
    project.write_label("img001.png", [{"class": 0, "box": [0, 0, 5, 5]}], base_revision=0)
    with pytest.raises(RevisionConflict) as caught:
        project.write_label("img001.png", [], base_revision=0)
    assert caught.value.current["revision"] == 1
    assert caught.value.current["instances"][0]["box"] == [0.0, 0.0, 5.0, 5.0]


def test_concurrent_saves_from_one_revision_let_exactly_one_win(make_project):
    project = make_project()
    outcomes = []

    def save(k):
        try:
            project.write_label("img002.png", [{"class": 0, "box": [k, k, k + 1, k + 1]}], base_revision=0)
            outcomes.append(("ok", k))
        except RevisionConflict:
            outcomes.append(("conflict", k))

    threads = [threading.Thread(target=save, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [k for kind, k in outcomes if kind == "ok"]
    assert len(winners) == 1
    label = project.read_label("img002.png")
    assert label["revision"] == 1 and label["instances"][0]["box"][0] == winners[0]
    assert not list(project.labels_dir.glob("*.partial"))


@pytest.mark.parametrize("instances, field", [
    ([{"class": 5, "box": [0, 0, 1, 1]}], "class"),
    ([{"class": 0, "box": [0, 0, 1]}], "box"),
    ([{"class": 0, "box": [0, 0, float("nan"), 1]}], "finite"),
    ([{"class": 0, "keypoints": [[1, 2]]}], "keypoints"),
    ([{"class": 0}], "neither"),
    ([{"class": 0, "box": [0, 0, 1, 1], "colour": "red"}], "colour"),
    ({"class": 0}, "list"),
])
def test_bad_instances_are_refused_naming_the_field(make_project, instances, field):
    project = make_project()
    with pytest.raises(LabelError, match=field):
        project.write_label("img000.png", instances)
    assert not (project.labels_dir / "img000.png.json").exists()


def test_image_names_that_leave_frames_are_refused(make_project, tmp_path):
    project = make_project()
    for name in ("../project.json", "a/b.png", "..", "x\\y.png"):
        with pytest.raises(LabelError):
            project.image_path(name)
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"x")
    (project.frames_dir / "link.png").symlink_to(outside)
    with pytest.raises(PermissionError):
        project.image_path("link.png")


def test_skipped_images_count_apart(make_project):
    project = make_project()
    project.write_label("img000.png", [], status="skipped")
    assert project.progress()["skipped"] == 1
    assert "img000.png" not in project.labelled()
    assert json.loads((project.root / "project.json").read_text())["keypoints"] == ["nose", "tail"]


def test_box_from_keypoints_pads_and_clips():
    box = box_from_keypoints([[10.0, 20.0], None, [110.0, 60.0]], width=100, height=200, pad=0.1)
    assert box == pytest.approx([0.0, 16.0, 100.0, 64.0])
    assert box_from_keypoints([None, None], width=10, height=10) is None
