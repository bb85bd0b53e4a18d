"""The quality report of a tracked video: every frame a person should look at, and why."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import xarray as xr

from .. import schema
from .layout import frame_numbers, individuals_dim, points, view_names

EVENTS = ("swap", "extra", "duplicate", "reacquired", "jump", "merge", "missing", "parts_collapsed", "parts_swapped")
COLUMNS = ["view", "time", "event", "individual", "value"]


def _pose_steps(track: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one identity's (time, keypoints, space) poses: the frames of consecutive seen pairs
    (later frame, frames between them) and how far the body moved: the length of the mean
    displacement over keypoints seen in both (a dropped keypoint or a head-tail flip hardly
    changes it), or the centroid distance when they share none."""
    seen = np.flatnonzero(np.isfinite(track).all(-1).any(-1))
    if seen.size < 2:
        return np.array([], int), np.array([], int), np.array([])
    a, b = track[seen[:-1]], track[seen[1:]]
    diff = b - a
    ok = np.isfinite(diff).all(-1)
    mean = np.where(ok[..., None], diff, 0).sum(-2) / np.maximum(ok.sum(-1), 1)[:, None]
    move = np.linalg.norm(mean, axis=-1)
    none = ~ok.any(-1)
    if none.any():
        move[none] = np.linalg.norm(np.nanmean(b[none], axis=1) - np.nanmean(a[none], axis=1), axis=-1)
    return seen[1:], np.diff(seen), move


def part_checks(ds: xr.Dataset) -> dict:
    """The keypoint model's identity checks kept in the store (``attrs["model"]["part_checks"]``, written
    by the top-down backend from its training labels), or ``{}``."""
    model = ds.attrs.get("model")
    checks = model.get("part_checks") if isinstance(model, dict) else None
    return checks if isinstance(checks, dict) else {}


def _part_events(track: np.ndarray, checks: dict, names: list[str], keypoints: list[str], view: str,
                 frames: np.ndarray) -> list[tuple]:
    """``parts_collapsed`` (two parts of one animal closer than its labels ever put them) and
    ``parts_swapped`` (a left/right pair on the wrong side of the body axis) rows of one view."""
    if list(checks.get("keypoints") or []) != keypoints or track.shape[-2] != len(keypoints):
        return []
    rows = []
    for i, name in enumerate(names):
        body = track[:, i]
        collapsed = {}
        for a, b, px in checks.get("collapse_px") or []:
            d = np.linalg.norm(body[:, int(a)] - body[:, int(b)], axis=-1)
            collapsed[(int(a), int(b))] = d < float(px)
            rows += [(view, frames[t], "parts_collapsed", name, d[t]) for t in np.flatnonzero(d < float(px))]
        for a, b, p, q, sign in checks.get("side_checks") or []:
            axis, across = body[:, int(q)] - body[:, int(p)], body[:, int(b)] - body[:, int(a)]
            cross = axis[:, 0] * across[:, 1] - axis[:, 1] * across[:, 0]
            scale = np.linalg.norm(axis, axis=-1) * np.linalg.norm(across, axis=-1)
            wrong = np.abs(cross) > 0.05 * scale
            wrong &= np.sign(cross) == -int(sign)
            # parts on one spot have no sides
            wrong &= ~collapsed.get((min(int(a), int(b)), max(int(a), int(b))), np.zeros(len(body), bool))
            rows += [(view, frames[t], "parts_swapped", name, np.nan) for t in np.flatnonzero(wrong)]
    return rows


