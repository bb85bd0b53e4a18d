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

from ..files import write_atomic
from .camera import Camera, CameraGroup
from .opencv_storage import StorageError, read_storage

# --------------------------------------------------------------------------------------------------
# Validation shared by every reader: values, not only syntax

# Bounds beyond which a value can only be damage, not a camera (pixels, radians, calibration units).
MAX_IMAGE_SIDE = 100_000
MAX_FOCAL = 1e6
MAX_DISTORTION = 1e4
MAX_ROTATION = 100.0
MAX_TRANSLATION = 1e9


def _numbers(value, where: str, field: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``value`` as finite float64 (of ``shape`` when given), or a one-line error naming the field."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"Expected numbers in {field} of {where}, but got {str(value)[:60]!r}") from None
    if shape is not None and out.size == int(np.prod(shape)):
        out = out.reshape(shape)
    if shape is not None and out.shape != shape:
        raise ValueError(f"Expected {field} of {where} with shape {shape}, but got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError(f"Expected finite values in {field} of {where}, but got {out.reshape(-1)[:9].tolist()}")
    return out


def checked_camera(*, name, size, matrix, dist, rvec, tvec, where: str,
                   fields: dict[str, str] | None = None) -> Camera:
    """A :class:`Camera` from a file's values, each checked: finite, focal lengths > 0, a sane image
    size, a principal point near the image, bounded distortion, rotation and translation.

    ``where`` names the file and camera (e.g. ``"[cam_0] of calib.toml"``); ``fields`` maps
    ``size``, ``matrix``, ``dist``, ``rvec``, ``tvec`` to the file's own field names for messages.
    Raises ``ValueError`` with one line, "Expected …, but got …".
    """
    f = {"size": "size", "matrix": "matrix", "dist": "distortions", "rvec": "rotation",
         "tvec": "translation", **(fields or {})}
    name = str(name)
    if not name.strip() or len(name) > 200:
        raise ValueError(f"Expected a camera name in {where}, but got {name[:60]!r}")
    size = _numbers(size, where, f["size"]).reshape(-1)
    if size.size != 2 or np.any(size != np.round(size)) or np.any(size < 1) or np.any(size > MAX_IMAGE_SIDE):
        raise ValueError(f"Expected {f['size']} of {where} to be (width, height), whole pixels in "
                         f"1..{MAX_IMAGE_SIDE}, but got {size.tolist()}")
    width, height = (int(v) for v in size)
    matrix = _numbers(matrix, where, f["matrix"], (3, 3))
    fx, fy, cx, cy = matrix[0, 0], matrix[1, 1], matrix[0, 2], matrix[1, 2]
    if not (0 < fx <= MAX_FOCAL and 0 < fy <= MAX_FOCAL):
        raise ValueError(f"Expected focal lengths in {f['matrix']} of {where} in (0, {MAX_FOCAL:g}] px, "
                         f"but got fx={fx:g}, fy={fy:g}")
    if not (-width <= cx <= 2 * width and -height <= cy <= 2 * height):
        raise ValueError(f"Expected the principal point in {f['matrix']} of {where} near the "
                         f"{width}x{height} image, but got ({cx:g}, {cy:g}) px")
    if abs(matrix[0, 1]) > fx or np.any(matrix[[1, 2, 2], [0, 0, 1]] != 0) or matrix[2, 2] != 1:
        raise ValueError(f"Expected {f['matrix']} of {where} to be [[fx, s, cx], [0, fy, cy], [0, 0, 1]] "
                         f"with |s| <= fx, but got {matrix.tolist()}")
    dist = _numbers(dist, where, f["dist"]).reshape(-1)
    if np.any(np.abs(dist) > MAX_DISTORTION):
        raise ValueError(f"Expected distortion coefficients in {f['dist']} of {where} within "
                         f"±{MAX_DISTORTION:g}, but got {dist.tolist()}")
    rvec = _numbers(rvec, where, f["rvec"]).reshape(-1)
    if rvec.size != 3 or np.linalg.norm(rvec) > MAX_ROTATION:
        raise ValueError(f"Expected {f['rvec']} of {where} to be a Rodrigues vector of 3 values (radians), "
                         f"but got {rvec.tolist()}")
    tvec = _numbers(tvec, where, f["tvec"]).reshape(-1)
    if tvec.size != 3 or np.any(np.abs(tvec) > MAX_TRANSLATION):
        raise ValueError(f"Expected {f['tvec']} of {where} to be 3 values within ±{MAX_TRANSLATION:g}, "
                         f"but got {tvec.tolist()}")
    try:
        return Camera(name=name, size=(width, height), matrix=matrix, dist=dist, rvec=rvec, tvec=tvec)
    except ValueError as exc:
        raise ValueError(f"{exc} (in {where})") from None


def _group(cameras: list[Camera], metadata: dict, path: Path) -> CameraGroup:
    try:
        return CameraGroup(cameras, metadata=metadata)
    except ValueError as exc:
        raise ValueError(f"{exc} (in {path})") from None


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
    """Read an anipose ``calibration.toml`` (ours or anipose's); every value is checked
    (:func:`checked_camera`), and cameras must be numbered ``cam_0``, ``cam_1``, … without gaps."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"Expected a TOML calibration in {path}, but it does not parse: {exc}") from None
    keys = [k for k in data if k.startswith("cam_")]
    numbers = sorted(int(k[4:]) for k in keys if k[4:].isdigit() and k[4:] == str(int(k[4:])))
    if len(numbers) != len(keys) or numbers != list(range(len(keys))):
        raise ValueError(f"Expected camera tables [cam_0] … [cam_{len(keys) - 1}] in {path}, but got "
                         f"{sorted(keys)[:10]}")
    cameras = []
    for number in numbers:
        key = f"cam_{number}"
        table = data[key]
        if not isinstance(table, dict):
            raise ValueError(f"Expected [{key}] in {path} to be a table, but got {type(table).__name__}")
        missing = {"name", "size", "matrix", "distortions", "rotation", "translation"} - set(table)
        if missing:
            raise ValueError(f"Expected fields {sorted(missing)} in [{key}] of {path}, but they are missing")
        cameras.append(checked_camera(name=table["name"], size=table["size"], matrix=table["matrix"],
                                      dist=table["distortions"], rvec=table["rotation"],
                                      tvec=table["translation"], where=f"[{key}] of {path}"))
    if not cameras:
        raise ValueError(f"Expected [cam_0], [cam_1], … tables in {path}, but found none")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"Expected [metadata] in {path} to be a table, but got {type(metadata).__name__}")
    return _group(cameras, metadata, path)


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


_OPENCV_FIELDS = {"size": "image_width/image_height", "matrix": "camera_matrix",
                  "dist": "distortion_coefficients", "rvec": "rvec", "tvec": "tvec"}


def _matrix_field(fields: dict, key: str):
    """A matrix (or plain list of numbers) under ``key``; ``None`` when absent or of another kind."""
    value = fields.get(key)
    if isinstance(value, np.ndarray) or (isinstance(value, list) and value):
        return value
    return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _map_camera(fields, name: str, where: str, *, placed: bool) -> Camera:
    """One camera of a FileStorage map; ``placed``: rvec and tvec are required (multi-camera files)."""
    if not isinstance(fields, dict):
        raise ValueError(f"Expected a map of camera values for {where}, but it is missing")
    matrix = _matrix_field(fields, "camera_matrix")
    if matrix is None:
        raise ValueError(f"Expected a camera_matrix in {where}, but it is missing")
    dist = _matrix_field(fields, "distortion_coefficients")
    sizes = []
    for key in ("image_width", "image_height"):
        if not _is_number(fields.get(key)):
            raise ValueError(f"Expected a number {key} in {where}, but it is missing")
        sizes.append(float(fields[key]))
    rvec, tvec = _matrix_field(fields, "rvec"), _matrix_field(fields, "tvec")
    if placed and (rvec is None or tvec is None):
        missing = [k for k, v in (("rvec", rvec), ("tvec", tvec)) if v is None]
        raise ValueError(f"Expected {' and '.join(missing)} (the camera's pose) in {where}, but it is missing")
    label = fields.get("name")
    return checked_camera(
        name=label if isinstance(label, str) and label else name,
        size=sizes, matrix=matrix,
        dist=np.zeros(5) if dist is None else dist,
        rvec=np.zeros(3) if rvec is None else rvec,
        tvec=np.zeros(3) if tvec is None else tvec,
        where=where, fields=_OPENCV_FIELDS,
    )


def _read_opencv(path: Path) -> CameraGroup:
    root = read_storage(path)
    if "camera_count" not in root:
        return CameraGroup([_map_camera(root, path.stem, str(path), placed=False)])
    count = root["camera_count"]
    present = sorted(k for k in root if isinstance(k, str) and k.startswith("camera_") and k[7:].isdigit())
    if not (_is_number(count) and np.isfinite(count) and count == int(count) and 1 <= count <= 1000) or len(present) != int(count):
        raise ValueError(f"Expected camera_count in {path} to count its camera_N maps ({len(present)}), "
                         f"but got {str(count)[:20]}")
    cameras = [_map_camera(root.get(f"camera_{i}"), f"camera_{i}", f"camera_{i} of {path}", placed=True)
               for i in range(int(count))]
    metadata = {}
    for key, value in root.items():
        if isinstance(key, str) and key.startswith("metadata_") and (isinstance(value, str) or _is_number(value)):
            metadata[key[len("metadata_"):]] = value if isinstance(value, str) else float(value)
    return _group(cameras, metadata, path)


def load_opencv(path: str | os.PathLike) -> CameraGroup:
    """Read cameras from an OpenCV YAML/XML file (ours, or one camera from OpenCV's samples).

    Parsed in pure Python (:mod:`.opencv_storage`: OpenCV's own parser aborts the process on some
    damaged files); every value is checked (:func:`checked_camera`); a file that is not a readable
    FileStorage is a one-line ``ValueError`` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Expected a calibration file at {path}, but there is none")
    try:
        return _read_opencv(path)
    except StorageError as exc:
        raise ValueError(f"Expected an OpenCV YAML/XML calibration in {path}, but could not read it: {exc}") from None


# --------------------------------------------------------------------------------------------------
# Caltech (Bouguet) toolbox


# Loaded in a child process: scipy's loadmat trusts the sizes written in the file, and a damaged
# file can crash the interpreter (a segfault in its reader) or ask for terabytes.
_LOADMAT = """
import pickle, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
from scipy.io import loadmat
try:
    data = loadmat(sys.argv[1])
except MemoryError:
    data = "it asks for more than 2 GiB of memory"
except Exception as exc:
    data = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
sys.stdout.buffer.write(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
"""

MAT_HEADER = 128


def _check_mat_header(path: Path) -> None:
    """A MAT file starts with a 116-byte text, 8 bytes of subsystem offset, version 0x0100 and an
    endian indicator ``IM``/``MI`` (level 5, which the toolbox writes)."""
    with open(path, "rb") as handle:
        head = handle.read(MAT_HEADER)
    if len(head) < MAT_HEADER or not head.startswith(b"MATLAB 5.0 MAT-file") or head[126:128] not in (b"IM", b"MI"):
        raise ValueError(f"Expected a MATLAB 5.0 MAT-file at {path} (header 'MATLAB 5.0 MAT-file', "
                         f"endian 'IM'/'MI'), but got {head[:24]!r}")


def _mat(path: Path) -> dict:
    import pickle
    import subprocess
    import sys

    if not path.is_file():
        raise FileNotFoundError(f"Expected a Caltech calibration file at {path}, but there is none")
    _check_mat_header(path)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        result = subprocess.run([sys.executable, "-c", _LOADMAT, str(path)], capture_output=True,
                                timeout=120, env=env)
    except subprocess.TimeoutExpired:
        raise ValueError(f"Expected a readable MAT-file at {path}, but reading it took over 120 s") from None
    if result.returncode != 0:
        raise ValueError(f"Expected a readable MAT-file at {path}, but scipy's reader crashed on it "
                         f"(exit {result.returncode}): the file is damaged")
    data = pickle.loads(result.stdout)  # written by our own child process, not taken from the file
    if isinstance(data, str):
        raise ValueError(f"Expected a readable MAT-file at {path}, but {data}")
    return data


def _field(data: dict, key: str, path: Path, size: int | None = None) -> np.ndarray:
    if key not in data:
        raise ValueError(f"Expected a field '{key}' in {path}, but it is missing")
    try:
        value = np.asarray(data[key], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"Expected numbers in field '{key}' of {path}, but got {type(data[key]).__name__} "
                         f"{getattr(data[key], 'dtype', '')}") from None
    if size is not None and value.size != size:
        raise ValueError(f"Expected {size} values in field '{key}' of {path}, but got {value.size}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"Expected finite values in field '{key}' of {path}, but got {value[:9].tolist()}")
    return value


def _bouguet_camera(data: dict, suffix: str, name: str, path: Path, size, pose=None) -> Camera:
    fc = _field(data, f"fc{suffix}", path, 2)
    cc = _field(data, f"cc{suffix}", path, 2)
    kc = _field(data, f"kc{suffix}", path, 5)
    alpha = _field(data, f"alpha_c{suffix}", path, 1)[0] if f"alpha_c{suffix}" in data else 0.0
    # the toolbox's skew multiplies the normalized x by fc(1), as OpenCV's K[0, 1] does
    matrix = np.array([[fc[0], alpha * fc[0], cc[0]], [0.0, fc[1], cc[1]], [0.0, 0.0, 1.0]])
    rvec, tvec = pose if pose is not None else (np.zeros(3), np.zeros(3))
    return checked_camera(name=name, size=size, matrix=matrix, dist=kc, rvec=rvec, tvec=tvec,
                          where=f"camera {name!r} of {path}",
                          fields={"size": "nx/ny", "matrix": f"fc{suffix}/cc{suffix}/alpha_c{suffix}",
                                  "dist": f"kc{suffix}", "rvec": "om", "tvec": "T"})


def _bouguet_size(data: dict, path: Path) -> tuple[float, float]:
    for width_key, height_key in (("nx", "ny"), ("Wcal", "Hcal")):
        if width_key in data and height_key in data:
            return _field(data, width_key, path, 1)[0], _field(data, height_key, path, 1)[0]
    raise ValueError(f"Expected the image size (nx, ny or Wcal, Hcal) in {path}, but it is missing")


def load_bouguet(path: str | os.PathLike, *, names: tuple[str, str] = ("left", "right")) -> CameraGroup:
    """Read a Caltech toolbox result: ``Calib_Results_stereo.mat`` (two cameras, the left one at
    the origin, units of the board's squares, usually mm) or ``Calib_Results_*.mat`` (one camera
    at the origin, named after the file)."""
    path = Path(path)
    data = _mat(path)
    if "om" in data and "T" in data:
        size = _bouguet_size(data, path)
        left = _bouguet_camera(data, "_left", names[0], path, size)
        pose = (_field(data, "om", path, 3), _field(data, "T", path, 3))
        right = _bouguet_camera(data, "_right", names[1], path, size, pose)
        return _group([left, right], {"source": f"Caltech toolbox {path.name}", "unit": "mm"}, path)
    if "fc" in data:
        size = _bouguet_size(data, path)
        name = path.stem.removeprefix("Calib_Results_") or "camera"
        camera = _bouguet_camera(data, "", name, path, size)
        return _group([camera], {"source": f"Caltech toolbox {path.name}"}, path)
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
    n_images = _field(data, "n_ima", path, 1)[0]
    if not (n_images == int(n_images) and 0 <= n_images <= 100_000):
        raise ValueError(f"Expected a whole number of images 0..100000 in field 'n_ima' of {path}, but got {n_images}")
    n_images = int(n_images)
    active = _field(data, "active_images", path, n_images) if "active_images" in data else np.ones(n_images)
    views = []
    for i in range(1, n_images + 1):
        if not active[i - 1] or f"x_{i}" not in data or f"omc_{i}" not in data:
            continue
        image_points = _field(data, f"x_{i}", path)
        n = image_points.size // 2
        views.append({
            "image": i,
            "object_points": _field(data, f"X_{i}", path, 3 * n).reshape(3, n).T,
            "image_points": image_points.reshape(2, n).T if image_points.size == 2 * n else
            _field(data, f"x_{i}", path, 2 * n),
            "rvec": _field(data, f"omc_{i}", path, 3),
            "tvec": _field(data, f"Tc_{i}", path, 3),
            "error": _field(data, f"ex_{i}", path, 2 * n).reshape(2, n).T if f"ex_{i}" in data else None,
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
