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
    """Where Ray runs. ``address`` null starts an embedded, loopback-only Ray of this job's own (never
    a cluster already running on the machine); ``"auto"`` joins the one ``RAY_ADDRESS`` or the last
    ``ray start`` names; ``"host:port"`` joins that one."""

    address: Optional[str] = None
    # CPUs the embedded Ray may use (null: all of this machine's).
    num_cpus: Optional[int] = None
    # GPUs the embedded Ray may use (null: all it finds).
    num_gpus: Optional[int] = None
    # Ray namespace of this job's actors.
    namespace: str = "deepbehavior"

    def __post_init__(self):
        _require(self.num_cpus is None or self.num_cpus > 0, f"Expected ray.num_cpus > 0, but got {self.num_cpus}")


@dataclass(frozen=True)
class StoreConfig:
    """Zarr stores: frames per time chunk (also the unit of inference work)."""

    # Frames per Zarr time chunk; also the unit of inference work and of resuming.
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

    weights: str = ""
    # Model family: yolo, yolo_pose, mediapipe, or package.module:Class of your own.
    backend: str = "yolo"
    # Input size of the network (px, a multiple of 32).
    imgsz: int = 640
    # Detections below this confidence (0-1) are dropped.
    conf: float = 0.25
    # Overlap (IoU, 0-1) above which non-maximum suppression merges two detections.
    iou: float = 0.7
    max_individuals: int = 1
    # Frames per predictor call: small batches are fastest on a CPU (measured: 2-4 beat 16 for the
    # nano model at 640 px); on a GPU raise it (32-128).
    batch_size: int = 4
    device: str = "auto"
    # 16-bit floats on a CUDA GPU (faster, slightly less exact).
    half: bool = False
    # Extra constructor arguments of a backend other than "yolo" (e.g. mediapipe's model_complexity).
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        _require(0.0 <= self.conf <= 1.0, f"Expected model.conf in [0, 1], but got {self.conf}")
        _require(0.0 < self.iou <= 1.0, f"Expected model.iou in (0, 1], but got {self.iou}")
        _require(self.max_individuals >= 1, f"Expected model.max_individuals >= 1, but got {self.max_individuals}")
        _require(self.batch_size >= 1, f"Expected model.batch_size >= 1, but got {self.batch_size}")
        _require(self.imgsz % 32 == 0, f"Expected model.imgsz a multiple of 32, but got {self.imgsz}")


@dataclass(frozen=True)
class TopDownConfig:
    """The top-down keypoint recipe (``deepbehavior.models.topdown``), the default for keypoint datasets.

    ``crop_size``: side of the crop the body-part network sees (px, multiple of 16); ``window``: side
    of the square cut from the frame around each animal (frame px; 0 = from the labels: the largest
    animal times ``1 + 2 margin``); ``centroid_size``: longer side of the frame as the animal-finding
    network sees it (px, multiple of 16); ``width``: channels of the networks' first stage; ``sigma``:
    target Gaussian width (heatmap px); ``rotation``: augmentation turn, ± degrees (180 for top views,
    ~15 for side views); ``samples_per_epoch``: augmented crops per epoch; ``lr``: AdamW's peak rate;
    ``patience``: epochs without a lower held-out error before stopping (``train.patience`` is
    ultralytics').
    """

    crop_size: int = 128
    window: float = 0.0
    # Extra room around the largest labelled animal, each side, as a fraction of its size.
    margin: float = 0.2
    centroid_size: int = 192
    width: int = 16
    sigma: float = 2.0
    rotation: float = 180.0
    samples_per_epoch: int = 256
    lr: float = 0.003
    patience: int = 10

    def __post_init__(self):
        for name in ("crop_size", "centroid_size"):
            value = getattr(self, name)
            _require(value >= 16 and value % 16 == 0, f"Expected train.topdown.{name} a multiple of 16, but got {value}")
        _require(self.window >= 0, f"Expected train.topdown.window >= 0 px (0: from the labels), but got {self.window}")
        _require(self.margin >= 0, f"Expected train.topdown.margin >= 0, but got {self.margin}")
        _require(self.width >= 4, f"Expected train.topdown.width >= 4, but got {self.width}")
        _require(self.sigma > 0, f"Expected train.topdown.sigma > 0, but got {self.sigma}")
        _require(0 <= self.rotation <= 180, f"Expected train.topdown.rotation in [0, 180] degrees, but got {self.rotation}")
        _require(self.samples_per_epoch >= 1, f"Expected train.topdown.samples_per_epoch >= 1, but got "
                                              f"{self.samples_per_epoch}")
        _require(self.lr > 0, f"Expected train.topdown.lr > 0, but got {self.lr}")
        _require(self.patience >= 1, f"Expected train.topdown.patience >= 1 epoch, but got {self.patience}")


