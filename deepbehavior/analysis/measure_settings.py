"""What ``analyze`` measures and with which parameters: :data:`MEASURES` and :class:`MeasureSettings`.

A light module (no NumPy, pandas or xarray at import), so that the ``analyze`` job's schema, which
extends :class:`MeasureSettings`, can be read by ``deepbehavior analyze --help`` at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..config import HumanConfig, ReachingConfig, RegionsConfig, SocialConfig

#: The task measures ``analyze`` computes (``measures=``), each a branch of
#: :func:`deepbehavior.analysis.cohort.measure_session`.
MEASURES = ("locomotion", "reaching", "regions", "social", "human")

#: Body sides of the OpenPose names (``human.side``): the prefix of ``RWrist``, ``LElbow``, ...
SIDES = ("R", "L")


def check_side(side: str) -> None:
    """Raise the one-line error for a ``side`` not in :data:`SIDES`."""
    if side not in SIDES:
        raise ValueError(f"Expected human.side one of {', '.join(map(repr, SIDES))}, but got {side!r}")


@dataclass(frozen=True)
class MeasureSettings:
    """What to measure and with which parameters: the measure families and their parameter groups.

    The ``analyze`` job's schema extends this class, so ``measures=[...]``, ``reaching.start_speed=...``
    and the other groups are set on its command line by these very names.
    """

    # Measures to compute: locomotion, reaching, regions, social, human (analysis.measure_settings.MEASURES).
    measures: tuple[str, ...] = ("locomotion",)
    # Camera of multi-view 2D stores to analyse (null: the first).
    view: Optional[str] = None
    reaching: ReachingConfig = field(default_factory=ReachingConfig)
    regions: RegionsConfig = field(default_factory=RegionsConfig)
    social: SocialConfig = field(default_factory=SocialConfig)
    human: HumanConfig = field(default_factory=HumanConfig)
    # Fastest plausible speed of an animal, in the session's unit per second (mm/s with a
    # pixel_size_mm, else px/s; 3D: the calibration's unit); faster frames are flagged in the table
    # and marked in the speed figure. null: 25 x the session's median moving speed.
    max_speed: Optional[float] = None

    def __post_init__(self):
        object.__setattr__(self, "measures", tuple(self.measures))  # a list from YAML or the command line
        unknown = [m for m in self.measures if m not in MEASURES]
        if unknown:
            raise ValueError(f"Expected measures from {list(MEASURES)}, but got {unknown}")
        if self.max_speed is not None and not self.max_speed > 0:
            raise ValueError(f"Expected max_speed > 0 (units per second) or null, but got {self.max_speed}")
        check_side(self.human.side)
