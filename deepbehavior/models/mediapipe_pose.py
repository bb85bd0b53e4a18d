"""MediaPipe holistic (body 33 + both hands) as a pose predictor in the OpenPose layout (see :mod:`.base`).

Pinned to mediapipe 0.10.21: the last release that still has the legacy ``solutions.holistic`` API
and carries the full pose landmark model and the hand models inside its wheel, so that
``model_complexity=1`` runs with no download (0.10.30 and later dropped ``solutions``; the lite and
heavy pose models, complexity 0 and 2, are downloaded on first use and are refused here unless
already present). It declares numpy<2 and protobuf<5, but runs on numpy 2 and protobuf 7 except for
one protobuf call in its option-setting code, which :class:`_HolisticGraph` replaces.

Holistic follows one person per view, so the output has one slot, and ``max_individuals`` above 1
is refused rather than ignored. In video mode (the default) it finds the most prominent person in
the first frame and follows that person from frame to frame, finding someone again only when it
loses them; in ``static_image_mode`` every frame picks anew, which in a scene with several people
jumps between them. Stores say so in ``attrs["model"]["people"]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import schema
from . import pose_layout
from .base import ModelDescription

_POSE_MODELS = {0: "pose_landmark_lite.tflite", 1: "pose_landmark_full.tflite", 2: "pose_landmark_heavy.tflite"}
_DETECTION_OPTION = "poselandmarkcpu__posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh"
_TRACKING_OPTION = ("poselandmarkcpu__poselandmarkbyroicpu__tensorstoposelandmarksandsegmentation__"
                    "ThresholdingCalculator.threshold")


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
        Must be 1: holistic tracks one person per view.
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

    def __init__(self, *, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, static_image_mode: bool = False,
                 smooth_landmarks: bool = True, keep_outside: bool = False, max_individuals: int = 1):
        if int(max_individuals) != 1:
            raise ValueError(f"Expected model.max_individuals=1 for the mediapipe backend (MediaPipe holistic "
                             f"tracks one person per view), but got {max_individuals}")
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
        return ModelDescription(
            kind=schema.POSES,
            slots=1,
            class_names=("person",),
            keypoint_names=pose_layout.KEYPOINT_NAMES,
            metadata={
                "layout": pose_layout.LAYOUT,
                "derived": list(pose_layout.derived_points("mediapipe_holistic")),
                "backend": "mediapipe_holistic",
                "mediapipe": self.version,
                "people": ("one person per view: the most prominent person found, then followed from frame "
                           "to frame" if not self.kwargs["static_image_mode"] else
                           "one person per view, chosen anew in every frame (static_image_mode)"),
                **self.kwargs,
            },
        )

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
