"""DeepLabCut files: labels (``CollectedData_<scorer>.csv``/``.h5``) and predictions (``.csv``/``.h5``).

A DeepLabCut file is a pandas table with column levels ``scorer``, optionally ``individuals``
(multi-animal projects), ``bodyparts`` and ``coords`` (``x``, ``y`` and, in predictions,
``likelihood``); its rows are indexed by frame number (predictions) or by image path (labels; one
column, or three in newer DeepLabCut: ``labeled-data``, video folder, file name). The ``.h5`` twin
holds the same table (``pandas.read_hdf``). This module reads the table with pandas as DeepLabCut
writes it (:func:`_table`, the one parser), converts it with movement's
``from_dlc_style_df``, and writes predictions with movement's ``to_dlc_file``. movement's own
``from_dlc_file`` is not used to read because it refuses label CSVs (image-path index) and drops
the row index, which holds the frame numbers.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ._common import check_frame_order, check_frames, fail, read_text, warn_gaps
from ._labels import LabelledImage, LabelSet

_LEVELS = ("scorer", "individuals", "bodyparts", "coords")


def is_dlc(path: Path) -> bool:
    """Whether ``path`` is a DeepLabCut CSV (first cell ``scorer``) or HDF5 table (pandas' layout)."""
    path = Path(path)
    if path.is_dir():
        return _in_folder(path) is not None
    if not path.is_file():
        return False
    if path.suffix.lower() == ".csv":
        with open(path, "rb") as handle:
            return handle.read(7) == b"scorer,"
    if path.suffix.lower() in (".h5", ".hdf5"):
        try:
            import h5py

            with h5py.File(path, "r") as f:
                return any(k in f for k in ("df_with_missing", "df")) and "tracks" not in f
        except (OSError, ValueError):
            return False
    return False


def _in_folder(folder: Path) -> Path | None:
    """The ``CollectedData_*.csv`` (else ``.h5``) of a DeepLabCut labeled-data folder."""
    found = sorted(folder.glob("CollectedData_*.csv")) or sorted(folder.glob("CollectedData_*.h5"))
    return found[0] if found else None


def _csv_table(path: Path):
    import pandas as pd

    text = read_text(path)
    lines = text.splitlines()
    levels = []
    while len(levels) < len(lines) and lines[len(levels)].split(",", 1)[0].strip() in _LEVELS:
        levels.append(lines[len(levels)].split(",", 1)[0].strip())
    for level in ("bodyparts", "coords"):
        if level not in levels:
            got = lines[len(levels)] if len(levels) < len(lines) else "end of file"
            raise fail(path, f"line {len(levels) + 1}", f"a '{level}' header row (rows named {_LEVELS})", got)
    coords = lines[levels.index("coords")].split(",")
    data_cols = [j for j, c in enumerate(coords) if j > 0 and c.strip() in ("x", "y", "z", "likelihood")]
    if not data_cols:
        raise fail(path, f"line {len(levels)}", "coords x, y[, likelihood]", lines[len(levels) - 1])
    n_index, n_cells = data_cols[0], len(coords)
    for i, line in enumerate(lines[:len(levels)]):
        if len(line.split(",")) != n_cells:
            raise fail(path, f"line {i + 1}", f"{n_cells} cells like the 'coords' row", f"{len(line.split(','))}")
    # A file cut short (a copy interrupted, a disk full) ends in a partial row: every row of a
    # DeepLabCut CSV has one cell per column, empty cells included.
    for i, line in enumerate(lines[len(levels):], start=len(levels) + 1):
        if line.strip() and line.count(",") + 1 != n_cells:
            raise fail(path, f"line {i}", f"{n_cells} cells (the file may be truncated)", f"{line.count(',') + 1}")
    if not text.endswith("\n"):
        # pandas (DeepLabCut's writer) ends every row with a newline: a last row without one was
        # cut short, possibly inside a number, which would otherwise read as a smaller value.
        raise fail(path, f"line {len(lines)}", "a last row ending in a newline (the file may be truncated)",
                   lines[-1][-40:])
    if len(lines) == len(levels):
        raise fail(path, f"line {len(levels) + 1}", "at least one data row", "none")
    # No index_col: pandas would take an all-empty first row ("0,,,,") for the index's name row.
    table = pd.read_csv(path, header=list(range(len(levels))), skip_blank_lines=True, encoding="utf-8-sig",
                        na_values=["", "nan", "NaN"], keep_default_na=False)
    raw_index = table.iloc[:, 0]
    index_cells = table.iloc[:, :n_index].astype(str).where(table.iloc[:, :n_index].notna(), "")
    table = table.iloc[:, n_index:]
    table.columns = table.columns.set_names(levels)
    values = np.empty(table.shape, dtype=np.float64)
    for j in range(table.shape[1]):
        column = table.iloc[:, j]
        if pd.api.types.is_numeric_dtype(column.dtype):
            values[:, j] = column.to_numpy(dtype=np.float64)
            continue
        # A column pandas could not read as numbers: blank cells are missing, anything else an error.
        cells = column.astype(str).str.strip().where(column.notna(), "")
        numbers = pd.to_numeric(cells.where(cells != "", "nan"), errors="coerce")
        wrong = np.flatnonzero(numbers.isna().to_numpy() & (cells != "").to_numpy()
                               & ~cells.str.lower().isin(["nan"]).to_numpy())
        if len(wrong):
            i = int(wrong[0])
            who = " ".join(str(c) for c in table.columns[j][1:])
            raise fail(path, f"line {len(levels) + 1 + i}, column {n_index + 1 + j} ({who})", "a number",
                       cells.iat[i])
        values[:, j] = numbers.to_numpy(dtype=np.float64)
    if n_index == 1 and pd.api.types.is_integer_dtype(raw_index.dtype):  # predictions: frame numbers
        return pd.DataFrame(values, columns=table.columns), raw_index.to_numpy(dtype=np.int64)
    index = ["/".join(str(v).strip() for v in row if str(v).strip()) for row in index_cells.itertuples(index=False)]
    return pd.DataFrame(values, columns=table.columns), index


def _h5_table(path: Path):
    import pandas as pd

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = pd.read_hdf(path)
    except Exception as exc:  # pytables raises many types for a damaged file
        raise fail(path, "", "a DeepLabCut HDF5 table (pandas.read_hdf)", f"{type(exc).__name__}") from None
    if not isinstance(table, pd.DataFrame) or table.columns.nlevels not in (3, 4):
        raise fail(path, "", "a table with column levels scorer[, individuals], bodyparts, coords", type(table).__name__)
    table.columns = table.columns.set_names(list(_LEVELS) if table.columns.nlevels == 4
                                            else ["scorer", "bodyparts", "coords"])
    try:
        values = table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(path, "", "numbers in every column", "other values") from None
    if pd.api.types.is_integer_dtype(table.index.dtype):  # predictions: frame numbers, kept as numbers
        return pd.DataFrame(values, columns=table.columns), table.index.to_numpy(dtype=np.int64)
    index = ["/".join(str(v) for v in (row if isinstance(row, tuple) else (row,))) for row in table.index]
    return pd.DataFrame(values, columns=table.columns), index


def _table(path: Path):
    """``(DataFrame of floats with DeepLabCut's column levels, row index as text)`` of a file.

    Image paths of a labels file must be distinct: a row written twice is a copy gone wrong.
    """
    if not path.is_file():
        raise FileNotFoundError(f"Expected a DeepLabCut file at {path}, but there is none")
    table, index = _h5_table(path) if path.suffix.lower() in (".h5", ".hdf5") else _csv_table(path)
    if not isinstance(index, np.ndarray):
        seen: dict[str, int] = {}
        for i, name in enumerate(index):
            if name in seen:
                raise fail(path, f"data row {i + 1}", f"each image once (data row {seen[name] + 1} has it)", name)
            seen[name] = i
    return table, index


def _arrays(path, table):
    """``position (time, space, keypoint, individual)``, ``confidence``, keypoints, individuals."""
    from movement.io.load_poses import from_dlc_style_df

    coords = list(dict.fromkeys(table.columns.get_level_values("coords")))
    if not {"x", "y"} <= set(coords):
        raise fail(path, "coords", "x and y columns", coords)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = from_dlc_style_df(table, fps=None)
    except Exception as exc:  # movement checks shapes and names
        raise fail(path, "columns", "the same body parts and coords for every individual", str(exc)) from None
    position = ds["position"].transpose("time", "space", "keypoints", "individuals").values.astype(np.float64)
    present = ~np.isnan(position).any(axis=1)
    if "likelihood" in coords:
        confidence = ds["confidence"].transpose("time", "keypoints", "individuals").values.astype(np.float64)
    else:
        confidence = np.ones(present.shape)
    confidence = np.where(present, confidence, np.nan)
    return position, confidence, [str(k) for k in ds["keypoints"].values], [str(i) for i in ds["individuals"].values]


def _frames(index) -> np.ndarray | None:
    """Frame numbers of the rows, or None when the rows are indexed by image path."""
    if isinstance(index, np.ndarray):
        return index
    if not all(v.isdigit() for v in index):
        return None
    frames = np.asarray([int(v) if len(v) < 19 else -1 for v in index], dtype=np.int64)
    return frames


def read_dlc(path: str | os.PathLike, *, fps: float = 30.0) -> xr.Dataset:
    """Read a DeepLabCut labels or predictions file (``.csv`` or ``.h5``) into a poses dataset.

    Parameters
    ----------
    path
        The ``.csv`` or ``.h5`` file.
    fps
        Frames per second of the video (the file does not record it).

    Returns
    -------
    xarray.Dataset
        Poses in pixels with keypoints = body parts in the order of the header and individuals =
        the ``individuals`` level (``individual0`` for single-animal files). ``confidence`` is the
        likelihood, or 1 where a labelled point exists. ``frame`` holds the frame numbers when the
        rows are indexed by number; otherwise the row index, with the image paths in
        ``attrs["image_paths"]``. Empty cells are NaN.
    """
    path = Path(path)
    path = (_in_folder(path) or path) if path.is_dir() else path
    table, index = _table(path)
    frames = _frames(index)
    if frames is not None:
        check_frames(path, "row index (frame numbers)", frames)
        check_frame_order(path, "row index", frames, rows="data row")
    position, confidence, keypoints, individuals = _arrays(path, table)
    individuals = ["individual0"] if individuals == ["individual_0"] else individuals
    ds = schema.make_poses(position, confidence, fps=fps, keypoints=keypoints, individuals=individuals,
                           time=frames, source_software="DeepLabCut",
                           individuals_are=schema.IDENTITIES)
    scorer = list(dict.fromkeys(table.columns.get_level_values("scorer")))
    ds.attrs.update(source_file=str(path), scorer=str(scorer[0]) if scorer else "")
    if frames is None:
        ds.attrs["image_paths"] = list(index)
        size = labelled_image_size(path, index)
        if size is not None:
            ds.attrs["frame_size"] = list(size)
    else:
        ds.attrs["rows_are_frames"] = True  # DeepLabCut predicts every frame of a video
        ds.attrs["missing_frames"] = warn_gaps(path, frames)
    return ds


def labelled_image_size(path: Path, index) -> tuple[int, int] | None:
    """``(width, height)`` of the first labelled image of ``index`` found where :func:`read_dlc_labels`
    looks (under the project folder, relative to ``path``'s folder, or beside ``path``), from the
    image's header; None when none is there."""
    from ._labels import image_size

    root = path.parent.parent.parent
    for image_path in index:
        for candidate in (root / str(image_path), path.parent / str(image_path),
                          path.parent / Path(str(image_path)).name):
            if candidate.is_file():
                return image_size(candidate)
    return None


def _skeleton(path: Path, keypoints: list[str]) -> list[list[int]]:
    """The skeleton of the DeepLabCut project's ``config.yaml`` (two folders up), as keypoint indices."""
    import yaml

    for config in (path.parent.parent.parent / "config.yaml", path.parent / "config.yaml"):
        if config.is_file():
            try:
                data = yaml.safe_load(config.read_text()) or {}
            except (yaml.YAMLError, UnicodeDecodeError):
                return []
            pairs = data.get("skeleton") or [] if isinstance(data, dict) else []
            return [[keypoints.index(a), keypoints.index(b)] for a, b in (p for p in pairs if len(p) == 2)
                    if a in keypoints and b in keypoints]
    return []


def read_dlc_labels(path: str | os.PathLike, *, class_name: str = "animal") -> LabelSet:
    """Read DeepLabCut labels (``CollectedData_*.csv``/``.h5``, images beside it) as keypoint labels.

    Each individual of an image becomes one instance of class ``class_name`` with no box; the
    skeleton comes from the project's ``config.yaml``. Images are looked for under the project
    folder (the index path) and beside the file; missing ones go to ``missing_images``. Points move
    by +0.5 px from DeepLabCut's pixel-centre origin to the labels' corner origin.
    """
    path = Path(path)
    path = (_in_folder(path) or path) if path.is_dir() else path
    table, index = _table(path)
    position, _, keypoints, _ = _arrays(path, table)
    labels = LabelSet(classes=[class_name], keypoints=keypoints, skeleton=_skeleton(path, keypoints))
    project_root = path.parent.parent.parent
    for t, image_path in enumerate(str(v) for v in index):
        # a DLC project (labeled-data/<video>/ two folders below the root), a CSV whose paths are relative
        # to itself (Lightning Pose: the CSV at the root, labeled-data/imgNN.png), or images beside it
        candidates = [project_root / image_path, path.parent / image_path, path.parent / Path(image_path).name]
        image = next((c for c in candidates if c.is_file()), None)
        if image is None:
            labels.missing_images.append(image_path)
            continue
        instances = []
        for i in range(position.shape[-1]):
            # DeepLabCut's pixel centres are at integers; labels' origin is the pixel's corner
            points = [None if np.isnan(position[t, :, k, i]).any()
                      else [float(v) for v in schema.to_corner_origin(position[t, :, k, i])]
                      for k in range(len(keypoints))]
            if any(p is not None for p in points):
                instances.append({"class": 0, "box": None, "keypoints": points})
        labels.images.append(LabelledImage(image, instances))
    return labels.check(path)


def save_dlc(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a single-view 2D poses dataset as a DeepLabCut predictions file (``.csv`` or ``.h5``)
    with movement's ``to_dlc_style_df``; rows are indexed by frame number, keypoints in the dataset's
    order. One individual gets DeepLabCut's single-animal layout (header rows scorer, bodyparts,
    coords, as movement's ``to_dlc_file`` writes it for one animal); several the multi-animal one
    (scorer, individuals, bodyparts, coords)."""
    from movement.io import save_poses

    from ._movement import to_movement

    path = Path(path)
    if path.suffix not in (".csv", ".h5"):
        raise fail(path, "suffix", "'.csv' or '.h5'", path.suffix)
    moved = to_movement(ds, path, from_frame_zero=True)
    single = moved.sizes[schema.INDIVIDUALS] == 1
    table = save_poses.to_dlc_style_df(moved, split_individuals=single)
    write_dlc_table(next(iter(table.values())) if single else table, path)
    return path


def write_dlc_table(table, path: Path) -> None:
    """A DeepLabCut table as DeepLabCut writes it: CSV, or HDF5 under the key ``df_with_missing``."""
    if path.suffix == ".csv":
        table.to_csv(path, sep=",")
    else:
        table.to_hdf(path, key="df_with_missing")
