"""``import deepbehavior as db``: the version, the lazy surface, and nothing heavy imported up front."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

import deepbehavior as db

HEAVY = ("torch", "ray", "xarray", "zarr", "dask", "ultralytics", "cv2", "pandas")


def test_version_is_the_installed_distributions():
    assert db.__version__ == version("deepbehavior")


def test_import_loads_no_heavy_module():
    code = f"import sys, deepbehavior; print(__import__('json').dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.parametrize("name", [n for n in db.__all__ if n != "__version__"])
def test_every_public_name_loads_and_is_documented(name):
    value = getattr(db, name)
    assert value.__doc__ and len(value.__doc__.strip()) > 20
    assert name in dir(db)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'tracks'"):
        db.tracks  # noqa: B018
