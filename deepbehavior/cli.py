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
# Exit status after Ctrl-C, as a shell reports a process ended by SIGINT.
EXIT_INTERRUPTED = 130

# Variables of the process a job runs in (and of the workers it starts): no progress bars of other
# libraries, figures without a display, no deprecation chatter. Set by the CLI only.
PROCESS_ENV = {"TQDM_DISABLE": "1", "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def _usage() -> str:
    width = max(map(len, JOBS))
    lines = ["usage: deepbehavior JOB [key=value ...] [-m] [--help]", "", "jobs:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in JOBS.items()]
    lines += ["", "Every job takes out=DIR. 'deepbehavior JOB --help' lists a job's settings, "
              "verbose=true keeps the runtime's own log lines."]
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
        print(_usage(), flush=True)
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
        _interrupted(name)
    except BrokenPipeError:  # output piped into a reader that stopped (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)
    finally:
        ctrl_c.restore()


class _CtrlC:
    """Ctrl-C raises KeyboardInterrupt, as Python's own handler does, but only where it can end the job.

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

        self.name, self.pressed, self._previous, self._watchdog = name, False, None, None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_ctrl_c)

    def _on_ctrl_c(self, signum, frame) -> None:
        import threading

        self.pressed = True
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

        silence_stderr()(f"deepbehavior {self.name}: {INTERRUPTED}\n")
        os._exit(EXIT_INTERRUPTED)

    def restore(self) -> None:
        import signal

        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _interrupted(name: str) -> None:
    """One line instead of a traceback; the runtime is stopped without its own messages."""
    import signal

    signal.signal(signal.SIGINT, lambda *_: os._exit(EXIT_INTERRUPTED))  # a second Ctrl-C: out at once
    from ._console import silence_stderr

    write = silence_stderr()
    ray = sys.modules.get("ray")
    if ray is not None:
        try:
            ray.shutdown()
        except Exception:
            pass
    write(f"deepbehavior {name}: {INTERRUPTED}\n")
    raise SystemExit(EXIT_INTERRUPTED)


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
