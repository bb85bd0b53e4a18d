"""Non-maximum suppression of a detection network's raw output, with one fixed order for equal scores.

ultralytics' own NMS takes torchvision's kernel when torchvision happens to be imported in the process,
and its own PyTorch loop otherwise; the two break ties between equal scores differently. Which one
ran therefore depended on what else the process had done (training imports torchvision, a fresh
inference worker does not), and the same frames gave other boxes in a Ray worker than in the job's
own process. Here the order is fixed: candidates by score, highest first, equal scores by their anchor
index (a stable sort), so a prediction depends on the network's output alone.

Where no two candidates tie, the boxes kept are those of ultralytics' NMS (``tests/unit/models/
test_nms.py`` compares them). Only ``max_det`` boxes are ever looked for: the greedy pass stops there,
where ultralytics suppresses every candidate and then truncates.
"""

from __future__ import annotations

import numpy as np

#: at most this many candidates (the most confident) enter the suppression, as in ultralytics
MAX_CANDIDATES = 30_000


def box_iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``x1 y1 x2 y2`` box (4,) with each of ``boxes`` (N, 4)."""
    top_left = np.maximum(box[:2], boxes[:, :2])
    bottom_right = np.minimum(box[2:], boxes[:, 2:])
    inter = (bottom_right - top_left).clip(min=0).prod(1)
    area = (box[2:] - box[:2]).prod()
    areas = (boxes[:, 2:] - boxes[:, :2]).prod(1)
    return inter / (area + areas - inter)


def greedy_keep(boxes: np.ndarray, classes: np.ndarray, iou: float, max_det: int) -> np.ndarray:
    """Rows of ``boxes`` (already in priority order) kept by greedy suppression within each class.

    A box is dropped when its IoU with a kept box of the same class is above ``iou``; the pass ends
    once ``max_det`` boxes are kept. NumPy on the host: each step is a few small array operations,
    where a tensor's would cost several times more (and a GPU's a synchronisation each).
    """
    kept = []
    rest = np.arange(len(boxes))
    while rest.size and len(kept) < max_det:
        first, rest = rest[0], rest[1:]
        kept.append(first)
        if rest.size and len(kept) < max_det:
            with np.errstate(invalid="ignore", divide="ignore"):  # two empty boxes: 0/0, not an overlap
                overlaps = box_iou_one_to_many(boxes[first], boxes[rest]) > iou
            rest = rest[~(overlaps & (classes[rest] == classes[first]))]
    return np.array(kept, dtype=np.int64)


def non_max_suppression(raw, conf: float, iou: float, max_det: int, *, nc: int = 0,
                        end2end: bool = False) -> list[np.ndarray]:
    """Detections per image from a YOLO head's output.

    Parameters
    ----------
    raw
        The network's output tensor: (batch, 4 + classes + extra, anchors) with centre-size boxes, or,
        for an end-to-end head, (batch, boxes, 6 + extra) already suppressed; a list or tuple gives its
        first item. It may be on a GPU: only the candidates above ``conf`` come to the host.
    conf, iou
        Scores at or below ``conf`` are dropped; a box overlapping a kept one of its class by more than
        ``iou`` is suppressed.
    max_det
        Boxes kept per image, most confident first.
    nc
        Number of classes (0: every channel after the box is a class score); channels after them
        (keypoints) are carried along.

    Returns
    -------
    one float32 array per image, rows ``x1 y1 x2 y2 score class extra...``.
    """
    if not 0 <= conf <= 1 or not 0 <= iou <= 1:
        raise ValueError(f"Expected conf and iou between 0 and 1, but got conf={conf}, iou={iou}")
    raw = raw[0] if isinstance(raw, (list, tuple)) else raw
    if end2end or raw.shape[-1] == 6:
        return [rows[rows[:, 4] > conf][:max_det].float().cpu().numpy() for rows in raw]
    nc = nc or raw.shape[1] - 4
    scores, classes = raw[:, 4:4 + nc].max(1)
    passing = scores > conf
    # on the host, the candidates alone: (image, anchor) pairs in anchor order, their rows, scores, classes
    image = passing.nonzero()[:, 0].cpu().numpy()
    rows = raw.transpose(1, 2)[passing].float().cpu().numpy()
    scores, classes = scores[passing].float().cpu().numpy(), classes[passing].cpu().numpy()
    bounds = np.searchsorted(image, np.arange(len(raw) + 1))
    out = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        order = start + np.argsort(-scores[start:stop], kind="stable")[:MAX_CANDIDATES]
        centre, size = rows[order, :2], rows[order, 2:4]
        boxes = np.concatenate((centre - size / 2, centre + size / 2), 1)
        keep = greedy_keep(boxes, classes[order], iou, max_det)
        chosen = order[keep]
        out.append(np.concatenate((boxes[keep], scores[chosen, None], classes[chosen, None].astype(np.float32),
                                   rows[chosen, 4 + nc:]), 1))
    return out
