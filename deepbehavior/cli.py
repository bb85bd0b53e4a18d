"""The ``deepbehavior`` command: ``deepbehavior JOB [hydra overrides…]``, one Hydra job per subcommand.

Each job lives in ``jobs/<name>.py`` (installed as the package ``deepbehavior_jobs``) with a config
``conf/<name>.yaml``; every job takes ``out=``, Hydra overrides (``model.imgsz=320``), ``-m`` for
multirun sweeps, and ``--help``.

This is the only place that sets up the process: the environment variables of a quiet console,
the filter of harmless runtime log lines (``verbose=true`` keeps them) and the handling of Ctrl-C.
Library calls change none of it. Imports are deferred so that ``--help`` and bad input answer at once.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import threading
from pathlib import Path

# name -> one line of help. A job is added here and in jobs/<name>.py with conf/<name>.yaml.
JOBS = {
    "demo": "generate a synthetic cohort, train a keypoint model, infer into Zarr, score keypoints and kinematics",
    "infer": "run a trained model over a cohort or videos with Ray, into resumable Zarr stores",
    "train": "train a detector or keypoint model with Ray Train (checkpointed, resumable)",
    "frames": "pick frames to label from videos (uniform, kmeans, uncertain, jumps) into a labelling project",
    "label": "serve the browser labelling app for a project, or import/export its labels (YOLO, COCO, ...)",
    "import": "read TensorBox, darknet, Yolo_mark, OpenPose, DeepLabCut, SLEAP or NWB files into Zarr stores",
    "export": "write stores as DeepLabCut, SLEAP, NWB, OpenPose, Lightning Pose or CSV files",
    "track": "identities over whole videos (from classes or motion, swaps repaired) with a quality report per session",
    "analyze": "task measures (locomotion, reaching, regions, social, human) over a cohort into one table, plus figures",
    "calibrate": "calibrate 2..N cameras from checkerboard or ChArUco images/videos (bundle adjusted)",
    "triangulate": "3D keypoints or box centres from the views of a 2D store and a calibration",
    "pose_export": "a 2D human poses store as OpenPose JSON files and a video with skeletons and hands drawn",
}
# Jobs whose module name differs from the job name ("import" is a Python keyword).
MODULES = {"import": "import_files"}
JOBS_PACKAGE = "deepbehavior_jobs"
INTERRUPTED = "interrupted; rerun the same command to resume"
TERMINATED = "terminated (SIGTERM); rerun the same command to resume"
# Exit status after Ctrl-C, as a shell reports a process ended by SIGINT.
EXIT_INTERRUPTED = 130
# Exit status after SIGTERM (a scheduler's pre-emption or time limit), as a shell reports it.
EXIT_TERMINATED = 143
# Held by whichever thread writes the job's last line (the main thread, or one that ends the job at once).
_ENDING = threading.Lock()

# Variables of the process a job runs in (and of the workers it starts): no progress bars of other
# libraries, figures without a display, no deprecation chatter. Set by the CLI only.
PROCESS_ENV = {"TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def _usage(columns: int | None = None) -> str:
    """The text of ``deepbehavior --help``, each job's line wrapped to ``columns`` (default: the terminal's)."""
    import shutil
    import textwrap

    columns = columns or max(shutil.get_terminal_size(fallback=(100, 24)).columns, 40)
    width = max(map(len, JOBS))
    lines = ["usage: deepbehavior JOB [key=value ...] [-m] [--help]", "", "jobs:"]
    for name, text in JOBS.items():
        lines += textwrap.wrap(text, columns, initial_indent=f"  {name.ljust(width)}  ",
                               subsequent_indent=" " * (width + 4), break_long_words=False)
    lines += [""] + textwrap.wrap("Every job takes out=DIR. 'deepbehavior JOB --help' lists a job's settings, "
                                  "verbose=true keeps the runtime's own log lines.", columns)
    return "\n".join(lines)


def jobs_package():
    """The package of the jobs: ``jobs/`` beside this package in a checkout, else the installed one."""
    if JOBS_PACKAGE in sys.modules:
        return sys.modules[JOBS_PACKAGE]
    checkout = Path(__file__).resolve().parent.parent / "jobs"
    if (checkout / "_hydra.py").is_file():
        spec = importlib.util.spec_from_file_location(JOBS_PACKAGE, checkout / "__init__.py",
                                                      submodule_search_locations=[str(checkout)])
        package = importlib.util.module_from_spec(spec)
        package.__from_checkout__ = True  # Ray tasks then carry its code (hydra_plugins' launcher)
        sys.modules[JOBS_PACKAGE] = package
        spec.loader.exec_module(package)
        return package
    return importlib.import_module(JOBS_PACKAGE)


def _verbose(args: list[str]) -> bool:
    """Whether ``args`` hold ``verbose=true``."""
    return any(a.lstrip("+").partition("=")[0] == "verbose" and a.partition("=")[2].strip().lower() in ("true", "1", "yes")
               for a in args)


def set_up_process(verbose: bool) -> None:
    """Process-wide setup of a job run from the command line (never done by library calls)."""
    for key, value in PROCESS_ENV.items():
        os.environ.setdefault(key, value)
    if not verbose:
        from ._console import quiet_console

        quiet_console()


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        try:
            print(_usage(), flush=True)
        except BrokenPipeError:  # piped into a reader that stopped (| head)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    name, rest = argv[0], argv[1:]
    if name not in JOBS:
        sys.stderr.write(f"deepbehavior: error: unknown job {name!r}; expected one of {', '.join(JOBS)}\n")
        raise SystemExit(2)
    verbose = _verbose(rest)
    ctrl_c = _CtrlC(name)
    try:
        set_up_process(verbose)
        module = importlib.import_module(f"{jobs_package().__name__}.{MODULES.get(name, name)}")
        schema = getattr(module.main, "schema", None)
        if schema is not None and "verbose" not in getattr(schema, "__dataclass_fields__", {}):
            rest = [a for a in rest if a.lstrip("+").partition("=")[0] != "verbose"]  # the CLI's own key
        if verbose:
            rest = [*rest, "hydra.job_logging.root.level=INFO"]  # libraries' INFO records too
        sys.argv = [f"deepbehavior {name}", *rest]
        module.main()
        if ctrl_c.pressed:  # a library on the way caught the KeyboardInterrupt and carried on
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        _interrupted(name, ctrl_c.signum)
    except BrokenPipeError:  # output piped into a reader that stopped (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)
    finally:
        ctrl_c.restore()


class _CtrlC:
    """Ctrl-C raises KeyboardInterrupt, as Python's own handler does, but only where it can end the job.

    SIGTERM, which batch schedulers send before SIGKILL when they pre-empt a job or its time is
    up, is handled the same way (``signum`` tells which came): the job stops where a Ctrl-C would,
    with what it finished saved, one line, and exit 143 instead of 130.

    Python runs a signal handler in the main thread between any two bytecodes, also inside a
    finalizer (``__del__``), which swallows the exception with an "ignored" message, and inside
    the logging module's bookkeeping, between a lock's acquire and its ``try``, which leaves the
    lock held: a Ctrl-C landing there once let an ``infer`` run on to the end (exit 0), and once
    left Zarr's I/O thread waiting for logging's lock forever. So a Ctrl-C that lands in such a
    place is sent again a moment later, and one that a library still swallows is remembered
    (``pressed``): the job ends as interrupted when it returns. If the process has not ended
    ``WATCHDOG_S`` seconds after a Ctrl-C, it leaves at once with the one line and 130.
    Only in the main thread, where Python runs signal handlers; ``restore`` puts the host's back.
    """

    RETRY_S = 0.05
    WATCHDOG_S = 60.0
    # Code a KeyboardInterrupt must not land in: it would be swallowed or leave a lock held.
    # (Not threading.py: a wait on a lock is the usual, safe place for a Ctrl-C to land.)
    _UNSAFE_FILES = ("logging" + os.sep + "__init__.py", os.sep + "weakref.py")

    def __init__(self, name: str) -> None:
        import signal
        import threading

        self.name, self.pressed, self._previous, self._watchdog = name, False, {}, None
        self.signum: int | None = None  # the signal that ended the job: SIGINT or SIGTERM
        self._wakeup: tuple[int, int, int] | None = None  # read end, write end, the previous wakeup fd
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._on_ctrl_c)
            self._watch_sigterm()

    def _watch_sigterm(self) -> None:
        """With Ray running, a SIGTERM sent to the whole job (a scheduler signals every process of it)
        also stops Ray's own processes, and Ray's C++ core in this process then ends it at once with
        exit 1 and nothing said, often before Python runs the handler above (measured: 1 time in 4).
        So a thread that hears of the signal as soon as it arrives (Python's wakeup fd) ends a job
        that runs Ray itself, with the one line and 143: what it finished is on disk already, the
        chunk in flight is redone on resume, as after a kill. Without Ray the handler above runs."""
        import signal
        import threading

        try:
            read_end, write_end = os.pipe()
            os.set_blocking(write_end, False)
            previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        except (OSError, ValueError):
            return
        self._wakeup = (read_end, write_end, previous)
        threading.Thread(target=self._heard, args=(read_end,), name="deepbehavior-sigterm", daemon=True).start()

    def _heard(self, read_end: int) -> None:
        import signal

        while True:
            try:
                data = os.read(read_end, 64)
            except OSError:
                return
            if not data:  # restore() closed the write end
                os.close(read_end)
                return
            ray = sys.modules.get("ray")
            if signal.SIGTERM in data and ray is not None and getattr(ray, "is_initialized", lambda: False)():
                environment = sys.modules.get("deepbehavior.runtime.environment")
                folder = environment.ray_temp_dir() if environment is not None else None
                if folder is not None:  # the session folder of the Ray this process started
                    import shutil

                    shutil.rmtree(folder, ignore_errors=True)
                self.signum = signal.SIGTERM
                self._leave_now()

    def _on_ctrl_c(self, signum, frame) -> None:
        import signal
        import threading

        self.pressed = True
        if self.signum is None or signum == signal.SIGTERM:  # a pre-emption is reported as one
            self.signum = signum
        if self._watchdog is None:
            self._watchdog = threading.Timer(self.WATCHDOG_S, self._leave_now)
            self._watchdog.daemon = True
            self._watchdog.start()
        if self._unsafe(frame):
            again = threading.Timer(self.RETRY_S, os.kill, (os.getpid(), signum))
            again.daemon = True
            again.start()
            return
        raise KeyboardInterrupt

    @classmethod
    def _unsafe(cls, frame) -> bool:
        while frame is not None:
            code = frame.f_code
            if code.co_name == "__del__" or code.co_filename.endswith(cls._UNSAFE_FILES):
                return True
            frame = frame.f_back
        return False

    def _leave_now(self) -> None:
        from ._console import silence_stderr

        if not _ENDING.acquire(blocking=False):  # the main thread is writing the line and leaving
            return
        line, code = _ending(self.signum)
        silence_stderr()(f"deepbehavior {self.name}: {line}\n")
        os._exit(code)

    def restore(self) -> None:
        import signal

        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._wakeup is not None:
            read_end, write_end, previous = self._wakeup
            self._wakeup = None
            try:
                signal.set_wakeup_fd(previous)
            except ValueError:  # not the main thread any more: leave it
                pass
            os.close(write_end)  # the watching thread reads the end and stops
        for signum, previous in self._previous.items():
            if previous is not None:
                signal.signal(signum, previous)


def _ending(signum: int | None) -> tuple[str, int]:
    """The line and exit status of a job ended by ``signum`` (SIGINT when None)."""
    import signal

    return (TERMINATED, EXIT_TERMINATED) if signum == signal.SIGTERM else (INTERRUPTED, EXIT_INTERRUPTED)


def _interrupted(name: str, signum: int | None = None) -> None:
    """One line instead of a traceback; the runtime is stopped without its own messages."""
    import signal

    line, code = _ending(signum)
    for each in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C or SIGTERM: out at once
        signal.signal(each, lambda *_: os._exit(code))
    from ._console import silence_stderr

    write = silence_stderr()
    ray = sys.modules.get("ray")
    if ray is not None:
        try:
            ray.shutdown()
        except Exception:
            pass
    _ENDING.acquire()  # not while another thread ends the job (it then leaves with this line and code)
    write(f"deepbehavior {name}: {line}\n")
    _ENDING.release()
    raise SystemExit(code)


def console() -> None:
    """The ``deepbehavior`` command: :func:`main`, then out without the interpreter's teardown.

    Once a job has returned, everything it wrote is closed; what remains is Python tearing down
    the modules of torch, Zarr, Dask and the rest, about a second that changes nothing on disk
    (1.3 s measured after an ``infer``, 2-core Intel Xeon). So the command does what an exit must
    (threads joined as Python joins them, ``atexit`` handlers such as Ray's shutdown and logging's
    flush, the streams flushed) and ends the process. An uncaught exception takes Python's own way
    out, traceback and all.
    """
    try:
        main()
        code = 0
    except SystemExit as stop:
        code = stop.code
    _leave(code)


def _leave(code) -> None:
    import atexit
    import threading

    if isinstance(code, str):  # SystemExit("message"): Python prints it and exits 1
        sys.stderr.write(code + "\n")
        code = 1
    shutdown = getattr(threading, "_shutdown", None)  # joins non-daemon threads, as the interpreter does
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(0 if code is None else int(code))


if __name__ == "__main__":
    console()
