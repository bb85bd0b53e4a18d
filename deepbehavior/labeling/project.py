"""A labelling project folder: images, what is to be labelled, and one label file per image.

Layout of a project folder::

    PROJECT/
      project.json            {"classes": [...], "keypoints": [...], "skeleton": [[i, j], ...],
                               "sources": {image: {"video": path, "frame": n}}}
      frames/<image>          the images to label (PNG or JPEG), flat
      labels/<image>.json     one file per image, replaced atomically on every change

A label file::

    {"image": "img0001.png", "width": 640, "height": 480, "revision": 3, "status": "labelled",
     "instances": [{"class": 0, "box": [x1, y1, x2, y2] | null,
                    "keypoints": [[x, y] | null, ...] | null}]}

Coordinates are pixels of the image, (0, 0) the top-left corner of the top-left pixel. ``status``
is ``labelled`` (an image with no instance is then a true negative) or ``skipped``; an image
without a label file is ``unlabelled``. One instance is one individual: its class, its box and its
named keypoints (in the order of ``project.json``'s ``keypoints``; ``null`` where not placed).

``revision`` counts the saves of an image. A save names the revision it was based on; if the file
has moved on since (another tab, another user), the save is refused with the current label, so no
one overwrites work they have not seen (:class:`RevisionConflict`). Each save is a rename of a
complete file, so a killed server leaves every label file either old or new, never torn.

The folder may hold anything: only regular files that lie inside the project are read. FIFOs,
devices, links leading out of the project (and any link in ``labels/``) are never opened; a
label file that is not a label (bad JSON, a list, wrong fields) is reported by :meth:`Project.problems`
and its image counts as unlabelled, while reading that one label raises :class:`LabelError`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..files import write_atomic

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
STATUSES = ("labelled", "skipped")
#: The largest label or project file read (bytes); the server accepts bodies far smaller than this.
MAX_LABEL_BYTES = 32 * 1024 * 1024

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class LabelError(ValueError):
    """A label (or a project file) does not have the documented fields and values."""


class RevisionConflict(Exception):
    """A save was based on an older revision than the one on disk; ``current`` is what is there."""

    def __init__(self, current: dict):
        super().__init__(
            f"Expected revision {current['revision']} of {current['image']}, but the save was based on an older one"
        )
        self.current = current


@dataclass(frozen=True)
class ProjectSpec:
    """What is labelled: box classes, keypoint names and the skeleton (pairs of keypoint indices)."""

    classes: tuple[str, ...] = ("object",)
    keypoints: tuple[str, ...] = ()
    skeleton: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        if not self.classes:
            raise LabelError("Expected at least one class, but got none")
        for name, values in (("classes", self.classes), ("keypoints", self.keypoints)):
            if len(set(values)) != len(values):
                raise LabelError(f"Expected unique {name}, but got {list(values)}")
        for pair in self.skeleton:
            if len(pair) != 2 or not all(0 <= int(i) < len(self.keypoints) for i in pair):
                raise LabelError(
                    f"Expected skeleton pairs of keypoint indices below {len(self.keypoints)}, but got {list(pair)}"
                )

    def to_json(self) -> dict:
        return {"classes": list(self.classes), "keypoints": list(self.keypoints),
                "skeleton": [list(map(int, p)) for p in self.skeleton]}


def _finite(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LabelError(f"Expected a finite number at {where}, but got {value!r}")
    return float(value)


def check_instances(instances, spec: ProjectSpec, *, where: str = "instances") -> list[dict]:
    """Validate instances sent by a client or read from a file; return a normalised copy.

    Boxes are returned with ``x1 <= x2`` and ``y1 <= y2`` (pixels); keypoint lists are padded to
    the project's keypoints only if they were given in full. Raises :class:`LabelError` naming the
    first wrong field.
    """
    if not isinstance(instances, list):
        raise LabelError(f"Expected {where} to be a list, but got {type(instances).__name__}")
    out = []
    for i, inst in enumerate(instances):
        at = f"{where}[{i}]"
        if not isinstance(inst, dict):
            raise LabelError(f"Expected {at} to be an object, but got {type(inst).__name__}")
        unknown = set(inst) - {"class", "box", "keypoints"}
        if unknown:
            raise LabelError(f"Expected only class, box, keypoints in {at}, but got {sorted(unknown)}")
        cls = inst.get("class", 0)
        if isinstance(cls, bool) or not isinstance(cls, int) or not 0 <= cls < len(spec.classes):
            raise LabelError(f"Expected {at}.class an integer in [0, {len(spec.classes)}), but got {cls!r}")
        box = inst.get("box")
        if box is not None:
            if not isinstance(box, list) or len(box) != 4:
                raise LabelError(f"Expected {at}.box [x1, y1, x2, y2] or null, but got {box!r}")
            x1, y1, x2, y2 = (_finite(v, f"{at}.box") for v in box)
            box = [min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)]
        points = inst.get("keypoints")
        if points is not None:
            if not isinstance(points, list) or len(points) != len(spec.keypoints):
                raise LabelError(
                    f"Expected {at}.keypoints a list of {len(spec.keypoints)} points or null, but got {points!r}"
                )
            checked = []
            for k, p in enumerate(points):
                if p is None:
                    checked.append(None)
                    continue
                if not isinstance(p, list) or len(p) != 2:
                    raise LabelError(f"Expected {at}.keypoints[{k}] [x, y] or null, but got {p!r}")
                checked.append([_finite(v, f"{at}.keypoints[{k}]") for v in p])
            points = checked if any(p is not None for p in checked) else None
        if box is None and points is None:
            raise LabelError(f"Expected {at} to have a box or at least one keypoint, but it has neither")
        out.append({"class": int(cls), "box": box, "keypoints": points})
    return out


def _image_size(path: Path) -> tuple[int, int]:
    # the formats package is imported where it is needed: it brings in xarray, which picking
    # frames (`deepbehavior frames`) and serving labels never use
    from ..formats.yolo import image_size

    try:
        return image_size(path)
    except ValueError as exc:  # the formats layer's one-line error, naming the file
        raise LabelError(str(exc)) from None


def check_in_image(instances: list[dict], width: float, height: float, *, where: str = "instances") -> None:
    """Raise :class:`LabelError` unless every box corner and keypoint lies in the image
    (``0 <= x <= width``, ``0 <= y <= height``, pixels)."""
    for i, inst in enumerate(instances):
        points = ([("box", inst["box"][:2]), ("box", inst["box"][2:])] if inst.get("box") else []) + \
            [(f"keypoints[{k}]", p) for k, p in enumerate(inst.get("keypoints") or []) if p is not None]
        for field, (x, y) in points:
            if not (0 <= x <= width and 0 <= y <= height):
                raise LabelError(f"Expected {where}[{i}].{field} inside the {width}x{height} image, "
                                 f"but got ({x:g}, {y:g})")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder"), (stat.S_ISLNK, "a link")):
        if test(mode):
            return name
    return "not a regular file"


def read_regular(path: str | os.PathLike, *, limit: int, follow: bool = True) -> bytes:
    """The bytes of ``path`` when it is a regular file of at most ``limit`` bytes.

    Anything else raises :class:`LabelError` without being read: a FIFO (reading would wait for a
    writer forever), a device such as ``/dev/zero`` (endless), a socket, a folder, a file over
    ``limit``, and with ``follow=False`` a symlink. The type is checked before opening (opening a
    device can have effects) and again on the opened descriptor, so a file swapped in between is
    refused too.
    """
    path = Path(path)
    try:
        mode = (os.stat if follow else os.lstat)(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LabelError(f"Expected {path} to be a file, but it is a loop of links") from None
        raise
    if not stat.S_ISREG(mode):
        raise LabelError(f"Expected {path} to be a regular file, but it is {_kind(mode)}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LabelError(f"Expected {path} to be a regular file, but it is a link") from None
        raise
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LabelError(f"Expected {path} to be a regular file, but it is {_kind(info.st_mode)}")
        if info.st_size > limit:
            raise LabelError(f"Expected {path} to hold at most {limit} bytes, but it holds {info.st_size}")
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise LabelError(f"Expected {path} to hold at most {limit} bytes, but it holds more")
    return data


def read_json_object(path: str | os.PathLike, *, follow: bool = True) -> dict:
    """The JSON object in the regular file ``path`` (see :func:`read_regular`); anything else, a
    list, bad UTF-8 or JSON included, raises a one-line :class:`LabelError` naming the file."""
    raw = read_regular(path, limit=MAX_LABEL_BYTES, follow=follow)
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, an int over 4,300 digits
        raise LabelError(f"Expected valid JSON in {path}, but got: {exc}") from None
    if not isinstance(data, dict):
        raise LabelError(f"Expected a JSON object in {path}, but got a {type(data).__name__}")
    return data


def check_label(data: dict, spec: ProjectSpec, *, where: str) -> dict:
    """Validate the fields of a label read from a file (``where`` names it); return it with its
    instances normalised by :func:`check_instances` and ``revision``/``status`` filled in."""
    revision = data.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
        raise LabelError(f"{where}: Expected revision a non-negative integer, but got {revision!r}")
    status = data.get("status", "labelled")
    if status not in STATUSES:
        raise LabelError(f"{where}: Expected status one of {STATUSES}, but got {status!r}")
    for field in ("width", "height"):
        value = data.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value) or value <= 0):
            raise LabelError(f"{where}: Expected {field} a positive number of pixels, but got {value!r}")
    instances = check_instances(data.get("instances", []), spec, where=f"{where}: instances")
    return {**data, "revision": revision, "status": status, "instances": instances}


def _regular_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` leads (through any links) to a regular file inside ``root``."""
    try:
        target = path.resolve()
        return target.is_relative_to(root) and stat.S_ISREG(os.stat(target).st_mode)
    except (OSError, RuntimeError):  # a loop of links, a name too long, no permission
        return False


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise read-compare-write of labels across threads and processes sharing ``folder``."""
    key = str(folder.resolve())
    with _LOCKS_GUARD:
        lock = _LOCKS.setdefault(key, threading.Lock())
    with lock:
        folder.mkdir(parents=True, exist_ok=True)
        # never through a link or into a FIFO planted as .lock
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) \
            | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(folder / ".lock", flags, 0o666)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PermissionError(f"Expected {folder / '.lock'} to be a file, but it is a link") from None
            raise
        with os.fdopen(fd, "a+") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise PermissionError(f"Expected {folder / '.lock'} to be a regular file, but it is "
                                      f"{_kind(os.fstat(fd).st_mode)}")
            try:
                import fcntl

                fcntl.flock(handle, fcntl.LOCK_EX)
            except ImportError:  # not POSIX: the thread lock still serialises one server
                pass
            yield


class Project:
    """A labelling project folder (see the module docstring); methods read and write its files."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.frames_dir = self.root / "frames"
        self.labels_dir = self.root / "labels"
        meta = self.root / "project.json"
        if not os.path.lexists(meta):
            raise FileNotFoundError(f"Expected a labelling project at {self.root}, but {meta} is missing")
        data = read_json_object(meta)
        names = {}
        for field, default in (("classes", ["object"]), ("keypoints", [])):
            values = data.get(field, default)
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise LabelError(f"{meta}: Expected {field} a list of names, but got {values!r}")
            names[field] = tuple(values)
        skeleton = data.get("skeleton", [])
        if not isinstance(skeleton, list) or not all(
                isinstance(p, list) and all(isinstance(i, int) and not isinstance(i, bool) for i in p)
                for p in skeleton):
            raise LabelError(f"{meta}: Expected skeleton a list of [i, j] keypoint indices, but got {skeleton!r}")
        sources = data.get("sources", {})
        if not isinstance(sources, dict):
            raise LabelError(f"{meta}: Expected sources an object, but got {type(sources).__name__}")
        try:
            self.spec = ProjectSpec(classes=names["classes"], keypoints=names["keypoints"],
                                    skeleton=tuple(tuple(p) for p in skeleton))
        except LabelError as exc:
            raise LabelError(f"{meta}: {exc}") from None
        self.sources: dict = dict(sources)

    # ---------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        root: str | os.PathLike,
        *,
        classes: Sequence[str] = ("object",),
        keypoints: Sequence[str] = (),
        skeleton: Sequence[Sequence[int]] = (),
        exist_ok: bool = True,
    ) -> Project:
        """Create a project folder (or open an existing one whose spec is the same)."""
        root = Path(root)
        spec = ProjectSpec(tuple(classes), tuple(keypoints), tuple(tuple(p) for p in skeleton))
        meta = root / "project.json"
        if meta.exists():
            project = cls(root)
            if not exist_ok:
                raise FileExistsError(f"Expected no project at {root}, but {meta} exists")
            if project.spec != spec:
                raise LabelError(
                    f"Expected the project at {root} to have {spec.to_json()}, but it has {project.spec.to_json()}"
                )
            return project
        (root / "frames").mkdir(parents=True, exist_ok=True)
        (root / "labels").mkdir(parents=True, exist_ok=True)
        write_atomic(meta, json.dumps({**spec.to_json(), "sources": {}}, indent=1) + "\n")
        return cls(root)

    def save_meta(self) -> None:
        write_atomic(self.root / "project.json",
                     json.dumps({**self.spec.to_json(), "sources": self.sources}, indent=1) + "\n")

    # ---------------------------------------------------------------- images
    def images(self) -> list[str]:
        """Names of the images in ``frames/``, sorted."""
        if not self.frames_dir.is_dir():
            return []
        # Links that lead out of the project are not the project's images (and are never served);
        # neither are FIFOs, devices or sockets, whatever their name.
        return sorted(p.name for p in self.frames_dir.iterdir()
                      if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
                      and _regular_inside(p, self.root))

    def image_path(self, name: str) -> Path:
        """The file of image ``name``; refuses names that are not a plain file name in ``frames/``."""
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", "..") \
                or "\x00" in name:
            raise LabelError(f"Expected a plain image file name, but got {name!r}")
        path = self.frames_dir / name
        if not os.path.lexists(path):
            raise FileNotFoundError(f"Expected an image {name} in {self.frames_dir}, but there is none")
        # A symlink may point anywhere; only images that really live in the project are served.
        try:
            inside = path.resolve().is_relative_to(self.root)
        except (OSError, RuntimeError):
            inside = False
        if not inside:
            raise PermissionError(f"Expected {name} to lie inside {self.root}, but it links outside")
        if not _regular_inside(path, self.root):
            raise FileNotFoundError(f"Expected an image {name} in {self.frames_dir}, but it is not a regular file")
        return path

    def add_image(self, source: str | os.PathLike | None = None, *, name: str, image=None,
                  origin: dict | None = None) -> str:
        """Copy an image file (or write a BGR array ``image``) into ``frames/`` as ``name``."""
        import shutil

        import cv2

        if "/" in name or "\\" in name or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
            raise LabelError(f"Expected an image file name ending in {IMAGE_SUFFIXES}, but got {name!r}")
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        target = self.frames_dir / name
        tmp = self.frames_dir / f".{name}.partial{Path(name).suffix}"
        if image is not None:
            if not cv2.imwrite(str(tmp), image):
                raise OSError(f"Expected to write {tmp}, but OpenCV could not")
        else:
            shutil.copyfile(source, tmp)
        os.replace(tmp, target)
        if origin is not None:
            self.sources[name] = origin
        return name

    # ---------------------------------------------------------------- labels
    def _label_path(self, name: str) -> Path:
        self.image_path(name)
        path = self.labels_dir / f"{name}.json"
        # A link in labels/ is never followed: it could read or overwrite a file outside the project.
        if path.is_symlink() or not self.labels_dir.resolve().is_relative_to(self.root):
            raise PermissionError(f"Expected the label of {name} to be a file inside {self.root}, "
                                  f"but {path} is a link")
        return path

    def read_label(self, name: str) -> dict:
        """The label of image ``name``; an unlabelled image gives revision 0 and no instances."""
        path = self._label_path(name)
        if not os.path.lexists(path):
            return {"image": name, "revision": 0, "status": "unlabelled", "instances": []}
        return check_label(read_json_object(path, follow=False), self.spec, where=str(path))

    def write_label(self, name: str, instances, *, status: str = "labelled",
                    base_revision: int | None = None, in_image: bool = False) -> dict:
        """Save the label of ``name``; return it with its new revision.

        ``base_revision`` is the revision the client started from; when given and older than the
        file's, nothing is written and :class:`RevisionConflict` carries the current label.
        ``None`` overwrites whatever is there (imports, scripts). ``in_image``: every coordinate
        must lie in the image (:func:`check_in_image`), as the labelling page keeps them.
        """
        if status not in STATUSES:
            raise LabelError(f"Expected status one of {STATUSES}, but got {status!r}")
        instances = check_instances(instances, self.spec)
        path = self._label_path(name)
        with _locked(self.labels_dir):
            current = self.read_label(name)
            if base_revision is not None and int(base_revision) != int(current["revision"]):
                raise RevisionConflict(current)
            width, height = current.get("width"), current.get("height")
            if width is None:
                width, height = _image_size(self.image_path(name))
            if in_image:
                check_in_image(instances, width, height)
            label = {"image": name, "width": width, "height": height,
                     "revision": int(current["revision"]) + 1, "status": status, "instances": instances}
            write_atomic(path, json.dumps(label, indent=1) + "\n")
        return label

    def labelled(self) -> dict[str, dict]:
        """Every saved label with status ``labelled``, by image name, in image order."""
        out = {}
        for name in self.images():
            label = self.read_label(name)
            if label["status"] == "labelled":
                if label.get("width") is None:
                    label["width"], label["height"] = _image_size(self.image_path(name))
                out[name] = label
        return out

    def progress(self) -> dict:
        """Counts of images by status: ``{"total", "labelled", "skipped", "unlabelled"}``; an image
        whose label file is damaged counts as unlabelled (see :meth:`problems`)."""
        counts = {"labelled": 0, "skipped": 0, "unlabelled": 0}
        statuses = self.statuses()
        for status in statuses.values():
            counts[status] += 1
        return {"total": len(statuses), **counts}

    def statuses(self) -> dict[str, str]:
        """Status of each image (``labelled``, ``skipped``, ``unlabelled``), by name; an image whose
        label file is damaged is ``unlabelled`` (see :meth:`problems`)."""
        return self.scan()[0]

    def problems(self) -> list[str]:
        """One line per label file that cannot be used (bad JSON, a list, wrong fields, a link, a
        FIFO…), naming it; those images count as unlabelled and their files are left as they are."""
        return self.scan()[1]

    def scan(self) -> tuple[dict[str, str], list[str]]:
        """:meth:`statuses` and :meth:`problems` from one pass over the label files."""
        statuses, problems = {}, []
        for name in self.images():
            status = "unlabelled"
            try:
                status = self.read_label(name)["status"]
            except (LabelError, PermissionError, FileNotFoundError, OSError) as exc:
                problems.append(f"{exc}; {name} counts as unlabelled until that file is fixed or removed")
            statuses[name] = status
        return statuses, problems


@dataclass
class ImportReport:
    """What an import did: images and instances taken in, and what it could not take (file names)."""

    images: int = 0
    instances: int = 0
    missing_images: list[str] | None = None
    labels_without_images: list[str] | None = None

    def __post_init__(self):
        self.missing_images = list(self.missing_images or [])
        self.labels_without_images = list(self.labels_without_images or [])

    def summary(self) -> str:
        text = f"imported {self.images} images with {self.instances} instances"
        if self.missing_images:
            text += f"; {len(self.missing_images)} listed images are missing: {', '.join(self.missing_images)}"
        if self.labels_without_images:
            text += (f"; {len(self.labels_without_images)} label files have no image: "
                     f"{', '.join(self.labels_without_images)}")
        return text


def ingest(project: Project, image: Path, instances: list[dict], *, report: ImportReport,
           taken: set[str], origin: dict | None = None) -> str:
    """Copy ``image`` into ``project`` under a free name and save its label as ``labelled``."""
    from ..formats.yolo import unique_name

    name = unique_name(taken, image.name)
    taken.add(name)
    project.add_image(image, name=name, origin=origin)
    project.write_label(name, instances)
    report.images += 1
    report.instances += len(instances)
    return name
