"""Calibration files: anipose TOML (ours), OpenCV YAML/XML, Caltech (Bouguet) toolbox ``.mat``.

- TOML: anipose's ``calibration.toml`` layout, one ``[cam_N]`` table per camera with ``name``,
  ``size`` (width, height), ``matrix``, ``distortions``, ``rotation`` (Rodrigues) and
  ``translation``, plus ``[metadata]``. Files written here open in anipose and vice versa.
- OpenCV: ``cv2.FileStorage`` (``.yml``, ``.yaml``, ``.xml``) with ``camera_count`` and one map
  ``camera_N`` per camera (``name``, ``image_width``, ``image_height``, ``camera_matrix``,
  ``distortion_coefficients``, ``rvec``, ``tvec``). A single-camera file written by OpenCV's
  ``calibration`` sample (``camera_matrix``, ``distortion_coefficients``) is read as one camera.
- Caltech toolbox: ``Calib_Results_stereo.mat`` (two cameras, the left one the world frame,
  ``XR = R(om) XL + T``) and single-camera ``Calib_Results_*.mat`` (intrinsics; the per-image board
  poses and detected corners come from :func:`load_bouguet_views`).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import cv2
import numpy as np

from ..store import write_atomic
from .camera import Camera, CameraGroup

# --------------------------------------------------------------------------------------------------
# anipose TOML


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ValueError(f"Expected a number, string, boolean or list in calibration metadata, but got {value!r}")


def save_toml(group: CameraGroup, path: str | os.PathLike) -> Path:
    """Write ``group`` as an anipose-compatible ``calibration.toml``."""
    lines = []
    for i, cam in enumerate(group.cameras):
        lines += [
            f"[cam_{i}]",
            f"name = {_toml_value(cam.name)}",
            f"size = {_toml_value(list(cam.size))}",
            f"matrix = {_toml_value(cam.matrix.tolist())}",
            f"distortions = {_toml_value(cam.dist.tolist())}",
            f"rotation = {_toml_value(cam.rvec.tolist())}",
            f"translation = {_toml_value(cam.tvec.tolist())}",
            "",
        ]
    lines.append("[metadata]")
    for key, value in group.metadata.items():
        if isinstance(value, dict):
            continue  # nested tables are not part of anipose's format
        lines.append(f"{key} = {_toml_value(value)}")
    path = Path(path)
    write_atomic(path, "\n".join(lines) + "\n")
    return path


def load_toml(path: str | os.PathLike) -> CameraGroup:
    """Read an anipose ``calibration.toml`` (ours or anipose's)."""
    path = Path(path)
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    cameras = []
    for key in sorted((k for k in data if k.startswith("cam_")), key=lambda k: int(k[4:])):
        table = data[key]
        missing = {"name", "size", "matrix", "distortions", "rotation", "translation"} - set(table)
        if missing:
            raise ValueError(f"Expected fields {sorted(missing)} in [{key}] of {path}, but they are missing")
        cameras.append(Camera(name=str(table["name"]), size=table["size"], matrix=table["matrix"],
                              dist=table["distortions"], rvec=table["rotation"], tvec=table["translation"]))
    if not cameras:
        raise ValueError(f"Expected [cam_0], [cam_1], … tables in {path}, but found none")
    return CameraGroup(cameras, metadata=data.get("metadata", {}))


# --------------------------------------------------------------------------------------------------
# OpenCV FileStorage


def save_opencv(group: CameraGroup, path: str | os.PathLike) -> Path:
    """Write ``group`` with ``cv2.FileStorage`` (YAML or XML, chosen by the suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    storage = cv2.FileStorage(str(tmp), cv2.FILE_STORAGE_WRITE)
    try:
        storage.write("camera_count", len(group))
        for key, value in group.metadata.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                storage.write(f"metadata_{key}", float(value))
            elif isinstance(value, str):
                storage.write(f"metadata_{key}", value)
        for i, cam in enumerate(group.cameras):
            storage.startWriteStruct(f"camera_{i}", cv2.FileNode_MAP)
            storage.write("name", cam.name)
            storage.write("image_width", int(cam.size[0]))
            storage.write("image_height", int(cam.size[1]))
            storage.write("camera_matrix", np.asarray(cam.matrix))
            storage.write("distortion_coefficients", np.asarray(cam.dist).reshape(-1, 1))
            storage.write("rvec", np.asarray(cam.rvec).reshape(3, 1))
            storage.write("tvec", np.asarray(cam.tvec).reshape(3, 1))
            storage.endWriteStruct()
    finally:
        storage.release()
    os.replace(tmp, path)
    return path


def _node_camera(node, name: str, where: str) -> Camera:
    matrix = node.getNode("camera_matrix").mat()
    if matrix is None:
        raise ValueError(f"Expected a camera_matrix in {where}, but it is missing")
    dist = node.getNode("distortion_coefficients").mat()
    width, height = node.getNode("image_width").real(), node.getNode("image_height").real()
    rvec, tvec = node.getNode("rvec").mat(), node.getNode("tvec").mat()
    label = node.getNode("name")
    return Camera(
        name=label.string() if not label.empty() else name,
        size=(int(width), int(height)),
        matrix=matrix,
        dist=np.zeros(5) if dist is None else dist.reshape(-1),
        rvec=np.zeros(3) if rvec is None else rvec.reshape(-1),
        tvec=np.zeros(3) if tvec is None else tvec.reshape(-1),
    )


def load_opencv(path: str | os.PathLike) -> CameraGroup:
    """Read cameras from an OpenCV YAML/XML file (ours, or one camera from OpenCV's samples)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a calibration file at {path}, but there is none")
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    try:
        root = storage.root()
        count = storage.getNode("camera_count")
        if count.empty():
            return CameraGroup([_node_camera(root, path.stem, str(path))])
        cameras = [_node_camera(storage.getNode(f"camera_{i}"), f"camera_{i}", f"camera_{i} of {path}")
                   for i in range(int(count.real()))]
        metadata = {}
        for key in root.keys():
            if key.startswith("metadata_"):
                node = storage.getNode(key)
                metadata[key[len("metadata_"):]] = node.string() if node.isString() else node.real()
        return CameraGroup(cameras, metadata=metadata)
    finally:
        storage.release()


# --------------------------------------------------------------------------------------------------
# Caltech (Bouguet) toolbox


def _mat(path: Path) -> dict:
    from scipy.io import loadmat

    if not path.is_file():
        raise FileNotFoundError(f"Expected a Caltech calibration file at {path}, but there is none")
    return loadmat(str(path))


def _field(data: dict, key: str, path: Path, size: int | None = None) -> np.ndarray:
    if key not in data:
        raise ValueError(f"Expected a field '{key}' in {path}, but it is missing")
    value = np.asarray(data[key], dtype=np.float64).reshape(-1)
    if size is not None and value.size != size:
        raise ValueError(f"Expected {size} values in field '{key}' of {path}, but got {value.size}")
    return value


def _bouguet_camera(data: dict, suffix: str, name: str, path: Path, size) -> Camera:
    fc = _field(data, f"fc{suffix}", path, 2)
    cc = _field(data, f"cc{suffix}", path, 2)
    kc = _field(data, f"kc{suffix}", path, 5)
    alpha = _field(data, f"alpha_c{suffix}", path, 1)[0] if f"alpha_c{suffix}" in data else 0.0
    # the toolbox's skew multiplies the normalized x by fc(1), as OpenCV's K[0, 1] does
    matrix = np.array([[fc[0], alpha * fc[0], cc[0]], [0.0, fc[1], cc[1]], [0.0, 0.0, 1.0]])
    return Camera(name=name, size=size, matrix=matrix, dist=kc)


def _bouguet_size(data: dict) -> tuple[int, int]:
    width = int(np.asarray(data.get("nx", data.get("Wcal", [[0]]))).reshape(-1)[0])
    height = int(np.asarray(data.get("ny", data.get("Hcal", [[0]]))).reshape(-1)[0])
    return width, height


def load_bouguet(path: str | os.PathLike, *, names: tuple[str, str] = ("left", "right")) -> CameraGroup:
    """Read a Caltech toolbox result: ``Calib_Results_stereo.mat`` (two cameras, the left one at
    the origin, units of the board's squares, usually mm) or ``Calib_Results_*.mat`` (one camera
    at the origin, named after the file)."""
    path = Path(path)
    data = _mat(path)
    size = _bouguet_size(data)
    if "om" in data and "T" in data:
        left = _bouguet_camera(data, "_left", names[0], path, size)
        right = _bouguet_camera(data, "_right", names[1], path, size)
        right = right.replace(rvec=_field(data, "om", path, 3), tvec=_field(data, "T", path, 3))
        return CameraGroup([left, right], metadata={"source": f"Caltech toolbox {path.name}", "unit": "mm"})
    if "fc" in data:
        name = path.stem.removeprefix("Calib_Results_") or "camera"
        camera = _bouguet_camera(data, "", name, path, size)
        return CameraGroup([camera], metadata={"source": f"Caltech toolbox {path.name}"})
    raise ValueError(f"Expected a Caltech calibration (fields 'fc' or 'om', 'T', 'fc_left') in {path}, "
                     f"but found neither")


def load_bouguet_views(path: str | os.PathLike) -> list[dict]:
    """The board views of a single-camera Caltech result, one dict per active image.

    Keys: ``image`` (the toolbox's image number), ``object_points`` ``(N, 3)`` (board units),
    ``image_points`` ``(N, 2)`` (the detected corners, pixels), ``rvec``, ``tvec`` (board to
    camera), ``error`` ``(N, 2)`` (the toolbox's reprojection residuals ``ex_i``, pixels).
    """
    path = Path(path)
    data = _mat(path)
    n_images = int(_field(data, "n_ima", path, 1)[0])
    active = _field(data, "active_images", path, n_images) if "active_images" in data else np.ones(n_images)
    views = []
    for i in range(1, n_images + 1):
        if not active[i - 1] or f"x_{i}" not in data or f"omc_{i}" not in data:
            continue
        views.append({
            "image": i,
            "object_points": np.asarray(data[f"X_{i}"], dtype=np.float64).T,
            "image_points": np.asarray(data[f"x_{i}"], dtype=np.float64).T,
            "rvec": _field(data, f"omc_{i}", path, 3),
            "tvec": _field(data, f"Tc_{i}", path, 3),
            "error": np.asarray(data[f"ex_{i}"], dtype=np.float64).T if f"ex_{i}" in data else None,
        })
    return views


def bouguet_reported_error(path: str | os.PathLike) -> np.ndarray:
    """The pixel error the toolbox reported (``err_std``: standard deviation of x and y residuals)."""
    path = Path(path)
    return _field(_mat(path), "err_std", path, 2)


# --------------------------------------------------------------------------------------------------


def load_calibration(path: str | os.PathLike) -> CameraGroup:
    """Read any supported calibration file, by its suffix (``.toml``, ``.yml``/``.yaml``/``.xml``,
    ``.mat``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a calibration file at {path}, but there is none")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return load_toml(path)
    if suffix in (".yml", ".yaml", ".xml"):
        return load_opencv(path)
    if suffix == ".mat":
        return load_bouguet(path)
    raise ValueError(f"Expected a calibration file ending in .toml, .yml, .yaml, .xml or .mat, but got {path.name}")


def save_calibration(group: CameraGroup, path: str | os.PathLike) -> Path:
    """Write a calibration; the suffix picks the format (``.toml`` or OpenCV ``.yml``/``.xml``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".toml":
        return save_toml(group, path)
    if suffix in (".yml", ".yaml", ".xml"):
        return save_opencv(group, path)
    raise ValueError(f"Expected a calibration file name ending in .toml, .yml, .yaml or .xml, but got {path}")
