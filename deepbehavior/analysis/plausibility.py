"""Checks that a session's movement is physically plausible, reported beside the measures.

Detections that jump between animals or onto false positives show up as speeds no animal reaches:
a mouse that walks at 50 px/s "moving" at 9,600 px/s for a frame. Such frames are counted and
named in the measures table and marked in the figures, never silently averaged into a mean.

The limit is ``max_speed`` (position units per second) where the user knows one; otherwise a
multiple (:data:`DEFAULT_FACTOR`) of the session's own median moving speed, which does not depend
on the unit or the species.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

DEFAULT_FACTOR = 25.0


@dataclass(frozen=True)
class SpeedCheck:
    """Frames of one track faster than ``limit`` (``unit``/s)."""

    name: str
    limit: float
    unit: str
    too_fast: np.ndarray  # (time,) bool

    @property
    def count(self) -> int:
        return int(self.too_fast.sum())


def check_speed(speed: np.ndarray, *, name: str, unit: str, max_speed: float | None = None,
                factor: float = DEFAULT_FACTOR) -> SpeedCheck:
    """Which frames of a ``(time,)`` speed array (``unit``/s, NaN where unknown) are implausible.

    Parameters
    ----------
    max_speed
        Fastest plausible speed in ``unit``/s; None: ``factor`` times the median of the speeds
        above zero (no check when there are none).
    """
    speed = np.asarray(speed, dtype=np.float64)
    if max_speed is None:
        moving = speed[np.isfinite(speed) & (speed > 0)]
        limit = factor * float(np.median(moving)) if moving.size else float("inf")
    else:
        if not max_speed > 0:
            raise ValueError(f"Expected max_speed > 0 {unit}/s, but got {max_speed}")
        limit = float(max_speed)
    with np.errstate(invalid="ignore"):
        too_fast = np.isfinite(speed) & (speed > limit)
    return SpeedCheck(name, limit, unit, too_fast)


def flag(checks: Mapping[str, SpeedCheck] | list[SpeedCheck]) -> str:
    """One line for the table: empty when every track is plausible, else what is not."""
    checks = list(checks.values()) if isinstance(checks, Mapping) else list(checks)
    parts = [f"{c.name}: {c.count} of {c.too_fast.size} frames faster than {c.limit:.4g} {c.unit}/s"
             for c in checks if c.count]
    return ("implausible speed (" + "; ".join(parts) + ")") if parts else ""
