"""The top-down recipe chosen from the labels: crop or whole frame, resolution, rotation, mirror pairs, views.

A recipe tuned on one rig (a freely turning mouse seen from above) fails on another (a head-fixed
mouse seen from the side and, through a mirror, from below). So before training, the labels are
looked at and every choice is made from them, printed in one block (:func:`describe`) and stored
with the model; each can be overridden by a setting:

- **mode**: ``crop`` (find each animal, cut a window around it) when the animals move about a
  frame larger than themselves; ``frame`` (one fixed window over everything ever labelled, no
  centroid network) when the labels stay in one place (a fixed rig), when cropping would save
  little, or when the image holds several views. A crop window is never larger than the frame.
- **resolution**: the input size is chosen so that the closest labelled parts (5th percentile of each
  frame's smallest part-to-part distance) lie ``min_cells`` heatmap cells apart, up to ``max_crop_size``.
- **rotation**: ± the 95th percentile of how far the labelled body axis (the most rigid long pair of
  parts) turns from its mean direction, plus 10 degrees; 180 when it turns freely (beyond 90).
- **left/right pairs**: from the skeleton's symmetries when the label file has them, else from names
  (left/right, L/R, LF/RF/LH/RH in any position, digits ignored as in ``paw1LH``/``paw4RH``). The mirror
  augmentation swaps them; it is off when no pairs are known and the labelled layout has a consistent
  handedness (a mirror image would be one the rig never shows).
- **views**: several views in one frame, from names (``_top``/``_bottom``, ``side``, ``view1``…) or two
  clusters of parts that stay far apart.

The same statistics give the identity checks (:func:`identity_problems`): two parts on one spot where
the labels never put them, or a left/right pair on the wrong sides of the body axis.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any, Optional, Sequence

import numpy as np

MODES = ("auto", "crop", "frame")
_VIEW_WORDS = ("top", "bottom", "side", "front", "below", "above", "mirror", "under", "ventral", "dorsal", "lateral")
_SIDES = (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT"))


@dataclass(frozen=True)
class Recipe:
    """What the labels decided (plain values: stored in checkpoints and reports).

    Attributes
    ----------
    mode
        ``crop`` or ``frame``.
    window
        Side of the square window cut from the frame, frame px.
    centre
        ``frame`` mode: the fixed window's centre (x, y, frame px); None in ``crop`` mode.
    crop_size, stride
        Network input side (px) and input px per heatmap cell.
    rotation
        Augmentation turn, ± degrees.
    flip
        Whether the mirror augmentation is on.
    flip_pairs
        Left/right pairs of keypoint names, swapped by the mirror.
    views
        Groups of keypoint names, one per view seen in the frame (one group: a single view).
    min_part_distance_px
        5th percentile of each labelled frame's smallest part-to-part distance, frame px.
    cells_between_parts
        That distance in heatmap cells at the chosen resolution.
    collapse_px
        ``[i, j, px]``: predicted parts i and j closer than px are on one spot (labels never are).
    side_checks
        ``[a, b, p, q, sign]``: the pair (a, b) lies with this sign of cross(q - p, b - a) in the labels.
    reasons
        Why each choice, one line each.
    """

    mode: str
    window: float
    centre: Optional[tuple[float, float]]
    crop_size: int
    stride: int
    rotation: float
    flip: bool
    flip_pairs: tuple[tuple[str, str], ...]
    views: tuple[tuple[str, ...], ...]
    min_part_distance_px: float
    cells_between_parts: float
    collapse_px: tuple[tuple[int, int, float], ...] = ()
    side_checks: tuple[tuple[int, int, int, int, int], ...] = ()
    reasons: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (what ``torch.load(weights_only=True)`` and JSON accept)."""
        out = asdict(self)
        for key in ("centre", "flip_pairs", "views", "collapse_px", "side_checks"):
            value = out[key]
            out[key] = None if value is None else [list(v) if isinstance(v, (tuple, list)) else v for v in value]
        return out


# --------------------------------------------------------------------------------------------------
# Left/right pairs


def _side_key(name: str) -> list[tuple[str, str]]:
    """(side, key) readings of ``name``: the side (``L`` or ``R``) and the name without it (and its digits)."""
    readings = []
    for left, right in _SIDES:
        for side, word in (("L", left), ("R", right)):
            if word in name:
                readings.append((side, name.replace(word, "\0", 1)))
    # L/R as a token: at a start or end, beside a separator, or before/after a case change (LHand, paw1LH, ear_L)
    for match in re.finditer(r"(?<![A-Z])([LR])(?=[FHA-Z_\-.\s0-9]|$)", name):
        start = match.start()
        before = name[start - 1] if start else ""
        if start and before.isalpha() and before.isupper():
            continue
        if not start or not before.isalpha() or before.islower():
            readings.append((match.group(1), name[:start] + "\0" + name[start + 1:]))
    return readings


