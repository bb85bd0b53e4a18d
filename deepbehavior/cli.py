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
    except KeyboardInterrupt:
        _interrupted(name)
    except BrokenPipeError:  # output piped into a reader that stopped (| head): not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(0)


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


if __name__ == "__main__":
    main()
