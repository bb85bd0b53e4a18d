"""ultralytics detection and keypoint models as batched predictors (see :mod:`.base`).

Frames of one video share a size, so a whole batch is letterboxed with one scale and padding and
goes through the network as one tensor; non-maximum suppression is ultralytics' own. This skips
ultralytics' per-image Python pre/post-processing, which is what limits its own ``predict``.
"""

from __future__ import annotations

import math
import warnings

import cv2
import numpy as np

from .. import schema
from .base import ModelDescription, empty_slots, torch_threads
from .nms import non_max_suppression

STRIDE = 32


def pick_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return device


def letterbox_geometry(height: int, width: int, imgsz: int) -> tuple[float, int, int, int, int]:
    """Scale, resized size and padded canvas for a frame (the rectangle ultralytics uses for video).

    Returns ``(scale, new_w, new_h, canvas_w, canvas_h)``; the frame is centred on the canvas.
    """
    scale = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * scale), round(height * scale)
    canvas_w = math.ceil(new_w / STRIDE) * STRIDE
    canvas_h = math.ceil(new_h / STRIDE) * STRIDE
    return scale, new_w, new_h, canvas_w, canvas_h


def fold_input_transform(model) -> bool:
    """Make the network take BGR pixels in 0..255 by folding the RGB swap and the 1/255 scaling
    into its first convolution (exact: both are linear and commute with zero padding).

    Preprocessing is then a single uint8 → float conversion, where the separate channel swap
    and scaling passes cost as much as a fifth of the forward pass on the CPU. Only ultralytics
    models whose input feeds one plain first convolution are changed; returns whether this one was.
    """
    import torch

    layers = getattr(model, "model", None)
    first = layers[0] if layers is not None and len(layers) else None
    conv = getattr(first, "conv", None)
    if not isinstance(conv, torch.nn.Conv2d) or conv.in_channels != 3 or conv.groups != 1:
        return False
    with torch.no_grad():
        conv.weight.copy_(conv.weight.flip(1) / 255.0)
    return True