@dataclass(frozen=True)
class TrainConfig:
    """Training a detector (ultralytics) or a keypoint model (top-down by default, or ultralytics).

    ``model``: ``auto`` (a detection dataset trains ``yolo11n.yaml``; a keypoint dataset trains the
    top-down model of ``topdown``), ``topdown``, an ultralytics architecture YAML (``yolo11n.yaml``,
    ``yolo11n-pose.yaml``: from scratch; a ``-pose`` YAML is the bottom-up keypoint option) or a
    weights file to fine-tune (``weights/best.pt`` of an earlier top-down run, or an ultralytics
    ``.pt``). ``data`` is a YOLO ``data.yaml``. ``imgsz``, ``lr0``, ``optimizer``, ``close_mosaic``,
    ``workers``, ``amp`` and ``overrides`` apply to ultralytics models only.
    """

    data: str = MISSING
    model: str = "auto"
    # Passes over the training images.
    epochs: int = 50
    # Training image size (px, a multiple of 32).
    imgsz: int = 640
    # Images per optimizer step over all workers.
    batch: int = 16
    # Initial learning rate (SGD/AdamW; ignored by optimizer=auto on short runs).
    lr0: float = 0.01
    # Random seed of initialisation, shuffling and augmentation.
    seed: int = 0
    # Data-loading processes per training worker.
    workers: int = 2
    # Stop after this many epochs without a better validation fitness.
    patience: int = 100
    # auto (CUDA when there is one), cpu or cuda:N.
    device: str = "auto"
    # Random flips, colour, scale and translation of training images.
    augment: bool = True
    # "auto" is ultralytics' choice (AdamW with its own lr for short runs, ignoring lr0); SGD/AdamW use lr0.
    optimizer: str = "auto"
    # Mixed precision on a CUDA GPU.
    amp: bool = False
    # Mosaic augmentation is turned off for this many last epochs.
    close_mosaic: int = 10
    # PCK: a keypoint is correct within pck_threshold x the longer side of its object's box.
    pck_threshold: float = 0.1
    # Any other ultralytics training argument (mosaic: 0.5, warmup_epochs: 1, ...).
    overrides: dict[str, Any] = field(default_factory=dict)
    topdown: TopDownConfig = field(default_factory=TopDownConfig)

    def __post_init__(self):
        _require(self.epochs >= 1, f"Expected train.epochs >= 1, but got {self.epochs}")
        _require(self.batch >= 1, f"Expected train.batch >= 1, but got {self.batch}")
        _require(self.imgsz % 32 == 0, f"Expected train.imgsz a multiple of 32, but got {self.imgsz}")
        _require(self.lr0 > 0, f"Expected train.lr0 > 0, but got {self.lr0}")
        _require(self.optimizer in ("auto", "SGD", "AdamW", "Adam", "Adamax", "NAdam", "RAdam", "RMSprop"),
                 f"Expected train.optimizer auto, SGD, AdamW, Adam, Adamax, NAdam, RAdam or RMSprop, "
                 f"but got {self.optimizer}")
        _require(self.close_mosaic >= 0, f"Expected train.close_mosaic >= 0 epochs, but got {self.close_mosaic}")
        _require(self.pck_threshold > 0, f"Expected train.pck_threshold > 0, but got {self.pck_threshold}")


# --------------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True)
class KinematicsConfig:
    """Units and smoothing of the kinematics. ``pixel_size_mm`` converts pixels to mm (null keeps
    pixels); points with confidence below ``min_confidence`` count as missing."""

    pixel_size_mm: Optional[float] = None
    min_confidence: float = 0.0
    # Savitzky–Golay smoothing of positions before differentiating (odd frames; 0 = none): a
    # detector's frame-to-frame jitter of a pixel becomes tens of px/s once multiplied by the fps.
    smooth_window: int = 7

    def __post_init__(self):
        _require(self.smooth_window == 0 or (self.smooth_window >= 3 and self.smooth_window % 2 == 1),
                 f"Expected kinematics.smooth_window 0 or an odd number >= 3, but got {self.smooth_window}")
        _require(self.pixel_size_mm is None or self.pixel_size_mm > 0,
                 f"Expected kinematics.pixel_size_mm > 0 or null, but got {self.pixel_size_mm}")


# --------------------------------------------------------------------------------------------------
# Synthetic data


@dataclass(frozen=True)
class SyntheticConfig:
    """Rendered videos of mice (ellipses with a head, a tail and a paw) with ground truth."""

    # Sessions (videos) in the generated cohort.
    sessions: int = 2
    # Frames per video.
    frames: int = 300
    # Video width (px).
    width: int = 320
    # Video height (px).
    height: int = 240
    # Frame rate of the videos (frames/s).
    fps: float = 30.0
    # Mice per video (1 or 2).
    mice: int = 1
    # Random seed of the paths and the pixel noise.
    seed: int = 0

    def __post_init__(self):
        _require(self.sessions >= 1, f"Expected synthetic.sessions >= 1, but got {self.sessions}")
        _require(self.frames >= 2, f"Expected synthetic.frames >= 2, but got {self.frames}")
        _require(self.mice in (1, 2), f"Expected synthetic.mice 1 or 2, but got {self.mice}")


