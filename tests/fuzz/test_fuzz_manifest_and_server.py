"""Property-based and byte-level inputs to the cohort manifest reader and the label server's endpoints."""

from __future__ import annotations

import http.client
import json
import math
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepbehavior.cohort import ManifestError, load_cohort, write_cohort
from deepbehavior.labeling.project import Project
from deepbehavior.labeling.server import make_server

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _check_manifest(path):
    try:
        cohort = load_cohort(path, check_files=False)
    except ManifestError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message, message
        return
    for s in cohort.sessions:
        for name in (s.subject, s.session, s.group, *s.videos):
            assert "/" not in name and "\\" not in name and not name.startswith("."), name
        assert s.pixel_size_mm is None or (math.isfinite(s.pixel_size_mm) and s.pixel_size_mm > 0)


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=20), st.sampled_from(["../../etc", ".hidden", "a/b", "nan", "inf", "-1", "0"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                          max_size=3), max_leaves=8)


@SETTINGS
@given(entry=st.fixed_dictionaries({"subject": scalars, "session": scalars, "videos": values},
                                   optional={"group": scalars, "pixel_size_mm": scalars, "calibration": values}),
       views=st.one_of(st.none(), values))
def test_manifest_entries_of_any_shape(tmp_path_factory, entry, views):
    path = tmp_path_factory.mktemp("m") / "cohort.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"cohort": "c", "views": views, "sessions": [entry]}))
    _check_manifest(path)


def test_mutated_manifests(tmp_path, rng, fuzz):
    from deepbehavior.cohort import Cohort, Session

    cohort = Cohort("c", ("front", "side"), tuple(
        Session(f"m{i}", "control", "day1", {"front": tmp_path / f"m{i}f.mp4", "side": tmp_path / f"m{i}s.mp4"},
                pixel_size_mm=0.2) for i in range(3)))
    yaml_source = write_cohort(cohort, tmp_path / "cohort.yaml").read_bytes()
    csv_source = ("subject,group,session,view,video,pixel_size_mm\n" + "".join(
        f"m{i},control,day1,{v},m{i}{v}.mp4,0.2\n" for i in range(3) for v in ("front", "side"))).encode()
    for i in range(fuzz.cases(150)):
        for suffix, source in ((".yaml", yaml_source), (".csv", csv_source)):
            path = tmp_path / f"case{i}{suffix}"
            path.write_bytes(fuzz.mutate(source, rng))
            _check_manifest(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("label")
    project = Project.create(root / "p", classes=("mouse", "paw"), keypoints=("nose", "tail"), skeleton=((0, 1),))
    project.add_image(name="img000.png", image=np.zeros((48, 64, 3), np.uint8))
    project.save_meta()
    server = make_server(project, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield project, server.server_address[1]
    server.shutdown()
    server.server_close()


def _call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, res.read()
    finally:
        conn.close()


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30))
instance = st.fixed_dictionaries({}, optional={
    "class": st.one_of(st.integers(-3, 5), st.text(max_size=3), st.none()),
    "box": st.one_of(st.none(), st.lists(numbers, min_size=0, max_size=5)),
    "keypoints": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.lists(numbers, max_size=3)), max_size=3)),
})


@SETTINGS
@given(body=st.fixed_dictionaries({}, optional={"revision": st.one_of(st.integers(-2, 3), st.text(max_size=3)),
                                                "status": st.sampled_from(["labelled", "skipped", "x", ""]),
                                                "instances": st.one_of(st.lists(instance, max_size=3), values)}))
def test_label_saves_of_any_shape(server, body):
    project, port = server
    raw = json.dumps(body, allow_nan=True).encode()
    status, answer = _call(port, "PUT", "/api/labels/img000.png", raw, {"Content-Type": "application/json"})
    assert status in (200, 400, 409), (status, answer[:200])
    if status == 200:
        saved = json.loads(answer)
        for inst in saved["instances"]:
            points = ([inst["box"][:2], inst["box"][2:]] if inst["box"] else []) + \
                [p for p in inst["keypoints"] or [] if p is not None]
            for x, y in points:
                assert math.isfinite(x) and math.isfinite(y) and 0 <= x <= 64 and 0 <= y <= 48, inst


@SETTINGS
@given(path=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="#?"), max_size=40),
       method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE"]),
       body=st.binary(max_size=64))
def test_any_path_and_method_gets_an_answer_below_500(server, path, method, body):
    _, port = server
    status, _ = _call(port, method, "/" + path, body if method in ("PUT", "POST") else None)
    assert 200 <= status < 500, (method, path, status)


def test_mutated_label_bodies(server, rng, fuzz):
    project, port = server
    source = json.dumps({"revision": 0, "status": "labelled", "instances": [
        {"class": 1, "box": [1.5, 2.0, 30.0, 40.0], "keypoints": [[3.0, 4.0], None]}]}).encode()
    for _ in range(fuzz.cases(200)):
        status, answer = _call(port, "PUT", "/api/labels/img000.png", fuzz.mutate(source, rng))
        assert status in (200, 400, 409), (status, answer[:200])
