"""A compact heatmap network for keypoints, its training targets and sub-pixel decoding.

The network is a small U-Net: four stride-2 stages of two 3x3 convolutions (batch norm, ReLU) down
to 1/16 of the input, then upsampling with skip connections back to 1/``stride`` (2 by default),
where a 1x1 convolution gives one heatmap per keypoint. It has about 0.5 M parameters at
``width=16``, so it trains on a CPU in minutes from a hundred labelled crops; no pretrained weights
are needed. Targets are Gaussians of ``sigma`` heatmap pixels at the keypoints; decoding takes the
arg-max and refines it to sub-pixel precision with the log-Gaussian (quadratic) fit through the peak
and its neighbours along x and y.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def _block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class HeatmapNet(nn.Module):
    """Image ``(N, 3, H, W)`` (float) → heatmap logits ``(N, K, H / stride, W / stride)`` (sigmoid: 0..1).

    ``H`` and ``W`` must be multiples of 16. ``stride`` is 1, 2 or 4.
    """

    def __init__(self, n_keypoints: int, *, width: int = 16, stride: int = 2):
        super().__init__()
        if stride not in (1, 2, 4):
            raise ValueError(f"Expected a heatmap stride of 1, 2 or 4, but got {stride}")
        self.n_keypoints, self.width, self.stride = int(n_keypoints), int(width), int(stride)
        c = [3, width, width * 2, width * 4, width * 8]
        self.down = nn.ModuleList([_block(c[i], c[i + 1], 2) for i in range(4)])  # 1/2 … 1/16
        self.bottom = _block(c[4], c[4], 1)
        n_up = 4 - {1: 0, 2: 1, 4: 2}[stride]
        self.up = nn.ModuleList()
        channels = c[4]
        for level in range(n_up):
            skip = c[3 - level] if 3 - level >= 1 else 3
            out = max(c[3 - level], width) if 3 - level >= 1 else width
            self.up.append(_block(channels + skip, out, 1))
            channels = out
        self.head = nn.Conv2d(channels, n_keypoints, 1)
        # logits: start every pixel at probability ~0.02, the share of "on" pixels, not at 0.5
        nn.init.constant_(self.head.bias, -4.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for block in self.down:
            x = block(x)
            skips.append(x)
        x = self.bottom(x)
        for level, block in enumerate(self.up):
            skip = skips[3 - level]
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return self.head(x)


def render_targets(points: np.ndarray, visible: np.ndarray, *, shape: tuple[int, int], stride: int,
                   sigma: float) -> np.ndarray:
    """Gaussian target heatmaps ``(K, h, w)`` float32 for points ``(K, 2)`` in input pixels.

    Heatmap pixel ``(i, j)`` covers input pixels around ``x = j * stride + (stride - 1) / 2``; a
    point not ``visible`` (or outside) gives an all-zero map. ``sigma`` is in heatmap pixels.
    """
    h, w = shape
    ys = np.arange(h, dtype=np.float32)[:, None]
    xs = np.arange(w, dtype=np.float32)[None, :]
    out = np.zeros((len(points), h, w), dtype=np.float32)
    for k, ((x, y), seen) in enumerate(zip(points, visible)):
        if not seen or not np.isfinite([x, y]).all():
            continue
        hx, hy = to_heatmap(x, stride), to_heatmap(y, stride)
        out[k] = np.exp(-((xs - hx) ** 2 + (ys - hy) ** 2) / (2 * sigma**2))
    return out


def to_heatmap(value, stride: int):
    """Input pixel coordinate → heatmap pixel coordinate (pixel centres at integers in both)."""
    return (np.asarray(value, dtype=np.float64) - (stride - 1) / 2.0) / stride


def from_heatmap(value, stride: int):
    """Heatmap pixel coordinate → input pixel coordinate (the inverse of :func:`to_heatmap`)."""
    return np.asarray(value, dtype=np.float64) * stride + (stride - 1) / 2.0


def decode(heatmaps: np.ndarray, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel peaks of heatmaps ``(..., h, w)``: points ``(..., 2)`` in input pixels and peak values ``(...)``.

    The arg-max is refined along x and y separately by the vertex of the parabola through the log
    of the peak and its two neighbours (exact for a Gaussian), clipped to half a pixel.
    """
    maps = np.asarray(heatmaps, dtype=np.float64)
    lead, (h, w) = maps.shape[:-2], maps.shape[-2:]
    flat = maps.reshape(-1, h, w)
    index = flat.reshape(len(flat), -1).argmax(axis=1)
    py, px = np.divmod(index, w)
    rows = np.arange(len(flat))
    peak = flat[rows, py, px]
    eps = 1e-6

    def refine(centre, before, after, ok):
        lc, lb, la = (np.log(np.clip(v, eps, None)) for v in (centre, before, after))
        curvature = lb - 2 * lc + la
        shift = np.where(ok & (curvature < -eps), 0.5 * (lb - la) / np.where(curvature < -eps, curvature, -1.0), 0.0)
        return np.clip(shift, -0.5, 0.5)

    okx = (px > 0) & (px < w - 1)
    oky = (py > 0) & (py < h - 1)
    dx = refine(peak, flat[rows, py, np.clip(px - 1, 0, w - 1)], flat[rows, py, np.clip(px + 1, 0, w - 1)], okx)
    dy = refine(peak, flat[rows, np.clip(py - 1, 0, h - 1), px], flat[rows, np.clip(py + 1, 0, h - 1), px], oky)
    points = np.stack([from_heatmap(px + dx, stride), from_heatmap(py + dy, stride)], axis=-1)
    return points.reshape(*lead, 2), peak.reshape(lead)


def find_peaks(heatmap: np.ndarray, *, threshold: float, max_peaks: int, min_distance: int = 2) -> np.ndarray:
    """Local maxima of one heatmap ``(h, w)`` above ``threshold``, highest first: ``(n, 3)`` rows x, y, value
    in heatmap pixels (integer positions refined by :func:`decode`'s parabola on a 3x3 window)."""
    maps = torch.as_tensor(np.asarray(heatmap, dtype=np.float32))[None, None]
    size = 2 * min_distance + 1
    pooled = F.max_pool2d(maps, size, stride=1, padding=min_distance)[0, 0].numpy()
    maps = maps[0, 0].numpy()
    ys, xs = np.nonzero((maps == pooled) & (maps >= threshold))
    order = np.argsort(-maps[ys, xs], kind="stable")[:max_peaks]
    rows = []
    h, w = maps.shape
    for y, x in zip(ys[order], xs[order]):
        window = np.zeros((3, 3), dtype=np.float64)
        y0, x0 = max(y - 1, 0), max(x - 1, 0)
        patch = maps[y0:y + 2, x0:x + 2]
        window[y0 - (y - 1):y0 - (y - 1) + patch.shape[0], x0 - (x - 1):x0 - (x - 1) + patch.shape[1]] = patch
        (sx, sy), value = decode(window, 1)
        rows.append((x - 1 + sx, y - 1 + sy, maps[y, x]))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)
