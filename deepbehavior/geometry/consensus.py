"""The rule that names a wrong camera: its error far above the consensus of the other cameras.

Used by robust triangulation (a named camera loses ties) and by the camera diagnostics of
:mod:`.diagnostics`; kept apart so the two do not import each other.
"""

from __future__ import annotations

import numpy as np

# a camera is named when its median error exceeds RATIO x the median of the other cameras' medians
# and MIN_ERROR_PX pixels (a 1 px camera among 0.1 px ones is not a calibration fault)
RATIO = 5.0
MIN_ERROR_PX = 5.0


def flag_cameras(median_error_px: dict[str, float], *, ratio: float = RATIO,
                 min_error_px: float = MIN_ERROR_PX) -> list[str]:
    """Cameras whose error is far above the others': more than ``ratio`` times the median of the
    other cameras' errors and more than ``min_error_px`` pixels. Needs 3 or more cameras."""
    names = [n for n, v in median_error_px.items() if np.isfinite(v)]
    if len(names) < 3:
        return []
    out = []
    for name in names:
        typical = float(np.median([median_error_px[n] for n in names if n != name]))
        value = median_error_px[name]
        if value > min_error_px and value > ratio * typical:
            out.append(name)
    return out