def quality_report(ds: xr.Dataset, *, merge_distance: float, max_jump: float | None = None) -> pd.DataFrame:
    """Frames that need a look, one row per event.

    Events: ``swap`` (the repair exchanged labels from this frame; value: the evidence, in
    log-likelihood units), ``extra`` and ``duplicate`` (a detection no identity holds; individual:
    its slot), ``reacquired`` (an identity took a detection outside its motion gate after being
    lost), ``jump`` (an identity moved farther between two of its observations than ``max_jump``
    per frame between them allows, gaps included; value: the move in pixels, the length of the
    mean displacement of the keypoints seen in both), ``merge`` (two identities closer than
    ``merge_distance``, mean distance over the keypoints seen in both), ``missing`` (an
    identity unseen in a frame), and where the keypoint model left its checks in the store
    (:func:`part_checks`): ``parts_collapsed`` (two of an identity's parts closer than the training
    labels ever put them; value: the distance) and ``parts_swapped`` (a left/right pair on the wrong
    side of the body axis).

    Parameters
    ----------
    ds
        Dataset with identities (output of :func:`~deepbehavior.tracking.track_session`).
    merge_distance, max_jump
        Pixels; no jump check when ``max_jump`` is ``None``.

    Returns
    -------
    pandas.DataFrame
        Columns ``view``, ``time`` (frame number), ``event``, ``individual`` (one name, or two
        joined by ``"|"``) and ``value``, sorted by view and frame.
    """
    if ds.attrs.get("individuals_are") != schema.IDENTITIES:
        raise ValueError(f"Expected attrs['individuals_are'] == '{schema.IDENTITIES}', but got "
                         f"{ds.attrs.get('individuals_are')!r}")
    names = [str(n) for n in ds[individuals_dim(ds)].values]
    frames = frame_numbers(ds)
    events = ds.attrs.get("track_events", {})
    checks = part_checks(ds)
    keypoints = [str(k) for k in ds["keypoints"].values] if "keypoints" in ds.coords else []
    rows: list[tuple] = []
    for v, view in enumerate(view_names(ds)):
        track = np.concatenate([b for _, b in points(ds, v)])  # (time, identity, keypoints, space)
        seen = np.isfinite(track).all(-1).any(-1)
        if checks:
            rows += _part_events(track, checks, names, keypoints, view, frames)
        for i, name in enumerate(names):
            rows += [(view, frames[t], "missing", name, np.nan) for t in np.flatnonzero(~seen[:, i])]
            if max_jump is not None:
                when, gap, move = _pose_steps(track[:, i])
                bad = move > max_jump * gap
                rows += [(view, frames[t], "jump", name, m) for t, m in zip(when[bad], move[bad])]
        for a, b in itertools.combinations(range(len(names)), 2):
            d = np.linalg.norm(track[:, a] - track[:, b], axis=-1)
            ok = np.isfinite(d)
            mean = np.where(ok.any(-1), np.where(ok, d, 0).sum(-1) / np.maximum(ok.sum(-1), 1), np.inf)
            rows += [(view, frames[t], "merge", f"{names[a]}|{names[b]}", mean[t])
                     for t in np.flatnonzero(mean < merge_distance)]
        decided = events.get(view, {})
        if not decided and ds.attrs.get("swap_frames"):  # stores tracked before the events were kept
            decided = {"swap": [[t, np.nan] for t in ds.attrs["swap_frames"].get(view, [])]}
        rows += [(view, int(t), "swap", "|".join(names), g) for t, g in decided.get("swap", [])]
        for kind in ("extra", "duplicate"):
            rows += [(view, int(t), kind, f"slot{s}", np.nan) for t, s in decided.get(kind, [])]
        rows += [(view, int(t), "reacquired", names[i], np.nan) for t, i in decided.get("reacquired", [])]
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["value"] = table["value"].astype(float)
    return table.sort_values(["view", "time", "event"], kind="stable").reset_index(drop=True)


def summarize_quality(report: pd.DataFrame, *, frames: int, swaps_repaired: int) -> dict[str, int]:
    """Counts of a :func:`quality_report` table, for a cohort summary.

    Returns
    -------
    dict
        ``frames``, ``swaps_repaired``, and for each event ``<event>_frames``: the number of
        distinct (view, frame) pairs with that event.
    """
    summary = {"frames": int(frames), "swaps_repaired": int(swaps_repaired)}
    for event in EVENTS:
        rows = report[report["event"] == event]
        summary[f"{event}_frames"] = int(len(rows[["view", "time"]].drop_duplicates()))
    return summary
