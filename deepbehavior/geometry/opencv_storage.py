"""Read OpenCV ``FileStorage`` files (YAML and XML) in pure Python, without OpenCV's parser.

OpenCV's own reader aborts the whole process on some damaged files (found by our fuzz suite: a
few mutated bytes of a calibration YAML end in ``SIGABRT`` inside ``FileStorage``), and a crash
cannot be caught. Calibration files are small, so this reader parses them with PyYAML's pure-Python
safe loader or the standard library's XML parser, both of which report damage as exceptions, and
returns plain values: dicts for maps, lists for sequences, numbers and strings, and ``numpy``
arrays for ``opencv-matrix`` / ``opencv-nd-matrix`` nodes. Writing stays with ``cv2.FileStorage``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import yaml

# A calibration is a few kilobytes; anything this large is not one.
MAX_BYTES = 64 * 1024 * 1024

_WORDS = re.compile(r'"[^"]*"|[^\s"]+')
_CHANNELS = re.compile(r"^\s*(\d*)\s*([ucwsifdh])\s*$")


class StorageError(ValueError):
    """A file that is not a readable OpenCV FileStorage; the message is one line without the path."""


def _matrix(rows, cols, dt, data, where: str) -> np.ndarray:
    return _nd_matrix([rows, cols], dt, data, where)


def _nd_matrix(sizes, dt, data, where: str) -> np.ndarray:
    match = _CHANNELS.match(str(dt)) if dt is not None else None
    if match is None:
        raise StorageError(f"Expected a dt such as 'd' or '3f' in the matrix {where}, but got {str(dt)[:20]!r}")
    channels = int(match.group(1) or 1)
    try:
        shape = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise StorageError(f"Expected integer sizes of the matrix {where}, but got {str(sizes)[:40]!r}") from None
    if not shape or any(s < 0 for s in shape) or channels < 1:
        raise StorageError(f"Expected positive sizes of the matrix {where}, but got {shape} x {channels}")
    values = data if isinstance(data, list) else [] if data is None else [data]
    expected = int(np.prod(shape, dtype=np.float64) * channels)
    if len(values) != expected:
        raise StorageError(f"Expected {expected} values in the matrix {where}, but got {len(values)}")
    try:
        array = np.array([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise StorageError(f"Expected numbers in the data of the matrix {where}") from None
    return array.reshape(shape + ([channels] if channels > 1 else []))


# ---------------------------------------------------------------------------------------------
# YAML


class _Loader(yaml.SafeLoader):
    """PyYAML's pure-Python safe loader plus OpenCV's two matrix tags."""


def _construct_matrix(loader: _Loader, node) -> np.ndarray:
    fields = loader.construct_mapping(node, deep=True)
    return _matrix(fields.get("rows"), fields.get("cols"), fields.get("dt"), fields.get("data"),
                   f"at line {node.start_mark.line + 1}")


def _construct_nd_matrix(loader: _Loader, node) -> np.ndarray:
    fields = loader.construct_mapping(node, deep=True)
    return _nd_matrix(fields.get("sizes"), fields.get("dt"), fields.get("data"),
                      f"at line {node.start_mark.line + 1}")


# OpenCV reads any plain scalar that parses as a number as one ("1e-3", "1.8e308"); YAML 1.1's
# float pattern wants a dot and a signed exponent, so this adds the rest.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."))
_Loader.add_constructor("tag:yaml.org,2002:opencv-matrix", _construct_matrix)
_Loader.add_constructor("tag:yaml.org,2002:opencv-nd-matrix", _construct_nd_matrix)


def _read_yaml(text: str) -> dict:
    # OpenCV writes the directive as "%YAML:1.0", which YAML parsers refuse; it says nothing we need.
    lines = text.split("\n", 1)
    if lines[0].startswith("%YAML"):
        text = lines[1] if len(lines) > 1 else ""
    try:
        root = yaml.load(text, Loader=_Loader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise StorageError(f"Expected valid YAML{line}, but {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise StorageError(f"Expected valid YAML, but {' '.join(str(exc).split())[:120]}") from None
    if root is None:
        return {}
    if not isinstance(root, dict):
        raise StorageError(f"Expected a map at the top of the file, but got a {type(root).__name__}")
    return root


# ---------------------------------------------------------------------------------------------
# XML


def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _xml_value(element, depth: int = 0):
    if depth > 64:
        raise StorageError(f"Expected maps nested at most 64 deep, but <{element.tag}> is deeper")
    children = list(element)
    kind = element.get("type_id")
    if kind in ("opencv-matrix", "opencv-nd-matrix"):
        fields = {child.tag: (child.text or "") for child in children}
        data = fields.get("data", "").split()
        where = f"<{element.tag}>"
        if kind == "opencv-matrix":
            return _matrix(_scalar(fields.get("rows", "")), _scalar(fields.get("cols", "")), fields.get("dt"),
                           data, where)
        return _nd_matrix(fields.get("sizes", "").split(), fields.get("dt"), data, where)
    if not children:
        words = _WORDS.findall(element.text or "")
        if len(words) > 1:  # a sequence written inline: numbers or quoted strings, space-separated
            return [_scalar(w) for w in words]
        return _scalar(element.text or "")
    if all(child.tag == "_" for child in children):
        return [_xml_value(child, depth + 1) for child in children]
    return {child.tag: _xml_value(child, depth + 1) for child in children}


def _read_xml(text: str) -> dict:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise StorageError(f"Expected valid XML, but {exc}") from None
    if root.tag != "opencv_storage":
        raise StorageError(f"Expected <opencv_storage> at the top of the file, but got <{root.tag}>")
    value = _xml_value(root)
    return value if isinstance(value, dict) else {}


def read_storage(path: Path) -> dict:
    """The top-level map of an OpenCV FileStorage file (XML when it starts with ``<``, else YAML).

    Raises :class:`StorageError` (a ``ValueError``, one line) for anything that is not one.
    """
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise StorageError(f"Expected a calibration file of at most {MAX_BYTES >> 20} MiB, but it has "
                           f"{size >> 20} MiB")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StorageError(f"Expected UTF-8 text, but byte {exc.start} is not") from None
    try:
        return _read_xml(text) if text.lstrip().startswith("<") else _read_yaml(text)
    except RecursionError:
        raise StorageError("Expected maps and sequences nested a sane depth, but they nest too deep") from None
