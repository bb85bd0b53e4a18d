"""The labelling app's HTTP server: a JSON API over a :class:`Project` and the page in ``static/``.

Standard library only (``http.server.ThreadingHTTPServer``), bound to 127.0.0.1 unless told
otherwise; over SSH, forward the port (``ssh -L 8765:127.0.0.1:8765 host``). API::

    GET  /api/project              classes, keypoints, skeleton, images with status, progress
    GET  /api/labels/<image>       the image's label (revision 0 when unlabelled)
    PUT  /api/labels/<image>       {"revision": r, "status": "labelled"|"skipped", "instances": [...]}
                                   -> 200 the saved label | 409 {"error", "current"} | 400 {"error"}
    GET  /api/suggest/<image>      {"instances": [...]} from the model (404 when there is none)
    GET  /frames/<image>           the image file
    GET  /, /static/<file>         the page

Only plain file names are served: ``..``, absolute paths, encoded slashes or backslashes, and
symlinks leaving the project are refused (403). Requests whose ``Host`` is not this machine's
loopback name (or the bound host) are refused too, so a web page elsewhere cannot reach the
server through DNS rebinding.

Bound beyond loopback (``host=0.0.0.0`` or an interface's address), the server requires a token
on every request (401 without): one is generated unless given, and the URL printed carries it
(``/?token=…``); the page's first request trades it for an HttpOnly cookie, and scripts may send
``Authorization: Bearer <token>``. Every bad request is answered with a 4xx (never a dropped
connection): bodies are bounded in size and JSON nesting, coordinates must be finite and lie in
the image.

One client cannot hold up the others: each connection has its own thread, the work done on a
body grows linearly with its size (no backtracking regex, no recursion), an idle connection is
closed after ``idle_seconds`` and a request that takes longer than ``request_seconds`` to arrive
and be answered is cut off; beyond ``max_connections`` at once, new ones get 503.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from .project import LabelError, Project, RevisionConflict, read_regular

STATIC_DIR = Path(__file__).resolve().parent / "static"
# A label of 100 instances with 50 keypoints each is about 150 KB of JSON: 1 MiB leaves room.
MAX_BODY = 1024 * 1024
# The largest image (or page file) served. Each request holds its file in memory and up to
# MAX_CONNECTIONS are served at once, so the cap is image-sized, not video-sized.
MAX_FILE = 64 * 1024 * 1024
IDLE_SECONDS = 15.0  # a connection silent this long is closed (it may be a keep-alive one)
REQUEST_SECONDS = 60.0  # a request must arrive and be answered within this
MAX_CONNECTIONS = 256  # served at once; more get 503 until one ends
MAX_JSON_DEPTH = 16  # a label is 5 levels deep: {instances: [{box: [...]}]}; keypoints 6
LISTEN_BACKLOG = 256  # connections waiting to be accepted (http.server's default of 5 resets tens of clients)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_COOKIE = "deepbehavior_label_token"
_SUSPECT = re.compile(r"%2f|%5c|%00|\\|%25", re.IGNORECASE)

Suggester = Callable[[Path], list]


class UltralyticsSuggester:
    """Suggestions from an ultralytics weights file: boxes (and keypoints) as project instances.

    Classes are matched by name; with a one-class project every detection becomes that class.
    The model is loaded on first use and called by one thread at a time.
    """

    def __init__(self, weights: str, project: Project, *, conf: float = 0.25, imgsz: int = 640,
                 device: str = "cpu"):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"Expected model weights at {weights}, but there is no such file")
        self.weights, self.spec = weights, project.spec
        self.conf, self.imgsz, self.device = conf, imgsz, device
        self._model = None
        self._lock = threading.Lock()

    def __call__(self, image: Path) -> list[dict]:
        with self._lock:
            if self._model is None:
                from ..offline import offline_ultralytics

                offline_ultralytics()
                from ultralytics import YOLO

                self._model = YOLO(self.weights)
            result = self._model.predict(str(image), conf=self.conf, imgsz=self.imgsz, device=self.device,
                                         verbose=False)[0]
        names = result.names
        instances = []
        boxes = result.boxes
        points = getattr(result, "keypoints", None)
        for i in range(len(boxes)):
            name = names[int(boxes.cls[i])]
            if name in self.spec.classes:
                cls = self.spec.classes.index(name)
            elif len(self.spec.classes) == 1:
                cls = 0
            else:
                continue
            inst = {"class": cls, "box": [float(v) for v in boxes.xyxy[i].tolist()], "keypoints": None,
                    "score": float(boxes.conf[i])}
            if points is not None and points.xy is not None and points.xy.shape[1] == len(self.spec.keypoints):
                xy = points.xy[i].tolist()
                conf = points.conf[i].tolist() if points.conf is not None else [1.0] * len(xy)
                inst["keypoints"] = [[x, y] if c >= 0.5 and (x, y) != (0.0, 0.0) else None
                                     for (x, y), c in zip(xy, conf)]
            instances.append(inst)
        return instances


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), without parsing it.

    Linear in the body's length, whatever it holds: a quote is escaped when an odd number of
    backslashes precede it, brackets count outside strings only. Where the text is not JSON (a
    backslash outside a string) the count may differ from a parser's, but only after the first
    such place, where any JSON parser stops.
    """
    codes = np.frombuffer(body, dtype=np.uint8)
    if not len(codes):
        return 0
    quotes = np.flatnonzero(codes == ord('"'))
    if b"\\" in body:
        index = np.arange(len(codes))
        # position of the last non-backslash at or before each place: the length of a backslash run
        last_other = np.maximum.accumulate(np.where(codes == ord("\\"), -1, index))
        run = np.zeros(len(quotes), dtype=np.int64)
        after = quotes > 0
        run[after] = (quotes[after] - 1) - last_other[quotes[after] - 1]
        quotes = quotes[run % 2 == 0]  # quotes that open or close a string
    toggles = np.zeros(len(codes), dtype=np.int8)
    toggles[quotes] = 1
    outside = (np.cumsum(toggles, dtype=np.int64) & 1) == 0
    steps = np.zeros(len(codes), dtype=np.int8)
    steps[((codes == ord("[")) | (codes == ord("{"))) & outside] = 1
    steps[((codes == ord("]")) | (codes == ord("}"))) & outside] = -1
    return int(np.cumsum(steps, dtype=np.int64).max(initial=0))


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` at once, each cut off at its deadline."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._deadlines: dict[socket.socket, float] = {}
        self._guard = threading.Lock()
        self._closing = threading.Event()
        threading.Thread(target=self._reap, name="label-server-deadlines", daemon=True).start()

    def set_deadline(self, sock: socket.socket, deadline: float | None) -> None:
        with self._guard:
            if deadline is None:
                self._deadlines.pop(sock, None)
            else:
                self._deadlines[sock] = deadline

    def _reap(self) -> None:
        """Shut down connections past their deadline: their thread's blocked read or write returns,
        whatever the client does (a per-read timeout alone lets a slow drip last for ever)."""
        while not self._closing.wait(0.2):
            now = time.monotonic()
            with self._guard:
                late = [sock for sock, deadline in self._deadlines.items() if deadline < now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:  # already closed by its thread
                    pass

    def process_request(self, request, client_address):
        with self._guard:
            busy = len(self._deadlines) >= self.max_connections
            if not busy:  # reserved until the handler sets its own deadline
                self._deadlines[request] = time.monotonic() + REQUEST_SECONDS
        if busy:
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Retry-After: 1\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.set_deadline(request, None)
        super().shutdown_request(request)

    def server_close(self):
        self._closing.set()
        super().server_close()


class _Handler(BaseHTTPRequestHandler):
    server_version = "deepbehavior-label"
    protocol_version = "HTTP/1.1"
    project: Project
    suggester: Suggester | None
    allowed_hosts: set[str]
    token: str | None = None
    quiet: bool = True
    timeout = IDLE_SECONDS  # StreamRequestHandler: every read and write on the socket
    request_seconds = REQUEST_SECONDS

    # ------------------------------------------------------------------ plumbing
    def handle_one_request(self):
        # the clock runs from the wait for the request to the end of the answer
        self.server.set_deadline(self.connection, time.monotonic() + self.request_seconds)
        try:
            super().handle_one_request()
        except OSError:  # cut off at its deadline, or the client went away: nothing to answer
            self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    def _authorised(self) -> bool:
        """With a token set: the request carries it (query, cookie or bearer header); else 401."""
        if self.token is None:
            return True
        offered = []
        header = self.headers.get("Authorization") or ""
        if header.startswith("Bearer "):
            offered.append(header[len("Bearer "):].strip())
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == _COOKIE:
                offered.append(value)
        offered += parse_qs(urlsplit(self.path).query).get("token", [])
        if any(hmac.compare_digest(o.encode(), self.token.encode()) for o in offered if o.isascii()):
            return True
        self._error(401, "Expected the server's token (the URL it printed has it: /?token=…), but got "
                         + ("a wrong one" if offered else "none"))
        return False

    def _route(self) -> list[str] | None:
        """The decoded path segments, or None after answering 403/400/401 for a path trick or a
        request without the token."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if self.allowed_hosts and host not in self.allowed_hosts:
            self._error(403, f"Expected Host to be one of {sorted(self.allowed_hosts)}, but got {host!r}")
            return None
        if not self._authorised():
            return None
        raw = urlsplit(self.path).path
        if _SUSPECT.search(raw):
            self._error(403, "Expected a plain path, but got an encoded slash, backslash or NUL")
            return None
        parts = [unquote(p) for p in raw.split("/") if p]
        if any(p in (".", "..") or "/" in p or "\\" in p or p.startswith("~") for p in parts):
            self._error(403, "Expected a path inside the project, but got '..' or a similar trick")
            return None
        return parts

    # ------------------------------------------------------------------ GET
    def do_HEAD(self):  # noqa: N802 - http.server's name
        self.do_GET()

    def do_GET(self):  # noqa: N802
        parts = self._route()
        if parts is None:
            return
        try:
            self._get(parts)
        except (FileNotFoundError, KeyError) as exc:
            return self._error(404, str(exc).strip("'\""))
        except PermissionError as exc:
            return self._error(403, str(exc))
        except (LabelError, ValueError, OSError, RecursionError) as exc:
            return self._error(400, f"Expected a readable request and files, but got: {exc}")

    def _get(self, parts: list[str]) -> None:
        if not parts:
            if self.token is not None and "token=" in (urlsplit(self.path).query or ""):
                # trade the token in the URL for a cookie the page's own requests carry
                cookie = f"{_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                return self._file(STATIC_DIR / "index.html", STATIC_DIR, {"Set-Cookie": cookie})
            return self._file(STATIC_DIR / "index.html", STATIC_DIR)
        if parts[0] == "static" and len(parts) == 2:
            return self._file(STATIC_DIR / parts[1], STATIC_DIR)
        if parts[0] == "frames" and len(parts) == 2:
            return self._file(self.project.image_path(parts[1]), self.project.root)
        if parts == ["api", "project"]:
            return self._json(200, self._project_info())
        if parts[:2] == ["api", "labels"] and len(parts) == 3:
            return self._json(200, self.project.read_label(parts[2]))
        if parts[:2] == ["api", "suggest"] and len(parts) == 3:
            if self.suggester is None:
                return self._error(404, "Expected a model for suggestions, but the server was started without one")
            return self._json(200, {"instances": self.suggester(self.project.image_path(parts[2]))})
        return self._error(404, f"Expected an API path or a file, but got {self.path!r}")

    def _file(self, path: Path, inside: Path, headers: dict | None = None) -> None:
        if not path.resolve().is_relative_to(inside.resolve()):
            return self._error(403, f"Expected {path.name} inside the project, but it links outside")
        if not path.is_file():
            return self._error(404, f"Expected a file {path.name}, but there is none")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript",):
            kind += "; charset=utf-8"
        self._send(200, read_regular(path, limit=MAX_FILE), kind, headers)

    def _project_info(self) -> dict:
        statuses, problems = self.project.scan()
        counts = {"total": len(statuses), "labelled": 0, "skipped": 0, "unlabelled": 0}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        return {**self.project.spec.to_json(), "name": self.project.root.name,
                "images": [{"name": n, "status": s} for n, s in statuses.items()],
                "progress": counts, "suggestions": self.suggester is not None, "problems": problems}

    # ------------------------------------------------------------------ PUT
    def do_PUT(self):  # noqa: N802
        parts = self._route()
        if parts is None:
            return
        if parts[:2] != ["api", "labels"] or len(parts) != 3:
            return self._error(404, f"Expected PUT /api/labels/<image>, but got {self.path!r}")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True  # the body's end is unknown: the connection cannot be reused
            return self._error(411, "Expected a Content-Length header, but got none")
        if int(length) > MAX_BODY:
            self.close_connection = True
            return self._error(413, f"Expected a body under {MAX_BODY} bytes, but got {length}")
        body = self.rfile.read(int(length))
        if len(body) < int(length):  # the client stopped sending, or was cut off at its deadline
            self.close_connection = True
            return self._error(400, f"Expected a body of {length} bytes, but got {len(body)}")
        depth = json_depth(body)
        if depth > MAX_JSON_DEPTH:
            return self._error(400, f"Expected JSON nested at most {MAX_JSON_DEPTH} deep, but got {depth}")
        try:
            data = json.loads(body)
        except ValueError as exc:  # bad JSON or UTF-8, or an integer beyond Python's 4,300 digits
            if "integer string conversion" in str(exc):
                return self._error(400, "Expected integers of at most 4300 digits (revision counts saves), "
                                        "but got a longer one")
            return self._error(400, f"Expected a JSON body, but got: {exc}")
        except RecursionError as exc:
            return self._error(400, f"Expected a JSON body, but got: {exc}")
        if not isinstance(data, dict):
            return self._error(400, f"Expected a JSON object, but got {type(data).__name__}")
        unknown = set(data) - {"revision", "status", "instances", "image", "width", "height"}
        if unknown:
            return self._error(400, f"Expected fields revision, status, instances, but got also {sorted(unknown)}")
        revision = data.get("revision")
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
            return self._error(400, f"Expected 'revision' a non-negative integer, but got {revision!r}")
        try:
            label = self.project.write_label(parts[2], data.get("instances", []),
                                             status=data.get("status", "labelled"), base_revision=revision,
                                             in_image=True)
        except RevisionConflict as exc:
            return self._json(409, {"error": str(exc), "current": exc.current})
        except LabelError as exc:
            return self._error(400, str(exc))
        except FileNotFoundError as exc:
            return self._error(404, str(exc))
        except PermissionError as exc:
            return self._error(403, str(exc))
        except (ValueError, OSError, RecursionError) as exc:
            return self._error(400, f"Expected a label for a readable image, but got: {exc}")
        return self._json(200, label)

    def do_POST(self):  # noqa: N802
        self._error(405, "Expected GET or PUT, but got POST")

    do_DELETE = do_POST


def make_server(project: Project, *, host: str = "127.0.0.1", port: int = 8765,
                suggester: Suggester | None = None, quiet: bool = True,
                token: str | None = None, idle_seconds: float = IDLE_SECONDS,
                request_seconds: float = REQUEST_SECONDS,
                max_connections: int = MAX_CONNECTIONS) -> ThreadingHTTPServer:
    """A server for ``project`` (not started: call ``serve_forever``). ``port=0`` picks a free port.

    ``suggester`` maps an image file to suggested instances (e.g. :class:`UltralyticsSuggester`).
    ``token``: required on every request when given; bound beyond loopback, a random one is made
    when none is given (never served without one there). The server's ``token`` attribute holds it
    and :func:`url_of` includes it. ``idle_seconds``: a connection silent this long (s) is closed;
    ``request_seconds``: the time (s) a request has to arrive and be answered before its
    connection is cut; ``max_connections``: served at once, more get 503.
    """
    if not (idle_seconds > 0 and request_seconds > 0 and max_connections >= 1):
        raise ValueError(f"Expected positive idle_seconds, request_seconds and max_connections, but got "
                         f"{idle_seconds}, {request_seconds}, {max_connections}")
    if token is not None and (len(token) < 16 or not token.isascii() or not token.isprintable()
                              or any(c in token for c in " ;,&=#%")):
        raise ValueError(f"Expected a token of 16+ printable ASCII characters without ' ;,&=#%', but got "
                         f"{len(token)} characters")
    on_loopback = host.lower() in LOOPBACK
    if not on_loopback and token is None:
        token = secrets.token_urlsafe(24)
    # Bound to another interface on purpose (a lab network): any Host name may reach it then.
    allowed = LOOPBACK if on_loopback else set()
    # staticmethod: a plain function stored on the class would otherwise be bound to the handler.
    handler = type("Handler", (_Handler,), {"project": project,
                                            "suggester": staticmethod(suggester) if suggester else None,
                                            "allowed_hosts": allowed, "quiet": quiet, "token": token,
                                            "timeout": idle_seconds, "request_seconds": request_seconds})
    server = _Server((host, port), handler)
    server.token = token
    server.max_connections = max_connections
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    """The URL to open: the bound address (this machine's name when bound to every interface),
    with the token when the server has one."""
    import socket

    host, port = server.server_address[:2]
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    token = getattr(server, "token", None)
    return f"http://{host}:{port}/" + (f"?token={token}" if token else "")
