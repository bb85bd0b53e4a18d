"""MediaPipe holistic (body 33 + both hands) as a pose predictor in the OpenPose layout (see :mod:`.base`).

Pinned to mediapipe 0.10.21: the last release that still has the legacy ``solutions.holistic`` API
and carries the full pose landmark model and the hand models inside its wheel, so that
``model_complexity=1`` runs with no download (0.10.30 and later dropped ``solutions``; the lite and
heavy pose models, complexity 0 and 2, are downloaded on first use and are refused here unless
already present). It declares numpy<2 and protobuf<5, but runs on numpy 2 and protobuf 7 except for
one protobuf call in its option-setting code, which :class:`_HolisticGraph` replaces.

Holistic follows one person per view, so with ``max_individuals=1`` (the default) the output has one
slot; ``max_individuals`` above 1 gives :class:`MediaPipePeoplePredictor` instead
(every person of each frame, found one after another). In video mode (the default) it finds the most prominent person in
the first frame and follows that person from frame to frame, finding someone again only when it
loses them; in ``static_image_mode`` every frame picks anew, which in a scene with several people
jumps between them. Stores say so in ``attrs["model"]["people"]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import schema
from . import mediapipe_people, pose_layout
from .base import ModelDescription

_POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
_DETECTION_OPTION = "poselandmarkcpu__posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh"
_TRACKING_OPTION = ("poselandmarkcpu__poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__"
                    "ThresholdingCalculator.threshold")


#: The command that installs this backend's package. Not an extra of the project: mediapipe declares
#: numpy<2, protobuf<5 and opencv-contrib-python, which conflict with the rest of the installation (pip
#: finds no solution beside numpy 2), and it runs without them; scripts/setup.sh runs the same command.
INSTALL = 'pip install --no-deps "mediapipe==0.10.21"'


def require_mediapipe() -> None:
    """Raise, in one line that says what to install, when the mediapipe package is missing."""
    import importlib.util

    if importlib.util.find_spec("mediapipe") is None:
        raise ValueError(f"Expected the mediapipe package for model.backend=mediapipe, but it is not installed; "
                         f"install it with: {INSTALL} (--no-deps: its declared numpy<2, protobuf<5 and "
                         f"opencv-contrib-python would replace this installation's own)")


def _check_fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"Expected {name} in [0, 1], but got {value}")
    return value


def _holistic_config_without_face():
    """The holistic graph with its face branch removed.

    The graph runs its face landmark model on every frame whether or not anyone reads the face
    landmarks, and the OpenPose layout has no use for them: dropping the branch saves its share
    of every frame (about 15% of the CPU time measured here) and leaves pose and hands unchanged.
    """
    import mediapipe
    from mediapipe.framework import calculator_pb2
    from mediapipe.python.solutions import holistic

    config = calculator_pb2.CalculatorGraphConfig()
    config.ParseFromString((Path(mediapipe.__file__).parent.parent / holistic._BINARYPB_FILE_PATH).read_bytes())
    outputs = [s for s in config.output_stream if not s.startswith("FACE_LANDMARKS:")]
    nodes = [n for n in config.node if n.calculator != "FaceLandmarksFromPoseCpu"]
    while True:  # then every node that only fed the removed ones
        read = {s.split(":")[-1] for n in nodes for s in n.input_stream} | {s.split(":")[-1] for s in outputs}
        unused = [n for n in nodes if not {s.split(":")[-1] for s in n.output_stream} & read]
        if not unused:
            break
        nodes = [n for n in nodes if n not in unused]
    del config.node[:]
    config.node.extend(nodes)
    del config.output_stream[:]
    config.output_stream.extend(outputs)
    return config


def set_scalar_options(config, params: dict) -> None:
    """Set calculator options ``{"node.field": value}`` of a graph ``config``, each a plain scalar.

    What mediapipe's ``SolutionBase._modify_calculator_options`` does for such options, without the
    ``FieldDescriptor.label`` it reads, which protobuf 6 removed.
    """
    from mediapipe.python import solution_base

    for key, value in params.items():
        node_name, field_name = key.split(".")
        node = next((n for n in config.node if n.name == node_name), None)
        if node is None:
            raise ValueError(f"Expected a node {node_name!r} in the holistic graph, but found none")
        options_type = solution_base.CALCULATOR_TO_OPTIONS[node.calculator]
        setattr(node.options.Extensions[options_type.ext], field_name, value)


def _holistic_graph(*, model_complexity: int, static_image_mode: bool, smooth_landmarks: bool,
                    min_detection_confidence: float, min_tracking_confidence: float):
    from mediapipe.python import solution_base

    class _HolisticGraph(solution_base.SolutionBase):
        # the two options set here are plain scalars, so no repeated-field handling is needed
        def _modify_calculator_options(self, config, params) -> None:
            set_scalar_options(config, params)

    return _HolisticGraph(
        graph_config=_holistic_config_without_face(),
        side_inputs={
            "model_complexity": model_complexity,
            "smooth_landmarks": smooth_landmarks and not static_image_mode,
            "enable_segmentation": False,
            "smooth_segmentation": False,
            "use_prev_landmarks": not static_image_mode,
        },
        calculator_params={_DETECTION_OPTION: min_detection_confidence, _TRACKING_OPTION: min_tracking_confidence},
        outputs=["pose_landmarks", "left_hand_landmarks", "right_hand_landmarks"],
    )


def _landmarks(landmark_list, count: int, width: int, height: int, *, visibility: bool, keep_outside: bool):
    """``(count, 2)`` pixels and ``(count,)`` confidence of a landmark list (NaN when it is None)."""
    xy = np.full((count, 2), np.nan, dtype=np.float32)
    conf = np.full(count, np.nan, dtype=np.float32)
    if landmark_list is None:
        return xy, conf
    points = landmark_list.landmark
    if len(points) != count:
        raise ValueError(f"Expected {count} MediaPipe landmarks, but got {len(points)}")
    xy[:] = [(p.x * width, p.y * height) for p in points]
    # Hand landmarks carry no per-point visibility: a found hand counts as fully confident.
    conf[:] = [p.visibility for p in points] if visibility else 1.0
    if not keep_outside:
        outside = (xy[:, 0] < 0) | (xy[:, 0] > width) | (xy[:, 1] < 0) | (xy[:, 1] > height)
        xy[outside], conf[outside] = np.nan, np.nan
    return xy, conf


def _description(*, slots: int, backend: str, version: str, people: str, settings: dict) -> ModelDescription:
    """What either holistic predictor writes into a store: OpenPose's layout, ``slots`` people a frame."""
    return ModelDescription(
        kind=schema.POSES,
        slots=slots,
        class_names=("person",),
        keypoint_names=pose_layout.KEYPOINT_NAMES,
        metadata={
            "layout": pose_layout.LAYOUT,
            "derived": list(pose_layout.derived_points("mediapipe_holistic")),
            "backend": backend,
            "mediapipe": version,
            "people": people,
            **settings,
        },
    )


