"""What the readers share: one-line errors naming file and line, JSON streams, frame numbers."""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path


class FormatError(ValueError):
    """A file does not have the layout of the format it is read as."""


def fail(path: str | os.PathLike, where: str, expected: str, got: object) -> FormatError:
    """An error ``"<path>, <where>: Expected <expected>, but got <got>"`` to raise."""
    place = f"{path}, {where}" if where else f"{path}"
    text = repr(got) if not isinstance(got, str) else got
    if len(text) > 120:
        text = text[:117] + "..."
    return FormatError(f"{place}: Expected {expected}, but got {text}")


def line_of(text: str, pos: int) -> int:
    """1-based line number of character ``pos`` of ``text``."""
    return text.count("\n", 0, pos) + 1


def read_text(path: str | os.PathLike) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a file at {path}, but there is none")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(path, f"byte {exc.start}", "UTF-8 text", "undecodable bytes") from None


def load_json_objects(path: str | os.PathLike) -> list[tuple[object, int]]:
    """The JSON values of a file that is either one JSON array or JSON objects back to back.

    Returns ``(value, line)`` pairs, ``line`` the 1-based line where each object starts. The
    back-to-back variant (TensorBox's video predictions, ``make_json.py``'s ``.json_work``) is not
    valid JSON as a whole, so it is split by decoding one object after another. A last object cut
    short (a run that was killed while writing) is dropped with a warning rather than failing.
    """
    text = read_text(path)
    start = len(text) - len(text.lstrip())
    if start == len(text):
        raise fail(path, "line 1", "a JSON array or JSON objects", "an empty file")
    decoder = json.JSONDecoder()
    if text[start] == "[":
        try:
            values, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            raise fail(path, f"line {exc.lineno} column {exc.colno}", "valid JSON", exc.msg) from None
        if text[end:].strip():
            raise fail(path, f"line {line_of(text, end)}", "nothing after the JSON array", text[end:].strip()[:40])
        # Line numbers of the array's items, for error messages: the start of each top-level object.
        lines = _item_lines(text, start)
        return [(v, lines[i] if i < len(lines) else line_of(text, start)) for i, v in enumerate(values)]
    out: list[tuple[object, int]] = []
    pos = start
    while pos < len(text):
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if out and not _closes(text, pos):
                warnings.warn(f"{path}: the last JSON object (line {line_of(text, pos)}) is incomplete; "
                              f"it was ignored", stacklevel=3)
                break
            raise fail(path, f"line {exc.lineno} column {exc.colno}", "a JSON object", exc.msg) from None
        out.append((value, line_of(text, pos)))
        pos = end
        # Tolerate separators some writers put between objects (newlines, commas).
        while pos < len(text) and (text[pos].isspace() or text[pos] == ","):
            pos += 1
    return out


def _brackets(text: str, start: int):
    """Each bracket of ``text`` from ``start`` that is outside a string: ``(bracket, depth, line)``.

    ``depth`` counts the brackets open after this one (so an opening bracket at the top level has
    depth 1); ``line`` is its 1-based line number.
    """
    depth, in_string, escape, line = 0, False, False, line_of(text, start)
    for ch in text[start:]:
        if ch == "\n":
            line += 1
        elif in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            yield ch, depth, line
        elif ch in "]}":
            depth -= 1
            yield ch, depth, line


def _closes(text: str, start: int) -> bool:
    """Whether the brackets opened at ``start`` are closed before the end of ``text``."""
    return any(ch in "]}" and depth <= 0 for ch, depth, _ in _brackets(text, start))


def _item_lines(text: str, start: int) -> list[int]:
    """Lines where the objects directly inside the array starting at ``start`` begin."""
    return [line for ch, depth, line in _brackets(text, start) if ch in "[{" and depth == 2]