def guess_pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Left/right pairs of keypoint names, by name.

    First exact counterparts (``leftear``/``rightear``, ``LHand``/``RHand``, ``paw_LF``/``paw_RF``); then,
    for names left without one, counterparts that differ only in digits too (``paw1LH``/``paw4RH``),
    when that reading is unique.

    Examples
    --------
    >>> guess_pairs(["snout", "leftear", "rightear", "tailbase"])
    [('leftear', 'rightear')]
    >>> guess_pairs(["paw1LH", "paw2LF", "paw3RF", "paw4RH", "nose"])
    [('paw1LH', 'paw4RH'), ('paw2LF', 'paw3RF')]
    """
    names = list(names)
    readings = {n: _side_key(n) for n in names}
    pairs: list[tuple[str, str]] = []
    used: set[str] = set()
    for strip_digits in (False, True):
        table: dict[tuple[str, str], list[str]] = {}
        for n in names:
            if n in used:
                continue
            for side, key in readings[n]:
                key = re.sub(r"\d+", "", key) if strip_digits else key
                table.setdefault((side, key), [])
                if n not in table[(side, key)]:
                    table[(side, key)].append(n)
        for (side, key), lefts in sorted(table.items()):
            if side != "L":
                continue
            rights = table.get(("R", key), [])
            if len(lefts) == 1 and len(rights) == 1 and lefts[0] not in used and rights[0] not in used \
                    and lefts[0] != rights[0]:
                pairs.append((lefts[0], rights[0]))
                used.update((lefts[0], rights[0]))
    return sorted(pairs, key=lambda p: names.index(p[0]))


def pairs_from_skeleton_symmetries(names: Sequence[str], symmetries) -> list[tuple[str, str]]:
    """Pairs from a label file's symmetries (SLEAP ``symmetries``, DLC's ``symmetric_pairs``): names or indices."""
    names = list(names)
    pairs = []
    for pair in symmetries or []:
        a, b = (names[int(v)] if isinstance(v, (int, np.integer)) else str(v) for v in pair)
        if a in names and b in names and a != b:
            pairs.append((a, b))
    return pairs


def parse_pairs(values: Sequence[str], names: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs given as ``"a:b"`` strings (the ``train.topdown.flip_pairs`` setting), checked against ``names``."""
    pairs = []
    for value in values:
        parts = str(value).split(":")
        if len(parts) != 2 or any(p not in names for p in parts):
            raise ValueError(f"Expected train.topdown.flip_pairs entries 'left:right' of keypoints {list(names)}, "
                             f"but got {value!r}")
        pairs.append((parts[0], parts[1]))
    return pairs


# --------------------------------------------------------------------------------------------------
# Statistics of the labels


def _pair_distances(points: np.ndarray) -> np.ndarray:
    """``(N, K, K)`` distances between parts in each animal, NaN where unlabelled or on the diagonal."""
    d = np.linalg.norm(points[:, :, None, :] - points[:, None, :, :], axis=-1)
    k = points.shape[1]
    d[:, np.arange(k), np.arange(k)] = np.nan
    return d


def _median_distances(points: np.ndarray) -> np.ndarray:
    """``(K, K)`` median labelled distance of each pair of parts (NaN: never labelled together)."""
    d = _pair_distances(points)
    k = points.shape[1]
    out = np.full((k, k), np.nan)
    for i in range(k):
        for j in range(k):
            values = d[:, i, j][np.isfinite(d[:, i, j])]
            if len(values):
                out[i, j] = np.median(values)
    return out


def closest_parts(points: np.ndarray, *, percentile: float = 5.0) -> float:
    """The ``percentile`` of each animal's smallest labelled part-to-part distance (px); inf with < 2 parts.

    Distances under 1 px (a part labelled twice on one spot) are left out.
    """
    d = _pair_distances(points)
    d = np.where(d < 1.0, np.nan, d)
    per_animal = np.array([np.nanmin(row) if np.isfinite(row).any() else np.nan for row in d])
    per_animal = per_animal[np.isfinite(per_animal)]
    return float(np.percentile(per_animal, percentile)) if len(per_animal) else math.inf