# --------------------------------------------------------------------------------------------------
# Jobs (what Hydra composes; each has `out`)


@dataclass
class DemoJob:
    # Folder for the cohort, model, stores, tables and figures.
    out: str = "demo-out"
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    # The top-down keypoint recipe (model=auto on a keypoint dataset), kept small to train in a few
    # minutes on a CPU: 64 px crops and a 128 px view of the frame for finding the mouse, 20 short
    # epochs of 256 augmented crops in batches of 8 (10 left the body keypoint at 0.8 px in one run and
    # 2.3 px in another after a tiny change in the labels; 20 gave 0.7-1.0 px for every keypoint).
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        data="", model="auto", epochs=20, batch=8,
        topdown=TopDownConfig(crop_size=64, centroid_size=128, samples_per_epoch=256)))
    # The trained top-down checkpoint's backend; conf is the lowest centroid peak that counts as a mouse.
    # One torch thread and 16 frames a call: with two threads on a loaded 2-core machine, inference
    # ran at 2.3 frames/s (threads waiting on each other), with one and 16 frames a call at 26.
    model: PredictConfig = field(default_factory=lambda: PredictConfig(
        weights="", backend="topdown", conf=0.1, batch_size=16, options={"threads": 1}))
    store: StoreConfig = field(default_factory=lambda: StoreConfig(chunk=100))
    # Savitzky-Golay window of 11 frames (0.37 s at 30 frames/s) before differentiating: the body
    # keypoint jitters by about a pixel from frame to frame, which at 7 frames still lengthened the
    # slower mouse's path by 3.2 % (measured; 1.9 % at 11, 14 % unsmoothed).
    kinematics: KinematicsConfig = field(default_factory=lambda: KinematicsConfig(smooth_window=11))
    ray: RayConfig = field(default_factory=RayConfig)
    # Frames of each session put into the training set.
    train_frames_per_session: int = 60
    # CPUs (torch threads) of the one Ray Train worker; null: every CPU of the local Ray. One thread
    # trains these tiny networks at 5 s of CPU an epoch; two on a loaded 2-core machine spent 60-90 s.
    train_cpus: Optional[int] = 1


