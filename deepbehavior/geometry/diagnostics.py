"""Which camera is wrong: per-camera and per-keypoint reprojection errors of a triangulation.

:func:`camera_check` triangulates a sample of frames by consensus (``method="robust"``), so each
camera's error is measured against the point the other cameras agree on; a camera whose
calibration is wrong stands out by orders of magnitude there, whereas a plain least-squares point
spreads its error over every view. :func:`flag_cameras` applies the rule that names a camera,
:func:`camera_table` summarises a written 3D store per camera and keypoint (a CSV per session),
:func:`plot_camera_errors` draws both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .camera import CameraGroup
from .consensus import MIN_ERROR_PX, RATIO, flag_cameras

__all__ = ["CameraCheck", "MAX_MEDIAN_PX", "MAX_P90_PX", "MIN_ERROR_PX", "RATIO", "SCALE_TOLERANCE", "camera_check",
           "camera_table", "check_dataset", "flag_cameras", "plot_camera_errors"]

#: A camera whose reprojection error against the data has a median above this (pixels) is reported,
#: whatever the number of cameras: keypoints of a good calibration reproject within a few pixels
#: (detector noise), a wrong one by tens to thousands.
MAX_MEDIAN_PX = 10.0
#: The same for the 90th percentile (pixels): detector outliers raise it, a wrong calibration more.
MAX_P90_PX = 50.0
#: Relative error of the scale (board squares triangulated vs the recorded square size) reported.
SCALE_TOLERANCE = 0.05


@dataclass
class CameraCheck:
    """Per-camera reprojection error (pixels) against the consensus of the other cameras.

    ``median_error_px``/``p90_error_px``: over every point the camera saw in the sampled frames;
    ``outlier_fraction``: the share of those points where consensus left the camera out;
    ``suspect``: the cameras :func:`flag_cameras` names; ``note``: why no camera can be named
    (two cameras only).
    """

    median_error_px: dict[str, float]
    p90_error_px: dict[str, float]
    outlier_fraction: dict[str, float]
    points: dict[str, int]
    frames_sampled: int
    suspect: list[str] = field(default_factory=list)
    note: str = ""
    #: The calibration file, named in the warnings.
    calibration: str = ""
    #: :func:`.board_view.scale_check` of the calibration's own board view (None: not recorded).
    scale: dict | None = None

    def as_dict(self) -> dict:
        return {"median_error_px": self.median_error_px, "p90_error_px": self.p90_error_px,
                "outlier_fraction": self.outlier_fraction, "points": self.points,
                "frames_sampled": self.frames_sampled, "suspect": self.suspect, "note": self.note,
                "calibration": self.calibration, "scale": self.scale,
                "rule": f"median error > {RATIO:g} x the median of the other cameras and > {MIN_ERROR_PX:g} px; "
                        f"any camera: median > {MAX_MEDIAN_PX:g} px or 90th percentile > {MAX_P90_PX:g} px; "
                        f"scale off by more than {SCALE_TOLERANCE:.0%}"}

    @classmethod
    def from_dict(cls, data: dict) -> CameraCheck:
        """The check :meth:`as_dict` wrote (a 3D store's ``camera_check`` attribute)."""
        return cls(data["median_error_px"], data["p90_error_px"], data["outlier_fraction"], data["points"],
                   data["frames_sampled"], list(data["suspect"]), data.get("note", ""),
                   data.get("calibration", ""), data.get("scale"))

    def too_large(self) -> list[str]:
        """Cameras whose median or 90th-percentile error exceeds :data:`MAX_MEDIAN_PX` /
        :data:`MAX_P90_PX`, in camera order."""
        return [n for n in self.median_error_px
                if self.median_error_px[n] > MAX_MEDIAN_PX or self.p90_error_px.get(n, 0.0) > MAX_P90_PX]

    def warnings(self, views: list[str] | None = None, *, checking: bool = False) -> list[str]:
        """One line per camera that looks wrong (named among 3+, or above the absolute limits) and
        one for a wrong scale, each naming the calibration file, the camera and the figure.
        ``checking``: the lines of ``deepbehavior calibrate check=true`` itself, which do not send the
        user to the check they are reading."""
        lines = []
        check_it = "" if checking else "check it (deepbehavior calibrate check=true) and "
        calibration = f"calibration {self.calibration}, " if self.calibration else ""
        for name in self.suspect:
            others = [n for n in self.median_error_px if n != name]
            typical = float(np.median([self.median_error_px[n] for n in others]))
            keep = [v for v in (views or list(self.median_error_px)) if v != name]
            lines.append(f"{calibration}camera {name}: median reprojection error {self.median_error_px[name]:.1f} px "
                         f"(90th percentile {self.p90_error_px[name]:.1f} px) against the other cameras' consensus "
                         f"(theirs {typical:.1f} px); its calibration is probably wrong: {check_it}recalibrate, "
                         f"or leave it out with "
                         f"triangulate.views=[{','.join(keep)}]")
        for name in self.too_large():
            if name in self.suspect:
                continue
            lines.append(f"{calibration}camera {name}: median reprojection error {self.median_error_px[name]:.1f} px, "
                         f"90th percentile {self.p90_error_px[name]:.1f} px against the data (limits "
                         f"{MAX_MEDIAN_PX:g} and {MAX_P90_PX:g} px); the calibration probably does not fit these "
                         f"videos: " + ("recalibrate" if checking else "check it (deepbehavior calibrate check=true)"))
        scale = self.scale or {}
        ratio = scale.get("ratio")
        if ratio is not None and np.isfinite(ratio) and abs(ratio - 1.0) > SCALE_TOLERANCE:
            errors = ", ".join(f"{n} {v:.2f} px" for n, v in scale.get("reprojection_px", {}).items())
            lines.append(f"{calibration}cameras {', '.join(scale.get('cameras', []))}: the calibration's own board "
                         f"triangulates {ratio:.3g}× its recorded size (squares "
                         f"{scale.get('measured', float('nan')):.4g} instead of "
                         f"{scale.get('expected', float('nan')):.4g} {scale.get('unit', 'units')}; "
                         f"board reprojection error {errors}); every 3D length it gives is off by that factor "
                         f"(a wrong translation or focal length): recalibrate")
        return lines


#: Why two cameras' consensus errors name no camera, and what does (``deepbehavior calibrate check=true``).
TWO_CAMERAS_NOTE = ("2 cameras: their disagreement shows in both, so which one is wrong cannot be told from "
                    "their points; each camera's board error alone (deepbehavior calibrate check=true) and the "
                    "measured square size can")


def camera_check(group: CameraGroup, pixels: np.ndarray, confidence: np.ndarray | None = None, *,
                 min_confidence: float = 0.0, max_error: float = 20.0, frames_sampled: int = 0) -> CameraCheck:
    """Each camera's reprojection error against the consensus point of the cameras.

    Parameters
    ----------
    group
        The cameras, in the order of the first axis of ``pixels``.
    pixels
        ``(camera, ..., 2)`` detected pixels; NaN where not seen.
    confidence
        ``(camera, ...)`` detection confidence, or None.
    max_error
        Consensus inlier threshold (pixels), as ``triangulate(method="robust")``.
    frames_sampled
        Recorded in the result (how many frames ``pixels`` holds).
    """
    from .triangulation import triangulate_diagnostics

    names = group.names
    if len(group) < 3:
        _, error, used = triangulate_diagnostics(group, pixels, confidence, min_confidence=min_confidence)
        note = TWO_CAMERAS_NOTE
    else:
        _, error, used = triangulate_diagnostics(group, pixels, confidence, method="robust",
                                                 min_confidence=min_confidence, max_error=max_error)
        note = ""
    error = error.reshape(len(group), -1)
    used = used.reshape(len(group), -1)
    seen = np.isfinite(error)
    median, p90, outliers, counts = {}, {}, {}, {}
    for c, name in enumerate(names):
        values = error[c][seen[c]]
        counts[name] = int(values.size)
        median[name] = float(np.median(values)) if values.size else float("nan")
        p90[name] = float(np.percentile(values, 90)) if values.size else float("nan")
        outliers[name] = float(1.0 - used[c][seen[c]].mean()) if values.size else float("nan")
    check = CameraCheck(median, p90, outliers, counts, frames_sampled, note=note)
    check.suspect = flag_cameras(median)
    return check


def check_dataset(ds: xr.Dataset, group: CameraGroup, *, frames: int = 2000, min_confidence: float = 0.0,
                  max_error: float = 20.0, calibration: str = "") -> CameraCheck:
    """:func:`camera_check` on up to ``frames`` evenly spaced frames of a multi-view poses or boxes
    dataset (its ``view`` labels name cameras of ``group``), with the scale check of the
    calibration's own board view (:func:`.board_view.scale_check`) when it records one;
    ``calibration`` (the file) is named in the warnings."""
    from .board_view import scale_check
    from .triangulation import _as_pose_arrays

    n = ds.sizes["time"]
    index = np.unique(np.linspace(0, n - 1, min(frames, n)).round().astype(int)) if n else np.zeros(0, int)
    sample = ds.isel(time=index)
    views = [str(v) for v in sample["view"].values]
    position, confidence, _ = _as_pose_arrays(sample)
    pixels = np.moveaxis(np.asarray(position.values, dtype=np.float64), (4, 1), (0, -1))
    conf = np.moveaxis(np.asarray(confidence.values, dtype=np.float64), 3, 0)
    check = camera_check(group.subset(views), pixels, conf, min_confidence=min_confidence, max_error=max_error,
                         frames_sampled=len(index))
    check.calibration = str(calibration)
    check.scale = scale_check(group)
    return check


def camera_table(ds3d: xr.Dataset, *, frames: int = 20000) -> pd.DataFrame:
    """Per camera and keypoint (and ``"all"`` keypoints): points the camera saw (``observed``), those
    it was used for (``used``), and the median and 90th percentile of its reprojection error in
    pixels, from a 3D store's ``view_error``/``view_used``; counts over every frame, error
    percentiles over up to ``frames`` evenly spaced frames."""
    error = ds3d["view_error"]
    used = ds3d["view_used"]
    n = ds3d.sizes["time"]
    observed_count = error.notnull().sum(dim=("time", "individuals")).transpose("keypoints", "camera").values
    used_count = used.sum(dim=("time", "individuals")).transpose("keypoints", "camera").values
    index = np.unique(np.linspace(0, n - 1, min(frames, n)).round().astype(int)) if n else np.zeros(0, int)
    sample = np.asarray(error.isel(time=index).transpose("camera", "keypoints", "time", "individuals").values,
                        dtype=np.float64)
    rows = []
    cameras = [str(c) for c in ds3d["camera"].values]
    keypoints = [str(k) for k in ds3d["keypoints"].values]
    for c, cam in enumerate(cameras):
        per_kp = [sample[c, k].ravel() for k in range(len(keypoints))]
        for k, kp in enumerate(keypoints + ["all"]):
            values = np.concatenate(per_kp) if kp == "all" else per_kp[k]
            values = values[np.isfinite(values)]
            rows.append({
                "camera": cam, "keypoint": kp,
                "observed": int(observed_count[:, c].sum() if kp == "all" else observed_count[k, c]),
                "used": int(used_count[:, c].sum() if kp == "all" else used_count[k, c]),
                "median_error_px": float(np.median(values)) if values.size else float("nan"),
                "p90_error_px": float(np.percentile(values, 90)) if values.size else float("nan"),
            })
    return pd.DataFrame(rows)


def plot_camera_errors(table: pd.DataFrame, check: CameraCheck | None = None, *, title: str = ""):
    """Figure: per camera, the median consensus error (bars, log scale, the naming threshold
    dashed) and the median error of each keypoint in the 3D store (heat map), in pixels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cameras = list(dict.fromkeys(table["camera"]))
    keypoints = [k for k in dict.fromkeys(table["keypoint"]) if k != "all"]
    fig, (ax_bar, ax_map) = plt.subplots(1, 2, figsize=(4 + 0.45 * max(len(keypoints), 6), 4),
                                         gridspec_kw={"width_ratios": [1, 2.2]})
    if check is not None:
        values = [check.median_error_px.get(c, np.nan) for c in cameras]
        label = "median error vs consensus (px)"
    else:
        values = [float(table[(table.camera == c) & (table.keypoint == "all")].median_error_px.iloc[0]) for c in cameras]
        label = "median reprojection error (px)"
    colours = ["tab:red" if check is not None and c in check.suspect else "tab:blue" for c in cameras]
    ax_bar.bar(cameras, np.maximum(np.nan_to_num(values, nan=0.0), 1e-3), color=colours)
    ax_bar.set_yscale("log")
    ax_bar.set_ylabel(label)
    ax_bar.set_xlabel("camera")
    if check is not None and len(cameras) >= 3:
        finite = [v for v in values if np.isfinite(v)]
        if finite:
            ax_bar.axhline(max(MIN_ERROR_PX, RATIO * float(np.median(finite))), ls="--", color="grey", lw=1,
                           label="naming threshold")
            ax_bar.legend(fontsize=7)
    grid = np.array([[float(table[(table.camera == c) & (table.keypoint == k)].median_error_px.iloc[0])
                      for k in keypoints] for c in cameras])
    from matplotlib.colors import LogNorm

    finite = grid[np.isfinite(grid) & (grid > 0)]
    norm = LogNorm(vmin=max(finite.min(), 1e-3), vmax=max(finite.max(), finite.min() * 10)) if finite.size else None
    image = ax_map.imshow(grid, aspect="auto", cmap="magma", norm=norm)  # log: 1 px and 100 px both readable
    ax_map.set_yticks(range(len(cameras)), cameras)
    ax_map.set_xticks(range(len(keypoints)), keypoints, rotation=60, ha="right", fontsize=7)
    ax_map.set_xlabel("keypoint")
    ax_map.set_ylabel("camera")
    fig.colorbar(image, ax=ax_map, label="median reprojection error in the 3D store (px)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
