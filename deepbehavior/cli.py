"""The ``deepbehavior`` command: ``deepbehavior JOB [hydra overrides…]``, one Hydra job per subcommand.

Each job lives in ``jobs/<name>.py`` with a config ``conf/<name>.yaml``; every job takes ``out=``,
Hydra overrides (``model.imgsz=320``), ``-m`` for multirun sweeps, and ``--help``.
"""

from __future__ import annotations

import importlib
import sys

# name -> one line of help. A job is added here and in jobs/<name>.py with conf/<name>.yaml.
JOBS = {
    "demo": "generate a synthetic cohort, train a detector, infer with Ray into Zarr, compute kinematics",
    "infer": "run a trained model over a cohort or videos with Ray, into resumable Zarr stores",
    "train": "train a detector or keypoint model with Ray Train (checkpointed, resumable)",
}


def _usage() -> str:
    width = max(map(len, JOBS))
    lines = ["usage: deepbehavior JOB [key=value ...] [-m] [--help]", "", "jobs:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in JOBS.items()]
    lines += ["", "Every job takes out=DIR. 'deepbehavior JOB --help' lists a job's settings."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_usage())
        return
    name, rest = argv[0], argv[1:]
    if name not in JOBS:
        sys.stderr.write(f"deepbehavior: error: unknown job {name!r}; expected one of {', '.join(JOBS)}\n")
        raise SystemExit(2)
    module = importlib.import_module(f"jobs.{name}")
    sys.argv = [f"deepbehavior {name}", *rest]
    module.main()


if __name__ == "__main__":
    main()
