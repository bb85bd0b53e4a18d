"""deepbehavior: behaviour videos to trajectories, kinematics, 3D poses and task measures.

``import deepbehavior as db`` gives the front door; each name loads its module on first use, so
importing the package costs no torch, Ray, xarray or Zarr (the command line's ``--help`` stays fast).

Data in and out:

- :func:`db.load <deepbehavior.pipeline.io.load>`, :func:`db.save <deepbehavior.pipeline.io.save>`:
  other tools' files (SLEAP, DeepLabCut, NWB, OpenPose, TensorBox, darknet...) and our Zarr stores.
- :func:`db.open_store <deepbehavior.store.open_store>`: one of our stores, lazily.
- :func:`db.load_cohort <deepbehavior.cohort.load_cohort>`: a cohort manifest (YAML or CSV).
- :mod:`db.kinematics <deepbehavior.analysis.kinematics>`: velocity, speed, acceleration, path length...

The pipeline steps, each returning a report (never exiting): :func:`db.infer
<deepbehavior.pipeline.infer.infer>`, :func:`db.track <deepbehavior.pipeline.track.track>`,
:func:`db.analyze <deepbehavior.pipeline.analyze.analyze>`, :func:`db.calibrate
<deepbehavior.pipeline.calibrate.calibrate>`, :func:`db.triangulate
<deepbehavior.pipeline.triangulate.triangulate>`, :func:`db.train <deepbehavior.pipeline.train.train>`.

Examples
--------
>>> import deepbehavior as db
>>> flies = db.load("centered_pair_predictions.slp")  # doctest: +SKIP
>>> tracked = db.track(flies, retrack=True, n_identities=2).tracked  # doctest: +SKIP
>>> db.analyze(tracked).table  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> (module, attribute; "" for the module itself). The one list of the front door.
_EXPORTS: dict[str, tuple[str, str]] = {
    "load": ("deepbehavior.pipeline.io", "load"),
    "save": ("deepbehavior.pipeline.io", "save"),
    "open_store": ("deepbehavior.store", "open_store"),
    "load_cohort": ("deepbehavior.cohort", "load_cohort"),
    "kinematics": ("deepbehavior.analysis.kinematics", ""),
    "infer": ("deepbehavior.pipeline.infer", "infer"),
    "track": ("deepbehavior.pipeline.track", "track"),
    "analyze": ("deepbehavior.pipeline.analyze", "analyze"),
    "calibrate": ("deepbehavior.pipeline.calibrate", "calibrate"),
    "triangulate": ("deepbehavior.pipeline.triangulate", "triangulate"),
    "train": ("deepbehavior.pipeline.train", "train"),
}

__all__ = ["__version__", *_EXPORTS]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("deepbehavior")
    except PackageNotFoundError:  # a checkout on sys.path that was never installed
        return "0+unknown"


__version__ = _version()


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'deepbehavior' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = importlib.import_module(module)
    if attribute:
        value = getattr(value, attribute)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
