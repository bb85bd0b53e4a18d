"""One loop over a cohort's sessions: skip what is done, run the rest, record what fails, go on.

Every cohort job (``infer``, ``track``, ``triangulate``, ``analyze``) works session by session with
the same policy, written once here:

- a session that is already done (``is_done(session)`` is true) is skipped, so that rerunning the
  same command resumes;
- a session whose work raises an expected data error (:data:`DATA_ERRORS`: a missing or damaged
  store, a video that cannot be read, values a measure refuses, outputs made with other settings)
  becomes a :class:`SessionFailure` and the other sessions go on;
- anything else (a bug such as ``TypeError``, Ctrl-C, running out of memory) stops the run at once,
  with its traceback;
- progress (sessions done, rate, time left) is printed as the sessions finish.

What a job does with the :class:`SessionsReport` (the exit status) is the job's: see
``jobs/_hydra.py`` ``finish`` (bad input 2, any failed session 1, else 0).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Literal

from .fingerprint import FingerprintMismatch
from .video import VideoError

# Errors that a session's data can cause, caught and recorded per session. Zarr reports a missing
# or unreadable store as ValueError subclasses, its codecs a damaged chunk as RuntimeError ("Zstd
# decompression error"), xarray a missing variable as KeyError; files and videos give OSError.
DATA_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, KeyError, RuntimeError, EOFError)
# Subclasses of DATA_ERRORS that are bugs, not data: they stop the run with their traceback.
NOT_DATA_ERRORS: tuple[type[BaseException], ...] = (NotImplementedError, RecursionError)
# Errors that mean the session's inputs must be fixed (a rerun alone will not help): kind "input".
INPUT_ERRORS: tuple[type[BaseException], ...] = (FileNotFoundError, NotADirectoryError, IsADirectoryError,
                                                 PermissionError, FingerprintMismatch, VideoError)

Kind = Literal["input", "data"]
KINDS = ("input", "data")


@dataclass(frozen=True)
class SessionFailure:
    """Why one session (or a part of it) failed.

    Attributes
    ----------
    session
        The session's key, ``<subject>_<session>``.
    stage
        The job that failed on it (``"infer"``, ``"track"``, ``"triangulate"``, ``"analyze"``).
    kind
        ``"input"``: its inputs are missing, unreadable or were processed with other settings (fix
        them, then rerun); ``"data"``: processing its data failed (a damaged chunk, values a
        measure refuses, a lost worker).
    message
        One line: the error's type and message.
    details
        ``(name, value)`` pairs that locate the failure (``view``, ``start``, ``stop`` frames of an
        inference shard; ``store``, ``calibration`` files), written into the report as they are.
    """

    session: str
    stage: str
    kind: Kind
    message: str
    details: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Expected a failure kind in {list(KINDS)}, but got {self.kind!r}")

    @classmethod
    def from_error(cls, session: str, stage: str, error: BaseException, **details: Any) -> SessionFailure:
        """The failure of ``session`` from the exception ``error``, its kind from the error's type."""
        return cls(session, stage, classify(error), describe(error), tuple(details.items()))

    @classmethod
    def from_record(cls, record: Mapping[str, Any], stage: str) -> SessionFailure:
        """A failure from a record of :mod:`deepbehavior.runtime` (``{"session", "view", "start",
        "stop", "error"}``, one per inference shard): kind ``"input"`` when the session could not
        be planned (``view`` ``"*"``: a video missing, unreadable or truncated), else ``"data"``."""
        kind: Kind = "input" if record.get("unreadable") or record.get("view") == "*" else "data"
        details = tuple((k, v) for k, v in record.items() if k not in ("session", "error", "kind", "stage"))
        return cls(str(record["session"]), stage, kind, " ".join(str(record["error"]).split()), details)

    @property
    def where(self) -> str:
        """The details as a short phrase (``view=top start=50 stop=100``); empty without details."""
        return " ".join(f"{name}={value}" for name, value in self.details if value is not None)

    def to_json(self) -> dict[str, Any]:
        """The report's record: ``session``, the details, ``error`` (the message), ``kind``, ``stage``."""
        return {"session": self.session, **dict(self.details), "error": self.message, "kind": self.kind,
                "stage": self.stage}


def describe(error: BaseException) -> str:
    """``"<Type>: <message>"`` on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def classify(error: BaseException) -> Kind:
    """``"input"`` for :data:`INPUT_ERRORS`, else ``"data"``."""
    return "input" if isinstance(error, INPUT_ERRORS) else "data"


def is_data_error(error: BaseException) -> bool:
    """Whether ``error`` is recorded as a session's failure (True) or stops the run (False)."""
    return isinstance(error, DATA_ERRORS) and not isinstance(error, NOT_DATA_ERRORS)


