"""Short, stable folder names for the runs of a Hydra sweep (``-m``): the run's index and the settings
given on the command line, never a path.

``conf/common.yaml`` sets ``hydra.sweep.subdir: ${deepbehavior_run_name:${hydra:job.num},${hydra:overrides.task}}``.
Hydra's own ``override_dirname`` puts every override in the name, paths included, and a ``/`` in a
value makes a folder: a training sweep given ``train.data=/data/mice/v3/data.yaml`` nested its runs
seven folders deep. Here ``0_train.lr0=0.002`` and ``1_train.lr0=0.004`` instead.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

RESOLVER = "deepbehavior_run_name"
# Settings that never name a run: where the sweep writes (every run's own folder is out/<run name>).
EXCLUDED_KEYS = frozenset({"out"})
MAX_LENGTH = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._=,+\-]")


def _is_path(value: str) -> bool:
    return "/" in value or os.sep in value or (bool(value) and os.path.exists(value))


def run_name(num: int | str, overrides: Sequence[str]) -> str:
    """The folder name of run ``num`` of a sweep: ``<num>_<key=value,...>`` of its non-path overrides.

    Parameters
    ----------
    num
        The run's index in the sweep (Hydra's ``job.num``).
    overrides
        The run's task overrides as typed (``key=value``), e.g. Hydra's ``overrides.task``.

    Returns
    -------
    str
        One path component, at most ``MAX_LENGTH`` characters: overrides whose key is ``out`` or whose
        value is a path (holds a ``/`` or names an existing file) are left out; characters other than
        letters, digits and ``._=,+-`` become ``_``.

    Examples
    --------
    >>> run_name(1, ["train.data=/data/mice/v3/data.yaml", "out=/scratch/sweep", "train.lr0=0.004"])
    '1_train.lr0=0.004'
    """
    kept = []
    for override in overrides:
        key, sep, value = str(override).partition("=")
        key = key.lstrip("+~")
        if not sep or key in EXCLUDED_KEYS or _is_path(value):
            continue
        kept.append(f"{key}={value}")
    name = _UNSAFE.sub("_", ",".join(kept))
    return f"{num}_{name}"[:MAX_LENGTH] if name else str(num)


def register() -> None:
    """Make ``${deepbehavior_run_name:NUM,OVERRIDES}`` available to Hydra's configs (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, lambda num, overrides: run_name(num, list(overrides)))