class MediaPipeHolisticPredictor:
    """MediaPipe holistic pose on batches of frames, as BODY_25 + left hand + right hand (67 points).

    Parameters
    ----------
    model_complexity
        Pose landmark model: 1 (full, inside the wheel); 0 or 2 only if their model file is present.
    min_detection_confidence
        Person detector score threshold, in [0, 1].
    min_tracking_confidence
        Pose landmark presence threshold, in [0, 1].
    static_image_mode
        False (default): track one person from frame to frame (faster, smoother, and the same
        person throughout); tracking restarts wherever frame numbers are not consecutive, i.e. at
        each shard. True: every frame on its own (results do not depend on shards, but with
        several people in view the chosen person can change from frame to frame).
    max_individuals
        1: one person per view, as described here. Above 1, constructing this class gives a
        :class:`MediaPipePeoplePredictor` (every person of each frame, up to
        ``max_individuals``), with the options that one takes. That one always runs in static mode
        (each person is found in a frame on their own), so there ``static_image_mode=True`` and
        ``smooth_landmarks`` (no smoothing in static mode) are accepted and have no effect, and
        ``static_image_mode=False`` is refused; its own options (``min_person_size``,
        ``mask_pad``) are refused with ``max_individuals=1``.
    smooth_landmarks
        Temporal smoothing of landmarks while tracking (ignored with ``static_image_mode``).
    keep_outside
        Keep the points MediaPipe places outside the frame (its guesses at limbs out of view, often
        with a high visibility score). False: they are missing, as OpenPose would report them.

    Notes
    -----
    Output keypoints are in pixels of the input frame (x to the right, y down). Confidence is
    MediaPipe's visibility for body points and 1 for the points of a found hand; Neck and MidHip
    are derived (see :mod:`.pose_layout`); the small toes are always NaN.
    """

    def __new__(cls, *args, max_individuals: int = 1, **kwargs):
        # The backend registry names this class; several people need the peeling predictor.
        if int(max_individuals) != 1:
            # It finds every person in static mode: static_image_mode=True is what it does anyway, and
            # smoothing (which static mode turns off) has nothing to smooth.
            if not kwargs.pop("static_image_mode", True):
                raise ValueError(f"Expected model.options.static_image_mode true or unset with "
                                 f"model.max_individuals={max_individuals} (several people are found in static "
                                 f"mode, each frame on its own), but got false")
            kwargs.pop("smooth_landmarks", None)
            return MediaPipePeoplePredictor(max_individuals=max_individuals, **kwargs)
        several = sorted(set(kwargs) & {"min_person_size", "mask_pad"})
        if several:
            raise ValueError(f"Expected model.options {', '.join(several)} only with model.max_individuals above 1 "
                             f"(options of the several-people predictor), but got model.max_individuals=1")
        return super().__new__(cls)

    def __init__(self, *, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, static_image_mode: bool = False,
                 smooth_landmarks: bool = True, keep_outside: bool = False, max_individuals: int = 1):
        if int(max_individuals) != 1:
            raise ValueError(f"Expected model.max_individuals=1 for the one-person holistic predictor, "
                             f"but got {max_individuals}")
        require_mediapipe()
        import mediapipe

        self.kwargs = dict(
            model_complexity=int(model_complexity),
            min_detection_confidence=_check_fraction("min_detection_confidence", min_detection_confidence),
            min_tracking_confidence=_check_fraction("min_tracking_confidence", min_tracking_confidence),
            static_image_mode=bool(static_image_mode),
            smooth_landmarks=bool(smooth_landmarks),
            keep_outside=bool(keep_outside),
        )
        model_file = _POSE_MODELS.get(self.kwargs["model_complexity"])
        if model_file is None:
            raise ValueError(f"Expected model_complexity 0, 1 or 2, but got {model_complexity}")
        model_path = Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / model_file
        if not model_path.is_file():
            raise ValueError(f"Expected model_complexity 1 (the pose model inside the mediapipe wheel; "
                             f"{model_file} would be downloaded), but got {model_complexity}")
        self.version = mediapipe.__version__
        self._graph = _holistic_graph(**{k: v for k, v in self.kwargs.items() if k != "keep_outside"})
        self._next_frame: int | None = None

    # Ray and multiprocessing move predictors by their constructor arguments, never the graph.
    def __getstate__(self) -> dict:
        return dict(self.kwargs)

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def describe(self) -> ModelDescription:
        people = ("one person per view: the most prominent person found, then followed from frame to frame"
                  if not self.kwargs["static_image_mode"] else
                  "one person per view, chosen anew in every frame (static_image_mode)")
        return _description(slots=1, backend="mediapipe_holistic", version=self.version, people=people,
                            settings=self.kwargs)

    def predict_frame(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One BGR frame ``(height, width, 3)`` uint8 → ``(75, 2)`` pixels and ``(75,)`` confidence.

        The 75 points are MediaPipe's own (``pose_layout.MEDIAPIPE_HOLISTIC_75``), before mapping.
        """
        height, width = frame.shape[:2]
        result = self._graph.process(np.ascontiguousarray(frame[..., ::-1]))
        keep = self.kwargs["keep_outside"]
        parts = [
            _landmarks(result.pose_landmarks, 33, width, height, visibility=True, keep_outside=keep),
            _landmarks(result.left_hand_landmarks, 21, width, height, visibility=False, keep_outside=keep),
            _landmarks(result.right_hand_landmarks, 21, width, height, visibility=False, keep_outside=keep),
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = np.asarray(batch["frames"])
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"Expected frames (N, height, width, 3) uint8, but got {frames.shape} {frames.dtype}")
        numbers = np.asarray(batch.get("frame", np.arange(len(frames))))
        source_xy = np.full((len(frames), 75, 2), np.nan, dtype=np.float32)
        source_conf = np.full((len(frames), 75), np.nan, dtype=np.float32)
        for i, frame in enumerate(frames):
            if not self.kwargs["static_image_mode"] and self._next_frame != int(numbers[i]):
                self._graph.reset()
            source_xy[i], source_conf[i] = self.predict_frame(frame)
            self._next_frame = int(numbers[i]) + 1
        keypoints, keypoint_conf = pose_layout.to_layout(source_xy, source_conf, source="mediapipe_holistic")
        out = {k: v for k, v in batch.items() if k != "frames"}
        out.update(keypoints=keypoints[:, None], keypoint_conf=keypoint_conf[:, None])
        return out

    def close(self) -> None:
        self._graph.close()


class MediaPipePeoplePredictor:
    """Every person of each frame (up to ``max_individuals``), as BODY_25 + both hands (67 points).

    Parameters
    ----------
    max_individuals
        Most people reported per frame (slots), 1 to ``mediapipe_people.MAX_PEOPLE``.
    min_person_size
        Smallest person kept, as a fraction of the frame's height: the larger side of the box
        around their landmarks. Smaller finds are painted over and skipped.
    mask_pad
        How far the painted hull of a found person reaches beyond their landmarks (fraction of
        their size).
    min_detection_confidence
        Person detector score threshold, in [0, 1]. Lower than the one-person default: with the
        people found so far painted over, the detector scores the rest low (on ultralytics'
        photos, 0.1 finds both men of ``zidane.jpg`` and the three whole people of ``bus.jpg``,
        0.5 neither man and two of the three; no one in blank or noise frames).
    model_complexity, min_tracking_confidence, keep_outside
        As for :class:`MediaPipeHolisticPredictor` (which runs in static mode here: every frame
        and every person on their own).

    Notes
    -----
    Output keypoints are in pixels of the input frame, confidence as the single-person backend's.
    Slot ``k`` holds the ``k``-th person found in that frame; slots past the people found are NaN.
    """

    def __init__(self, *, max_individuals: int = 4, min_person_size: float = 0.05, mask_pad: float = 0.1,
                 model_complexity: int = 1, min_detection_confidence: float = 0.1,
                 min_tracking_confidence: float = 0.5, keep_outside: bool = False):
        max_individuals = int(max_individuals)
        if not 1 <= max_individuals <= mediapipe_people.MAX_PEOPLE:
            raise ValueError(f"Expected model.max_individuals in [1, {mediapipe_people.MAX_PEOPLE}] for the "
                             f"mediapipe people backend, but got {max_individuals}")
        if not 0.0 <= float(min_person_size) < 1.0:
            raise ValueError(f"Expected min_person_size in [0, 1) (fraction of the frame height), "
                             f"but got {min_person_size}")
        if not 0.0 <= float(mask_pad) <= 1.0:
            raise ValueError(f"Expected mask_pad in [0, 1], but got {mask_pad}")
        self.kwargs = dict(max_individuals=max_individuals, min_person_size=float(min_person_size),
                           mask_pad=float(mask_pad), model_complexity=int(model_complexity),
                           min_detection_confidence=float(min_detection_confidence),
                           min_tracking_confidence=float(min_tracking_confidence), keep_outside=bool(keep_outside))
        self._one = MediaPipeHolisticPredictor(
            model_complexity=model_complexity, min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence, static_image_mode=True, keep_outside=keep_outside)
        self.version = self._one.version

    def __getstate__(self) -> dict:
        return dict(self.kwargs)

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)

    def describe(self) -> ModelDescription:
        n = self.kwargs["max_individuals"]
        people = (f"every person found, up to {n} per frame, most prominent first; slots carry no identity "
                  f"across frames (deepbehavior track gives them one)")
        return _description(slots=n, backend="mediapipe_holistic_people", version=self.version, people=people,
                            settings=self.kwargs)

    def predict_people(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One BGR frame → ``(people, 75, 2)`` pixels and ``(people, 75)`` confidence, MediaPipe's order."""
        return mediapipe_people.peel_people(
            frame, self._one.predict_frame, max_people=self.kwargs["max_individuals"],
            min_size=self.kwargs["min_person_size"] * frame.shape[0], pad=self.kwargs["mask_pad"])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = np.asarray(batch["frames"])
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"Expected frames (N, height, width, 3) uint8, but got {frames.shape} {frames.dtype}")
        n = self.kwargs["max_individuals"]
        source_xy = np.full((len(frames), n, 75, 2), np.nan, dtype=np.float32)
        source_conf = np.full((len(frames), n, 75), np.nan, dtype=np.float32)
        for i, frame in enumerate(frames):
            xy, conf = self.predict_people(frame)
            source_xy[i, :len(xy)], source_conf[i, :len(xy)] = xy, conf
        keypoints, keypoint_conf = pose_layout.to_layout(source_xy, source_conf, source="mediapipe_holistic")
        out = {k: v for k, v in batch.items() if k != "frames"}
        out.update(keypoints=keypoints, keypoint_conf=keypoint_conf)
        return out

    def close(self) -> None:
        self._one.close()
