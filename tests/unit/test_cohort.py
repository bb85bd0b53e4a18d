import pytest
import yaml

from deepbehavior.cohort import ManifestError, cohort_from_videos, load_cohort, write_cohort


@pytest.fixture
def videos(tmp_path):
    for name in ("a_top.mp4", "a_side.mp4", "b_top.mp4"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def _write(folder, sessions, **extra):
    path = folder / "cohort.yaml"
    path.write_text(yaml.safe_dump({"sessions": sessions, **extra}))
    return path


def test_yaml_manifest(videos):
    path = _write(videos, [
        {"subject": "a", "group": "ctl", "session": "d1", "videos": {"top": "a_top.mp4", "side": "a_side.mp4"}},
        {"subject": "b", "group": "ko", "session": "d1", "videos": {"top": "b_top.mp4"}, "pixel_size_mm": 0.5},
    ], views=["top", "side"])
    cohort = load_cohort(path)
    assert [s.key for s in cohort.sessions] == ["a_d1", "b_d1"]
    assert cohort.views == ("top", "side")
    assert cohort.session("a_d1").videos["side"] == videos / "a_side.mp4"
    assert cohort.session("b_d1").pixel_size_mm == 0.5
    again = load_cohort(write_cohort(cohort, videos / "copy.yaml"))
    assert again.sessions == cohort.sessions


def test_csv_manifest(videos):
    path = videos / "cohort.csv"
    path.write_text("subject,group,session,view,video\na,ctl,d1,top,a_top.mp4\na,ctl,d1,side,a_side.mp4\n"
                    "b,ko,d1,top,b_top.mp4\n")
    cohort = load_cohort(path)
    assert {s.key: sorted(s.videos) for s in cohort.sessions} == {"a_d1": ["side", "top"], "b_d1": ["top"]}


@pytest.mark.parametrize("sessions, extra, message", [
    ([{"subject": "a", "session": "d1", "videos": {"top": "missing.mp4"}}], {}, r"sessions\[0\]: video for view 'top' not found"),
    ([{"subject": "a", "session": "d1", "videos": {"top": "a_top.mp4"}},
      {"subject": "a", "session": "d1", "videos": {"top": "b_top.mp4"}}], {}, r"sessions\[1\]: duplicate session a/d1"),
    ([{"subject": "a", "session": "d1", "videos": {"front": "a_top.mp4"}}], {"views": ["top"]}, r"unknown view\(s\) \['front'\]"),
    ([{"subject": "a", "videos": {"top": "a_top.mp4"}}], {}, r"sessions\[0\]: expected a field 'session'"),
    ([{"subject": "a", "session": "d1", "videos": {"top": "a_top.mp4"}, "fps": 30}], {}, r"unknown field\(s\) \['fps'\]"),
])
def test_bad_manifests_name_the_entry(videos, sessions, extra, message):
    with pytest.raises(ManifestError, match=message):
        load_cohort(_write(videos, sessions, **extra))


def test_csv_errors_name_the_line(videos):
    path = videos / "cohort.csv"
    path.write_text("subject,group,session,view,video\na,ctl,d1,top,a_top.mp4\na,ctl,d1,top,b_top.mp4\n")
    with pytest.raises(ManifestError, match=r"cohort.csv:3: view 'top' of session \('a', 'd1'\) is listed twice"):
        load_cohort(path)


def test_missing_manifest_and_loose_videos(videos):
    with pytest.raises(ManifestError, match="Expected a cohort manifest at"):
        load_cohort(videos / "none.yaml")
    cohort = cohort_from_videos([videos / "a_top.mp4", videos / "b_top.mp4"])
    assert [s.key for s in cohort.sessions] == ["a_top_s1", "b_top_s1"]
