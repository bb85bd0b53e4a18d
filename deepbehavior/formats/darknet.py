"""darknet (YOLOv3) text output of DeepBehavior's social test, both layouts.

Each frame is a block that starts with the escape sequence ``ESC[2J ESC[1;1H``, then ``FPS:…``,
``Objects:``, a blank line and the detections, either

1. ``name: NN%`` followed by ``Bounding Box: Left=L, Top=T, Right=R, Bottom=B`` (one or more class
   lines share the box line that follows them), lines possibly ending in ``\\r\\n``; or
2. ``name: NN% \\t(left_x: L   top_y: T   width: W   height: H)`` on one line (``-ext_output``;
   a box above threshold for several classes lists them as ``a: NN%, b: MM%``).

Text before the first block (the network summary darknet prints at start) is ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail, read_text

#: The classes of DeepBehavior's two-mouse social test: identity comes from the class.
SOCIAL_CLASSES = ("body", "nose", "head", "tail", "body_mini", "nose_mini", "head_mini", "tail_mini")

_FRAME_START = "\x1b[2J"
_LABEL = re.compile(r"\s*([^,:]+?)\s*:\s*(-?\d+(?:\.\d+)?)\s*%")
# A number must end where its field does: "1e5" or "12x" is not read as 1 or 12.
_PAIR_EQ = re.compile(r"(\w+)\s*=\s*(-?\d+(?:\.\d+)?)(?![\w.])")
_PAIR_COLON = re.compile(r"(\w+)\s*:\s*(-?\d+(?:\.\d+)?)(?![\w.])")
# Lines darknet prints between detections that carry nothing to read.
_CHATTER = ("FPS:", "AVG_FPS", "Objects:", "Stream closed", "input video stream closed", "Done!",
            "cvWriteFrame", "Video stream stopped")


def is_darknet(path: Path) -> bool:
    """Whether ``path`` is darknet's console output (frame blocks or its detection lines)."""
    path = Path(path)
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096).decode("utf-8", errors="replace")
    return "\x1b[2J" in head or "Bounding Box:" in head or "left_x:" in head


def _fields(path, line_no: int, text: str, pattern: re.Pattern, keys: tuple[str, ...]) -> list[float]:
    found = {k: float(v) for k, v in pattern.findall(text)}
    missing = [k for k in keys if k not in found]
    if missing:
        raise fail(path, f"line {line_no}", f"box fields {', '.join(keys)}", text.strip())
    return [found[k] for k in keys]


def _labels(path, line_no: int, text: str) -> list[tuple[str, float]]:
    """``[(class, probability)]`` of a ``name: NN%[, name: NN%]`` text."""
    pieces = [p for p in text.split(",") if p.strip()]
    out = []
    for piece in pieces:
        match = _LABEL.fullmatch(piece.strip()) if piece.strip().endswith("%") else None
        if match is None:
            raise fail(path, f"line {line_no}", "'class: NN%'", text.strip())
        out.append((match.group(1), float(match.group(2)) / 100.0))
    return out


def parse_darknet(path: str | os.PathLike) -> list[list[tuple[str, float, float, float, float, float]]]:
    """Detections of each frame: ``(class, probability, left, top, width, height)``, pixels.

    Raises
    ------
    ValueError
        Naming the file and line of a line that is neither a detection nor darknet's chatter, or
        of a class line with no box.
    """
    frames: list[list[tuple]] = []
    pending: list[tuple[str, float, int]] = []

    def flush_pending():
        if pending:
            label, _, line_no = pending[0]
            raise fail(path, f"line {line_no}", f"a 'Bounding Box:' line after '{label}'", "none")

    text = read_text(path)
    has_objects: list[bool] = []
    for line_no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if _FRAME_START in line:
            flush_pending()
            frames.append([])
            has_objects.append(False)
            line = line.split(_FRAME_START)[-1].replace("\x1b[1;1H", "")
        if not frames:
            continue
        line = line.strip()
        if not line:
            flush_pending()
            continue
        if line.startswith(_CHATTER):
            has_objects[-1] |= line.startswith("Objects:")
            continue
        if line.startswith("Bounding Box"):
            if not pending:
                raise fail(path, f"line {line_no}", "a 'class: NN%' line before 'Bounding Box'", line)
            left, top, right, bottom = _fields(path, line_no, line, _PAIR_EQ, ("Left", "Top", "Right", "Bottom"))
            frames[-1] += [(c, p, left, top, right - left, bottom - top) for c, p, _ in pending]
            pending.clear()
            continue
        head, bracket, box = line.partition("(")
        labels = _labels(path, line_no, head)
        if bracket:
            if not box.rstrip().endswith(")"):
                raise fail(path, f"line {line_no}", "a box ending in ')' (the file may be truncated)", line)
            left, top, width, height = _fields(path, line_no, box, _PAIR_COLON,
                                               ("left_x", "top_y", "width", "height"))
            frames[-1] += [(c, p, left, top, width, height) for c, p in labels]
        else:
            pending.extend((c, p, line_no) for c, p in labels)
    flush_pending()
    if not frames:
        raise fail(path, "", "darknet frame blocks starting with ESC[2J ESC[1;1H", "none")
    # darknet writes 'Objects:' at the start of every block; a block without it, or a last line
    # without its newline, is a file cut short.
    if any(has_objects) and not all(has_objects):
        raise fail(path, f"frame block {has_objects.index(False)}", "an 'Objects:' line (the file may be truncated)",
                   "none")
    last = text.rstrip("\r\n ").rsplit("\n", 1)[-1]
    if not text.endswith("\n") and ("%" in last or "Bounding Box" in last):
        raise fail(path, f"line {text.count(chr(10)) + 1}", "a complete last line (the file may be truncated)", last)
    return frames