def body_axis(points: np.ndarray) -> Optional[tuple[int, int]]:
    """The most rigid long pair of parts: labelled together in half the animals or more, at least a
    quarter of the animals' median extent apart, with the least relative spread of its length."""
    d = _pair_distances(points)
    extents = [np.ptp(p[np.isfinite(p).all(axis=1)], axis=0).max() for p in points
               if np.isfinite(p).all(axis=1).sum() > 1]
    if not extents:
        return None
    best, best_cv = None, math.inf
    for i, j in combinations(range(points.shape[1]), 2):
        values = d[:, i, j][np.isfinite(d[:, i, j])]
        if len(values) < max(3, 0.5 * len(points)) or np.median(values) < 0.25 * np.median(extents):
            continue
        cv = float(np.std(values) / np.median(values))
        if cv < best_cv:
            best, best_cv = (i, j), cv
    return best


def turning(points: np.ndarray) -> float:
    """95th percentile of how far (degrees) the body axis (:func:`body_axis`) turns from its mean direction;
    180 when there is no axis or fewer than three animals show it."""
    axis = body_axis(points)
    if axis is None:
        return 180.0
    vector = points[:, axis[1]] - points[:, axis[0]]
    vector = vector[np.isfinite(vector).all(axis=1)]
    if len(vector) < 3:
        return 180.0
    angles = np.arctan2(vector[:, 1], vector[:, 0])
    mean = math.atan2(np.sin(angles).mean(), np.cos(angles).mean())
    deviation = np.degrees(np.abs((angles - mean + math.pi) % (2 * math.pi) - math.pi))
    return float(np.percentile(deviation, 95))


def _cross_sign(points: np.ndarray, a: int, b: int, p: int, q: int) -> np.ndarray:
    """Per animal the sign of cross(q - p, b - a) (NaN where a part is missing or the area is tiny)."""
    axis = points[:, q] - points[:, p]
    across = points[:, b] - points[:, a]
    cross = axis[:, 0] * across[:, 1] - axis[:, 1] * across[:, 0]
    scale = np.linalg.norm(axis, axis=1) * np.linalg.norm(across, axis=1)
    return np.where(np.abs(cross) > 0.05 * scale, np.sign(cross), np.nan)


def handedness(points: np.ndarray, parts: Sequence[int], *, agreement: float = 0.9, min_animals: int = 10
               ) -> Optional[tuple[int, int, int]]:
    """A triplet of ``parts`` whose turn (clockwise or not) is the same in ``agreement`` of the animals
    (a layout a mirror image never shows), or None."""
    for i, j, k in combinations(parts, 3):
        signs = _cross_sign(points, i, k, i, j)
        signs = signs[np.isfinite(signs)]
        if len(signs) >= min_animals and max((signs > 0).mean(), (signs < 0).mean()) >= agreement:
            return i, j, k
    return None


def _views_by_name(names: Sequence[str]) -> list[list[str]]:
    groups: dict[str, list[str]] = {}
    for n in names:
        low = n.lower()
        found = [w for w in _VIEW_WORDS if w in low] or re.findall(r"(?:view|cam|camera)_?\d+", low)
        groups.setdefault(found[0] if found else "", []).append(n)
    named = [g for key, g in groups.items() if key]
    if len(named) >= 2 and all(len(g) >= 2 for g in named):
        rest = groups.get("", [])
        return [g for g in named] + ([rest] if rest else [])
    return [list(names)]


def _views_by_layout(points: np.ndarray, names: Sequence[str]) -> list[list[str]]:
    """Two clusters of parts that stay far apart (farther than 3x either cluster's own spread), each >= 2 parts."""
    d = _median_distances(points)
    k = len(names)
    if k < 4 or not np.isfinite(d[~np.eye(k, dtype=bool)]).all():
        return [list(names)]
    # single-linkage: cut the longest edge of the minimum spanning tree
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    tree = minimum_spanning_tree(np.nan_to_num(d, nan=0.0)).toarray()
    longest = np.unravel_index(np.argmax(tree), tree.shape)
    cut = tree.copy()
    cut[longest] = 0.0
    n, labels = connected_components(cut, directed=False)
    if n != 2:
        return [list(names)]
    groups = [np.flatnonzero(labels == g) for g in range(2)]
    if min(len(g) for g in groups) < 2:
        return [list(names)]
    spread = max(np.nanmax(d[np.ix_(g, g)]) for g in groups)
    between = np.nanmin(d[np.ix_(groups[0], groups[1])])
    if between > 3 * spread:
        return [[names[i] for i in g] for g in groups]
    return [list(names)]


