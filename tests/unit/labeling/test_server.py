import http.client
import json
import threading

import pytest

from deepbehavior.labeling.server import make_server


@pytest.fixture
def served(make_project, tmp_path):
    project = make_project(2)
    (tmp_path / "secret.txt").write_text("not yours")
    (project.frames_dir / "escape.png").symlink_to(tmp_path / "secret.txt")

    def suggest(image):
        return [{"class": 1, "box": [1.0, 2.0, 3.0, 4.0], "keypoints": None, "score": 0.9}]

    server = make_server(project, port=0, suggester=suggest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield project, server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    res = conn.getresponse()
    raw = res.read()
    conn.close()
    try:
        return res.status, json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return res.status, raw


def test_project_labels_and_conflicts_over_http(served):
    project, port = served
    status, info = request(port, "GET", "/api/project")
    assert status == 200 and info["classes"] == ["mouse", "paw"] and info["progress"]["total"] == 2
    assert [im["name"] for im in info["images"]] == ["img000.png", "img001.png"]
    body = {"revision": 0, "instances": [{"class": 0, "box": [5, 6, 7, 8], "keypoints": [None, [1, 2]]}]}
    status, saved = request(port, "PUT", "/api/labels/img000.png", body)
    assert status == 200 and saved["revision"] == 1
    assert project.read_label("img000.png")["instances"][0]["keypoints"] == [None, [1.0, 2.0]]
    status, answer = request(port, "PUT", "/api/labels/img000.png", {**body, "instances": []})
    assert status == 409 and answer["current"]["revision"] == 1  # a second tab still on revision 0
    status, info = request(port, "GET", "/api/project")
    assert info["progress"]["labelled"] == 1
    status, image = request(port, "GET", "/frames/img001.png")
    assert status == 200 and image[:4] == b"\x89PNG"
    status, suggestion = request(port, "GET", "/api/suggest/img001.png")
    assert status == 200 and suggestion["instances"][0]["box"] == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("body, needle", [
    (b"{not json", "JSON"),
    ([1, 2], "object"),
    ({"revision": "0", "instances": []}, "revision"),
    ({"revision": 0, "instances": [{"class": 9, "box": [0, 0, 1, 1]}]}, "class"),
    ({"revision": 0, "instances": [], "extra": 1}, "extra"),
    ({"revision": 0, "status": "maybe", "instances": []}, "status"),
])
def test_malformed_saves_get_400_with_a_reason(served, body, needle):
    project, port = served
    status, answer = request(port, "PUT", "/api/labels/img001.png", body)
    assert status == 400 and needle in answer["error"]
    assert not (project.labels_dir / "img001.png.json").exists()


@pytest.mark.parametrize("path", [
    "/frames/..%2fproject.json", "/frames/..%2Fproject.json", "/frames/%2e%2e/project.json",
    "/static/../../project.py", "/frames/..\\project.json", "/frames/escape.png", "/static/%2e%2e%5cserver.py",
    "/api/labels/..%2f..%2fproject.json",
])
def test_path_tricks_are_refused(served, path):
    status, answer = request(served[1], "GET", path)
    assert status in (403, 404)
    assert b"not yours" not in json.dumps(answer).encode() if isinstance(answer, dict) else b"not yours" not in answer


def test_unknown_paths_and_foreign_hosts(served):
    port = served[1]
    assert request(port, "GET", "/frames/nothere.png")[0] == 404
    assert request(port, "GET", "/api/nothing")[0] == 404
    assert request(port, "POST", "/api/labels/img000.png", {})[0] == 405
    status, answer = request(port, "GET", "/api/project", headers={"Host": "evil.example:80"})
    assert status == 403 and "Host" in answer["error"]
    status, page = request(port, "GET", "/")
    assert status == 200 and b"app.js" in page
