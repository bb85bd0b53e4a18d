"""Frozen dataclasses for every configurable part.

``jobs/`` registers the job-level classes with Hydra's ConfigStore; YAML in ``conf/`` only sets
values. Library functions take one of the small sub-configs (or plain arguments), never a whole job
config. Bad values fail early, in ``__post_init__``, with "Expected …, but got …".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from omegaconf import MISSING


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --------------------------------------------------------------------------------------------------
# Runtime


@dataclass(frozen=True)
class RayConfig:
    """Where Ray runs. ``address`` null starts an embedded, loopback-only local Ray."""

    address: Optional[str] = None
    num_cpus: Optional[int] = None
    num_gpus: Optional[int] = None
    namespace: str = "deepbehavior"

    def __post_init__(self):
        _require(self.num_cpus is None or self.num_cpus > 0, f"Expected ray.num_cpus > 0, but got {self.num_cpus}")


@dataclass(frozen=True)
class StoreConfig:
    """Zarr stores: frames per time chunk (also the unit of inference work)."""

    chunk: int = 1000

    def __post_init__(self):
        _require(self.chunk > 0, f"Expected store.chunk > 0 frames, but got {self.chunk}")


# --------------------------------------------------------------------------------------------------
# Models


@dataclass(frozen=True)
class PredictConfig:
    """A trained model applied to frames.

    ``weights`` is a ``.pt`` file (ultralytics detection or pose). ``max_individuals`` is the
    number of slots stored per frame (the most confident detections). ``device`` is ``auto``
    (CUDA when there is one), ``cpu`` or ``cuda:N``.
    """

    weights: str = MISSING
    imgsz: int = 640
    conf: float = 0.25
    iou: float = 0.7
    max_individuals: int = 1
    batch_size: int = 16
    device: str = "auto"
    half: bool = False

    def __post_init__(self):
        _require(0.0 <= self.conf <= 1.0, f"Expected model.conf in [0, 1], but got {self.conf}")
        _require(0.0 < self.iou <= 1.0, f"Expected model.iou in (0, 1], but got {self.iou}")
        _require(self.max_individuals >= 1, f"Expected model.max_individuals >= 1, but got {self.max_individuals}")
        _require(self.batch_size >= 1, f"Expected model.batch_size >= 1, but got {self.batch_size}")
        _require(self.imgsz % 32 == 0, f"Expected model.imgsz a multiple of 32, but got {self.imgsz}")


@dataclass(frozen=True)
class TrainConfig:
    """Training a detector or keypoint model from the ultralytics family.

    ``model`` is an architecture YAML (``yolo11n.yaml``, ``yolo11n-pose.yaml``: from scratch) or a
    weights file / named weights (fine-tuning). ``data`` is a YOLO ``data.yaml``.
    """

    data: str = MISSING
    model: str = "yolo11n.yaml"
    epochs: int = 50
    imgsz: int = 640
    batch: int = 16
    lr0: float = 0.01
    seed: int = 0
    workers: int = 2
    patience: int = 100
    device: str = "auto"
    augment: bool = True

    def __post_init__(self):
        _require(self.epochs >= 1, f"Expected train.epochs >= 1, but got {self.epochs}")
        _require(self.batch >= 1, f"Expected train.batch >= 1, but got {self.batch}")
        _require(self.imgsz % 32 == 0, f"Expected train.imgsz a multiple of 32, but got {self.imgsz}")
        _require(self.lr0 > 0, f"Expected train.lr0 > 0, but got {self.lr0}")


# --------------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True)
class KinematicsConfig:
    """Units of the kinematics. ``pixel_size_mm`` converts pixels to mm (null keeps pixels)."""

    pixel_size_mm: Optional[float] = None
    min_confidence: float = 0.0

    def __post_init__(self):
        _require(self.pixel_size_mm is None or self.pixel_size_mm > 0,
                 f"Expected kinematics.pixel_size_mm > 0 or null, but got {self.pixel_size_mm}")


# --------------------------------------------------------------------------------------------------
# Synthetic data


@dataclass(frozen=True)
class SyntheticConfig:
    """Rendered videos of mice (ellipses with a head, a tail and a paw) with ground truth."""

    sessions: int = 2
    frames: int = 300
    width: int = 320
    height: int = 240
    fps: float = 30.0
    mice: int = 1
    seed: int = 0

    def __post_init__(self):
        _require(self.sessions >= 1, f"Expected synthetic.sessions >= 1, but got {self.sessions}")
        _require(self.frames >= 2, f"Expected synthetic.frames >= 2, but got {self.frames}")
        _require(self.mice in (1, 2), f"Expected synthetic.mice 1 or 2, but got {self.mice}")


# --------------------------------------------------------------------------------------------------
# Jobs (what Hydra composes; each has `out`)


@dataclass
class DemoJob:
    out: str = "demo-out"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(data="", model="yolo11n.yaml", epochs=10, imgsz=320, batch=16))
    model: PredictConfig = field(default_factory=lambda: PredictConfig(weights="", imgsz=320))
    store: StoreConfig = field(default_factory=StoreConfig)
    kinematics: KinematicsConfig = field(default_factory=KinematicsConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    train_frames_per_session: int = 60


@dataclass
class InferJob:
    out: str = MISSING
    cohort: Optional[str] = None
    videos: list[str] = field(default_factory=list)
    model: PredictConfig = field(default_factory=PredictConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    force: bool = False
    retries: int = 2
    readers: int = 1


@dataclass
class TrainJob:
    out: str = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    num_workers: int = 1
    use_gpu: bool = False
    storage: Optional[str] = None
    name: str = "train"


def to_plain(cfg: Any) -> Any:
    """A config object (DictConfig or dataclass) as plain dicts and lists, for provenance."""
    from dataclasses import asdict, is_dataclass

    from omegaconf import OmegaConf

    if is_dataclass(cfg):
        return asdict(cfg)
    return OmegaConf.to_container(cfg, resolve=True)