@dataclass
class SessionsReport:
    """What :func:`run_sessions` did, sessions in the order given.

    Attributes
    ----------
    stage
        The ``label`` of the run.
    done
        Keys of the sessions whose work ran and returned.
    skipped
        Keys of the sessions already done.
    failures
        One :class:`SessionFailure` per failed session.
    results
        Key → what ``work`` returned, for the sessions in ``done``.
    seconds
        Wall time of the run, in seconds.
    """

    stage: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failures: list[SessionFailure] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        """Keys of the failed sessions."""
        return [f.session for f in self.failures]

    def to_json(self) -> dict[str, Any]:
        """``stage``, ``done``, ``skipped``, ``failures`` (their records) and ``seconds``."""
        return {"stage": self.stage, "done": list(self.done), "skipped": list(self.skipped),
                "failures": [f.to_json() for f in self.failures], "seconds": round(self.seconds, 3)}


class _Progress:
    """Sessions finished of the total, the rate of those worked on (skipped ones cost nothing) and
    the time left; a line at most every ``every`` seconds, and always the last."""

    def __init__(self, total: int, label: str, printer: Callable[[str], None], every: float):
        self.total, self.label, self.printer, self.every = total, label, printer, every
        self.started = time.monotonic()
        self.finished = self.worked = self.skipped = self.failed = 0
        self.last = -float("inf")

    def add(self, outcome: str) -> None:
        self.finished += 1
        if outcome == "skipped":
            self.skipped += 1
        else:
            self.worked += 1
            self.failed += outcome == "failed"
        now = time.monotonic()
        if now - self.last >= self.every or self.finished == self.total:
            self.last = now
            self.printer(self.line(now))

    def line(self, now: float) -> str:
        elapsed = now - self.started
        rate = self.worked / elapsed if self.worked and elapsed > 0 else None
        left = (self.total - self.finished) / rate if rate else None
        speed = (f"{rate:.2g} sessions/s, {left:.0f}s left" if rate and self.finished < self.total
                 else f"{elapsed:.0f}s" if self.finished == self.total else "? sessions/s, ? left")
        return (f"[{self.label}] {self.finished}/{self.total} sessions ({self.skipped} already done, "
                f"{self.failed} failed), {speed}")


def _key(session: Any) -> str:
    return str(session.key)


def run_sessions(
    sessions: Iterable[Any],
    work: Callable[[Any], Any],
    *,
    is_done: Callable[[Any], bool] | None = None,
    label: str,
    workers: int = 1,
    key: Callable[[Any], str] = _key,
    details: Callable[[Any], Mapping[str, Any]] | None = None,
    fail_fast: bool = False,
    printer: Callable[[str], None] = print,
    progress_every: float = 5.0,
) -> SessionsReport:
    """Run ``work`` on every session not yet done, recording the failures of the others.

    Parameters
    ----------
    sessions
        The sessions (:class:`deepbehavior.cohort.Session`, or anything ``key`` names).
    work
        ``work(session)`` does one session; what it returns is kept in ``results``.
    is_done
        ``is_done(session)``: True when its output exists and was made with this run's settings
        (skipped). It may raise, as ``work`` may: a finished output made with other settings is
        that session's failure. None: nothing is done yet.
    label
        The stage, named in progress lines and in the failures (``"track"``).
    workers
        Sessions run at once, in threads (1: one after the other, in this thread).
    key
        The session's name in the report (default: its ``key`` attribute).
    details
        ``details(session)``: fields added to its failure record (its store, its calibration).
    fail_fast
        Raise a session's error at once instead of recording it (a library call on one cohort
        that wants an exception rather than a report).
    printer
        Where progress and failure lines go.
    progress_every
        Seconds between progress lines (the last one is always printed).

    Returns
    -------
    SessionsReport
        Sessions done, skipped and failed, in the order given, and the work's results.
    """
    sessions = list(sessions)
    if workers < 1:
        raise ValueError(f"Expected workers >= 1, but got {workers}")
    started = time.monotonic()
    progress = _Progress(len(sessions), label, printer, progress_every)
    outcomes: dict[int, tuple[str, Any]] = {}

    def one(session: Any) -> tuple[str, Any]:
        try:
            if is_done is not None and is_done(session):
                return "skipped", None
            return "done", work(session)
        except BaseException as exc:
            if fail_fast or not is_data_error(exc):
                raise
            extra = dict(details(session)) if details is not None else {}
            failure = SessionFailure.from_error(key(session), label, exc, **extra)
            printer(f"[{label}] {failure.session}: failed ({failure.kind}): {failure.message}")
            return "failed", failure

    if workers == 1 or len(sessions) <= 1:
        for index, session in enumerate(sessions):
            outcomes[index] = one(session)
            progress.add(outcomes[index][0])
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{label}-session") as pool:
            pending = {pool.submit(one, s): i for i, s in enumerate(sessions)}
            try:
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        index = pending.pop(future)
                        outcomes[index] = future.result()  # a bug's exception is raised here
                        progress.add(outcomes[index][0])
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
    report = SessionsReport(label)
    for index, session in enumerate(sessions):
        outcome, value = outcomes[index]
        if outcome == "skipped":
            report.skipped.append(key(session))
        elif outcome == "failed":
            report.failures.append(value)
        else:
            report.done.append(key(session))
            report.results[key(session)] = value
    report.seconds = time.monotonic() - started
    return report
