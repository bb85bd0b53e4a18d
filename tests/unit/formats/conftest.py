"""Paths of the sample files in the original DeepBehavior formats."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def formats_dir(shared_data) -> Path:
    return shared_data / "deepbehavior-formats"
