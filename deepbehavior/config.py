"""Frozen dataclasses of the library's settings: runtime, models, training, analysis, geometry, tracking.

Each job's own schema (``InferJob``, ``AnalyzeJob``, ...) lives with its job in ``jobs/<name>.py``,
holds these settings as typed groups (``model``, ``train``, ``track``, ...) and is registered with
Hydra's ConfigStore there; YAML in ``conf/`` only sets values. Library functions take one of these
small configs (or plain arguments), never a whole job config. Bad values fail early, in
``__post_init__``, with "Expected …, but got …".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from omegaconf import MISSING


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``: the check of a config's ``__post_init__``."""
    if not condition:
        raise ValueError(message)


def parse_threads(value: int | str | None, *, name: str = "threads") -> int | None:
    """A thread setting as a user gives it: None for ``"auto"`` (or None, or 0), else the whole number >= 1.

    ``name`` is the setting's name in the error message (``model.threads``, ``train.threads``).
    ``auto`` is :func:`deepbehavior.runtime.threads.choose_threads`' rule: the CPUs this process may
    use that other programs are not keeping busy.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    number = None
    if not isinstance(value, (bool, float)):
        try:
            number = int(str(value).strip())
        except ValueError:
            pass
    if number is None or number < 0:
        raise ValueError(f"Expected {name} 'auto' or a whole number of threads >= 1, but got {value!r}")
    return number or None


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
        require(self.num_cpus is None or self.num_cpus > 0, f"Expected ray.num_cpus > 0, but got {self.num_cpus}")


@dataclass(frozen=True)
class StoreConfig:
    """Zarr stores: frames per time chunk (also the unit of inference work)."""

    # Frames per Zarr time chunk; also the unit of inference work and of resuming.
    chunk: int = 1000

    def __post_init__(self):
        require(self.chunk > 0, f"Expected store.chunk > 0 frames, but got {self.chunk}")


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
    # yolo/yolo_pose: the network's convolutions in bfloat16 (CPU or GPU; about 1.6x the frames/s on a CPU with
    # AMX), its head and the decoding of boxes and keypoints still in float32. Check it on your frames.
    bfloat16: bool = False
    # Extra constructor arguments of a backend other than "yolo" (e.g. mediapipe's model_complexity).
    options: dict[str, Any] = field(default_factory=dict)
    # Torch CPU threads of the predictor: auto (the CPUs this process may use that other programs are
    # not keeping busy, measured as the job starts) or a number. Recorded in the stores' provenance.
    threads: str = "auto"

    def __post_init__(self):
        parse_threads(self.threads, name="model.threads")
        require(0.0 <= self.conf <= 1.0, f"Expected model.conf in [0, 1], but got {self.conf}")
        require(0.0 < self.iou <= 1.0, f"Expected model.iou in (0, 1], but got {self.iou}")
        require(self.max_individuals >= 1, f"Expected model.max_individuals >= 1, but got {self.max_individuals}")
        require(self.batch_size >= 1, f"Expected model.batch_size >= 1, but got {self.batch_size}")
        require(self.imgsz % 32 == 0, f"Expected model.imgsz a multiple of 32, but got {self.imgsz}")
        require(not (self.half and self.bfloat16),
                "Expected at most one of model.half (float16) and model.bfloat16, but got both true")


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
    ultralytics'). What is left at 0 / None / ``auto`` is chosen from the labels before training
    (``deepbehavior.models.recipe``; printed, and stored in the checkpoint and ``out/recipe.json``):
    ``mode`` (``crop`` around each animal or ``frame``, a fixed window for a fixed rig or several
    views), ``crop_size`` (so the closest parts are ``min_cells`` heatmap cells apart, up to
    ``max_crop_size``), ``rotation``, ``flip`` (mirror augmentation) and ``flip_pairs``
    (``["leftear:rightear", …]``; default from the dataset's ``flip_idx``, else from names).
    """

    crop_size: int = 0
    window: float = 0.0
    # Extra room around the largest labelled animal, each side, as a fraction of its size (crop mode);
    # in frame mode the window is the span of all labels times 1 + margin (half of it each side).
    margin: float = 0.2
    centroid_size: int = 192
    width: int = 16
    sigma: float = 2.0
    # Input px per heatmap cell (1, 2 or 4).
    stride: int = 2
    rotation: Optional[float] = None
    # auto, crop or frame.
    mode: str = "auto"
    # Mirror augmentation (null: chosen from the labels).
    flip: Optional[bool] = None
    # Keypoints a mirror image swaps, ["leftear:rightear", ...] (null: the dataset's flip_idx, else from names).
    flip_pairs: Optional[list[str]] = None
    # Heatmap cells wanted between the closest labelled parts, and the largest input side that may buy them.
    min_cells: float = 3.0
    # Largest crop side (px, at least 64: the smallest it chooses) that crop_size=0 may choose to keep
    # min_cells between the closest parts.
    max_crop_size: int = 256
    samples_per_epoch: int = 256
    lr: float = 0.003
    patience: int = 10

    def __post_init__(self):
        for name in ("crop_size", "centroid_size", "max_crop_size"):
            value = getattr(self, name)
            if name == "crop_size" and value == 0:
                continue
            require(value >= 16 and value % 16 == 0, f"Expected train.topdown.{name} a multiple of 16, but got {value}")
        require(self.max_crop_size >= 64,
                f"Expected train.topdown.max_crop_size >= 64 px (the smallest input chosen), but got {self.max_crop_size}")
        require(self.window >= 0, f"Expected train.topdown.window >= 0 px (0: from the labels), but got {self.window}")
        require(self.margin >= 0, f"Expected train.topdown.margin >= 0, but got {self.margin}")
        require(self.width >= 4, f"Expected train.topdown.width >= 4, but got {self.width}")
        require(self.sigma > 0, f"Expected train.topdown.sigma > 0, but got {self.sigma}")
        require(self.rotation is None or 0 <= self.rotation <= 180,
                f"Expected train.topdown.rotation in [0, 180] degrees (null: from the labels), but got {self.rotation}")
        require(self.mode in ("auto", "crop", "frame"), f"Expected train.topdown.mode auto, crop or frame, but got "
                                                        f"{self.mode!r}")
        require(self.stride in (1, 2, 4), f"Expected train.topdown.stride 1, 2 or 4, but got {self.stride}")
        require(self.min_cells > 0, f"Expected train.topdown.min_cells > 0, but got {self.min_cells}")
        require(self.samples_per_epoch >= 1, f"Expected train.topdown.samples_per_epoch >= 1, but got "
                                             f"{self.samples_per_epoch}")
        require(self.lr > 0, f"Expected train.topdown.lr > 0, but got {self.lr}")
        require(self.patience >= 1, f"Expected train.topdown.patience >= 1 epoch, but got {self.patience}")


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
    # Wall-clock budget of the run, hours (null: epochs only); training stops before the epoch that would pass it.
    time: Optional[float] = None
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

    # The groups of ``deepbehavior train --help``: the settings only one of the two trainers reads
    # (the others, epochs, batch, seed, augment and pck_threshold, apply to both).
    HELP_GROUPS: ClassVar[dict[str, tuple[str, ...]]] = {
        "ultralytics models only (detection datasets, train.model=*.yaml or an ultralytics .pt)":
            ("imgsz", "lr0", "optimizer", "close_mosaic", "workers", "amp", "overrides", "patience"),
        "top-down keypoint recipe only (train.model=auto on a keypoint dataset, or topdown)": ("topdown",),
    }
    # Torch CPU threads of each training worker: auto (the CPUs it may use that other programs are not
    # keeping busy, measured as it starts) or a number. Recorded in out/train_report.json.
    threads: str = "auto"

    def __post_init__(self):
        parse_threads(self.threads, name="train.threads")
        require(self.epochs >= 1, f"Expected train.epochs >= 1, but got {self.epochs}")
        require(self.time is None or self.time > 0, f"Expected train.time > 0 hours (null: no budget), but got {self.time}")
        require(self.batch >= 1, f"Expected train.batch >= 1, but got {self.batch}")
        require(self.imgsz % 32 == 0, f"Expected train.imgsz a multiple of 32, but got {self.imgsz}")
        require(self.lr0 > 0, f"Expected train.lr0 > 0, but got {self.lr0}")
        require(self.optimizer in ("auto", "SGD", "AdamW", "Adam", "Adamax", "NAdam", "RAdam", "RMSprop"),
                f"Expected train.optimizer auto, SGD, AdamW, Adam, Adamax, NAdam, RAdam or RMSprop, "
                f"but got {self.optimizer}")
        require(self.close_mosaic >= 0, f"Expected train.close_mosaic >= 0 epochs, but got {self.close_mosaic}")
        require(self.pck_threshold > 0, f"Expected train.pck_threshold > 0, but got {self.pck_threshold}")