@dataclass
class InferJob:
    # Folder for the stores (out/stores), the run report and, with videos=, cohort.yaml.
    out: str = MISSING
    # Cohort manifest (YAML or CSV) of the sessions to run on.
    cohort: Optional[str] = None
    # Loose video files instead of a manifest (one session each).
    videos: list[str] = field(default_factory=list)
    model: PredictConfig = field(default_factory=PredictConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    # Redo finished shards instead of skipping them.
    force: bool = False
    # Times a failed shard is tried again before it is recorded as failed.
    retries: int = 2
    # Decoding processes feeding the GPU predictors; null: every CPU the predictors leave (a GPU
    # eats frames faster than one decoder makes them). Without GPUs, each node's predictor reads
    # its own frames in a thread and this is not used.
    readers: Optional[int] = None
    # Also write out/videos/<session>_<view>_labelled.mp4 with the predictions drawn.
    render: bool = False
    # auto: in this process when Ray would run on this machine alone (no ray.address) and there is
    # no GPU or the job is short; "ray" or "local" to choose (deepbehavior.runtime.local).
    # (runtime.local.RUNNERS; checked there, by choose_runner, before any model is loaded).
    runner: str = "auto"


@dataclass
class TrainJob:
    # Folder for weights/, results.csv, results.png and the checkpoints.
    out: str = MISSING
    train: TrainConfig = field(default_factory=TrainConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    # Data-parallel training workers (Ray Train).
    num_workers: int = 1
    # One GPU per worker (NCCL) instead of CPUs (gloo).
    use_gpu: bool = False
    # Where checkpoints go (folder or s3://...; null: out/checkpoints).
    storage: Optional[str] = None
    # The run's name under storage; the same name resumes.
    name: str = "train"
    # Worker failures recovered within the run from the last checkpoint (-1: always).
    max_failures: int = 0
    # CPUs each worker reserves (null: the machine's CPUs shared equally).
    cpus_per_worker: Optional[int] = None
    # Ray Train's own console output; by default one line per epoch of ours.
    verbose: bool = False


# --------------------------------------------------------------------------------------------------
# Task measures and the analyze job (issue 6 part 3: reaching, regions, social, human, cohort table)

@dataclass(frozen=True)
class ReachingConfig:
    """Reach segmentation of a paw track (3D from triangulation, or 2D).

    ``keypoint``/``individual``: the paw (null: mean of keypoints / first individual).
    ``start_speed``/``stop_speed``: hysteresis thresholds in position units per second (mm/s for
    calibrated 3D, px/s in 2D): a reach must reach ``start_speed`` and lasts while speed >=
    ``stop_speed``. ``min_duration_s``: shorter reaches (s, onset to offset) are dropped.
    """

    keypoint: Optional[str] = None
    individual: Optional[str] = None
    start_speed: float = 100.0
    stop_speed: float = 30.0
    min_duration_s: float = 0.05

    def __post_init__(self):
        _require(0 <= self.stop_speed <= self.start_speed,
                 f"Expected 0 <= reaching.stop_speed <= reaching.start_speed, but got {self.stop_speed} and {self.start_speed}")
        _require(self.min_duration_s >= 0, f"Expected reaching.min_duration_s >= 0 s, but got {self.min_duration_s}")


@dataclass(frozen=True)
class RegionsConfig:
    """Regions of interest: ``regions`` maps a name to ``[x0, y0, x1, y1]`` (rectangle) or
    ``[[x, y], ...]`` (polygon) in ``unit`` ("px", or "mm" using the session's pixel_size_mm).
    ``keypoint``/``individual``: the tracked point (null: mean of keypoints / first individual).
    ``count_start``: being inside on the first frame counts as an entry."""

    regions: dict[str, Any] = field(default_factory=dict)
    unit: str = "px"
    keypoint: Optional[str] = None
    individual: Optional[str] = None
    count_start: bool = False

    def __post_init__(self):
        _require(self.unit in ("px", "mm"), f"Expected regions.unit 'px' or 'mm', but got {self.unit!r}")


@dataclass(frozen=True)
class SocialConfig:
    """Two-animal interaction. ``individuals``: the pair (empty: the first two). ``centre``: keypoint
    for the inter-animal distance (null: each animal's centroid). ``nose``/``tail``: keypoint names.
    ``threshold`` in ``unit`` ("px" or "mm"): closer than this is interacting, for at least
    ``min_duration_s`` seconds."""

    individuals: list[str] = field(default_factory=list)
    centre: Optional[str] = None
    nose: str = "nose"
    tail: str = "tail"
    threshold: float = 50.0
    min_duration_s: float = 0.5
    unit: str = "px"

    def __post_init__(self):
        _require(self.threshold > 0, f"Expected social.threshold > 0, but got {self.threshold}")
        _require(self.min_duration_s >= 0, f"Expected social.min_duration_s >= 0 s, but got {self.min_duration_s}")
        _require(self.unit in ("px", "mm"), f"Expected social.unit 'px' or 'mm', but got {self.unit!r}")
        _require(len(self.individuals) in (0, 2), f"Expected social.individuals to name 0 or 2 animals, but got {list(self.individuals)}")


@dataclass(frozen=True)
class HumanConfig:
    """Human 3D reaching on OpenPose-named keypoints. ``k``: points below mean − k·SD of their
    joint's confidence are dropped; gaps up to ``max_gap`` frames (null: all) are filled linearly;
    ``smooth``: robust smoothing. ``side``: "R" or "L" arm/leg. ``hand_point``: the hand keypoint
    of the wrist angle (``{side}`` is replaced). ``individual`` null: the first person."""

    k: float = 3.0
    max_gap: Optional[int] = None
    smooth: bool = True
    side: str = "R"
    hand_point: str = "{side}HandMiddleMCP"
    individual: Optional[str] = None

    def __post_init__(self):
        _require(self.k >= 0, f"Expected human.k >= 0, but got {self.k}")
        # side is checked by analysis.human.check_side, where SIDES is defined.
        _require(self.max_gap is None or self.max_gap >= 0, f"Expected human.max_gap >= 0 frames or null, but got {self.max_gap}")


@dataclass
class AnalyzeJob:
    """``deepbehavior analyze``: task measures over a cohort's stores into one table, plus figures."""

    # Folder for the measures table (tables/) and figures (figures/).
    out: str = MISSING
    # Cohort manifest whose sessions are analysed.
    cohort: str = MISSING
    # Folder of <subject>_<session>.zarr stores (null: <out>/stores).
    stores: Optional[str] = None
    # Measures to compute: locomotion, reaching, regions, social, human (analysis.cohort.MEASURES).
    measures: list[str] = field(default_factory=lambda: ["locomotion"])
    # Camera of multi-view 2D stores to analyse (null: the first).
    view: Optional[str] = None
    # Sessions analysed at once (threads; figures and videos are drawn one session at a time).
    workers: int = 2
    # Also draw figures per session and for the cohort.
    figures: bool = True
    # Also render videos with the track drawn over the frames.
    overlay: bool = False
    # Frames of each overlay video (null: all).
    overlay_frames: Optional[int] = 300
    # 3D stores: a movie of the skeleton whose view turns movie_degrees over the movie; the first
    # movie_frames frames (null: all); movie_edges: keypoint-name pairs (empty: the OpenPose
    # BODY_25 + hands skeleton when the keypoints are named so, else points only).
    movie: bool = False
    # Frames of the 3D movie (null: all).
    movie_frames: Optional[int] = 300
    # Degrees the movie's view turns over the whole movie.
    movie_degrees: float = 360.0
    # Keypoint-name pairs drawn as lines (empty: BODY_25 + hands when so named, else points only).
    movie_edges: list[list[str]] = field(default_factory=list)
    reaching: ReachingConfig = field(default_factory=ReachingConfig)
    regions: RegionsConfig = field(default_factory=RegionsConfig)
    social: SocialConfig = field(default_factory=SocialConfig)
    human: HumanConfig = field(default_factory=HumanConfig)
    # Fastest plausible speed of an animal, in the session's unit per second (mm/s with a
    # pixel_size_mm, else px/s; 3D: the calibration's unit); faster frames are flagged in the table
    # and marked in the speed figure. null: 25 x the session's median moving speed.
    max_speed: Optional[float] = None

    def __post_init__(self):
        # measures are checked by analysis.cohort.MeasureSettings, where MEASURES is defined.
        _require(self.workers >= 1, f"Expected workers >= 1, but got {self.workers}")
        _require(self.max_speed is None or self.max_speed > 0,
                 f"Expected max_speed > 0 (units per second) or null, but got {self.max_speed}")
        _require(self.movie_frames is None or self.movie_frames >= 1,
                 f"Expected movie_frames >= 1 or null, but got {self.movie_frames}")
        _require(all(len(e) == 2 for e in self.movie_edges),
                 f"Expected movie_edges as pairs of keypoint names, but got {list(self.movie_edges)}")


# --------------------------------------------------------------------------------------------------
# Labelling (issue 8): frame selection and the labelling app


@dataclass
class FramesJob:
    """``deepbehavior frames``: pick frames of ``videos`` and extract them into the project ``out``.

    ``method`` is uniform, kmeans, uncertain or jumps (``labeling.selection.METHODS``); the last two need ``stores`` (one Zarr
    store of predictions per video). ``classes``/``keypoints``/``skeleton`` describe a new project.
    """

    # The labelling project folder the frames go to.
    out: str = MISSING
    # Videos to pick frames from.
    videos: list[str] = field(default_factory=list)
    # Frames to pick over all videos.
    n: int = 50
    method: str = "uniform"
    stores: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=lambda: ["object"])
    keypoints: list[str] = field(default_factory=list)
    skeleton: list[list[int]] = field(default_factory=list)
    # Frames sampled per video before picking (kmeans, uncertain, jumps).
    candidates: int = 400
    # Fewest frames between two picks of one video.
    min_gap: int = 10
    # Random seed of the sampling.
    seed: int = 0

    def __post_init__(self):
        _require(self.n >= 1, f"Expected n >= 1 frames, but got {self.n}")
        # method is checked by labeling.selection, where METHODS is defined next to the code.
        _require(self.min_gap >= 0, f"Expected min_gap >= 0 frames, but got {self.min_gap}")


@dataclass
class LabelJob:
    """``deepbehavior label``: serve the labelling app for ``project``, or import/export and exit.

    ``export`` (yolo, coco, tensorbox, yolo_mark) writes a dataset under ``out``; ``import_from``
    reads a YOLO data.yaml, COCO/TensorBox JSON, Yolo_mark folder or DLC CSV into the project.
    ``weights`` (an ultralytics ``.pt``) pre-fills suggestions in the app. Bound beyond loopback
    (``host=0.0.0.0``) every request needs ``token`` (generated and printed in the URL when null).
    """

    # Folder of exports (default <project>/exports).
    out: str = MISSING
    # The labelling project folder.
    project: str = MISSING
    # Address the app listens on (127.0.0.1: this machine only).
    host: str = "127.0.0.1"
    # Port of the app (0: any free port).
    port: int = 8765
    token: Optional[str] = None
    export: Optional[str] = None
    import_from: Optional[str] = None
    # Format of import_from when its name does not tell (yolo, coco, tensorbox, yolo_mark, dlc).
    import_format: Optional[str] = None
    weights: Optional[str] = None
    # Confidence (0-1) above which suggestions are shown.
    conf: float = 0.25
    # Image size (px) of the suggesting model.
    imgsz: int = 640
    # Share of labelled images put into the validation set of an export.
    val_fraction: float = 0.2
    # Random seed of the train/validation split.
    seed: int = 0

    def __post_init__(self):
        # export is checked by the job against labeling.formats.EXPORT_FORMATS, defined with the formats.
        _require(0 <= self.port < 65536, f"Expected a port in [0, 65535], but got {self.port}")
        _require(0.0 <= self.val_fraction < 1.0, f"Expected val_fraction in [0, 1), but got {self.val_fraction}")


# --------------------------------------------------------------------------------------------------
# Import of other tools' files (formats; issue 6)


@dataclass
class ImportJob:
    """``deepbehavior import``: other tools' files into stores.

    ``source`` is one path or a list (one store each); ``sources`` a mapping view -> path (one
    multi-camera store); with ``cohort`` (a manifest), ``source`` is a template such as
    ``preds/{subject}_{session}_{view}.slp`` filled for every session and view of the manifest
    (one store per session, at the path ``infer`` would use). ``format`` a reader name or auto.
    ``fps`` null takes the frame rate from ``video`` (or the cohort's videos) when given, else 30.
    ``options`` go to the reader (e.g. ``+options.people=all`` for OpenPose). ``name`` names the
    store (one source, or ``sources``).
    """

    # Folder the imported stores are written to.
    out: str = MISSING
    source: Any = None
    sources: dict[str, Any] = field(default_factory=dict)
    cohort: Optional[str] = None
    format: str = "auto"
    fps: Optional[float] = None
    video: Optional[str] = None
    name: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)
    store: StoreConfig = field(default_factory=StoreConfig)
    # Overwrite stores that already exist.
    force: bool = False

    def __post_init__(self):
        _require(self.fps is None or self.fps > 0, f"Expected fps > 0 or null, but got {self.fps}")
        given = [k for k in ("source", "sources") if getattr(self, k)]
        _require(len(given) == 1, f"Expected source=PATH (or a list), or sources={{view: PATH, ...}}, but got "
                 f"{' and '.join(given) if given else 'neither'}")
        _require(self.cohort is None or isinstance(self.source, str),
                 f"Expected source to be a template such as preds/{{subject}}_{{session}}_{{view}}.slp with "
                 f"cohort=, but got {self.source!r}")


