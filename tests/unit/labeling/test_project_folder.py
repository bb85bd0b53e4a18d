"""A labelling project opens whatever is in its folder: a bad label file is reported and skipped,
FIFOs, devices and links out of the project are never read."""

import http.client
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from deepbehavior.labeling.project import LabelError, Project
from deepbehavior.labeling.server import make_server

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


def _within(seconds, fn, *args):
    """``fn(*args)`` run in a thread that must finish within ``seconds`` (a read of a FIFO never does)."""
    out = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{fn.__name__} still running after {seconds} s"
    if "error" in out:
        raise out["error"]
    return out["value"]


def _get(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", path)
    res = conn.getresponse()
    raw = res.read()
    conn.close()
    return res.status, raw


@pytest.fixture
def hostile(make_project, tmp_path):
    """A project of 5 images whose folder holds one of each bad thing."""
    project = make_project(5)
    labels = project.labels_dir
    labels.mkdir(exist_ok=True)
    project.write_label("img000.png", [{"class": 0, "box": [1, 2, 3, 4]}])  # the one good label
    (labels / "img001.png.json").write_text("[1, 2, 3]")  # a JSON list
    (labels / "img002.png.json").write_text('{"revision": 1, "status": "labelled", "instances": [')  # torn
    os.mkfifo(labels / "img003.png.json")  # a FIFO: opening it to read waits for a writer for ever
    (labels / "img004.png.json").symlink_to("/dev/zero")  # endless
    frames = project.frames_dir
    os.mkfifo(frames / "fifo.png")
    (frames / "zero.png").symlink_to("/dev/zero")
    outside = tmp_path / "outside.png"
    outside.write_bytes((frames / "img000.png").read_bytes())
    (frames / "outside.png").symlink_to(outside)
    (frames / "inside.png").symlink_to(frames / "img001.png")  # a link inside the project is fine
    return project


def test_every_bad_file_is_reported_and_the_rest_opens(hostile):
    project = _within(10, Project, hostile.root)
    statuses, problems = _within(10, project.scan)
    assert sorted(statuses) == ["img000.png", "img001.png", "img002.png", "img003.png", "img004.png",
                                "inside.png"]
    assert statuses["img000.png"] == "labelled"
    assert all(statuses[f"img00{i}.png"] == "unlabelled" for i in range(1, 5))
    assert len(problems) == 4
    for i, needle in [(1, "list"), (2, "valid JSON"), (3, "FIFO"), (4, "link")]:
        found = [p for p in problems if f"img00{i}.png.json" in p]
        assert len(found) == 1 and needle in found[0] and "\n" not in found[0], (i, problems)
    assert _within(10, project.progress) == {"total": 6, "labelled": 1, "skipped": 0, "unlabelled": 5}
    with pytest.raises(LabelError, match=r"img001\.png\.json.*list"):
        project.read_label("img001.png")
    # the damaged files are left as they were
    assert (project.labels_dir / "img001.png.json").read_text() == "[1, 2, 3]"


def test_the_server_lists_only_real_images_and_reports_bad_labels(hostile):
    server = make_server(hostile, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        status, raw = _within(20, _get, port, "/api/project")
        assert status == 200
        info = json.loads(raw)
        names = [im["name"] for im in info["images"]]
        assert "fifo.png" not in names and "zero.png" not in names and "outside.png" not in names
        assert len(info["problems"]) == 4
        for name in ("fifo.png", "zero.png"):
            assert _within(20, _get, port, f"/frames/{name}")[0] in (403, 404)
        assert _within(20, _get, port, "/frames/outside.png")[0] == 403
        status, raw = _within(20, _get, port, "/frames/inside.png")
        assert status == 200 and raw[:4] == b"\x89PNG"
        for i in (1, 2, 3, 4):
            status, raw = _within(20, _get, port, f"/api/labels/img00{i}.png")
            assert status in (400, 403) and f"img00{i}.png.json" in json.loads(raw)["error"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("content, needle", [
    ("[]", "JSON object"), ("{", "valid JSON"), ('{"classes": "mouse"}', "classes"),
    ('{"skeleton": [[0, "a"]]}', "skeleton"), ('{"sources": []}', "sources"), ('{"keypoints": ["a", "a"]}', "unique"),
])
def test_a_bad_project_file_is_one_line_naming_it(tmp_path, content, needle):
    (tmp_path / "project.json").write_text(content)
    with pytest.raises(LabelError, match=needle) as caught:
        Project(tmp_path)
    assert "project.json" in str(caught.value) and "\n" not in str(caught.value)


def test_a_fifo_or_device_as_project_file_is_not_read(tmp_path):
    os.mkfifo(tmp_path / "project.json")
    with pytest.raises(LabelError, match="FIFO"):
        _within(10, Project, tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    (other / "project.json").symlink_to("/dev/zero")
    with pytest.raises(LabelError, match="character device"):
        _within(10, Project, other)


@pytest.mark.parametrize("content", ['{"revision": -1}', '{"revision": "2"}', '{"status": "done"}',
                                     '{"width": 0}', '{"instances": {}}', '{"revision": 1' + "0" * 5000 + "}"])
def test_label_fields_are_checked_when_read(make_project, content):
    project = make_project(1)
    project.labels_dir.mkdir(exist_ok=True)
    (project.labels_dir / "img000.png.json").write_text(content)
    with pytest.raises(LabelError, match=r"img000\.png\.json"):
        project.read_label("img000.png")
    assert project.statuses() == {"img000.png": "unlabelled"} and len(project.problems()) == 1


def test_a_planted_lock_link_is_not_followed(make_project, tmp_path):
    project = make_project(1)
    target = tmp_path / "victim.txt"
    target.write_text("keep")
    project.labels_dir.mkdir(exist_ok=True)
    (project.labels_dir / ".lock").symlink_to(target)
    with pytest.raises(PermissionError, match="link"):
        project.write_label("img000.png", [{"class": 0, "box": [1, 2, 3, 4]}])
    assert target.read_text() == "keep"
    assert project.images() == ["img000.png"]


@pytest.mark.slow
def test_the_label_command_starts_reporting_each_bad_file(hostile):
    """``deepbehavior label`` on the folder above: one warning line per bad label file, then the URL."""
    repo = Path(__file__).resolve().parents[3]
    proc = subprocess.Popen([sys.executable, "-m", "deepbehavior.cli", "label", f"project={hostile.root}", "port=0"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    try:
        def read_until_url():
            for line in proc.stdout:
                lines.append(line)
                if line.startswith("open http"):
                    return True
            return False

        assert _within(120, read_until_url), "".join(lines)
    finally:
        proc.terminate()
        proc.wait(30)
    text = "".join(lines)
    assert "Traceback" not in text
    assert sum(line.startswith("warning:") for line in lines) == 4, text
    assert "labelling" in text and "1/6 images labelled" in text
