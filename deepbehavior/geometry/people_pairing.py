"""Which person in one camera is which in the other: pairing tracked people across two views.

Each camera's tracker numbers people on its own, so before triangulating, the two views' people
are paired by geometric agreement: for every (person in view A, person in view B) the points both
views see, over the frames both are seen, are triangulated and reprojected, and the pair's cost is
the median reprojection error (pixels). A person in A and a different person in B give no 3D point
that projects near both; the same person does. Pairs are chosen by the Hungarian assignment, and a
pair whose error is above ``max_error`` is not a pair (that person is in one view only).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .triangulation import triangulate_points


def pairing_costs(tracks_a: np.ndarray, tracks_b: np.ndarray, group, *, min_points: int = 10,
                  max_frames: int = 200) -> np.ndarray:
    """``(people A, people B)`` median reprojection error (pixels) of triangulating each pair; inf
    where they share fewer than ``min_points`` (frame, keypoint) observations.

    Parameters
    ----------
    tracks_a, tracks_b
        ``(time, identity, keypoint, 2)`` tracked pixels of the two cameras of ``group`` (in its order).
    max_frames
        At most this many frames, evenly spread, are used per pair (the cost is a median).
    """
    tracks_a, tracks_b = np.asarray(tracks_a, float), np.asarray(tracks_b, float)
    if tracks_a.ndim != 4 or tracks_b.ndim != 4 or tracks_a.shape[0] != tracks_b.shape[0] \
            or tracks_a.shape[2:] != tracks_b.shape[2:]:
        raise ValueError(f"Expected two (time, identity, keypoint, 2) arrays of the same time and keypoints, "
                         f"but got {tracks_a.shape} and {tracks_b.shape}")
    if len(group) != 2:
        raise ValueError(f"Expected a group of 2 cameras, but got {len(group)}")
    costs = np.full((tracks_a.shape[1], tracks_b.shape[1]), np.inf)
    for i in range(tracks_a.shape[1]):
        for j in range(tracks_b.shape[1]):
            both = np.isfinite(tracks_a[:, i]).all(-1) & np.isfinite(tracks_b[:, j]).all(-1)  # (time, keypoint)
            frames = np.flatnonzero(both.any(-1))
            if both.sum() < min_points:
                continue
            frames = frames[np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).astype(int)]
            pixels = np.stack([tracks_a[frames, i], tracks_b[frames, j]])  # (2, frames, keypoint, 2)
            pixels[:, ~both[frames]] = np.nan
            world = triangulate_points(group, pixels)
            error = group.reprojection_error(world, pixels)
            costs[i, j] = float(np.nanmedian(error))
    return costs


def pair_people(tracks_a: np.ndarray, tracks_b: np.ndarray, group, *, max_error: float = 15.0,
                min_points: int = 10) -> list[tuple[int, int, float]]:
    """``[(identity in A, identity in B, median reprojection error px), ...]`` of the people seen by both
    cameras; see :func:`pairing_costs`. Pairs above ``max_error`` pixels are left out."""
    costs = pairing_costs(tracks_a, tracks_b, group, min_points=min_points)
    finite = np.where(np.isfinite(costs), costs, 1e9)
    rows, cols = linear_sum_assignment(finite)
    return [(int(i), int(j), float(costs[i, j])) for i, j in zip(rows, cols) if costs[i, j] <= max_error]


def triangulate_pairs(tracks_a: np.ndarray, tracks_b: np.ndarray, group,
                      pairs: list[tuple[int, int, float]]) -> np.ndarray:
    """``(time, pair, keypoint, 3)`` world points of each pair from :func:`pair_people` (NaN where a
    point is not seen by both cameras)."""
    out = []
    for i, j, _ in pairs:
        pixels = np.stack([tracks_a[:, i], tracks_b[:, j]]).astype(float)
        out.append(triangulate_points(group, pixels))
    if not out:
        return np.zeros((tracks_a.shape[0], 0, tracks_a.shape[2], 3))
    return np.stack(out, axis=1)


#: Keypoints that mark the OpenPose human layout (geometry does not import the models' layout table).
OPENPOSE_MARKERS = ("Nose", "Neck", "MidHip", "LHandWrist", "RHandWrist")


#: Frames paired at a time when no block is given: the (time, people A, people B, keypoint, 2) arrays of
#: a block stay small whatever the length of the recording.
BLOCK_FRAMES = 4096


def frame_pairs(pixels_a: np.ndarray, pixels_b: np.ndarray, group, *, max_error: float = 15.0,
                min_points: int = 6, block: int | None = BLOCK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Pair people frame by frame: ``(time, people A)`` the person of B paired with each of A (-1: none)
    and ``(time, people A)`` that pair's median reprojection error (pixels, NaN when unpaired).

    Parameters
    ----------
    pixels_a, pixels_b
        ``(time, people, keypoint, 2)`` of the two cameras of ``group``, NaN where missing.
    max_error
        Pairs whose median reprojection error over their shared points is above this are not pairs.
    min_points
        Fewest points both views see for a pair to be considered.
    block
        Frames paired at a time (None: all at once). Each frame is paired on its own, so the result
        does not depend on it; it bounds the memory of the per-pair arrays.
    """
    pixels_a, pixels_b = np.asarray(pixels_a, float), np.asarray(pixels_b, float)
    if pixels_a.shape[0] != pixels_b.shape[0]:
        raise ValueError(f"Expected two views with the same number of frames, but got "
                         f"{pixels_a.shape[0]} and {pixels_b.shape[0]}")
    if block is not None and block < 1:
        raise ValueError(f"Expected block >= 1 frames, but got {block}")
    n_time = pixels_a.shape[0]
    step = n_time if block is None else int(block)
    if n_time <= step:
        return _frame_pairs_block(pixels_a, pixels_b, group, max_error=max_error, min_points=min_points)
    parts = [_frame_pairs_block(pixels_a[start:start + step], pixels_b[start:start + step], group,
                                max_error=max_error, min_points=min_points)
             for start in range(0, n_time, step)]
    return np.concatenate([p for p, _ in parts]), np.concatenate([e for _, e in parts])


