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
    module = importlib.import_module(f"jobs.{MODULES.get(name, name)}")
    sys.argv = [f"deepbehavior {name}", *rest]
    module.main()


if __name__ == "__main__":
    main()