# --------------------------------------------------------------------------------------------------
# The choice


def _ceil16(value: float) -> int:
    return int(max(16, math.ceil(value / 16.0) * 16))


def choose_recipe(animals: Sequence[np.ndarray], frame_sizes: Sequence[tuple[int, int]], names: Sequence[str], *,
                  animals_per_frame: int = 1, symmetries=None, mode: str = "auto", window: float = 0.0,
                  crop_size: int = 0, stride: int = 2, margin: float = 0.2, rotation: Optional[float] = None,
                  flip: Optional[bool] = None, flip_pairs: Optional[Sequence[str]] = None, min_cells: float = 3.0,
                  max_crop_size: int = 256) -> Recipe:
    """Choose the top-down recipe from the training labels; settings that are given win.

    Parameters
    ----------
    animals
        Each labelled animal's parts ``(K, 2)``, frame px, NaN where unlabelled.
    frame_sizes
        ``(width, height)`` of every training frame, px.
    names
        The K keypoint names.
    animals_per_frame
        Most animals labelled in one frame (``frame`` mode needs one).
    symmetries
        Left/right pairs from the label file's skeleton (names or indices), if it has them.
    mode, window, crop_size, rotation, flip, flip_pairs
        Overrides (``auto``, 0 or None: chosen here). ``flip_pairs`` as ``"left:right"`` strings.
    stride, margin
        Heatmap stride; room around the animal (crop: ``margin`` of its extent on each side, the window is
        ``1 + 2 margin`` times it) or around the labels (frame: the window is ``1 + margin`` times their
        span, so ``margin / 2`` of it on each side).
    min_cells
        Heatmap cells wanted between the closest labelled parts.
    max_crop_size
        Largest input side chosen for the resolution (px, at least 64, the smallest it chooses; CPU time
        grows with its square).
    """
    if mode not in MODES:
        raise ValueError(f"Expected train.topdown.mode one of {MODES}, but got {mode!r}")
    if max_crop_size < 64:
        raise ValueError(f"Expected train.topdown.max_crop_size >= 64 px (the smallest input chosen), "
                         f"but got {max_crop_size}")
    names = list(names)
    points = np.asarray(np.stack([np.asarray(a, dtype=np.float64).reshape(len(names), 2) for a in animals]),
                        dtype=np.float64) if len(animals) else np.zeros((0, len(names), 2))
    if not len(points) or not np.isfinite(points).any():
        raise ValueError("Expected labelled animals in the train split to choose the recipe from, but got none")
    reasons: dict[str, str] = {}
    frame_w = max(w for w, _ in frame_sizes)
    frame_h = max(h for _, h in frame_sizes)
    short, long_ = min(frame_w, frame_h), max(frame_w, frame_h)

    # views
    views = _views_by_name(names)
    how = "names"
    if len(views) == 1:
        views, how = _views_by_layout(points, names), "layout (clusters of parts that stay apart)"
    reasons["views"] = (f"{len(views)} views from the {how}: " + " | ".join(",".join(v) for v in views)
                        if len(views) > 1 else "one view")

    # crop window from the animals' extents (margin on each side); the frame window from everything
    # labelled, its span times 1 + margin (margin / 2 on each side)
    extents = [np.ptp(p[np.isfinite(p).all(axis=1)], axis=0).max() for p in points if np.isfinite(p).all(axis=1).any()]
    crop_window = max(float(np.percentile(extents, 98)) * (1 + 2 * margin), 16.0)
    finite = points[np.isfinite(points).all(axis=2)]
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    union = float((hi - lo).max())
    frame_window = min(max(union * (1 + margin), 16.0), float(long_))
    frame_centre = tuple(float(v) for v in (lo + hi) / 2)
    if mode == "auto":
        if animals_per_frame > 1:
            mode, why = "crop", f"{animals_per_frame} animals in a frame"
        elif len(views) > 1:
            mode, why = "frame", f"{len(views)} views in one frame: one window holds them all"
        elif crop_window > short:
            mode, why = "frame", (f"an animal's window ({crop_window:.0f} px) would be larger than the frame's "
                                  f"short side ({short} px)")
        elif frame_window <= 1.5 * crop_window:
            mode, why = "frame", (f"the labels stay in one place: all of them fit {frame_window:.0f} px, "
                                  f"an animal's window is {crop_window:.0f} px")
        else:
            mode, why = "crop", (f"animals move about the frame: labels span {union:.0f} px, an animal "
                                 f"{crop_window:.0f} px with margin")
    else:
        why = "set"
    if mode == "frame" and animals_per_frame > 1:  # one fixed window, no centroid network: one animal
        raise ValueError(f"Expected one animal per frame for train.topdown.mode=frame, but got {animals_per_frame}")
    if mode == "crop":
        chosen_window = float(window) if window else min(crop_window, float(short))
        centre = None
    else:
        chosen_window = float(window) if window else frame_window
        centre = frame_centre
    reasons["mode"] = f"{mode}: {why}"
    reasons["window"] = ("set" if window else
                         "98th percentile of the animals' extent with margin, at most the frame's short side"
                         if mode == "crop" else "every labelled point with margin, at most the frame's long side")

    # resolution
    closest = closest_parts(points)
    if crop_size:
        size, why = int(crop_size), "set"
    elif math.isfinite(closest):
        wanted = chosen_window * min_cells * stride / closest
        size = min(_ceil16(wanted), max_crop_size, _ceil16(chosen_window))
        why = (f"closest parts {closest:.1f} px apart (5th percentile) -> {min_cells:g} cells need "
               f"{wanted:.0f} px" + (f", capped at {max_crop_size}" if wanted > max_crop_size else ""))
        size = max(size, 64)
    else:
        size, why = 128, "one part: 128 px"
    cells = closest * size / chosen_window / stride if math.isfinite(closest) else math.inf
    reasons["crop_size"] = f"{size} px ({cells:.1f} cells between the closest parts): {why}"

    # rotation
    if rotation is not None:
        turn, why = float(rotation), "set"
    else:
        spread = turning(points)
        turn = 180.0 if spread > 90 else float(min(180.0, math.ceil(spread + 10.0)))
        axis = body_axis(points)
        along = f"{names[axis[0]]}->{names[axis[1]]}" if axis else "no body axis"
        why = f"the body axis ({along}) turns up to {spread:.0f} deg (95th percentile) from its mean direction"
    reasons["rotation"] = f"+-{turn:g} deg: {why}"

    # left/right pairs and the mirror
    if flip_pairs is not None:
        pairs, why = parse_pairs(flip_pairs, names), "set"
    else:
        pairs = pairs_from_skeleton_symmetries(names, symmetries)
        why = "the label file's symmetries"
        if not pairs:
            pairs, why = guess_pairs(names), "names"
    reasons["flip_pairs"] = (", ".join(f"{a}<->{b}" for a, b in pairs) + f" (from {why})") if pairs else \
        f"none found (from {why})"
    index = {n: i for i, n in enumerate(names)}
    paired = {index[n] for p in pairs for n in p}
    unpaired = [i for i in range(len(names)) if i not in paired]
    chiral = handedness(points, unpaired)
    if flip is not None:
        use_flip, why = bool(flip), "set"
    elif pairs:
        use_flip, why = True, "mirror swaps the left/right pairs"
    elif chiral is not None:
        use_flip, why = False, (f"no left/right pairs and the layout has a handedness ("
                                f"{'/'.join(names[i] for i in chiral)} always turn the same way): a mirror image "
                                f"is one this rig never shows")
    else:
        use_flip, why = True, "no left/right pairs, and no handedness in the layout"
    reasons["flip"] = f"{'on' if use_flip else 'off'}: {why}"

    # identity checks: parts the labels keep apart, pairs on consistent sides of an axis
    d = _pair_distances(points)
    collapse = []
    for i, j in combinations(range(len(names)), 2):
        values = d[:, i, j][np.isfinite(d[:, i, j])]
        if len(values) >= 5 and np.percentile(values, 1) >= 4.0:
            collapse.append((i, j, round(float(0.5 * np.percentile(values, 1)), 2)))
    side_checks = []
    if unpaired and pairs:
        median = _median_distances(points)
        axis = max(((p, q) for p, q in combinations(unpaired, 2) if np.isfinite(median[p, q])),
                   key=lambda pq: median[pq], default=None)
        for a, b in pairs:
            if axis is None:
                break
            signs = _cross_sign(points, index[a], index[b], *axis)
            signs = signs[np.isfinite(signs)]
            if len(signs) >= 10 and max((signs > 0).mean(), (signs < 0).mean()) >= 0.95:
                side_checks.append((index[a], index[b], axis[0], axis[1], 1 if (signs > 0).mean() >= 0.95 else -1))
    return Recipe(mode=mode, window=round(chosen_window, 2), centre=centre, crop_size=int(size), stride=int(stride),
                  rotation=turn, flip=use_flip, flip_pairs=tuple(pairs), views=tuple(tuple(v) for v in views),
                  min_part_distance_px=round(closest, 2), cells_between_parts=round(cells, 2),
                  collapse_px=tuple(collapse), side_checks=tuple(side_checks), reasons=reasons)


