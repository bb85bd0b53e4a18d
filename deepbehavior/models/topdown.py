"""Top-down keypoints: find each animal on a downscaled frame, then its body parts in a crop around it.

Two small heatmap networks (:class:`~deepbehavior.models.heatmap.HeatmapNet`) make one model:

- the *centroid* network sees the whole frame scaled so its longer side is ``centroid_size`` pixels
  and puts a peak on the centre of every animal (the centre of the box around its labelled parts);
- the *instance* network sees a square window of ``window`` frame pixels around one centre,
  resampled to ``crop_size`` pixels, and gives one heatmap per body part of the animal in the middle.

Each peak of the centroid map above ``min_confidence`` is one animal (a slot, most confident first),
so several animals need nothing more. Points are decoded with sub-pixel precision and mapped back to
frame pixels through the crop's affine matrix (:mod:`.crops`). The window is chosen from the labels
(the largest animal plus a margin), so that the body parts stay several network pixels apart.

A checkpoint (``.pt``, ``torch.save`` of a dict with ``format == FORMAT``) holds both networks'
weights, the settings, the keypoint names and the left/right swap order; :func:`load_checkpoint`
reads it and :class:`TopDownModel` predicts with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from . import crops
from .heatmap import HeatmapNet, decode, find_peaks, from_heatmap

FORMAT = "deepbehavior-topdown"
VERSION = 1


@dataclass(frozen=True)
class TopDownSettings:
    """The shape of a top-down model and how its inputs are made.

    Attributes
    ----------
    crop_size
        Side of the instance network's input, pixels (a multiple of 16).
    window
        Side of the square window cut from the frame around each animal, frame pixels (0: chosen
        from the training labels as the largest animal's extent times ``1 + 2 * margin``).
    margin
        Space left around the largest animal on each side, as a fraction of its extent.
    centroid_size
        Longer side of the frame as the centroid network sees it, pixels (a multiple of 16).
    width
        Channels of the networks' first stage (the others are 2, 4 and 8 times that).
    stride
        Input pixels per heatmap pixel.
    sigma
        Width of the target Gaussians, heatmap pixels.
    centre
        Whole-frame mode (a fixed rig): the window's fixed centre (x, y, frame pixels); no animal is
        searched for. None: the centroid network finds each animal (crop mode).
    """

    crop_size: int = 128
    window: float = 0.0
    margin: float = 0.2
    centroid_size: int = 192
    width: int = 16
    stride: int = 2
    sigma: float = 2.0
    centre: Optional[tuple[float, float]] = None

    def __post_init__(self):
        for name in ("crop_size", "centroid_size"):
            value = getattr(self, name)
            if value < 16 or value % 16:
                raise ValueError(f"Expected topdown {name} a multiple of 16 (>= 16), but got {value}")
        if self.window < 0 or self.margin < 0 or self.sigma <= 0 or self.width < 4:
            raise ValueError(f"Expected topdown window >= 0, margin >= 0, sigma > 0 and width >= 4, but got "
                             f"{self.window}, {self.margin}, {self.sigma} and {self.width}")


class TopDownNet(nn.Module):
    """Both networks in one module (one optimizer, one DDP wrapper, one state dict)."""

    def __init__(self, n_keypoints: int, settings: TopDownSettings):
        super().__init__()
        self.centroid = HeatmapNet(1, width=max(settings.width // 2, 4), stride=settings.stride)
        self.instance = HeatmapNet(n_keypoints, width=settings.width, stride=settings.stride)

    def forward(self, frames: torch.Tensor, crops_: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.centroid(frames), self.instance(crops_)


def to_tensor(images: np.ndarray, device=None) -> torch.Tensor:
    """uint8 images ``(N, H, W, 3)`` (BGR) → float tensor ``(N, 3, H, W)`` centred on 0 (BGR kept)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    tensor = tensor.to(device) if device is not None else tensor
    return tensor / 255.0 - 0.5


def frame_geometry(height: int, width: int, centroid_size: int) -> tuple[float, int, int]:
    """Scale and canvas ``(scale, canvas_w, canvas_h)`` of the centroid network's view of a frame.

    The frame is scaled so its longer side is ``centroid_size`` and padded right and bottom to
    multiples of 16.
    """
    scale = centroid_size / max(height, width)
    canvas_w = int(math.ceil(width * scale / 16) * 16)
    canvas_h = int(math.ceil(height * scale / 16) * 16)
    return scale, canvas_w, canvas_h


def window_from_labels(points: list[np.ndarray], margin: float) -> float:
    """The window side (frame pixels) for animals whose labelled parts are ``points``: the 98th
    percentile of their extents (longer side of the box around the finite parts) times ``1 + 2 margin``."""
    extents = []
    for p in points:
        p = np.asarray(p, dtype=np.float64).reshape(-1, 2)
        p = p[np.isfinite(p).all(axis=1)]
        if len(p):
            extents.append(float((p.max(axis=0) - p.min(axis=0)).max()))
    if not extents:
        raise ValueError("Expected at least one labelled animal to size the crop window, but got none")
    return max(float(np.percentile(extents, 98)) * (1 + 2 * margin), 16.0)


def animal_centre(points: np.ndarray) -> np.ndarray:
    """Centre ``(2,)`` of the box around the finite points ``(K, 2)`` (NaN when none is finite)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    p = p[np.isfinite(p).all(axis=1)]
    if not len(p):
        return np.full(2, np.nan)
    return (p.min(axis=0) + p.max(axis=0)) / 2


@dataclass
class TopDownModel:
    """A trained top-down model ready to predict (CPU or GPU).

    Attributes
    ----------
    net
        The two networks (eval mode).
    settings
        How inputs are made; ``settings.window`` is set (> 0).
    keypoint_names, flip_idx
        Body part names in output order and the order after a left-right mirror.
    metadata
        Anything else the checkpoint recorded (training metrics, dataset).
    """

    net: TopDownNet
    settings: TopDownSettings
    keypoint_names: tuple[str, ...]
    flip_idx: tuple[int, ...]
    metadata: dict = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def centres(self, frames: np.ndarray, *, max_individuals: int, min_confidence: float) -> list[np.ndarray]:
        """Per frame, ``(n, 3)`` rows x, y (frame pixels), confidence of the animals found, most confident first."""
        s = self.settings
        n, height, width = frames.shape[:3]
        if s.centre is not None:  # whole-frame mode: the window is where the rig is, always
            return [np.array([[float(s.centre[0]), float(s.centre[1]), 1.0]]) for _ in range(n)]
        scale, canvas_w, canvas_h = frame_geometry(height, width, s.centroid_size)
        matrix = np.array([[scale, 0, (scale - 1) / 2], [0, scale, (scale - 1) / 2]])  # pixel centres stay centres
        canvas = np.stack([crops.cut(f, matrix, (canvas_w, canvas_h)) for f in frames])
        with torch.inference_mode():
            maps = torch.sigmoid(self.net.centroid(to_tensor(canvas, self.device)))[:, 0].float().cpu().numpy()
        back = crops.invert_matrix(matrix)
        found = []
        for m in maps:
            peaks = find_peaks(m, threshold=min_confidence, max_peaks=max_individuals)
            xy = crops.apply_matrix(back, from_heatmap(peaks[:, :2], s.stride))
            found.append(np.column_stack([xy, peaks[:, 2]]))
        return found

    def keypoints_at(self, frames: np.ndarray, frame_index: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Body parts of the animals centred at ``centres (M, 2)`` (frame pixels) in ``frames[frame_index]``.

        Returns points ``(M, K, 2)`` in frame pixels and their confidences ``(M, K)`` (heatmap peaks, 0..1).
        """
        s = self.settings
        k = len(self.keypoint_names)
        if not len(centres):
            return np.zeros((0, k, 2)), np.zeros((0, k))
        matrices = [crops.crop_matrix(c, size=s.window, out_size=s.crop_size) for c in centres]
        batch = np.stack([crops.cut(frames[i], m, s.crop_size) for i, m in zip(frame_index, matrices)])
        with torch.inference_mode():
            maps = torch.sigmoid(self.net.instance(to_tensor(batch, self.device))).float().cpu().numpy()
        points, conf = decode(maps, s.stride)
        frame_points = np.stack([crops.apply_matrix(crops.invert_matrix(m), p) for m, p in zip(matrices, points)])
        return frame_points, conf

    def predict(self, frames: np.ndarray, *, max_individuals: int = 1, min_confidence: float = 0.1,
                chunk: int = 64) -> dict[str, np.ndarray]:
        """Keypoints of up to ``max_individuals`` animals in each of ``frames (N, H, W, 3)`` (uint8, BGR).

        Returns ``keypoints (N, S, K, 2)`` frame pixels, ``keypoint_conf (N, S, K)``, ``centre (N, S, 2)``
        and ``centre_conf (N, S)``, float32, NaN in empty slots (``S = max_individuals``).
        """
        n, k = len(frames), len(self.keypoint_names)
        out = {"keypoints": np.full((n, max_individuals, k, 2), np.nan, np.float32),
               "keypoint_conf": np.full((n, max_individuals, k), np.nan, np.float32),
               "centre": np.full((n, max_individuals, 2), np.nan, np.float32),
               "centre_conf": np.full((n, max_individuals), np.nan, np.float32)}
        self.net.eval()
        for start in range(0, n, chunk):
            part = frames[start:start + chunk]
            found = self.centres(part, max_individuals=max_individuals, min_confidence=min_confidence)
            index = np.concatenate([np.full(len(f), i) for i, f in enumerate(found)]).astype(int) if found else \
                np.zeros(0, int)
            slot = np.concatenate([np.arange(len(f)) for f in found]).astype(int) if found else np.zeros(0, int)
            centres = np.concatenate(found) if found else np.zeros((0, 3))
            points, conf = self.keypoints_at(part, index, centres[:, :2])
            out["keypoints"][start + index, slot] = points
            out["keypoint_conf"][start + index, slot] = conf
            out["centre"][start + index, slot] = centres[:, :2]
            out["centre_conf"][start + index, slot] = centres[:, 2]
        return out


def checkpoint_dict(net: nn.Module, settings: TopDownSettings, keypoint_names, flip_idx, **metadata) -> dict:
    """What a checkpoint file holds (``torch.save`` it)."""
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return {"format": FORMAT, "version": VERSION, "settings": asdict(settings), "state_dict": state,
            "keypoint_names": list(keypoint_names), "flip_idx": [int(i) for i in flip_idx], "metadata": metadata}


def is_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a top-down checkpoint of ours (and not, e.g., an ultralytics ``.pt``)."""
    path = Path(path)
    if path.suffix != ".pt" or not path.is_file():
        return False
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # an ultralytics checkpoint pickles classes; weights_only refuses it
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT


def read_checkpoint(path: str | Path) -> dict:
    """The dict of a top-down checkpoint file, checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a top-down checkpoint at {path}, but got no such file")
    data = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"Expected a {FORMAT} checkpoint in {path} (field 'format'), but got "
                         f"{data.get('format') if isinstance(data, dict) else type(data).__name__}")
    if int(data.get("version", 0)) > VERSION:
        raise ValueError(f"Expected a {FORMAT} checkpoint of version <= {VERSION} in {path}, but got "
                         f"version {data.get('version')}")
    return data


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu") -> TopDownModel:
    """A :class:`TopDownModel` from a checkpoint file, in eval mode on ``device``."""
    data = read_checkpoint(path)
    settings = TopDownSettings(**data["settings"])
    net = TopDownNet(len(data["keypoint_names"]), settings)
    net.load_state_dict(data["state_dict"])
    net.to(device).eval()
    return TopDownModel(net, settings, tuple(data["keypoint_names"]), tuple(data["flip_idx"]), dict(data["metadata"]))