# --------------------------------------------------------------------------------------------------
# Analysis


@dataclass(frozen=True)
class KinematicsConfig:
    """Units and smoothing of the kinematics. ``pixel_size_mm`` converts pixels to mm (null keeps
    pixels). ``min_confidence``: points with a lower confidence count as missing."""

    pixel_size_mm: Optional[float] = None
    min_confidence: float = 0.0
    # Savitzky–Golay smoothing of positions before differentiating (odd frames; 0 = none): a
    # detector's frame-to-frame jitter of a pixel becomes tens of px/s once multiplied by the fps.
    smooth_window: int = 7

    def __post_init__(self):
        require(self.smooth_window == 0 or (self.smooth_window >= 3 and self.smooth_window % 2 == 1),
                f"Expected kinematics.smooth_window 0 or an odd number >= 3, but got {self.smooth_window}")
        require(self.pixel_size_mm is None or self.pixel_size_mm > 0,
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
        require(self.sessions >= 1, f"Expected synthetic.sessions >= 1, but got {self.sessions}")
        require(self.frames >= 2, f"Expected synthetic.frames >= 2, but got {self.frames}")
        require(self.mice in (1, 2), f"Expected synthetic.mice 1 or 2, but got {self.mice}")


# --------------------------------------------------------------------------------------------------
# Task measures (analysis.reaching, regions, social, human)


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
        require(0 <= self.stop_speed <= self.start_speed,
                f"Expected 0 <= reaching.stop_speed <= reaching.start_speed, but got {self.stop_speed} and {self.start_speed}")
        require(self.min_duration_s >= 0, f"Expected reaching.min_duration_s >= 0 s, but got {self.min_duration_s}")


@dataclass(frozen=True)
class RegionsConfig:
    """Regions of interest. ``regions`` maps a name to ``[x0, y0, x1, y1]`` (rectangle) or
    ``[[x, y], ...]`` (polygon), in ``unit``. ``unit``: "px", or "mm" using the session's pixel_size_mm.
    ``keypoint``/``individual``: the tracked point (null: mean of keypoints / first individual).
    ``count_start``: being inside on the first frame counts as an entry."""

    regions: dict[str, Any] = field(default_factory=dict)
    unit: str = "px"
    keypoint: Optional[str] = None
    individual: Optional[str] = None
    count_start: bool = False

    def __post_init__(self):
        require(self.unit in ("px", "mm"), f"Expected regions.unit 'px' or 'mm', but got {self.unit!r}")


@dataclass(frozen=True)
class SocialConfig:
    """Two-animal interaction. ``individuals``: the pair (empty: the first two). ``centre``: keypoint
    for the inter-animal distance (null: each animal's centroid). ``nose``/``tail``: keypoint names.
    ``threshold`` in ``unit``: closer than this is interacting, for at least ``min_duration_s``.
    ``min_duration_s``: shortest interaction counted (s). ``unit``: of ``threshold``, "px" or "mm"."""

    individuals: list[str] = field(default_factory=list)
    centre: Optional[str] = None
    nose: str = "nose"
    tail: str = "tail"
    threshold: float = 50.0
    min_duration_s: float = 0.5
    unit: str = "px"

    def __post_init__(self):
        require(self.threshold > 0, f"Expected social.threshold > 0, but got {self.threshold}")
        require(self.min_duration_s >= 0, f"Expected social.min_duration_s >= 0 s, but got {self.min_duration_s}")
        require(self.unit in ("px", "mm"), f"Expected social.unit 'px' or 'mm', but got {self.unit!r}")
        require(len(self.individuals) in (0, 2), f"Expected social.individuals to name 0 or 2 animals, but got {list(self.individuals)}")


@dataclass(frozen=True)
class HumanConfig:
    """Human 3D reaching on OpenPose-named keypoints. ``k``: points below mean − k·SD of their
    joint's confidence are dropped. ``max_gap``: gaps up to this many frames are filled linearly
    (null: all). ``smooth``: robust smoothing. ``side``: "R" or "L" arm/leg. ``hand_point``: the hand keypoint
    of the wrist angle (``{side}`` is replaced). ``individual`` null: the first person."""

    k: float = 3.0
    max_gap: Optional[int] = None
    smooth: bool = True
    side: str = "R"
    hand_point: str = "{side}HandMiddleMCP"
    individual: Optional[str] = None

    def __post_init__(self):
        require(self.k >= 0, f"Expected human.k >= 0, but got {self.k}")
        # side is checked by analysis.measure_settings.check_side, where SIDES is defined.
        require(self.max_gap is None or self.max_gap >= 0, f"Expected human.max_gap >= 0 frames or null, but got {self.max_gap}")


# --------------------------------------------------------------------------------------------------
# Geometry: camera calibration and multi-camera 3D


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
        require(self.kind in BOARD_KINDS, f"Expected board.kind one of {', '.join(BOARD_KINDS)}, but got {self.kind!r}")
        require(self.columns >= 2 and self.rows >= 2,
                f"Expected board.columns and board.rows >= 2, but got {self.columns} x {self.rows}")
        require(self.square_size > 0, f"Expected board.square_size > 0 mm, but got {self.square_size}")
        require(self.kind != "charuco" or 0 < self.marker_size < self.square_size,
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
    # Largest reprojection error (px) of a view that agrees with the others (method=robust).
    max_error_px: float = 20.0
    views: Optional[list[str]] = None

    def __post_init__(self):
        # method is checked by geometry.triangulation.check_method, where METHODS is defined.
        require(self.refine >= 0, f"Expected triangulate.refine >= 0, but got {self.refine}")
        require(self.max_error_px > 0, f"Expected triangulate.max_error_px > 0, but got {self.max_error_px}")


# --------------------------------------------------------------------------------------------------
# Tracking: identities over a session's detections


@dataclass(frozen=True)
class TrackConfig:
    """How slots become identities. ``classes`` maps a class name to an identity
    (``{body: resident, body_mini: intruder}``: identity from the class, empty: from motion).
    ``n_identities``: animals tracked from motion (when ``classes`` is empty). ``names``: their
    names, one per identity (empty: individual0, individual1, ...). ``max_jump``:
    largest plausible move between frames (px); ``swap_radius`` (px, null: 2 x max_jump): animals
    closer than this may have exchanged labels; ``max_extrapolate``/``reacquire_after`` (frames):
    how long a lost animal's predicted path is used, and after how long it is re-acquired anywhere;
    ``repair``: relabel whole segments to undo swaps. ``method``: ``pose`` (per-keypoint matching
    with a gated motion model, then the repair), ``naive`` (the baseline: Hungarian on centroids),
    or ultralytics' ``bytetrack``/``botsort`` (boxes). ``duplicate_distance`` (px, mean over
    keypoints): a detection this close to a held one is a duplicate. ``merge_distance`` (px): in the
    quality report, two animals closer than this are a merge (and a move over ``max_jump`` per frame
    between two observations is a jump)."""

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
        require(self.duplicate_distance >= 0,
                f"Expected track.duplicate_distance >= 0 px, but got {self.duplicate_distance}")
        require(self.n_identities >= 1, f"Expected track.n_identities >= 1, but got {self.n_identities}")
        require(self.max_jump > 0, f"Expected track.max_jump > 0 px, but got {self.max_jump}")
        require(self.swap_radius is None or self.swap_radius > 0,
                f"Expected track.swap_radius > 0 px or null, but got {self.swap_radius}")
        require(self.max_extrapolate >= 0, f"Expected track.max_extrapolate >= 0 frames, but got {self.max_extrapolate}")
        require(self.reacquire_after >= 0, f"Expected track.reacquire_after >= 0 frames, but got {self.reacquire_after}")
        require(self.merge_distance >= 0, f"Expected track.merge_distance >= 0 px, but got {self.merge_distance}")
        require(not self.names or self.classes or len(self.names) == self.n_identities,
                f"Expected {self.n_identities} track.names, but got {list(self.names)}")


def to_plain(cfg: Any) -> Any:
    """A config object (DictConfig or dataclass) as plain dicts and lists, for provenance."""
    from dataclasses import asdict, is_dataclass

    from omegaconf import OmegaConf

    if is_dataclass(cfg):
        return asdict(cfg)
    return OmegaConf.to_container(cfg, resolve=True)