@dataclass
class ExportJob:
    """``deepbehavior export``: stores into another tool's files.

    ``store`` one Zarr store, or ``cohort`` (a manifest) with ``stores`` (the folder of its
    stores); ``format`` one of dlc, sleap, nwb, openpose, csv, lightning_pose. Files go to ``out``
    as ``<store>.<suffix>``, one per camera (``<store>_<view>.<suffix>``) for multi-camera stores.
    ``sleap_suffix`` chooses a labels file (``.slp``) or an analysis file (``.h5``); ``dlc_suffix``
    ``.csv`` or ``.h5``.
    """

    # Folder the exported files are written to.
    out: str = MISSING
    # Target format: dlc, sleap, nwb, openpose, csv or lightning_pose (formats.WRITERS).
    format: str = MISSING
    # One Zarr store to export (or give cohort= and stores=).
    store: Optional[str] = None
    # A cohort manifest: export every session's store found in stores=.
    cohort: Optional[str] = None
    # The folder of the cohort's stores (with cohort=).
    stores: Optional[str] = None
    # DeepLabCut file kind: .csv or .h5.
    dlc_suffix: str = ".csv"
    # SLEAP file kind: a labels file (.slp) or an analysis file (.h5).
    sleap_suffix: str = ".slp"
    # Overwrite files that already exist.
    force: bool = False

    def __post_init__(self):
        # format is checked by the job against formats.WRITERS, the registry of the writers.
        _require((self.store is None) != (self.cohort is None),
                 f"Expected store=PATH or cohort=MANIFEST stores=DIR, but got store={self.store!r} cohort={self.cohort!r}")
        _require(self.cohort is None or self.stores is not None,
                 "Expected stores=DIR (the folder of the cohort's stores) with cohort=, but got none")
        _require(self.dlc_suffix in (".csv", ".h5"), f"Expected dlc_suffix .csv or .h5, but got {self.dlc_suffix!r}")
        _require(self.sleap_suffix in (".slp", ".h5"),
                 f"Expected sleap_suffix .slp or .h5, but got {self.sleap_suffix!r}")


