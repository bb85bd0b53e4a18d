"""The Python steps over a cohort: a synthetic two-camera reaching session (closed-form truth)
triangulated with ``db.triangulate`` and measured with ``db.analyze``, no job and no exit."""

from __future__ import annotations

import json

import pytest

import deepbehavior as db


def test_triangulate_then_analyze_a_cohort_recovers_the_reach(tmp_path):
    from deepbehavior.synthetic.human_reach import write_session

    paths = write_session(tmp_path)  # 1 px noise, dropouts and outliers in the 2D points
    cohort = db.load_cohort(paths["cohort"], check_files=False)  # its videos are not rendered
    report = db.triangulate(cohort, stores=tmp_path / "stores2d", out=tmp_path / "stores3d")
    measured = db.analyze(paths["cohort"], stores=tmp_path / "stores3d", measures=["human"])
    truth = json.loads(paths["truth"].read_text())["measures"]
    assert report.written == ["sub01_reach"] and not report.failures and measured.ok
    values = dict(zip(measured.table["measure"], measured.table["value"]))
    for name in ("shoulder_angle_mean", "elbow_angle_mean", "wrist_angle_mean"):
        assert values[f"human.{name}"] == pytest.approx(truth[name], abs=2.0)  # degrees
    assert values["human.wrist_path_length"] == pytest.approx(truth["wrist_path_length"], rel=0.1)  # mm


def test_a_cohort_without_its_stores_is_reported_not_raised(tmp_path):
    from deepbehavior.synthetic.human_reach import write_session

    paths = write_session(tmp_path)
    (tmp_path / "empty").mkdir()
    measured = db.analyze(paths["cohort"], stores=tmp_path / "empty")
    assert not measured.ok and [f.session for f in measured.failures] == ["sub01_reach"]
    assert measured.table.empty
