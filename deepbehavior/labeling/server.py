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
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import re
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

from .project import LabelError, Project, RevisionConflict

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_BODY = 8 * 1024 * 1024
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
                from ..runtime.environment import offline_ultralytics

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
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), without parsing it."""
    stripped = re.sub(rb'"(?:[^"\\]|\\.)*"', b"", body)
    codes = np.frombuffer(stripped, dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int64)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


class _Server(ThreadingHTTPServer):
    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    server_version = "deepbehavior-label"
    protocol_version = "HTTP/1.1"
    project: Project
    suggester: Suggester | None
    allowed_hosts: set[str]
    token: str | None = None
    quiet: bool = True

    # ------------------------------------------------------------------ plumbing
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
        self._send(200, path.read_bytes(), kind, headers)

    def _project_info(self) -> dict:
        statuses = self.project.statuses()
        counts = {"total": len(statuses), "labelled": 0, "skipped": 0, "unlabelled": 0}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        return {**self.project.spec.to_json(), "name": self.project.root.name,
                "images": [{"name": n, "status": s} for n, s in statuses.items()],
                "progress": counts, "suggestions": self.suggester is not None}

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
        depth = json_depth(body)
        if depth > MAX_JSON_DEPTH:
            return self._error(400, f"Expected JSON nested at most {MAX_JSON_DEPTH} deep, but got {depth}")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
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
                token: str | None = None) -> ThreadingHTTPServer:
    """A server for ``project`` (not started: call ``serve_forever``). ``port=0`` picks a free port.

    ``suggester`` maps an image file to suggested instances (e.g. :class:`UltralyticsSuggester`).
    ``token``: required on every request when given; bound beyond loopback, a random one is made
    when none is given (never served without one there). The server's ``token`` attribute holds it
    and :func:`url_of` includes it.
    """
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
                                            "allowed_hosts": allowed, "quiet": quiet, "token": token})
    server = _Server((host, port), handler)
    server.token = token
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