# --------------------------------------------------------------------------------------------------
# Geometry (issue 5): camera calibration and multi-camera 3D


#: Calibration board kinds (``Board.kind``), each a branch of ``geometry.calibration.detect_board``.
BOARD_KINDS = ("chessboard", "charuco")


@dataclass(frozen=True)
class Board:
    """A calibration board, as the ``calibrate`` job's ``board`` group and as the geometry code's input.

    ``kind`` "chessboard": ``columns`` x ``rows`` inner corners; "charuco": ``columns`` x ``rows``
    squares with ArUco markers of side ``marker_size`` from ``dictionary`` (an OpenCV name such as
    "DICT_4X4_50"). ``square_size`` and ``marker_size`` are in the units of the calibration (mm);
    they become the units of the cameras' translations and of everything triangulated with them.
    """

    # chessboard or charuco.
    kind: str = "chessboard"
    # Inner corners (chessboard) or squares (charuco) across.
    columns: int = 9
    # Inner corners (chessboard) or squares (charuco) down.
    rows: int = 6
    # Side of one square (mm).
    square_size: float = 25.0
    # Side of a ChArUco marker (mm; 0 < marker_size < square_size for charuco).
    marker_size: float = 0.0
    # ArUco dictionary of the markers (OpenCV name).
    dictionary: str = "DICT_4X4_50"

    def __post_init__(self):
        _require(self.kind in BOARD_KINDS, f"Expected board.kind one of {', '.join(BOARD_KINDS)}, but got {self.kind!r}")
        _require(self.columns >= 2 and self.rows >= 2,
                 f"Expected board.columns and board.rows >= 2, but got {self.columns} x {self.rows}")
        _require(self.square_size > 0, f"Expected board.square_size > 0 mm, but got {self.square_size}")
        _require(self.kind != "charuco" or 0 < self.marker_size < self.square_size,
                 f"Expected 0 < board.marker_size < board.square_size for a ChArUco board, but got "
                 f"{self.marker_size} and {self.square_size}")

    @property
    def object_points(self):
        """Board corners ``(corner, 3)`` in board units (float64), z = 0, row by row."""
        import numpy as np

        cols, rows = (self.columns, self.rows) if self.kind == "chessboard" else (self.columns - 1, self.rows - 1)
        grid = np.stack(np.meshgrid(np.arange(cols), np.arange(rows)), axis=-1).reshape(-1, 2)
        return np.hstack([grid * self.square_size, np.zeros((len(grid), 1))]).astype(np.float64)

    def charuco(self):
        """The OpenCV ``CharucoBoard`` of a ``charuco`` board."""
        import cv2

        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.columns, self.rows), self.square_size, self.marker_size, dictionary)