_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def frame_number(value: object) -> int | None:
    """The frame number in ``value``: an integer, or the last run of digits of a file name."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        match = _LAST_NUMBER.search(Path(value).name)
        return int(match.group(1)) if match else None
    return None


def number(path, where: str, record: dict, key: str) -> float:
    """``record[key]`` as a float, or an error naming the file, the place and the key."""
    if not isinstance(record, dict):
        raise fail(path, where, f"an object with a '{key}' field", record)
    if key not in record:
        raise fail(path, where, f"a field '{key}'", f"fields {sorted(record)}")
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise fail(path, where, f"a number in '{key}'", value) from None
    return float(value)


# ---------------------------------------------------------------- value checks
#: Largest frame number a reader accepts before allocating arrays over frames: ten million frames
#: is more than four days at 25 fps; a larger number in a file is a corrupt field, not a recording.
MAX_FRAME = 10_000_000
#: Largest absolute pixel coordinate, width or height accepted: no camera has a million pixels on
#: a side, so a larger value is garbage (a flipped byte, an uninitialised buffer).
MAX_PIXELS = 1e6


#: Largest array (number of values) a reader allocates over frames: 4 GiB of float64.
MAX_VALUES = 2**29


def check_size(path, field: str, n_frames: int, per_frame: int) -> None:
    """Raise before allocating ``n_frames × per_frame`` values when that exceeds :data:`MAX_VALUES`."""
    if n_frames * max(per_frame, 1) > MAX_VALUES:
        raise fail(path, field, f"at most {MAX_VALUES} values over all frames",
                   f"{n_frames} frames × {per_frame} values")


def check_frames(path, field: str, frames, *, limit: int = MAX_FRAME) -> None:
    """Raise when frame numbers are negative or above ``limit``, before anything is allocated."""
    import numpy as np

    frames = np.asarray(frames)
    if frames.size == 0:
        return
    if not np.issubdtype(frames.dtype, np.integer):
        frames = frames.astype(np.float64)
        bad = ~np.isfinite(frames) | (frames != np.round(frames))
        if bad.any():
            raise fail(path, field, "integer frame numbers", frames[bad][0].item())
    low, high = frames.min().item(), frames.max().item()
    if low < 0 or high > limit:
        raise fail(path, field, f"frame numbers in [0, {limit}]", low if low < 0 else high)


def check_values(path, field: str, values, *, low: float, high: float, unit: str = "") -> None:
    """Raise unless every value is NaN or a finite number in ``[low, high]``.

    The message names ``field`` and the first offending value: ``"<path>, <field>: Expected
    finite values in [low, high] px or NaN, but got inf"``.
    """
    import numpy as np

    try:
        values = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(path, field, "numbers", values) from None
    bad = np.isinf(values) | (values < low) | (values > high)
    if bad.any():
        unit = f" {unit}" if unit else ""
        raise fail(path, field, f"finite values in [{low:g}, {high:g}]{unit} or NaN", repr(values[bad][0].item()))


def _where(da, index) -> str:
    """``"frame=3, keypoints=snout"``: the coordinates of one element of a DataArray."""
    parts = []
    for dim, i in zip(da.dims, index):
        if dim == "time" and "frame" in da.coords:  # frame numbers say more than seconds
            dim = "frame"
        label = da[dim].values[i] if dim in da.coords else i
        parts.append(f"{dim}={label.item() if hasattr(label, 'item') else label}")
    return ", ".join(parts)


#: How far outside the frame a position may lie, as a fraction of the frame's width (x) or height
#: (y): pose models and box centres stay inside the image, a labeller's click or a box drawn to
#: the edge a few pixels off it; 10 % of the side is far more than either and far less than garbage.
FRAME_MARGIN = 0.1


def frame_bounds(width: float, height: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((x_low, x_high), (y_low, y_high))`` in pixels: the frame widened by :data:`FRAME_MARGIN`."""
    return ((-FRAME_MARGIN * width, (1 + FRAME_MARGIN) * width),
            (-FRAME_MARGIN * height, (1 + FRAME_MARGIN) * height))


