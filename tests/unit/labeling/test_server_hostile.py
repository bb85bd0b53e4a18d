"""The labeller on a shared machine: a token off loopback, no links out of the project, a 4xx for every bad
request, bounded JSON, many clients at once, and files with the user's umask."""

import http.client
import json
import os
import re
import socket
import stat
import threading

import pytest

from deepbehavior.labeling.server import make_server, url_of
from tests.helpers.labeling import serve_in_thread


@pytest.fixture
def served(make_project):
    project = make_project(2)
    server = serve_in_thread(project)
    yield project, server.server_address[1]
    server.shutdown()
    server.server_close()


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    res = conn.getresponse()
    raw = res.read()
    conn.close()
    try:
        return res.status, json.loads(raw), res
    except (json.JSONDecodeError, UnicodeDecodeError):
        return res.status, raw, res


def test_beyond_loopback_every_request_needs_the_printed_token(make_project):
    project = make_project(1)
    server = serve_in_thread(project, host="0.0.0.0")
    try:
        port, token = server.server_address[1], server.token
        assert token and len(token) >= 16
        url = url_of(server)
        assert url.endswith(f":{port}/?token={token}") and "0.0.0.0" not in url
        host = {"Host": "labhost"}  # any Host is fine off loopback: the token is the guard
        for path in ("/", "/api/project", "/frames/img000.png", "/api/labels/img000.png", "/static/app.js"):
            assert request(port, "GET", path, headers=host)[0] == 401, path
        assert request(port, "PUT", "/api/labels/img000.png", {"revision": 0, "instances": []}, host)[0] == 401
        assert request(port, "GET", "/api/project", headers={**host, "Authorization": "Bearer " + "x" * 32})[0] == 401
        status, info, _ = request(port, "GET", "/api/project", headers={**host, "Authorization": f"Bearer {token}"})
        assert status == 200 and info["progress"]["total"] == 1
        # the printed URL sets a cookie that the page's own requests then carry
        status, page, res = request(port, "GET", f"/?token={token}", headers=host)
        assert status == 200 and b"app.js" in page
        cookie = res.getheader("Set-Cookie").split(";")[0]
        assert "HttpOnly" in res.getheader("Set-Cookie")
        body = {"revision": 0, "instances": [{"class": 0, "box": [1, 2, 30, 40]}]}
        assert request(port, "PUT", "/api/labels/img000.png", body, {**host, "Cookie": cookie})[0] == 200
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_needs_no_token_unless_one_is_given(make_project):
    project = make_project(1)
    server = serve_in_thread(project, token="t" * 20)
    try:
        port = server.server_address[1]
        assert request(port, "GET", "/api/project")[0] == 401
        assert request(port, "GET", "/api/project", headers={"Authorization": "Bearer " + "t" * 20})[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(ValueError, match="Expected a token of 16"):
        make_server(project, port=0, token="short")


def test_a_link_in_labels_pointing_outside_is_never_followed(served, tmp_path):
    project, port = served
    outside = tmp_path / "outside.json"
    secret = {"image": "img000.png", "revision": 7, "status": "labelled", "instances": [], "secret": "not yours"}
    outside.write_text(json.dumps(secret))
    project.labels_dir.mkdir(parents=True, exist_ok=True)
    (project.labels_dir / "img000.png.json").symlink_to(outside)
    status, answer, _ = request(port, "GET", "/api/labels/img000.png")
    assert status == 403 and "not yours" not in json.dumps(answer)
    status, answer, _ = request(port, "PUT", "/api/labels/img000.png",
                                {"revision": 7, "instances": [{"class": 0, "box": [1, 2, 3, 4]}]})
    assert status == 403
    assert json.loads(outside.read_text()) == secret


def test_a_zero_byte_image_and_deep_json_get_an_answer(served):
    # Imported, ultralytics wraps PIL's Image.open for the whole process (the labeller imports it for
    # suggestions): on an image PIL cannot identify, the wrapper raised ImportError (no HEIF plug-in),
    # which dropped the connection; it failed only when an earlier test had imported ultralytics.
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()  # before the import: run alone, ultralytics' import would probe DNS servers
    import ultralytics  # noqa: F401

    project, port = served
    (project.frames_dir / "empty.png").write_bytes(b"")
    status, answer, _ = request(port, "PUT", "/api/labels/empty.png",
                                {"revision": 0, "instances": [{"class": 0, "box": [1, 2, 3, 4]}]})
    assert status == 400 and "readable image" in answer["error"]
    deep = b"[" * 100_000 + b"]" * 100_000
    status, answer, _ = request(port, "PUT", "/api/labels/img000.png", deep)
    assert status == 400 and "nested" in answer["error"]
    deep_object = b'{"revision": 0, "instances": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert request(port, "PUT", "/api/labels/img000.png", deep_object)[0] == 400
    # brackets inside strings are not nesting
    status, _, _ = request(port, "PUT", "/api/labels/img000.png",
                           b'{"revision": 0, "status": "' + b"[" * 50 + b'", "instances": []}')
    assert status == 400  # refused for its status value, not its depth
    assert not (project.labels_dir / "img000.png.json").exists()


def test_an_image_larger_than_any_image_is_refused_unread(served):
    """Each request holds its file in memory, with up to MAX_CONNECTIONS at once: the cap is image-sized."""
    from deepbehavior.labeling.server import MAX_FILE

    project, port = served
    assert MAX_FILE <= 64 * 2**20
    with open(project.frames_dir / "huge.png", "wb") as handle:
        handle.truncate(64 * 2**20 + 1)  # sparse: nothing is written
    status, answer, _ = request(port, "GET", "/frames/huge.png")
    assert 400 <= status < 500 and "at most" in answer["error"]


@pytest.mark.parametrize("box, ok", [
    ([1e308, 0, 10, 10], False), ([-1, 0, 10, 10], False), ([0, 0, 321, 10], False), ([0, 0, 10, 241], False),
    ([0, 0, 320, 240], True), ([10.5, 20.25, 30, 40], True),
])
def test_saved_coordinates_lie_in_the_image(served, box, ok):
    project, port = served
    status, answer, _ = request(port, "PUT", "/api/labels/img001.png",
                                {"revision": 0, "instances": [{"class": 0, "box": box}]})
    assert status == (200 if ok else 400), answer
    assert (project.labels_dir / "img001.png.json").exists() == ok


def test_keypoints_outside_the_image_are_refused(served):
    project, port = served
    body = {"revision": 0, "instances": [{"class": 0, "keypoints": [[5, 5], [400, 5]]}]}
    status, answer, _ = request(port, "PUT", "/api/labels/img001.png", body)
    assert status == 400 and "keypoints[1]" in answer["error"]


def test_malformed_requests_get_4xx_not_a_dropped_connection(served):
    port = served[1]
    for raw in (b"GARBAGE\r\n\r\n",
                b"PUT /api/labels/img000.png HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n",
                b"PUT /api/labels/img000.png HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 999999999999\r\n\r\n",
                b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(raw)
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        # a request line without a version gets http.server's HTTP/0.9 answer: the page alone
        found = re.match(rb"HTTP/1\.[01] (\d{3})", answer) or re.search(rb"Error code: (\d{3})", answer)
        assert found, (raw[:40], answer[:80])
        code = int(found.group(1))
        assert 400 <= code < 500, (raw[:40], answer[:60])


def test_tens_of_clients_at_once_are_all_answered(served):
    port = served[1]
    n = 100
    barrier = threading.Barrier(n)
    statuses = [None] * n

    def client(i):
        barrier.wait()
        try:
            statuses[i] = request(port, "GET", "/api/project")[0]
        except OSError as exc:  # a reset connection: what a listen backlog of 5 gave
            statuses[i] = type(exc).__name__

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [200] * n


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_label_files_get_the_users_umask(served, umask, mode):
    project, port = served
    old = os.umask(umask)
    try:
        status, _, _ = request(port, "PUT", "/api/labels/img000.png",
                               {"revision": 0, "instances": [{"class": 0, "box": [1, 2, 3, 4]}]})
    finally:
        os.umask(old)
    assert status == 200
    assert stat.S_IMODE((project.labels_dir / "img000.png.json").stat().st_mode) == mode
