"""Probing videos and reading exact frame ranges.

Frame ``i`` is the ``i``-th frame the decoder returns when reading from the start. Reading a range
seeks to a position well before its start (on a keyframe, by OpenCV) and then decodes forward,
checking the decoder's own frame position, so that frame ``i`` is the same image whether it is
read alone, in a range or sequentially. Videos whose decoder cannot report positions are read
forward from the start.
"""

from __future__ import annotations

import atexit
import os
import stat
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# FFmpeg's decoder messages (hundreds of lines for one damaged file) are written by C code to file
# descriptor 2. While a video is decoded, fd 2 points at a log file instead (see DecoderLog); the
# console gets one line per damaged file naming that log.
DECODER_LOG_ENV = "DEEPBEHAVIOR_DECODER_LOG"


_LOG_OVERRIDE: str | None = None  # set by set_decoder_log: a job's own log, before the environment's


def decoder_log_path() -> Path:
    """Where decoder messages go: the file given to :func:`set_decoder_log` (a job gives
    ``OUT/decoder.log``, to its driver and its workers), else ``$DEEPBEHAVIOR_DECODER_LOG``, else a
    file of this process's own in the temporary folder (``deepbehavior-decoder-XXXXXXXX.log``,
    made by ``mkstemp``: never a fixed name another user could plant a link at)."""
    setting = _LOG_OVERRIDE or os.environ.get(DECODER_LOG_ENV)
    return Path(setting) if setting else _private_log()


_PRIVATE_LOG: list[Path] = []  # this process's own log, made on first use
_PRIVATE_LOCK = threading.Lock()


def _private_log() -> Path:
    with _PRIVATE_LOCK:
        if not _PRIVATE_LOG or not _PRIVATE_LOG[0].is_file():
            fd, name = tempfile.mkstemp(prefix="deepbehavior-decoder-", suffix=".log")  # O_EXCL, mode 0600
            os.close(fd)
            _PRIVATE_LOG[:] = [Path(name)]
            atexit.register(_remove_if_empty, Path(name))
        return _PRIVATE_LOG[0]


def _remove_if_empty(path: Path) -> None:
    """At exit: a log nothing was written to is not worth leaving in the temporary folder."""
    try:
        if path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def _open_no_follow(path: Path) -> int:
    """Open ``path`` to append, refusing a link, a FIFO (opening one would wait for a reader) or
    any other file that is not a regular one; raises ``OSError``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags, 0o666)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"Expected the decoder log {path} to be a regular file, but it is not")
    return fd


def set_decoder_log(path: str | os.PathLike | None) -> str | None:
    """Send this process's decoder messages to ``path`` from now on (``None``: back to the default);
    return the previous setting."""
    global _LOG_OVERRIDE
    previous, _LOG_OVERRIDE = _LOG_OVERRIDE, (str(path) if path is not None else None)
    return previous


class DecoderLog:
    """Points file descriptor 2 at the decoder log while OpenCV/FFmpeg decode, and back after.

    Process-wide and reference-counted under a lock: threads decoding at the same time share one
    redirection, which ends when the last of them leaves. Whatever else the process writes to fd 2
    while a decoder call runs goes to the log too, so callers enter around decoder calls only (a
    pair of ``dup2`` calls, a few microseconds; decoding a frame takes milliseconds) and leave
    before handing a frame to other code. Bytes the log gained while a file was being decoded are
    counted for it; the first time a file's count is non-zero, one line naming the file and the log
    goes to the console (fd 2 restored). Two files decoded at the same time may share their counts.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: int | None = None
        self._log: int | None = None
        self._logged_path: Path | None = None
        self._setting: str | None = None  # the setting the open log was chosen by
        self.reported: set[str] = set()

    def enter(self) -> int:
        """Redirect fd 2 (if not already); return the log's size now (bytes)."""
        with self._lock:
            if self._depth == 0:
                try:
                    self._open_log()
                    sys.stderr.flush()
                    self._saved = os.dup(2)
                    os.dup2(self._log, 2)
                except OSError:  # no log possible: decode with the console as it is
                    self._saved = None
            self._depth += 1
            return os.fstat(self._log).st_size if self._saved is not None else 0

    def _open_log(self) -> None:
        """Open the log once per path (kept open: opening it per frame would cost ~0.1 ms)."""
        setting = _LOG_OVERRIDE or os.environ.get(DECODER_LOG_ENV)
        if self._log is not None and setting == self._setting:
            return
        if self._log is not None:
            os.close(self._log)
            self._log = None
        path = decoder_log_path()
        try:
            self._log = _open_no_follow(path)
        except OSError:  # a link, FIFO or unwritable file where the log should be: use a private one
            if not setting:
                raise
            path = _private_log()
            self._log = _open_no_follow(path)
        self._logged_path, self._setting = path, setting

    def leave(self) -> int:
        """Undo one :meth:`enter`; return the log's size before fd 2 was restored (bytes)."""
        with self._lock:
            size = os.fstat(self._log).st_size if self._saved is not None else 0
            self._depth -= 1
            if self._depth == 0 and self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None
            return size

    def report(self, path, grew: int) -> None:
        """One console line for ``path`` if its decoding wrote ``grew`` > 0 bytes to the log (once per file)."""
        if grew <= 0 or str(path) in self.reported or self._logged_path is None:
            return
        self.reported.add(str(path))
        print(f"deepbehavior: {path}: the decoder reported damage; its {grew} bytes of messages "
              f"are in {self._logged_path}", file=sys.stderr, flush=True)