def read_darknet(
    path: str | os.PathLike,
    *,
    fps: float = 30.0,
    class_names: tuple[str, ...] | list[str] | None = None,
    max_per_class: int = 2,
) -> xr.Dataset:
    """Read darknet text output into a boxes dataset with slots per class.

    Parameters
    ----------
    path
        darknet's console output, either layout.
    fps
        Frames per second of the video (the file does not record it).
    class_names
        Classes in index order (for the social test, :data:`SOCIAL_CLASSES`). By default the classes
        in the order they first appear. A class not listed is an error.
    max_per_class
        Slots per class; a frame's extra detections of a class (the least probable) are dropped
        and counted in ``attrs["dropped_detections"]``.

    Returns
    -------
    xarray.Dataset
        Boxes with ``frame`` = frame block index (from 0), ``individuals`` = ``"<class>.<k>"`` (the k-th
        most probable detection of that class in the frame), ``class_index`` the class,
        ``confidence`` the probability in [0, 1]; centre, width and height in pixels.
    """
    if max_per_class < 1:
        raise ValueError(f"Expected max_per_class >= 1, but got {max_per_class}")
    frames = parse_darknet(path)
    seen = list(dict.fromkeys(d[0] for frame in frames for d in frame))
    names = list(class_names) if class_names is not None else seen
    unknown = [c for c in seen if c not in names]
    if unknown:
        raise fail(path, "", f"classes among {names}", f"{unknown}")
    per_class = {c: 0 for c in names}
    by_frame = []
    dropped = 0
    for frame in frames:
        groups: dict[str, list] = {}
        for det in frame:
            groups.setdefault(det[0], []).append(det)
        for c, dets in groups.items():
            dets.sort(key=lambda d: -d[1])
            dropped += max(0, len(dets) - max_per_class)
            groups[c] = dets[:max_per_class]
            per_class[c] = max(per_class[c], len(groups[c]))
        by_frame.append(groups)
    slots = [(c, k) for c in names for k in range(max(per_class[c], 1))]
    index = {slot: i for i, slot in enumerate(slots)}
    n = len(frames)
    centre = np.full((n, 2, len(slots)), np.nan)
    shape = np.full((n, 2, len(slots)), np.nan)
    prob = np.full((n, len(slots)), np.nan)
    cls = np.full((n, len(slots)), np.nan)
    for t, groups in enumerate(by_frame):
        for c, dets in groups.items():
            for k, (_, p, left, top, width, height) in enumerate(dets):
                s = index[(c, k)]
                centre[t, :, s] = (left + width / 2, top + height / 2)  # corner origin, converted below
                shape[t, :, s] = (width, height)
                prob[t, s] = p
                cls[t, s] = names.index(c)
    ds = schema.make_boxes(schema.from_corner_origin(centre), shape, prob, cls, fps=fps, individuals=[f"{c}.{k}" for c, k in slots],
                           class_names=names, source_software="darknet", individuals_are=schema.SLOTS)
    ds.attrs.update(source_file=str(path), dropped_detections=int(dropped), max_per_class=int(max_per_class))
    return ds