def load_model(weights: str):
    """An ultralytics ``YOLO`` of ``weights``, or a one-line ``ValueError`` naming the file when it is
    not an ultralytics network (a text file, a bare state dict, another library's module)."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import BaseModel

    try:
        yolo = YOLO(weights)
    except Exception as exc:  # ultralytics raises TypeError, AttributeError, KeyError… on foreign files
        reason = " ".join(str(exc).split())[:200]
        raise ValueError(f"Expected an ultralytics detection or pose model in {weights}, but it could not be "
                         f"loaded as one ({type(exc).__name__}: {reason})") from None
    if not isinstance(yolo.model, BaseModel):
        raise ValueError(f"Expected an ultralytics detection or pose model in {weights}, but it holds a "
                         f"{type(yolo.model).__name__}")
    return yolo


def head_in_float32(head, device_type: str) -> None:
    """Make ``head`` (an ultralytics Detect or Pose module) run in float32 under bfloat16 autocast:
    its inputs are cast up and autocast is off inside it, so boxes and keypoints are decoded exactly."""
    import torch

    forward = head.forward

    def float32_forward(features, *args, **kwargs):
        with torch.autocast(device_type, enabled=False):
            return forward([f.float() for f in features], *args, **kwargs)

    head.forward = float32_forward


class YoloPredictor:
    """A trained ultralytics detection or pose model (``.pt``) applied to batches of frames.

    Parameters
    ----------
    weights
        Path of the ``.pt`` file (or a name ultralytics knows, where weights may be downloaded).
    imgsz
        Longer side of the network input, pixels (a multiple of 32).
    conf, iou
        Confidence threshold and IoU of non-maximum suppression.
    max_individuals
        Slots kept per frame, most confident first.
    device
        ``auto``, ``cpu`` or ``cuda:N``.
    half
        Run in float16 (CUDA only).
    bfloat16
        Run the convolutions before the head in bfloat16 (``torch.autocast``), on the CPU or a GPU.
        On a CPU with AMX the local runner went 1.6x as fast as in float32 (yolo11n at 640x480, 2-core Xeon,
        ``benchmarks/results/inference.json``); the head and the decoding of boxes and keypoints stay in
        float32, since bfloat16's 8-bit mantissa would round a box corner at x = 600 px to 4 px. Outputs
        differ slightly from float32 (on a trained detector: box corners 0.015 px apart at the median,
        2.2 px at most over 200 images; ``bfloat16.json``).
    threads
        Torch intra-op threads of each call (default: the caller's setting); the process's own
        setting is put back after each call.
    channels_last
        Keep activations in NHWC memory layout. On the CPU oneDNN's convolutions run ~1.4x faster
        so (measured on yolo11n at 640x480, 2 cores); ``None`` turns it on for the CPU only.
    """

    def __init__(self, weights: str, *, imgsz: int = 640, conf: float = 0.25, iou: float = 0.7,
                 max_individuals: int = 1, device: str = "auto", half: bool = False, threads: int | None = None,
                 channels_last: bool | None = None, bfloat16: bool = False):
        from ..offline import offline_ultralytics

        offline_ultralytics()
        import torch

        self.threads = threads
        self.device = torch.device(pick_device(device))
        if half and bfloat16:
            raise ValueError("Expected one of half (float16) and bfloat16, but got both")
        self.half = bool(half and self.device.type == "cuda")
        self.bfloat16 = bool(bfloat16)
        yolo = load_model(weights)
        self.task = yolo.task
        if self.task not in ("detect", "pose"):
            raise ValueError(f"Expected a detection or pose model in {weights}, but got task {self.task!r}")
        self.names = tuple(yolo.names[i] for i in sorted(yolo.names))
        # verbose=False: ultralytics would otherwise count the FLOPs with a whole extra forward pass
        model = yolo.model.fuse(verbose=False) if hasattr(yolo.model, "fuse") else yolo.model
        model = model.to(self.device).eval().float()
        # float16 weights divided by 255 would fall into the subnormal range: keep the input scaling then
        self.raw_input = not self.half and fold_input_transform(model)
        model = model.half() if self.half else model
        self.channels_last = self.device.type == "cpu" if channels_last is None else bool(channels_last)
        self.model = model.to(memory_format=torch.channels_last) if self.channels_last else model
        if self.bfloat16:
            head_in_float32(self.model.model[-1], self.device.type)
        self.end2end = bool(getattr(self.model, "end2end", False))
        self.kpt_shape = tuple(getattr(self.model, "kpt_shape", None) or yolo.model.yaml.get("kpt_shape", (0, 0))) \
            if self.task == "pose" else (0, 0)
        self.imgsz, self.conf, self.iou, self.slots = imgsz, conf, iou, max_individuals
        self.weights = str(weights)
        # the names the model was trained with (ultralytics keeps data.yaml's kpt_names on the model)
        names = getattr(self.model, "kpt_names", None) or getattr(yolo.model, "kpt_names", None)
        names = list(names.get(0, [])) if isinstance(names, dict) else list(names or [])
        # ultralytics' own default ("0", "1", …, for a data.yaml without kpt_names) says nothing
        default = [str(i) for i in range(len(names))]
        self.kpt_names: tuple[str, ...] | None = tuple(str(n) for n in names) \
            if len(names) == self.kpt_shape[0] and self.kpt_shape[0] and [str(n) for n in names] != default else None

    def describe(self) -> ModelDescription:
        keypoints = self.kpt_names or tuple(f"keypoint{i}" for i in range(self.kpt_shape[0]))
        return ModelDescription(
            kind=schema.POSES if self.task == "pose" else schema.BOXES,
            slots=self.slots,
            class_names=self.names,
            keypoint_names=keypoints,
            metadata={"weights": self.weights, "task": self.task, "imgsz": self.imgsz},
        )

    def _preprocess(self, frames: np.ndarray):
        import torch

        n, height, width = frames.shape[:3]
        scale, new_w, new_h, canvas_w, canvas_h = letterbox_geometry(height, width, self.imgsz)
        left, top = (canvas_w - new_w) // 2, (canvas_h - new_h) // 2
        if (new_w, new_h, canvas_w, canvas_h) == (width, height, width, height):
            canvas = np.ascontiguousarray(frames)  # already the network's shape: no copy
        else:
            canvas = np.full((n, canvas_h, canvas_w, 3), 114, dtype=np.uint8)
            for i, frame in enumerate(frames):
                resized = frame if (new_w, new_h) == (width, height) else \
                    cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
                canvas[i, top:top + new_h, left:left + new_w] = resized
        # NHWC seen as NCHW is already the channels-last layout; convert on the device (uint8 moves
        # four times fewer bytes to a GPU).
        with warnings.catch_warnings():  # frames from Ray's object store are read-only; nothing writes them
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            tensor = torch.from_numpy(canvas).to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        if not self.channels_last:
            tensor = tensor.contiguous()
        tensor = tensor.half() if self.half else tensor.float()
        if not self.raw_input:
            tensor = tensor.flip(1) / 255.0  # BGR → RGB, 0..1
        return tensor, scale, left, top

    def _forward(self, frames: np.ndarray):
        """The network's raw output for a batch of frames, and the letterbox that maps it back."""
        import torch

        tensor, scale, left, top = self._preprocess(frames)
        with torch.inference_mode(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.bfloat16):
            return self.model(tensor), scale, left, top

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        frames = batch["frames"]
        out = {k: v for k, v in batch.items() if k != "frames"}
        n = len(frames)
        boxes, box_conf, classes = empty_slots(n, self.slots, 4), empty_slots(n, self.slots), empty_slots(n, self.slots)
        n_kpt, kpt_dim = self.kpt_shape
        keypoints, kpt_conf = empty_slots(n, self.slots, n_kpt, 2), empty_slots(n, self.slots, n_kpt)
        if n:
            with torch_threads(self.threads):
                raw, scale, left, top = self._forward(frames)
                detections = non_max_suppression(raw, self.conf, self.iou, self.slots, end2end=self.end2end,
                                                 nc=len(self.names) if self.task == "pose" else 0)
            offset = np.array([left, top, left, top], dtype=np.float32)
            for i, det in enumerate(detections):
                k = len(det)
                if not k:
                    continue
                boxes[i, :k] = (det[:, :4] - offset) / scale
                box_conf[i, :k] = det[:, 4]
                classes[i, :k] = det[:, 5]
                if n_kpt:
                    kpts = det[:, 6:].reshape(k, n_kpt, kpt_dim)
                    keypoints[i, :k] = (kpts[..., :2] - offset[:2]) / scale
                    kpt_conf[i, :k] = kpts[..., 2] if kpt_dim == 3 else 1.0
        out.update(boxes=boxes, box_conf=box_conf, class_index=classes)
        if self.task == "pose":
            out.update(keypoints=keypoints, keypoint_conf=kpt_conf)
        return out
