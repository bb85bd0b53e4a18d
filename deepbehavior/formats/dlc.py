"""DeepLabCut CSV files: labels (``CollectedData_<scorer>.csv``) and predictions.

The header has one row per column level, named in the first cell: ``scorer``, optionally
``individuals`` (multi-animal projects), ``bodyparts`` and ``coords`` (``x``, ``y`` and, in
predictions, ``likelihood``). The rows below start with the frame's index: an image path (labels;
one cell, or three in newer DeepLabCut: ``labeled-data``, video folder, file name) or a frame
number (predictions).
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import xarray as xr

from .. import schema
from ._common import fail, read_text

_LEVELS = ("scorer", "individuals", "bodyparts", "coords")


def read_dlc(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read a DeepLabCut labels or predictions CSV into a poses dataset.

    Parameters
    ----------
    path
        The ``.csv`` file (the ``.h5`` twin holds the same table; read the CSV).
    fps
        Frames per second of the video (the file does not record it).

    Returns
    -------
    xarray.Dataset
        Poses in pixels with keypoints = body parts in the order of the header and individuals =
        the ``individuals`` row (``individual0`` for single-animal files). ``confidence`` is the
        likelihood, or 1 where a labelled point exists. ``frame`` holds the frame numbers when the
        rows are indexed by number; otherwise the row index, with the image paths in
        ``attrs["image_paths"]``. Empty cells are NaN.
    """
    rows = list(csv.reader(io.StringIO(read_text(path))))
    header: dict[str, list[str]] = {}
    while len(header) < len(rows) and rows[len(header)] and rows[len(header)][0].strip() in _LEVELS:
        row = rows[len(header)]
        header[row[0].strip()] = row
    for level in ("bodyparts", "coords"):
        if level not in header:
            raise fail(path, f"line {len(header) + 1}", f"a '{level}' header row (rows named {_LEVELS})",
                       ",".join(rows[len(header)]) if len(header) < len(rows) else "end of file")
    coords = header["coords"]
    data_cols = [j for j, c in enumerate(coords) if j > 0 and c.strip() in ("x", "y", "likelihood")]
    if not data_cols:
        raise fail(path, f"line {len(header)}", "coords x, y[, likelihood]", ",".join(coords))
    n_index = data_cols[0]
    parts = header["bodyparts"]
    animals = header.get("individuals")
    columns: dict[tuple[str, str], dict[str, int]] = {}
    for j in data_cols:
        if j >= len(parts) or (animals is not None and j >= len(animals)):
            raise fail(path, f"column {j + 1}", "a body part (and individual) for every coordinate column", "none")
        who = animals[j].strip() if animals is not None else "individual0"
        columns.setdefault((who, parts[j].strip()), {})[coords[j].strip()] = j
    for key, fields in columns.items():
        if "x" not in fields or "y" not in fields:
            raise fail(path, "header", f"x and y columns for {key}", sorted(fields))
    individuals = list(dict.fromkeys(w for w, _ in columns))
    keypoints = list(dict.fromkeys(p for _, p in columns))
    body = [r for r in rows[len(header):] if any(c.strip() for c in r)]
    if not body:
        raise fail(path, f"line {len(header) + 1}", "at least one data row", "none")
    position = np.full((len(body), 2, len(keypoints), len(individuals)), np.nan)
    confidence = np.full((len(body), len(keypoints), len(individuals)), np.nan)
    index = []
    for t, row in enumerate(body):
        line = len(header) + 1 + t
        index.append("/".join(c.strip() for c in row[:n_index] if c.strip()))
        for (who, part), fields in columns.items():
            k, i = keypoints.index(part), individuals.index(who)
            values = {}
            for name, j in fields.items():
                cell = row[j].strip() if j < len(row) else ""
                try:
                    values[name] = float(cell) if cell else np.nan
                except ValueError:
                    raise fail(path, f"line {line}, column {j + 1} ({who} {part} {name})", "a number", cell) from None
            position[t, :, k, i] = values["x"], values["y"]
            present = not np.isnan(position[t, :, k, i]).any()
            confidence[t, k, i] = values.get("likelihood", 1.0) if present else np.nan
    numeric = all(v.isdigit() for v in index)
    time = np.asarray([int(v) for v in index], dtype=np.int64) if numeric else None
    if time is not None and len(np.unique(time)) != len(time):
        time = None
    ds = schema.make_poses(position, confidence, fps=fps, keypoints=keypoints, individuals=individuals,
                           time=time, source_software="DeepLabCut")
    ds.attrs["source_file"] = str(path)
    if "scorer" in header:
        ds.attrs["scorer"] = next((c.strip() for c in header["scorer"][1:] if c.strip()), "")
    if not numeric:
        ds.attrs["image_paths"] = index
    return ds