def _frame_pairs_block(pixels_a: np.ndarray, pixels_b: np.ndarray, group, *, max_error: float,
                       min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`frame_pairs` of frames held in memory at once."""
    n_time, n_a, n_k = pixels_a.shape[:3]
    n_b = pixels_b.shape[1]
    both = (np.isfinite(pixels_a).all(-1)[:, :, None] & np.isfinite(pixels_b).all(-1)[:, None])  # (t, a, b, k)
    pa = np.broadcast_to(pixels_a[:, :, None], (n_time, n_a, n_b, n_k, 2)).copy()
    pb = np.broadcast_to(pixels_b[:, None], (n_time, n_a, n_b, n_k, 2)).copy()
    pa[~both], pb[~both] = np.nan, np.nan
    stacked = np.stack([pa, pb])
    world = triangulate_points(group, stacked)
    error = group.reprojection_error(world, stacked).max(axis=0)  # (t, a, b, k), the worse view
    error[~both] = np.nan
    enough = both.sum(-1) >= min_points
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cost = np.where(enough, np.nanmedian(np.where(both, error, np.nan), axis=-1), np.inf)
    partner = np.full((n_time, n_a), -1, dtype=np.int64)
    partner_error = np.full((n_time, n_a), np.nan)
    for t in np.flatnonzero(np.isfinite(cost).any(axis=(1, 2))):
        rows, cols = linear_sum_assignment(np.where(np.isfinite(cost[t]), cost[t], 1e9))
        keep = cost[t, rows, cols] <= max_error
        partner[t, rows[keep]] = cols[keep]
        partner_error[t, rows[keep]] = cost[t, rows[keep], cols[keep]]
    return partner, partner_error


def is_people_layout(ds) -> bool:
    """Whether ``ds`` holds several individuals in the OpenPose human layout, in two or more views."""
    if "view" not in ds.dims or ds.sizes["view"] < 2 or ds.sizes.get("individuals", 1) < 2:
        return False
    names = {str(k) for k in ds["keypoints"].values} if "keypoints" in ds.coords else set()
    return set(OPENPOSE_MARKERS) <= names


def pair_views(ds, group, *, reference: str | None = None, max_error: float = 15.0, min_points: int = 6,
               block: int | None = None):
    """A multi-view poses dataset whose individuals are the same person in every view, frame by frame.

    Each view numbers people on its own (its detector's order, or its tracker's identities); this
    pairs, in every frame, each view's people with the ``reference`` view's (default: the first)
    by :func:`frame_pairs` and reorders them, so that individual ``k`` of every view is individual
    ``k`` of the reference. A reference person with no partner in a view is missing (NaN) there in
    that frame; a person of another view with no partner in the reference is left out.

    Parameters
    ----------
    ds
        Poses ``position (time, space=x,y, keypoints, individuals, view)`` in pixels, with
        ``confidence``; its view labels name cameras of ``group``. Its positions are read a block of
        frames at a time.
    group
        The calibration.
    block
        Frames read and paired at a time; None: the time chunk of ``position`` when it is chunked
        (a store), else :data:`BLOCK_FRAMES`. The result does not depend on it.

    Returns
    -------
    paired, report
        The reordered dataset with ``attrs["view_pairing"]`` = ``report``: the ``reference`` view
        and, per other view, ``paired_fraction`` (of reference people seen in a frame, the fraction
        paired) and ``median_error_px`` of the pairs. Its variables are lazy (dask) where ``ds``'s
        are, so a store is not read whole; only the ``(time, individuals)`` pairing is held.
    """
    import xarray as xr

    views = [str(v) for v in ds["view"].values]
    if len(views) < 2:
        raise ValueError(f"Expected a dataset with 2 or more views to pair, but got views {views}")
    reference = views[0] if reference is None else str(reference)
    if reference not in views:
        raise ValueError(f"Expected reference to name a view of {views}, but got {reference!r}")
    if block is None:
        chunks = ds["position"].chunksizes.get("time") if ds["position"].chunks is not None else None
        block = int(max(chunks)) if chunks else BLOCK_FRAMES
    if block < 1:
        raise ValueError(f"Expected block >= 1 frames, but got {block}")

    n_time, n_ind = ds.sizes["time"], ds.sizes["individuals"]
    others = [v for v in views if v != reference]
    seen = np.zeros((n_time, n_ind), dtype=bool)  # (time, individual) of the reference
    partners = {view: np.full((n_time, n_ind), -1, dtype=np.int64) for view in others}
    errors = {view: np.full((n_time, n_ind), np.nan) for view in others}
    subsets = {view: group.subset([reference, view]) for view in others}
    position = ds["position"].transpose("time", "individuals", "keypoints", "space", "view")
    for start in range(0, n_time, block):
        span = slice(start, min(start + block, n_time))
        pixels = np.asarray(position.isel(time=span).values, dtype=float)  # one block of frames, every view
        ref_tracks = pixels[..., views.index(reference)]
        seen[span] = np.isfinite(ref_tracks).all(-1).any(-1)
        for view in others:
            partners[view][span], errors[view][span] = frame_pairs(
                ref_tracks, pixels[..., views.index(view)], subsets[view], max_error=max_error,
                min_points=min_points, block=None)
    order = {reference: np.broadcast_to(np.arange(n_ind), (n_time, n_ind)), **partners}
    report = {"reference": reference, "views": {}}
    for view in others:
        partner, error = partners[view], errors[view]
        report["views"][view] = {
            "paired_fraction": round(float((partner >= 0)[seen].mean()) if seen.any() else 0.0, 4),
            "median_error_px": round(float(np.nanmedian(error)), 3) if np.isfinite(error).any() else None}

    def reorder(values, index):
        # individuals is the last axis of both (apply_ufunc's core dimension); index broadcasts over the rest
        taken = np.take_along_axis(np.asarray(values, dtype=float), np.maximum(index, 0), axis=-1)
        taken[np.broadcast_to(index < 0, taken.shape)] = np.nan
        return taken

    out = {}
    for name, var in ds.data_vars.items():
        if "individuals" not in var.dims or "view" not in var.dims:
            out[name] = var
            continue
        parts = []
        for view in views:
            part = var.sel(view=view).drop_vars("view", errors="ignore")
            index = xr.DataArray(np.ascontiguousarray(order[view]), dims=("time", "individuals"))
            if part.chunks is not None:
                index = index.chunk({"time": part.chunksizes["time"]})
            taken = xr.apply_ufunc(reorder, part, index, input_core_dims=[["individuals"], ["individuals"]],
                                   output_core_dims=[["individuals"]], dask="parallelized",
                                   output_dtypes=[float], keep_attrs=True,
                                   dask_gufunc_kwargs={"allow_rechunk": True})
            parts.append(taken.astype(var.dtype).drop_vars(list(taken.coords), errors="ignore"))
        out[name] = xr.concat(parts, dim="view").transpose(*var.dims)
    paired = xr.Dataset(out, coords=ds.coords, attrs={**ds.attrs, "view_pairing": report})
    return paired, report
