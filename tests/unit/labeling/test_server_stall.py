"""One client cannot stall the labeller for the others: bodies cost linear time, connections have
deadlines, and the number served at once is bounded."""

import http.client
import json
import socket
import threading
import time

import numpy as np
import pytest

from deepbehavior.labeling.server import MAX_BODY, MAX_JSON_DEPTH, json_depth, make_server
from tests.helpers.labeling import serve_in_thread

# The old quadratic pre-check took 92 s on the 64 KB body; these bounds leave a loaded 2-core
# machine plenty of room and still fail on that code.
BOUND_S = 5.0


@pytest.fixture
def served(make_project):
    server = serve_in_thread(make_project(2))
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _timed(port, method, path, body=None):
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    raw = res.read()
    conn.close()
    return res.status, raw, time.monotonic() - start


WORST = {
    "quote_escapes_64k": b'"' + b'\\"' * 32_767,
    "quote_escapes_max": b'"' + b'\\"' * (MAX_BODY // 2 - 1),
    "backslash_runs": (b'"' + b"\\" * 1000 + b'"') * (MAX_BODY // 1002),
    "open_strings": b'["' * (MAX_BODY // 2),
    "brackets": b"[" * (MAX_BODY // 2) + b"]" * (MAX_BODY // 2),
    "long_revision": b'{"revision": ' + b"9" * (MAX_BODY - 30) + b"}",
}


def test_worst_bodies_are_answered_quickly_while_others_are_served(served):
    port = served
    answers, waits, done = {}, [], threading.Event()

    def attacker():
        for name, body in WORST.items():
            status, _, seconds = _timed(port, "PUT", "/api/labels/img000.png", body)
            answers[name] = (status, seconds)
        done.set()

    thread = threading.Thread(target=attacker)
    thread.start()
    while not done.is_set():
        status, raw, seconds = _timed(port, "GET", "/api/project")
        assert status == 200 and json.loads(raw)["progress"]["total"] == 2
        waits.append(seconds)
    thread.join()
    assert set(answers) == set(WORST)
    for name, (status, seconds) in answers.items():
        assert status == 400, name
        assert seconds < BOUND_S, (name, seconds)
    assert waits and max(waits) < BOUND_S, waits


def test_json_depth_matches_a_parser_on_strings_with_escapes():
    for text, depth in [(b'{"a": "[[\\"[[", "b": [[1]]}', 3), (b'["\\\\", [["\\\\\\""]]]', 3),
                        (b'"\\\\\\\\" ', 0), (b'[{"x": "}}}]]]"}]', 2), (b"", 0)]:
        assert json_depth(text) == depth, text
        if text:
            json.loads(text)  # each is valid JSON, so the depth is a parser's


def test_body_limits_and_long_integers_get_a_reason(served):
    port = served
    status, raw, _ = _timed(port, "PUT", "/api/labels/img000.png",
                            json.dumps({"revision": int("9" * 4000), "instances": []}).encode())
    assert status == 409  # a valid (huge) revision is compared, not a crash
    body = b'{"revision": ' + b"1" * 5000 + b', "instances": []}'
    status, raw, _ = _timed(port, "PUT", "/api/labels/img000.png", body)
    assert status == 400 and "4300 digits" in json.loads(raw)["error"]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:  # answered before the body is sent
        sock.sendall(b"PUT /api/labels/img000.png HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Length: " + str(MAX_BODY + 1).encode() + b"\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 413")
    deep = b'{"revision": 0, "instances": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}"
    status, raw, _ = _timed(port, "PUT", "/api/labels/img000.png", deep)
    assert status == 400 and "nested" in json.loads(raw)["error"]


def _closed_within(sock, seconds):
    """Whether the server closes ``sock`` (EOF or reset) within ``seconds``; returns the time taken."""
    start = time.monotonic()
    sock.settimeout(0.2)
    while time.monotonic() - start < seconds:
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except TimeoutError:
            continue
        except ConnectionResetError:
            return time.monotonic() - start
    return None


def test_a_slow_drip_is_cut_off_at_its_deadline_and_others_are_served(make_project):
    server = serve_in_thread(make_project(1), idle_seconds=1.0, request_seconds=2.0)
    port = server.server_address[1]
    try:
        drip = socket.create_connection(("127.0.0.1", port))
        drip.sendall(b"PUT /api/labels/img000.png HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n")
        stop = threading.Event()

        def keep_dripping():  # one byte well inside the idle timeout: only the deadline can end it
            while not stop.wait(0.3):
                try:
                    drip.sendall(b" ")
                except OSError:
                    return

        dripper = threading.Thread(target=keep_dripping, daemon=True)
        dripper.start()
        status, _, seconds = _timed(port, "GET", "/api/project")
        assert status == 200 and seconds < BOUND_S
        took = _closed_within(drip, 30)
        stop.set()
        assert took is not None and took < 15, took
        idle = socket.create_connection(("127.0.0.1", port))  # sends nothing at all
        assert _closed_within(idle, 30) is not None
        drip.close()
        idle.close()
    finally:
        server.shutdown()
        server.server_close()


def test_connections_beyond_the_limit_get_503_until_one_ends(make_project):
    server = serve_in_thread(make_project(1), max_connections=2, idle_seconds=1.0, request_seconds=1.5)
    port = server.server_address[1]
    try:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        time.sleep(0.3)  # both accepted
        status, _, _ = _timed(port, "GET", "/api/project")
        assert status == 503
        for sock in held:
            assert _closed_within(sock, 30) is not None
            sock.close()
        status, _, _ = _timed(port, "GET", "/api/project")
        assert status == 200
    finally:
        server.shutdown()
        server.server_close()


def test_make_server_refuses_limits_that_make_no_sense(make_project):
    with pytest.raises(ValueError, match="Expected positive"):
        make_server(make_project(1), port=0, request_seconds=0)


@pytest.mark.parametrize("seed", range(3))
def test_json_depth_is_never_below_a_parsers_on_random_json(seed):
    rng = np.random.default_rng(seed)

    def value(level):
        pick = rng.integers(0, 4) if level < 6 else 0
        if pick == 0:
            return str(rng.choice(['a"[', "\\", '{"]', "x"])) * int(rng.integers(0, 3))
        if pick == 1:
            return int(rng.integers(-5, 5))
        if pick == 2:
            return [value(level + 1) for _ in range(int(rng.integers(0, 3)))]
        return {str(rng.choice(['k"', "[", "\\{"])) + str(i): value(level + 1) for i in range(int(rng.integers(0, 3)))}

    def depth(obj):
        if isinstance(obj, list):
            return 1 + max((depth(v) for v in obj), default=0)
        if isinstance(obj, dict):
            return 1 + max((depth(v) for v in obj.values()), default=0)
        return 0

    for _ in range(300):
        obj = value(0)
        assert json_depth(json.dumps(obj).encode()) == depth(obj)
