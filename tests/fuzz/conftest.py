"""The fuzz suite: byte-level mutation of real files and property-based inputs, on a bounded budget.

Every reader must, for every input, either return values that are finite and in range, or raise
one ``ValueError``/``OSError`` line naming the file; never a traceback of another kind, never a
crash. ``DEEPBEHAVIOR_FUZZ_SCALE`` (default 1) multiplies the number of cases (CI keeps 1: well
under 90 s on 2 cores).
"""

from __future__ import annotations

import os
import random

import pytest

SCALE = float(os.environ.get("DEEPBEHAVIOR_FUZZ_SCALE", "1"))


def cases(n: int) -> int:
    return max(1, int(n * SCALE))


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to four byte-level changes: flip, overwrite, insert, delete, duplicate a span, or truncate."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        kind = rng.randrange(6)
        at = rng.randrange(len(out))
        if kind == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[at] = rng.randrange(256)
        elif kind == 2:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3:
            del out[at:at + rng.randint(1, 16)]
        elif kind == 4:
            span = out[at:at + rng.randint(1, 32)]
            out[at:at] = span
        else:
            del out[at:]
    return bytes(out)


@pytest.fixture
def fuzz():
    """The suite's helpers: ``fuzz.cases(n)``, ``fuzz.mutate(data, rng)``."""
    import types

    return types.SimpleNamespace(cases=cases, mutate=mutate)


@pytest.fixture
def rng(request):
    # a seed per test, stable across runs: a failure is reproducible from its test id
    return random.Random(request.node.nodeid)