def describe(recipe: Recipe) -> str:
    """The recipe as one printed block (one line per choice, with its reason)."""
    lines = ["deepbehavior train: recipe chosen from the labels (override with train.topdown.*):"]
    for key in ("mode", "window", "crop_size", "rotation", "flip_pairs", "flip", "views"):
        value = getattr(recipe, key) if key not in ("flip_pairs", "flip", "views") else ""
        shown = f"{value:.0f} px, " if key == "window" else ""
        lines.append(f"  {key:10s} {shown}{recipe.reasons.get(key, value)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Identities that collapse or swap


def identity_problems(pred: np.ndarray, recipe: dict | Recipe, names: Sequence[str], *,
                      truth: Optional[np.ndarray] = None, confidence: Optional[np.ndarray] = None,
                      min_confidence: float = 0.3) -> dict[str, Any]:
    """Frames where parts share one spot or a left/right pair swapped sides.

    Parameters
    ----------
    pred
        Predicted parts ``(N, K, 2)``, frame px (NaN: not found).
    recipe
        The model's recipe (:class:`Recipe` or its dict) for the thresholds and the body axis.
    truth
        Labelled parts ``(N, K, 2)``, when known: a pair counts as swapped when each predicted part is
        closer to the other's label than to its own. Parts not labelled are not checked.
    confidence
        ``(N, K)`` confidences of the predictions: parts below ``min_confidence`` are not checked
        (a part the model does not see is not a part it confused).

    Returns
    -------
    ``{"collapsed": {"a=b": frames}, "swapped": {"a<->b": frames}, "frames": N}`` (pairs with none left out).
    """
    r = recipe.to_dict() if isinstance(recipe, Recipe) else dict(recipe)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), len(names), 2).copy()
    if truth is not None:  # a part the labels do not show has no place to be wrong about
        truth = np.asarray(truth, dtype=np.float64).reshape(pred.shape)
        pred[~np.isfinite(truth)] = np.nan
    if confidence is not None:
        pred[~(np.asarray(confidence, dtype=np.float64).reshape(pred.shape[:2]) >= min_confidence)] = np.nan
    collapsed, swapped, on_one_spot = {}, {}, {}
    for i, j, px in r.get("collapse_px") or []:
        i, j = int(i), int(j)
        dist = np.linalg.norm(pred[:, i] - pred[:, j], axis=1)
        on_one_spot[(i, j)] = dist < float(px)
        n = int((dist < float(px)).sum())
        if n:
            collapsed[f"{names[i]}={names[j]}"] = n
    index = {n: i for i, n in enumerate(names)}
    if truth is not None:
        for a, b in r.get("flip_pairs") or []:
            i, j = index[a], index[b]
            own = np.linalg.norm(pred[:, i] - truth[:, i], axis=1), np.linalg.norm(pred[:, j] - truth[:, j], axis=1)
            other = np.linalg.norm(pred[:, i] - truth[:, j], axis=1), np.linalg.norm(pred[:, j] - truth[:, i], axis=1)
            n = int(((other[0] < own[0]) & (other[1] < own[1])).sum())
            if n:
                swapped[f"{a}<->{b}"] = n
    else:
        for a, b, p, q, sign in r.get("side_checks") or []:
            signs = _cross_sign(pred, int(a), int(b), int(p), int(q))
            spot = on_one_spot.get((min(int(a), int(b)), max(int(a), int(b))), np.zeros(len(pred), bool))
            n = int(((signs == -int(sign)) & ~spot).sum())  # parts on one spot have no sides
            if n:
                swapped[f"{names[int(a)]}<->{names[int(b)]}"] = n
    return {"collapsed": collapsed, "swapped": swapped, "frames": int(len(pred))}


def identity_summary(problems: dict[str, Any]) -> str:
    """One line for a console or a report ("" when nothing collapsed or swapped)."""
    parts = [f"{k} in {v} of {problems['frames']} frames" for k, v in problems["collapsed"].items()]
    parts += [f"{k} swapped in {v} of {problems['frames']} frames" for k, v in problems["swapped"].items()]
    return ("part identities: " + "; ".join(parts)) if parts else ""