@dataclass(frozen=True)
class TriangulateConfig:
    """How 3D points are computed: ``dlt`` (confidence-weighted N-view), ``robust`` (the largest
    subset of views that agree within ``max_error_px``) or ``midpoint`` (two cameras, Caltech);
    ``views`` the cameras to use (default all), e.g. to leave out one whose calibration is wrong."""

    # dlt, robust or midpoint (geometry.triangulation.METHODS, which checks it).
    method: str = "dlt"
    # 2D points below this confidence are not used.
    min_confidence: float = 0.0
    # Rounds of nonlinear refinement of each 3D point.
    refine: int = 1
    max_error_px: float = 20.0
    views: Optional[list[str]] = None

    def __post_init__(self):
        # method is checked by geometry.triangulation.check_method, where METHODS is defined.
        _require(self.refine >= 0, f"Expected triangulate.refine >= 0, but got {self.refine}")
        _require(self.max_error_px > 0, f"Expected triangulate.max_error_px > 0, but got {self.max_error_px}")


@dataclass
class CalibrateJob:
    """``deepbehavior calibrate``: ``cameras`` names the cameras and ``sources`` gives, per camera,
    a glob of images or a video (synchronised: the i-th image/frame of each is the same moment).
    ``every`` keeps every n-th video frame. Writes ``calibration.toml``/``.yml``, a report, a figure.
    With ``check=true``, checks the existing ``calibration`` on those boards instead (``cameras``
    default to its cameras) and writes ``calibration_check.json``."""

    # Folder for calibration.toml/.yml, the report and the figure.
    out: str = MISSING
    # Camera names, in the order of sources.
    cameras: list[str] = field(default_factory=list)
    # Per camera: a glob of images or a video of the board.
    sources: list[str] = field(default_factory=list)
    board: Board = field(default_factory=Board)
    every: int = 10
    # Refine all cameras together after the pairwise estimates.
    bundle_adjustment: bool = True
    # Fewest board views a camera needs.
    min_views: int = 3
    # check=true: no calibrating; report each camera's board error under `calibration` instead
    check: bool = False
    calibration: Optional[str] = None

    def __post_init__(self):
        _require(self.every >= 1, f"Expected every >= 1 frame, but got {self.every}")
        _require(self.min_views >= 1, f"Expected min_views >= 1, but got {self.min_views}")


@dataclass
class TriangulateJob:
    """``deepbehavior triangulate``: 3D from the views of a 2D poses or boxes ``store`` with the
    cameras of ``calibration`` (TOML, OpenCV YAML/XML or Caltech .mat) into ``out``/``name``; or,
    with ``cohort`` (a manifest) instead of ``store``, every session's ``<stores>/<subject>_<session>.zarr``
    (``stores`` default ``<out>/stores``) into ``<out>/stores3d/``, each with the session's own
    ``calibration`` from the manifest, else this ``calibration``."""

    # Folder for the 3D store(s), report and figure.
    out: str = MISSING
    # One 2D store with two or more views.
    store: Optional[str] = None
    # Camera calibration (TOML, OpenCV YAML/XML or Caltech .mat).
    calibration: Optional[str] = None
    # Cohort manifest, instead of store=: every session is triangulated.
    cohort: Optional[str] = None
    # Folder of the cohort's 2D stores (null: <out>/stores).
    stores: Optional[str] = None
    # Name of the 3D store written for store=.
    name: str = "poses3d.zarr"
    triangulate: TriangulateConfig = field(default_factory=TriangulateConfig)
    # Frames per chunk of the 3D store (null: as the 2D store).
    chunk: Optional[int] = None
    # Also draw the reprojection-error figure.
    figure: bool = True
    # Frames of a 3D movie of the result (0: none).
    movie_frames: int = 0
    # Redo sessions whose 3D store exists.
    force: bool = False


# --------------------------------------------------------------------------------------------------
# Human pose (issue 7): OpenPose JSON and labelled skeleton videos from a 2D poses store


