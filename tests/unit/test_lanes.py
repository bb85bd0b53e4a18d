"""The fast lane's list of slow unit tests (``tests/conftest.py``) names tests that exist, so that a
renamed or moved test cannot slip into the default lane unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import SLOW_UNIT_TESTS

TESTS = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("entry", sorted(SLOW_UNIT_TESTS))
def test_each_listed_slow_test_exists(entry):
    file, _, name = entry.partition("::")
    path = TESTS / file
    assert path.is_file(), f"Expected {file} under tests/, but there is no such file"
    if name:
        functions = {node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}
        assert name in functions, f"Expected a test {name} in {file}, but it has none (renamed? update SLOW_UNIT_TESTS)"
    assert SLOW_UNIT_TESTS[entry].strip(), "each entry says why it is slow"
