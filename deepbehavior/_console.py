"""The command line's console: harmless runtime lines filtered out of stderr (CLI use only).

Some libraries write lines that look alarming on every healthy run, from places Python's logging
and warnings cannot reach (Ray's C++ core worker, Ray workers forwarded to the driver, a protobuf
mismatch printed inside ``import mediapipe``). :func:`quiet_console` puts a line filter between
file descriptor 2 and the terminal, which drops exactly the lines in :data:`HARMLESS` and passes
every other byte through. ``verbose=true`` on the command line leaves stderr alone.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# Each pattern: a line that says nothing is wrong, and why it is safe to hide.
HARMLESS = (
    # Ray Data keeps a predictor actor's constructor arguments in the object store and allows
    # restarts; our arguments are small and owned by the driver for the whole job.
    re.compile(r"core_worker\.cc:\d+: Actor with class name: .* has constructor arguments in the object store"),
    # Ray's core announces that it resubmits tasks whose results were on a worker that went away (a
    # lost node, or the job's own processes stopping on SIGTERM): the job says itself which shards it
    # runs again, or that it stops.
    re.compile(r"core_worker\.cc:\d+: :info_message: Attempting to recover \d+ lost objects"),
    # The embedded Ray uses token authentication (good); it announces so at every start.
    re.compile(r"Token authentication is enabled for this Ray cluster"),
    # mediapipe 0.10.21 with protobuf >= 5 prints this from a registration hook at import; the
    # legacy API we use does not need GetPrototype.
    re.compile(r"AttributeError: 'MessageFactory' object has no attribute 'GetPrototype'"),
)

_state: dict = {}


def _harmless(line: bytes) -> bool:
    text = line.decode("utf-8", "replace")
    return any(p.search(text) for p in HARMLESS)


def _pump(read_fd: int, write_fd: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        kept = b"".join(line + b"\n" for line in lines if not (_state.get("silent") or _harmless(line)))
        if kept:
            os.write(write_fd, kept)
    if pending and not (_state.get("silent") or _harmless(pending)):
        os.write(write_fd, pending)


def quiet_console() -> None:
    """Filter :data:`HARMLESS` lines out of everything this process (and its children) write to fd 2."""
    if "terminal" in _state:
        return
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, 2)
        os.close(write_fd)
    except OSError:  # no usable stderr: nothing to filter
        return
    thread = threading.Thread(target=_pump, args=(read_fd, terminal), name="deepbehavior-stderr", daemon=True)
    thread.start()
    _state.update(terminal=terminal, thread=thread)
    atexit.register(_restore)


def _restore() -> None:
    """Put the terminal back on fd 2 and pass on what is still in the pipe."""
    terminal = _state.get("terminal")
    if terminal is None:
        return
    try:
        sys.stderr.flush()
    except Exception:
        pass
    os.dup2(terminal, 2)  # closes our write end; the pump ends once children holding it exit too
    _state["thread"].join(timeout=1.0)


def silence_stderr():
    """Drop everything written to stderr from now on; return a function that still reaches the terminal."""
    try:
        sys.stderr.flush()
    except Exception:
        pass
    terminal = _state.get("terminal")
    if terminal is None:
        terminal = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    _state["silent"] = True

    def write(text: str) -> None:
        os.write(terminal, text.encode())

    return write
