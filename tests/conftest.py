"""Shared fixtures: the real data beside the project, synthetic data, and a hermetic runtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))

# Runtime state (ultralytics settings, Ray's home) of the test run stays out of the user's home.
os.environ.setdefault("DEEPBEHAVIOR_HOME", str(REPO / ".pytest_cache" / "deepbehavior-home"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real recordings); tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    if not any("gpu" in item.keywords for item in items):
        return  # importing torch costs seconds; only pay it when a GPU test is collected
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
