"""Keypoint accuracy in pixels: predictions matched to ground truth by box IoU.

mAP over OKS (what ultralytics reports for pose) is hard to read for a behaviour lab; the error of
each body part in pixels and the fraction within a tolerance (PCK) are what DeepLabCut-style papers
report. These functions do the matching and scoring on plain arrays.
"""

from __future__ import annotations

import numpy as np


def box_iou(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union of boxes ``(N, 4)`` and ``(M, 4)`` (x1, y1, x2, y2) → ``(N, M)``."""
    a = np.asarray(boxes_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_by_iou(true_boxes: np.ndarray, pred_boxes: np.ndarray, pred_conf: np.ndarray, *,
                 min_iou: float = 0.5) -> np.ndarray:
    """Greedy one-to-one matching, most confident prediction first.

    Parameters
    ----------
    true_boxes
        ``(N, 4)`` ground-truth boxes x1, y1, x2, y2 in pixels.
    pred_boxes, pred_conf
        ``(M, 4)`` predicted boxes in pixels and their ``(M,)`` confidences.
    min_iou
        Lowest IoU that counts as a match.

    Returns
    -------
    ``(N,)`` int array: the index of the prediction matched to each true box, or -1.
    """
    iou = box_iou(true_boxes, pred_boxes)
    matched = np.full(iou.shape[0], -1, dtype=np.int64)
    for j in np.argsort(-np.asarray(pred_conf, dtype=np.float64), kind="stable"):
        if iou.shape[0] == 0:
            break
        candidates = np.where((matched < 0) & (iou[:, j] >= min_iou), iou[:, j], -1.0)
        i = int(np.argmax(candidates))
        if candidates[i] >= 0:
            matched[i] = j
    return matched


def keypoint_errors(true_boxes: np.ndarray, true_keypoints: np.ndarray, true_visible: np.ndarray,
                    pred_boxes: np.ndarray, pred_keypoints: np.ndarray, pred_conf: np.ndarray, *,
                    min_iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Distance in pixels from each visible true keypoint to its prediction, in one image.

    Parameters
    ----------
    true_boxes, true_keypoints, true_visible
        ``(N, 4)`` boxes, ``(N, K, 2)`` keypoints (x, y pixels) and ``(N, K)`` visibility (bool).
    pred_boxes, pred_keypoints, pred_conf
        ``(M, 4)`` boxes, ``(M, K, 2)`` keypoints and ``(M,)`` confidences of the predictions.
    min_iou
        Lowest box IoU that matches a prediction to a true object.

    Returns
    -------
    errors
        ``(N, K)`` float pixels; NaN where the keypoint is not visible; ``inf`` where the object was
        not detected (so a missed object counts as wrong in PCK).
    scale
        ``(N,)`` the longer side of each true box, pixels (the reference length of PCK).
    """
    true_keypoints = np.asarray(true_keypoints, dtype=np.float64)
    true_boxes = np.asarray(true_boxes, dtype=np.float64).reshape(-1, 4)
    n, k = true_keypoints.shape[:2]
    matched = match_by_iou(true_boxes, pred_boxes, pred_conf, min_iou=min_iou)
    errors = np.full((n, k), np.inf)
    pred_keypoints = np.asarray(pred_keypoints, dtype=np.float64).reshape(-1, k, 2)
    for i, j in enumerate(matched):
        if j >= 0:
            errors[i] = np.linalg.norm(pred_keypoints[j] - true_keypoints[i], axis=-1)
    errors[~np.asarray(true_visible, dtype=bool)] = np.nan
    scale = (true_boxes[:, 2:] - true_boxes[:, :2]).max(axis=1) if n else np.zeros(0)
    return errors, scale


def summarize_keypoint_errors(errors: np.ndarray, scale: np.ndarray, *, pck_threshold: float = 0.1) -> dict[str, float]:
    """Mean error (pixels, detected objects only), PCK and detection rate over many objects.

    Parameters
    ----------
    errors
        ``(N, K)`` as returned by :func:`keypoint_errors`, stacked over images.
    scale
        ``(N,)`` reference lengths, pixels.
    pck_threshold
        A keypoint is correct when its error is below ``pck_threshold * scale``.

    Returns
    -------
    dict with ``kpt_error_px`` (mean over visible keypoints of detected objects), ``kpt_median_px``,
    ``pck`` (fraction of all visible keypoints that are correct, misses counting as wrong) and
    ``kpt_detected`` (fraction of visible keypoints whose object was detected). NaN when empty.
    """
    errors = np.asarray(errors, dtype=np.float64)
    visible = ~np.isnan(errors)
    found = np.isfinite(errors)
    if not visible.any():
        return {"kpt_error_px": float("nan"), "kpt_median_px": float("nan"), "pck": float("nan"),
                "kpt_detected": float("nan")}
    limit = pck_threshold * np.asarray(scale, dtype=np.float64)[:, None]
    correct = found & (np.where(found, errors, 0) < limit)
    return {
        "kpt_error_px": float(errors[found].mean()) if found.any() else float("nan"),
        "kpt_median_px": float(np.median(errors[found])) if found.any() else float("nan"),
        "pck": float(correct.sum() / visible.sum()),
        "kpt_detected": float(found.sum() / visible.sum()),
    }


def animal_size(points: np.ndarray) -> float:
    """Longer side (pixels) of the box around an animal's finite labelled points ``(K, 2)``; NaN when none.

    The reference length of PCK for keypoint-only labels (DeepLabCut-style projects have no boxes).
    """
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    p = p[np.isfinite(p).all(axis=1)]
    return float((p.max(axis=0) - p.min(axis=0)).max()) if len(p) else float("nan")


def errors_by_centre(true_points: np.ndarray, pred_points: np.ndarray, *, pred_centres: np.ndarray | None = None,
                     max_distance: float | None = None, min_distance: float = 16.0) -> np.ndarray:
    """Distance in pixels from each true keypoint to its prediction, animals matched by their centres.

    Parameters
    ----------
    true_points
        ``(N, K, 2)`` labelled keypoints of one image (x, y pixels), NaN where not labelled.
    pred_points
        ``(M, K, 2)`` predicted keypoints of the same image; rows that are all NaN are empty slots.
    pred_centres
        ``(M, 2)`` where the model found each animal (e.g. a top-down model's centroid), pixels;
        default the centre of the box around its predicted points.
    max_distance
        Largest distance (pixels) between the centres of the boxes around the true and the predicted
        points for a match; default half the true animal's size (:func:`animal_size`).

    Returns
    -------
    ``(N, K)`` float pixels: NaN where not labelled, ``inf`` where the animal was not found (as
    :func:`keypoint_errors`, so :func:`summarize_keypoint_errors` applies). Matching is greedy,
    closest pair first, one to one.
    """
    true_points = np.asarray(true_points, dtype=np.float64)
    pred_points = np.asarray(pred_points, dtype=np.float64)
    n, k = true_points.shape[:2]
    errors = np.full((n, k), np.inf)

    def centre(p):
        p = p[np.isfinite(p).all(axis=1)]
        return (p.min(axis=0) + p.max(axis=0)) / 2 if len(p) else np.full(2, np.nan)

    kept = [j for j in range(len(pred_points)) if np.isfinite(pred_points[j]).any()]
    if n and kept:
        tc = np.array([centre(p) for p in true_points])
        pc = np.array([centre(pred_points[j]) if pred_centres is None else np.asarray(pred_centres[j], float)
                       for j in kept])
        distance = np.linalg.norm(tc[:, None] - pc[None], axis=-1)
        limits = np.array([max_distance if max_distance is not None else max(animal_size(p) / 2, min_distance)
                           for p in true_points])
        distance = np.where(np.isfinite(distance) & (distance <= limits[:, None]), distance, np.inf)
        while np.isfinite(distance).any():
            i, jj = np.unravel_index(np.argmin(distance), distance.shape)
            errors[i] = np.linalg.norm(pred_points[kept[jj]] - true_points[i], axis=-1)
            errors[i][~np.isfinite(errors[i])] = np.inf  # a part the model left empty counts as missed
            distance[i, :] = np.inf
            distance[:, jj] = np.inf
    errors[~np.isfinite(true_points).all(axis=-1)] = np.nan
    return errors