_DECODER_LOG = DecoderLog()


class _Decoding:
    """Context for one file's decoding: fd 2 at the log inside, bytes it gained summed over pauses."""

    def __init__(self, path):
        self.path, self.grew, self._start, self.inside = path, 0, 0, False

    def __enter__(self):
        self.resume()
        return self

    def pause(self) -> None:
        if self.inside:
            self.grew += _DECODER_LOG.leave() - self._start
            self.inside = False

    def resume(self) -> None:
        if not self.inside:
            self._start = _DECODER_LOG.enter()
            self.inside = True

    def __exit__(self, *exc):
        self.pause()
        _DECODER_LOG.report(self.path, self.grew)
        return False


class VideoError(OSError):
    """A video is missing, unreadable, or shorter than asked."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    frames: int
    fps: float
    width: int
    height: int
    variable_frame_rate: bool
    size_bytes: int
    container_frames: int = -1  # the count the container's header states (-1: none stated)


# Still images OpenCV would open as a "video" of one frame, or of none.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".pgm", ".ppm"})


def check_video_path(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` if it names a video file; a one-line ``VideoError`` for a missing file,
    a folder or a still image, saying how to make a video of images.

    Images are refused, not read as a clip: a clip needs a frame rate, which images do not carry,
    and every time in a store is frame / fps.
    """
    path = Path(path)
    hint = ("; make a video of the images first, e.g. ffmpeg -framerate FPS -pattern_type glob "
            "-i 'FOLDER/*.png' -c:v libx264 -crf 10 clip.mp4, with FPS the rate they were taken at")
    if path.is_dir():
        images = sum(1 for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        raise VideoError(f"Expected a video file at {path}, but got a folder"
                         + (f" of {images} images{hint}" if images else ""))
    if not path.is_file():
        raise VideoError(f"Expected a video file at {path}, but there is none")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        raise VideoError(f"Expected a video file at {path}, but got a still image ({path.suffix}){hint}")
    return path


def _open(path: str | os.PathLike) -> cv2.VideoCapture:
    path = check_video_path(path)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(f"Expected a video OpenCV can decode at {path}, but it could not be opened "
                         f"(not a video, or a codec this OpenCV lacks)")
    return capture


def _count_frames(capture: cv2.VideoCapture, claimed: int) -> int:
    """The true frame count: the container's claim, checked by reading at its end."""
    if claimed <= 0:
        count = 0
        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
        while capture.grab():
            count += 1
        return count
    # Containers sometimes over- or under-state the count by a frame or two: check the tail.
    start = max(claimed - 4, 0)
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    count = start
    while capture.grab():
        count += 1
    if count == start and start > 0:  # seeking failed: count the slow way
        return _count_frames(capture, 0)
    return count


def truncation_tolerance(claimed: int) -> int:
    """Frames a container may over-state its count by before the file counts as truncated: 2, or
    1 % of the count (containers that estimate it from duration × fps are off by a little)."""
    return max(2, claimed // 100)


# Files already probed by this process, by identity (path, inode, size, modification time): a job
# checks its videos before any work and plans from them after, and each probe decodes
# ``sample_frames`` frames and the file's tail (a third of a second for 640×480 MP4 on 2 cores).
_PROBED: dict[tuple, VideoInfo] = {}
_PROBED_MAX = 512


def _identity(path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)


def probe(path: str | os.PathLike, *, sample_frames: int = 120, allow_truncated: bool = False) -> VideoInfo:
    """Frame count, frame rate and size of a video (decoded once per file version and process).

    See :func:`_probe`; a file probed before with the same arguments and unchanged since (same
    inode, size and modification time) is answered from memory, without its warning again.
    """
    identity = _identity(path)
    key = (identity, sample_frames, allow_truncated)
    if identity is not None and key in _PROBED:
        return _PROBED[key]
    info = _probe(path, sample_frames=sample_frames, allow_truncated=allow_truncated)
    if identity is not None and _identity(path) == identity:  # unchanged while it was read
        if len(_PROBED) >= _PROBED_MAX:
            _PROBED.clear()
        _PROBED[key] = info
    return info


def _probe(path: str | os.PathLike, *, sample_frames: int = 120, allow_truncated: bool = False) -> VideoInfo:
    """Frame count, frame rate and size of a video.

    ``frames`` is the number of frames that decode. Raises ``VideoError`` when it falls short of
    the count the container states by more than :func:`truncation_tolerance` (a file cut short,
    e.g. a half-copied AVI, whose header still lists every frame), unless ``allow_truncated``.

    Warns (``UserWarning``) when the first ``sample_frames`` timestamps are not evenly spaced, since
    frame numbers then do not map to time by a single fps.
    """
    with _Decoding(path):  # decoder messages to the log, one console line if any
        capture = _open(path)
        try:
            fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            stamps = []
            for _ in range(sample_frames):
                if not capture.grab():
                    break
                stamps.append(capture.get(cv2.CAP_PROP_POS_MSEC))
            if not stamps:
                raise VideoError(f"Expected at least one decodable frame in {path}, but got none")
            claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            frames = _count_frames(capture, claimed)
        finally:
            capture.release()
    if claimed > 0 and frames < claimed - truncation_tolerance(claimed) and not allow_truncated:
        raise VideoError(f"Expected {claimed} frames in {path}, as its container states, but only {frames} "
                         f"decode: the file is truncated or damaged")
    steps = np.diff(np.asarray(stamps))
    variable = bool(len(steps) > 2 and np.ptp(steps[1:]) > 0.5 * max(np.median(steps), 1e-9))
    if variable:
        warnings.warn(
            f"{path}: frame timestamps are unevenly spaced (variable frame rate); "
            f"frame numbers are exact but times from fps={fps:g} are approximate",
            stacklevel=2,
        )
    if fps <= 0:
        raise VideoError(f"Expected a frame rate in {path}, but the container reports {fps}")
    return VideoInfo(str(path), frames, fps, width, height, variable, Path(path).stat().st_size,
                     claimed if claimed > 0 else -1)


def probe_videos(paths, *, printer=print) -> dict[str, VideoInfo]:
    """:func:`probe` every video of ``paths`` (each once), before any expensive work.

    Stops at the first video that is missing, not a video, undecodable, without frames or without
    a frame rate, with a one-line ``VideoError`` naming it. Prints one line per 20 videos probed.
    """
    found: dict[str, VideoInfo] = {}
    unique = list(dict.fromkeys(str(p) for p in paths))
    for i, path in enumerate(unique, 1):
        info = probe(path)
        if info.frames < 1:
            raise VideoError(f"Expected frames in {path}, but its decoder returns none")
        found[path] = info
        if i % 20 == 0 or (i == len(unique) and len(unique) >= 20):
            printer(f"[inputs] {i}/{len(unique)} videos probed")
    return found


def _seek(capture: cv2.VideoCapture, path, start: int) -> None:
    """Put ``capture`` at frame ``start``: by seeking where the backend lands exactly, else by decoding forward."""
    position = 0
    if start > 0:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        position = int(capture.get(cv2.CAP_PROP_POS_FRAMES))
        if position != start:  # the backend could not seek exactly: decode forward from 0
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            position = 0
    while position < start:
        if not capture.grab():
            raise VideoError(f"{path}: the video ended at frame {position}, before frame {start}")
        position += 1


def _check_range(start: int, stop: int | None) -> None:
    if start < 0 or (stop is not None and stop < start):
        raise ValueError(f"Expected 0 <= start <= stop, but got start={start}, stop={stop}")


def iter_frames(
    path: str | os.PathLike, start: int = 0, stop: int | None = None, *, rgb: bool = False
) -> Iterator[np.ndarray]:
    """Yield frames ``[start, stop)`` of a video as ``(height, width, 3)`` uint8 arrays (BGR unless ``rgb``).

    Raises ``VideoError`` if the video ends before ``stop``.
    """
    _check_range(start, stop)
    with _Decoding(path) as decoding:  # decoder messages to the log, one console line if any
        capture = _open(path)
        try:
            _seek(capture, path, start)
            index = start
            while stop is None or index < stop:
                ok, frame = capture.read()
                if not ok:
                    if stop is None:
                        return
                    raise VideoError(f"{path}: expected frames up to {stop - 1}, but the video ended at frame {index}")
                # fd 2 is the console again while the caller has the frame (its own messages stay visible)
                decoding.pause()
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb else frame
                decoding.resume()
                index += 1
        finally:
            capture.release()


def iter_frame_batches(path: str | os.PathLike, start: int, stop: int, size: int) -> Iterator[np.ndarray]:
    """Frames ``[start, stop)`` of a video in arrays of ``size`` frames (the last may be shorter).

    Each array is ``(n, height, width, 3)`` uint8 BGR and new (the caller may keep it), and the
    decoder writes every frame straight into its place in it: no frame is copied after decoding.
    The decoder's messages go to the log for a whole batch at a time (see :class:`DecoderLog`).
    Raises ``VideoError`` if the video ends before ``stop`` or its frame size changes.
    """
    _check_range(start, stop)
    if size < 1:
        raise ValueError(f"Expected a batch size >= 1, but got {size}")
    with _Decoding(path) as decoding:
        capture = _open(path)
        try:
            _seek(capture, path, start)
            index, shape = start, None
            while index < stop:
                n = min(size, stop - index)
                batch = np.empty((n, *shape), np.uint8) if shape is not None else None
                for i in range(n):
                    ok, frame = capture.read(batch[i]) if batch is not None else capture.read()
                    if not ok:
                        raise VideoError(f"{path}: expected frames up to {stop - 1}, but the video ended at "
                                         f"frame {index + i}")
                    if batch is None:  # the first frame gives the size
                        shape = frame.shape
                        batch = np.empty((n, *shape), np.uint8)
                        batch[0] = frame
                    elif frame.shape != shape:
                        raise VideoError(f"{path}: expected every frame of size {shape[1]}x{shape[0]}, but frame "
                                         f"{index + i} is {frame.shape[1]}x{frame.shape[0]}")
                    elif not np.shares_memory(frame, batch):  # the decoder made a new array after all
                        batch[i] = frame
                decoding.pause()
                yield batch
                decoding.resume()
                index += n
        finally:
            capture.release()


def read_frames(path: str | os.PathLike, start: int, stop: int, *, rgb: bool = False) -> np.ndarray:
    """Frames ``[start, stop)`` as one ``(stop - start, height, width, 3)`` uint8 array."""
    frames = list(iter_frames(path, start, stop, rgb=rgb))
    if not frames:
        return np.zeros((0, 0, 0, 3), dtype=np.uint8)
    return np.stack(frames)


# Frames up to this many after the last one read are reached by decoding forward: a seek decodes
# from the key frame before its target, on average half the key-frame interval (x264's default
# interval is 250 frames; the DLC open-field video: seeks cost 70-250 frames' decoding).
FORWARD_FRAMES = 125


def iter_frames_at(path: str | os.PathLike, numbers) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(frame number, frame)`` for each of ``numbers`` (sorted, repeats once), BGR uint8
    ``(height, width, 3)``, from one opened video: a frame within :data:`FORWARD_FRAMES` after the
    last one read is reached by decoding forward, a farther one by seeking (exactly, as
    :func:`iter_frames` does). Raises ``VideoError`` if the video ends before a wanted frame.
    """
    numbers = sorted({int(f) for f in numbers})
    if numbers and numbers[0] < 0:
        raise ValueError(f"Expected frame numbers >= 0, but got {numbers[0]}")
    if not numbers:
        return
    with _Decoding(path) as decoding:
        capture = _open(path)
        try:
            position = 0
            for number in numbers:
                if not 0 <= number - position <= FORWARD_FRAMES:
                    _seek(capture, path, number)
                    position = number
                while position < number:
                    if not capture.grab():
                        raise VideoError(f"{path}: the video ended at frame {position}, before frame {number}")
                    position += 1
                ok, frame = capture.read()
                if not ok:
                    raise VideoError(f"{path}: expected frame {number}, but the video ended at frame {position}")
                position += 1
                decoding.pause()
                yield number, frame
                decoding.resume()
        finally:
            capture.release()


def write_video(path: str | os.PathLike, frames, *, fps: float, codec: str = "mp4v") -> Path:
    """Write BGR frames (an iterable of equal-sized ``(h, w, 3)`` uint8 arrays) to a video file.

    The file appears under its final name only once complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    writer = None
    try:
        for frame in frames:
            if writer is None:
                height, width = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
                if not writer.isOpened():
                    raise VideoError(f"Expected to open a {codec} writer for {path}, but OpenCV could not")
            writer.write(np.ascontiguousarray(frame))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"Expected at least one frame to write to {path}, but got none")
    os.replace(tmp, path)
    return path
