"""Models for tests: ultralytics architectures with random (seeded) weights, and failing predictors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from deepbehavior.models.yolo import YoloPredictor


def random_yolo(path: Path, architecture: str = "yolo11n.yaml", *, seed: int = 0) -> Path:
    """Save a model of ``architecture`` with seeded random weights as an ultralytics ``.pt``."""
    from deepbehavior.offline import offline_ultralytics

    offline_ultralytics()
    import torch
    from ultralytics import YOLO

    torch.manual_seed(seed)
    model = YOLO(architecture)
    model.save(path)
    return Path(path)


class CrashOncePredictor(YoloPredictor):
    """Kills its own process on the first call ever (marker file), as a lost Ray worker would."""

    def __init__(self, *, marker: str, **kwargs):
        super().__init__(**kwargs)
        self.marker = marker

    def __call__(self, batch):
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("crashed\n")
            os._exit(1)
        return super().__call__(batch)


class FailOnFramePredictor(YoloPredictor):
    """Raises on batches containing a given frame number (a model error inside one shard)."""

    def __init__(self, *, bad_frame: int, **kwargs):
        super().__init__(**kwargs)
        self.bad_frame = bad_frame

    def __call__(self, batch):
        if np.any(batch["frame"] == self.bad_frame):
            raise RuntimeError(f"cannot predict frame {self.bad_frame}")
        return super().__call__(batch)


class SlowPredictor(YoloPredictor):
    """Takes ``delay`` seconds more per batch, as a big network on a slow machine would."""

    def __init__(self, *, delay: float, **kwargs):
        super().__init__(**kwargs)
        self.delay = delay

    def __call__(self, batch):
        time.sleep(self.delay)
        return super().__call__(batch)
