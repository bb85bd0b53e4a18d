"""A plain CSV table of poses or boxes: one row per frame, individual (and keypoint), long format.

Columns: poses ``frame, time_s, individual, keypoint, x, y[, z], confidence``; boxes ``frame,
time_s, individual, x, y, width, height, confidence, class_index``. Missing values are empty
cells. The format every spreadsheet and ``pandas.read_csv`` reads; not a format of another tool.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema


def _labels(coordinate) -> np.ndarray:
    return np.array([str(v) for v in coordinate.values], dtype=object)


def save_csv(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a single-view dataset as a long CSV table (see the module docstring)."""
    import pandas as pd

    path = Path(path)
    ds = schema.drop_single_view(ds)
    if schema.VIEW in ds.dims:
        raise ValueError(f"{path}: Expected one view (export each to its own file), but got {ds.sizes[schema.VIEW]}")
    ind = schema.INDIVIDUALS
    frame = schema.frames(ds)
    seconds = frame / float(ds.attrs["fps"])
    space = [str(s) for s in ds["space"].values]
    if ds.attrs.get("ds_type") == schema.POSES:
        kp = schema.KEYPOINTS
        pos = ds["position"].transpose("time", ind, kp, "space").values
        conf = ds["confidence"].transpose("time", ind, kp).values
        n_t, n_i, n_k = conf.shape
        table = {"frame": np.repeat(frame, n_i * n_k), "time_s": np.repeat(seconds, n_i * n_k),
                 "individual": np.tile(np.repeat(_labels(ds[ind]), n_k), n_t),
                 "keypoint": np.tile(_labels(ds[kp]), n_t * n_i)}
        for s, name in enumerate(space):
            table[name] = pos[..., s].ravel()
        table["confidence"] = conf.ravel()
    else:
        pos = ds["position"].transpose("time", ind, "space").values
        size = ds["shape"].transpose("time", ind, "space").values
        n_t, n_i = pos.shape[:2]
        table = {"frame": np.repeat(frame, n_i), "time_s": np.repeat(seconds, n_i),
                 "individual": np.tile(_labels(ds[ind]), n_t),
                 "x": pos[..., 0].ravel(), "y": pos[..., 1].ravel(), "width": size[..., 0].ravel(),
                 "height": size[..., 1].ravel(), "confidence": ds["confidence"].transpose("time", ind).values.ravel(),
                 "class_index": ds["class_index"].transpose("time", ind).values.ravel()}
    pd.DataFrame(table).to_csv(path, index=False, float_format="%.9g")
    return path