@dataclass
class PoseExportJob:
    """``deepbehavior pose_export``: a 2D poses store (from ``infer`` with a pose backend) as an
    OpenPose ``--write_json`` folder and, given ``video``, a video with the skeletons drawn.
    ``view`` null: the store's first view. ``min_confidence``: points below it are not drawn."""

    # Folder for the OpenPose JSON files and the video.
    out: str = MISSING
    # 2D poses store written by infer with a pose backend.
    store: str = MISSING
    video: Optional[str] = None
    view: Optional[str] = None
    # Write OpenPose --write_json files (one per frame).
    openpose: bool = True
    min_confidence: float = 0.1

    def __post_init__(self):
        _require(0.0 <= self.min_confidence <= 1.0,
                 f"Expected min_confidence in [0, 1], but got {self.min_confidence}")


# --------------------------------------------------------------------------------------------------
# Tracking (issue 6): identities over a session's detections, the track job


@dataclass(frozen=True)
class TrackConfig:
    """How slots become identities. ``classes`` maps a class name to an identity
    (``{body: resident, body_mini: intruder}``): identity from the class; empty: identity from
    motion, with ``n_identities`` animals (named ``names``, default individual0, ...). ``max_jump``:
    largest plausible move between frames (px); ``swap_radius`` (px, null: 2 x max_jump): animals
    closer than this may have exchanged labels; ``max_extrapolate``/``reacquire_after`` (frames):
    how long a lost animal's predicted path is used, and after how long it is re-acquired anywhere;
    ``repair``: relabel whole segments to undo swaps. ``method``: ``pose`` (per-keypoint matching
    with a gated motion model, then the repair), ``naive`` (the baseline: Hungarian on centroids),
    or ultralytics' ``bytetrack``/``botsort`` (boxes). A detection within ``duplicate_distance``
    (px, mean over keypoints) of a held one is a duplicate. In the quality report, two animals
    closer than ``merge_distance`` (px) are a merge and a move over ``max_jump`` per frame between
    two observations is a jump."""

    classes: dict[str, str] = field(default_factory=dict)
    method: str = "pose"
    n_identities: int = 2
    names: list[str] = field(default_factory=list)
    max_jump: float = 30.0
    swap_radius: Optional[float] = None
    max_extrapolate: int = 15
    reacquire_after: int = 10
    repair: bool = True
    merge_distance: float = 10.0
    duplicate_distance: float = 10.0

    def __post_init__(self):
        # method is checked by tracking.motion.check_method, where METHODS is defined.
        _require(self.duplicate_distance >= 0,
                 f"Expected track.duplicate_distance >= 0 px, but got {self.duplicate_distance}")
        _require(self.n_identities >= 1, f"Expected track.n_identities >= 1, but got {self.n_identities}")
        _require(self.max_jump > 0, f"Expected track.max_jump > 0 px, but got {self.max_jump}")
        _require(self.swap_radius is None or self.swap_radius > 0,
                 f"Expected track.swap_radius > 0 px or null, but got {self.swap_radius}")
        _require(self.max_extrapolate >= 0, f"Expected track.max_extrapolate >= 0 frames, but got {self.max_extrapolate}")
        _require(self.reacquire_after >= 0, f"Expected track.reacquire_after >= 0 frames, but got {self.reacquire_after}")
        _require(self.merge_distance >= 0, f"Expected track.merge_distance >= 0 px, but got {self.merge_distance}")
        _require(not self.names or self.classes or len(self.names) == self.n_identities,
                 f"Expected {self.n_identities} track.names, but got {list(self.names)}")


@dataclass
class TrackJob:
    """``deepbehavior track``: identities over whole videos, between ``infer`` and ``analyze``.

    Either ``cohort`` (a manifest) with ``stores`` (folder of ``<subject>_<session>.zarr``, default
    ``<out>/stores``), or one ``store``. Writes ``<out>/tracked/<name>.zarr``; done sessions are
    skipped unless ``force``."""

    # Folder for tracked/ stores, reports and figures.
    out: str = MISSING
    # Cohort manifest whose sessions are tracked.
    cohort: Optional[str] = None
    # Folder of <subject>_<session>.zarr stores (null: <out>/stores).
    stores: Optional[str] = None
    # One store to track, instead of cohort=.
    store: Optional[str] = None
    track: TrackConfig = field(default_factory=TrackConfig)
    # Also draw a figure of the identities per session.
    figures: bool = True
    # Redo sessions already tracked.
    force: bool = False

    def __post_init__(self):
        _require((self.cohort is None) != (self.store is None),
                 f"Expected either cohort= or store=, but got cohort={self.cohort!r} and store={self.store!r}")


def to_plain(cfg: Any) -> Any:
    """A config object (DictConfig or dataclass) as plain dicts and lists, for provenance."""
    from dataclasses import asdict, is_dataclass

    from omegaconf import OmegaConf

    if is_dataclass(cfg):
        return asdict(cfg)
    return OmegaConf.to_container(cfg, resolve=True)
