"""Keeping ultralytics (and processes we start) off the network, and our folder for runtime state.

ultralytics downloads a font, checks for updates and auto-installs packages unless told not to;
:func:`offline_ultralytics` tells it not to. It sits at the base of the package so models,
labeling and the runtime can all call it without importing one another.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

# What ultralytics reads from the environment, at import and at call time (``YOLO_OFFLINE`` is read
# whenever it would check the network), so these are set in this process too.
OFFLINE_ENV = {
    "YOLO_OFFLINE": "1",
    "YOLO_AUTOINSTALL": "False",
    "YOLO_VERBOSE": "False",
}

# What Ray reads when ``ray.init`` starts or joins a cluster: set by :func:`start_ray`, which is a
# process-wide act anyway.
RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_DISABLE_IMPORT_WARNING": "1",
    # Ray Data's progress bars would interleave with ours.
    "RAY_DATA_DISABLE_PROGRESS_BARS": "1",
    "RAY_TRAIN_V2_ENABLED": "1",
}

# Only for the worker processes we start (never set in the caller's process, a notebook say):
# no progress bars of other libraries, figures without a display, no deprecation chatter.
WORKER_ENV = {
    "TQDM_DISABLE": "1",
    "MPLBACKEND": "Agg",
    "PYTHONWARNINGS": "ignore::DeprecationWarning",
}


def state_dir() -> Path:
    """A folder of ours for runtime state (ultralytics settings and font, Ray's home).

    ``$DEEPBEHAVIOR_HOME``, read at each call, else ``~/.cache/deepbehavior``.
    """
    folder = Path(os.environ.get("DEEPBEHAVIOR_HOME") or Path.home() / ".cache" / "deepbehavior")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def offline_ultralytics() -> dict[str, str]:
    """Configure ultralytics never to reach the network; return the variables a worker process needs.

    Call before ``import ultralytics`` (it reads these at import). Sets only ultralytics' own
    ``YOLO_*`` variables in this process; the returned mapping adds :data:`WORKER_ENV` and
    :data:`RAY_ENV` for processes we start. Places a TTF font as
    ``Arial.ttf`` in its config folder, since training otherwise downloads one even with
    ``plots=False``.
    """
    config_dir = state_dir() / "ultralytics"
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        target = font_dir / name
        if not target.exists():
            import matplotlib

            source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
            shutil.copyfile(source, target)
    own = {**OFFLINE_ENV, "YOLO_CONFIG_DIR": str(config_dir)}
    os.environ.update(own)
    return {**own, **RAY_ENV, **WORKER_ENV}