def check_frame_order(path, field: str, frames, *, rows: str = "row") -> None:
    """Raise unless frame numbers read from a file strictly increase (no repeat, no step back).

    A repeated or earlier frame number means rows were duplicated or moved; the message names the
    first such ``rows`` (1-based) and its frame number.
    """
    import numpy as np

    frames = np.asarray(frames, dtype=np.int64)
    if frames.size < 2:
        return
    step = np.diff(frames)
    bad = np.flatnonzero(step <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        what = "a repeated" if step[i - 1] == 0 else "an earlier"
        raise fail(path, f"{field}, {rows} {i + 1}", f"frame numbers that increase (frame {int(frames[i - 1])} "
                   f"came before)", f"{what} frame number {int(frames[i])}")


def warn_gaps(path, frames) -> int:
    """Warn (naming ``path``) when increasing frame numbers skip some, as a file with a row for
    every frame does only when rows were deleted; return how many are skipped."""
    import numpy as np

    frames = np.asarray(frames, dtype=np.int64)
    missing = int(frames[-1] - frames[0] + 1 - len(frames)) if frames.size else 0
    if missing:
        first = int(frames[np.flatnonzero(np.diff(frames) > 1)[0]] + 1)
        warnings.warn(f"{path}: {missing} frame(s) between {int(frames[0])} and {int(frames[-1])} have no row (the "
                      f"first: {first}); rows were deleted? Those frames are left out, the others keep their "
                      f"numbers", stacklevel=3)
    return missing


def check_dataset(ds, path, *, max_confidence: float = 1.0, frame_size: tuple[int, int] | None = None,
                  frame_count: int | None = None) -> None:
    """Refuse a dataset read from ``path`` whose values cannot be real.

    Positions and box sizes must be NaN or finite within :data:`MAX_PIXELS` (sizes not negative),
    confidences NaN or in [0, ``max_confidence``] (1, except for tools whose scores are not
    probabilities: SLEAP's point scores are confidence-map peaks, a little above 1 at times). The
    error names the file, the variable and the element's coordinates (``frame=…, keypoints=…``).
    Works on variable names only, whatever the dimensions.

    Parameters
    ----------
    frame_size
        ``(width, height)`` of the frames in pixels (the video's, given by the caller). Positions
        must then lie within the frame widened by :data:`FRAME_MARGIN` of its side, and box sizes
        be at most the widened frame. A size the file itself records (``attrs["frame_size"]``, set
        by its reader) is checked the same way.
    frame_count
        Frames of the video. Frame numbers must be below it; a file whose rows are every frame of
        the video (``attrs["rows_are_frames"]``: DeepLabCut and Lightning Pose predictions) must
        have a row for each, or it was cut short. (SLEAP's analysis files end at the last frame
        with an instance, so they are not held to it.)
    """
    import numpy as np

    limits = {"position": (-MAX_PIXELS, MAX_PIXELS), "shape": (0.0, MAX_PIXELS), "confidence": (0.0, float(max_confidence))}
    for name, (low, high) in limits.items():
        if name not in ds:
            continue
        values = np.asarray(ds[name].values, dtype=np.float64)
        bad = np.isinf(values) | (values < low) | (values > high)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            raise fail(path, f"{name} ({_where(ds[name], index)})",
                       f"finite values in [{low:g}, {high:g}] or NaN", repr(values[index].item()))
    sizes = [("the video's", frame_size)] if frame_size is not None else []
    if ds.attrs.get("frame_size") is not None:
        sizes.append(("the file's", ds.attrs["frame_size"]))
    for whose, size in sizes:
        width, height = (float(v) for v in size)
        bounds = frame_bounds(width, height)
        for name in ("position", "shape"):
            if name not in ds or "space" not in ds[name].dims:
                continue
            for axis, (low, high) in zip(("x", "y"), bounds):
                if axis not in ds["space"].values:
                    continue
                if name == "shape":
                    low, high = 0.0, high - low
                da = ds[name].sel(space=axis)
                values = np.asarray(da.values, dtype=np.float64)
                bad = (values < low) | (values > high)
                if bad.any():
                    index = tuple(int(i) for i in np.argwhere(bad)[0])
                    side = "width" if axis == "x" else "height"
                    raise fail(path, f"{name} {axis} ({_where(da, index)})",
                               f"values in [{low:g}, {high:g}] px ({whose} frame of {width:g}×{height:g} px, "
                               f"{FRAME_MARGIN:.0%} of its {side} of margin)", repr(values[index].item()))
    if frame_count is not None and ds.sizes.get("time", 0):
        from .. import schema

        frames = schema.frames(ds)
        if frames.max() >= frame_count:
            raise fail(path, "frames", f"frame numbers below {frame_count} (the frames of the video)",
                       int(frames.max()))
        if ds.attrs.get("rows_are_frames") and len(frames) != frame_count:
            raise fail(path, "rows", f"a row for each of the {frame_count} frames of the video (the file may "
                       f"be truncated)", f"{len(frames)} rows, frames {int(frames.min())}–{int(frames.max())}")
