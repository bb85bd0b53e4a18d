"""Labels as every label format reads and writes them: images, each with its instances.

A label reader returns a :class:`LabelSet`; a label writer takes one. The labelling project
(:mod:`deepbehavior.labeling`) turns its folder into a ``LabelSet`` and back, so that no file
format is parsed outside this package. An instance is ``{"class": int, "box": [x1, y1, x2, y2] |
None, "keypoints": [[x, y] | None, ...] | None}`` in pixels of its image, (0, 0) the top-left
corner of the top-left pixel (the box tools' convention; a dataset's is the pixel's centre, see
:mod:`deepbehavior.schema`, and :func:`labels_to_boxes` converts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import FRAME_MARGIN, MAX_PIXELS, fail, frame_bounds


@dataclass
class LabelledImage:
    """One labelled image: ``path`` (the file), ``width`` and ``height`` in pixels (None when not
    known yet), and its instances."""

    path: Path
    instances: list[dict]
    width: int | None = None
    height: int | None = None


@dataclass
class LabelSet:
    """The labels of a dataset: class names, keypoint names, skeleton (pairs of keypoint indices),
    the labelled images that exist, and what the dataset lists but lacks."""

    classes: list[str]
    keypoints: list[str] = field(default_factory=list)
    skeleton: list[list[int]] = field(default_factory=list)
    images: list[LabelledImage] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)
    labels_without_images: list[str] = field(default_factory=list)

    def check(self, source) -> LabelSet:
        """Raise a one-line error naming ``source`` and the field of the first impossible value.

        Class indices must name a class; coordinates must be finite and within the image (its
        ``width`` × ``height``, read from the image's header when not known yet) widened by
        :data:`~deepbehavior.formats._common.FRAME_MARGIN` of a side; keypoint lists as long as the
        keypoints. Class and keypoint names must be distinct and skeleton pairs name two keypoints
        (a project or an export built from them would fail later, far from the file).
        """
        for what, names in (("class names", self.classes), ("keypoint names", self.keypoints)):
            repeated = sorted({n for n in names if list(names).count(n) > 1})
            if repeated:
                raise fail(source, what, f"distinct {what}", f"{repeated[0]!r} more than once")
        for pair in self.skeleton:
            if len(pair) != 2 or not all(isinstance(k, int) and 0 <= k < len(self.keypoints) for k in pair):
                raise fail(source, "skeleton", f"pairs of keypoint indices in [0, {len(self.keypoints)})", pair)
        for image in self.images:
            if image.instances and (image.width is None or image.height is None):
                image.width, image.height = image_size(image.path)
            bounds = frame_bounds(image.width, image.height) if image.instances else None
            for i, inst in enumerate(image.instances):
                where = f"{image.path.name}, instance {i}"
                cls = inst.get("class")
                if isinstance(cls, bool) or not isinstance(cls, int) or not 0 <= cls < len(self.classes):
                    raise fail(source, f"{where}, class", f"a class index in [0, {len(self.classes)})", cls)
                values = list(inst["box"] or [])
                points = inst.get("keypoints")
                if points is not None:
                    if len(points) != len(self.keypoints):
                        raise fail(source, f"{where}, keypoints", f"{len(self.keypoints)} points", len(points))
                    values += [v for p in points if p is not None for v in p]
                for j, v in enumerate(values):
                    if not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > MAX_PIXELS:
                        raise fail(source, f"{where}, coordinates",
                                   f"finite pixel coordinates within ±{MAX_PIXELS:g}", v)
                    low, high = bounds[j % 2]  # boxes and points alternate x, y
                    if not low <= v <= high:
                        axis, side = ("x", image.width) if j % 2 == 0 else ("y", image.height)
                        raise fail(source, f"{where}, {axis} coordinate",
                                   f"values in [{low:g}, {high:g}] px (the image's {image.width}×{image.height} px, "
                                   f"{FRAME_MARGIN:.0%} of a side of margin)", v)
        return self


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image in pixels, from its header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return int(image.width), int(image.height)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise fail(path, "", "a readable image (PNG, JPEG or BMP)", f"{type(exc).__name__}: {exc}") from None
    except ImportError:
        # ultralytics, once imported, wraps PIL's Image.open process-wide: on a file PIL cannot
        # identify it looks for a HEIF plug-in and, without one, raises ImportError instead
        raise fail(path, "", "a readable image (PNG, JPEG or BMP)", "a file PIL cannot identify") from None


def find_listed(listed: str, root: Path) -> Path | None:
    """The existing file that ``listed`` (a path as a dataset writes it) refers to, if any.

    Datasets written for darknet name paths as darknet saw them (relative to its folder, e.g.
    ``data/img/x.jpg`` when the dataset is darknet's ``data/``), so a path is looked for in
    ``root``, its parent, ``root`` with the first component dropped, and ``root/img`` by name.
    """
    p = Path(listed.strip())
    candidates = [p] if p.is_absolute() else [root / p, root.parent / p]
    if not p.is_absolute() and len(p.parts) > 1:
        candidates.append(root.joinpath(*p.parts[1:]))
    candidates += [root / "img" / p.name, root / p.name]
    return next((c for c in candidates if c.is_file()), None)


def labels_to_boxes(labels: LabelSet, *, fps: float, source_software: str) -> xr.Dataset:
    """A boxes dataset over the labelled images (frame = image index), one slot per box of the
    image with most boxes; confidence 1 where a box, NaN elsewhere. Centres move from the labels'
    corner origin to the data model's pixel-centre origin."""
    n_slots = max([1] + [sum(i["box"] is not None for i in image.instances) for image in labels.images])
    n = len(labels.images)
    centre, shape = np.full((n, 2, n_slots), np.nan), np.full((n, 2, n_slots), np.nan)
    cls = np.full((n, n_slots), np.nan)
    for t, image in enumerate(labels.images):
        boxes = [(i["class"], i["box"]) for i in image.instances if i["box"] is not None]
        for k, (c, (x1, y1, x2, y2)) in enumerate(boxes):
            centre[t, :, k] = ((x1 + x2) / 2, (y1 + y2) / 2)
            shape[t, :, k] = (abs(x2 - x1), abs(y2 - y1))
            cls[t, k] = c
    return schema.make_boxes(schema.from_corner_origin(centre), shape, None, cls, fps=fps, class_names=labels.classes,
                             source_software=source_software, individuals_are=schema.SLOTS)
