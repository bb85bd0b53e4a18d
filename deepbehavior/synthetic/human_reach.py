"""A synthetic person reaching, filmed by two calibrated cameras: test data with known answers.

There is no real two-camera human recording to test the human 3D pipeline on, so this module builds
one whose answers are known in closed form:

- :func:`reach_angles` and :func:`human_reach_3d`: a standing adult (BODY_25 + both hands in
  OpenPose's order, mm, ``z`` up, facing ``+y``; the person's right is ``+x``) who reaches forward
  with the right arm and back. The right arm moves in one plane through the shoulder; its shoulder
  angle (elbow–shoulder–hip) and elbow angle (shoulder–elbow–wrist) follow minimum-jerk profiles,
  so the wrist's position and velocity are closed-form functions of time (:func:`wrist_motion`).
- :func:`two_camera_rig`: two cameras 3 m in front of the person and 60° apart, with lens
  distortion, in the layout of DeepBehavior's human setup.
- :func:`observe`: the rig's 2D view of the skeleton as a pose backend would report it: pixel
  noise, low-confidence dropouts (missing points) and a few outlier frames (points thrown off by
  tens of pixels in one view, with low confidence).
- :func:`write_pose_store`: those observations as a two-view 2D store written the way
  ``deepbehavior infer`` writes one (same template, attributes, regions and done markers).
- :func:`write_session`: all of it at once, for tests, demos and the README's walk-through.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from .. import schema
from ..models import pose_layout
from ..models.base import ModelDescription

UPPER_ARM_MM = 300.0
FOREARM_MM = 260.0
WRIST_ANGLE_DEG = 165.0  # elbow–wrist–middle-finger MCP, held constant during the reach

# Resting body of a ~1.75 m adult, mm; the right arm and both hands are added from angles.
_BODY = {
    "Nose": (0, 95, 1625), "Neck": (0, 0, 1450), "RShoulder": (180, 0, 1450), "LShoulder": (-180, 0, 1450),
    "LElbow": (-195, 10, 1150), "LWrist": (-200, 40, 895), "MidHip": (0, 0, 1000), "RHip": (95, 0, 1000),
    "LHip": (-95, 0, 1000), "RKnee": (100, 20, 550), "LKnee": (-100, 20, 550), "RAnkle": (100, 0, 100),
    "LAnkle": (-100, 0, 100), "REye": (35, 80, 1660), "LEye": (-35, 80, 1660), "REar": (75, 5, 1640),
    "LEar": (-75, 5, 1640), "LBigToe": (-85, 160, 30), "LSmallToe": (-135, 140, 30), "LHeel": (-100, -45, 40),
    "RBigToe": (85, 160, 30), "RSmallToe": (135, 140, 30), "RHeel": (100, -45, 40),
}
# Hand points in the hand's own frame (along the hand, across the palm to the thumb side, out of the
# palm), mm from the wrist: a relaxed open hand about 18 cm long.
_HAND = {
    "Wrist": (0, 0, 0), "ThumbCMC": (25, 25, 5), "ThumbMCP": (45, 45, 8), "ThumbIP": (65, 58, 8),
    "ThumbTip": (85, 66, 8), "IndexMCP": (90, 25, 0), "IndexPIP": (130, 28, 0), "IndexDIP": (155, 29, 0),
    "IndexTip": (175, 30, 0), "MiddleMCP": (92, 0, 0), "MiddlePIP": (137, 0, 0), "MiddleDIP": (165, 0, 0),
    "MiddleTip": (187, 0, 0), "RingMCP": (88, -15, 0), "RingPIP": (128, -17, 0), "RingDIP": (153, -18, 0),
    "RingTip": (173, -19, 0), "PinkyMCP": (80, -33, 0), "PinkyPIP": (110, -37, 0), "PinkyDIP": (128, -39, 0),
    "PinkyTip": (145, -41, 0),
}


@dataclass(frozen=True)
class Reach:
    """One reach and return: the arm rests, extends over ``duration_s`` from ``onset_s``, holds for
    ``hold_s``, and returns over ``duration_s``. Angles in degrees."""

    onset_s: float = 0.5
    duration_s: float = 1.0
    hold_s: float = 0.3
    shoulder_rest_deg: float = 15.0
    shoulder_reach_deg: float = 80.0
    elbow_rest_deg: float = 100.0
    elbow_reach_deg: float = 165.0

    def __post_init__(self):
        if self.duration_s <= 0 or self.onset_s < 0 or self.hold_s < 0:
            raise ValueError(f"Expected onset_s >= 0, duration_s > 0 and hold_s >= 0 s, but got {self}")
        for name in ("shoulder_rest_deg", "shoulder_reach_deg", "elbow_rest_deg", "elbow_reach_deg"):
            if not 0.0 < getattr(self, name) < 180.0:
                raise ValueError(f"Expected {name} in (0, 180) degrees, but got {getattr(self, name)}")


def _minimum_jerk(tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimum-jerk profile ``s(τ)`` from 0 to 1 over τ in [0, 1] and ``ds/dτ``, clamped outside."""
    tau = np.clip(tau, 0.0, 1.0)
    return 10 * tau**3 - 15 * tau**4 + 6 * tau**5, 30 * tau**2 - 60 * tau**3 + 30 * tau**4


def _progress(time_s: np.ndarray, reach: Reach) -> tuple[np.ndarray, np.ndarray]:
    """How far out the arm is (0 rest, 1 reached) and its rate (1/s) at ``time_s``."""
    out, d_out = _minimum_jerk((time_s - reach.onset_s) / reach.duration_s)
    back_start = reach.onset_s + reach.duration_s + reach.hold_s
    back, d_back = _minimum_jerk((time_s - back_start) / reach.duration_s)
    return out - back, (d_out - d_back) / reach.duration_s


def reach_angles(time_s, reach: Reach = Reach()) -> dict[str, np.ndarray]:
    """Closed-form joint angles of the right arm at ``time_s`` (seconds), in degrees.

    Returns
    -------
    dict
        ``shoulder`` (elbow–shoulder–hip), ``elbow`` (shoulder–elbow–wrist), ``wrist``
        (elbow–wrist–middle-finger MCP, constant), each ``(time,)`` degrees, and their rates
        ``shoulder_rate``, ``elbow_rate`` (degrees/s).
    """
    time_s = np.asarray(time_s, dtype=np.float64)
    s, ds = _progress(time_s, reach)
    shoulder_span = reach.shoulder_reach_deg - reach.shoulder_rest_deg
    elbow_span = reach.elbow_reach_deg - reach.elbow_rest_deg
    return {
        "shoulder": reach.shoulder_rest_deg + shoulder_span * s,
        "elbow": reach.elbow_rest_deg + elbow_span * s,
        "wrist": np.full(time_s.shape, WRIST_ANGLE_DEG),
        "shoulder_rate": shoulder_span * ds,
        "elbow_rate": elbow_span * ds,
    }


def _arm_plane() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The right shoulder, and the plane the right arm moves in: ``d0`` (shoulder to hip, unit),
    ``b`` (forward in the plane, unit) and the plane's normal ``a``."""
    shoulder, hip = np.array(_BODY["RShoulder"], float), np.array(_BODY["RHip"], float)
    d0 = (hip - shoulder) / np.linalg.norm(hip - shoulder)
    a = np.cross(d0, [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    return shoulder, d0, np.cross(a, d0), a


def wrist_motion(time_s, reach: Reach = Reach()) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form position (mm) and velocity (mm/s) of the right wrist, each ``(time, 3)``.

    In the arm's plane the upper arm points at angle ``α = shoulder`` from the shoulder–hip line
    and the forearm at ``β = α + 180° − elbow``, so ``W = S + L1 (cos α, sin α) + L2 (cos β, sin β)``
    and ``dW/dt`` follows by the chain rule.
    """
    angles = reach_angles(time_s, reach)
    shoulder, d0, b, _ = _arm_plane()
    alpha = np.radians(angles["shoulder"])
    beta = alpha + np.pi - np.radians(angles["elbow"])
    d_alpha = np.radians(angles["shoulder_rate"])
    d_beta = d_alpha - np.radians(angles["elbow_rate"])
    in_plane = UPPER_ARM_MM * np.stack([np.cos(alpha), np.sin(alpha)], -1) + FOREARM_MM * np.stack(
        [np.cos(beta), np.sin(beta)], -1)
    rate = UPPER_ARM_MM * d_alpha[:, None] * np.stack([-np.sin(alpha), np.cos(alpha)], -1) + FOREARM_MM * d_beta[
        :, None] * np.stack([-np.sin(beta), np.cos(beta)], -1)
    basis = np.stack([d0, b])  # (2, 3)
    return shoulder + in_plane @ basis, rate @ basis


def _hand(wrist: np.ndarray, along: np.ndarray, across: np.ndarray) -> np.ndarray:
    """``(time, 21, 3)`` hand points from the wrist ``(time, 3)`` and unit axes ``(time, 3)``."""
    out_of_palm = np.cross(along, across)
    local = np.array(list(_HAND.values()), dtype=np.float64)  # (21, 3)
    return (wrist[:, None] + local[None, :, :1] * along[:, None] + local[None, :, 1:2] * across[:, None]
            + local[None, :, 2:] * out_of_palm[:, None])


def human_reach_3d(*, fps: float = 30.0, duration_s: float = 4.0, reach: Reach = Reach()) -> xr.Dataset:
    """The reaching person as a 3D poses dataset in the 67-point OpenPose layout.

    Parameters
    ----------
    fps
        Frames per second; frame ``i`` is at ``i / fps`` seconds.
    duration_s
        Length of the recording in seconds.

    Returns
    -------
    xarray.Dataset
        ``position (time, space=x,y,z, keypoints=67, individuals=1)`` (scalar ``view`` = "3d") in mm, confidence 1,
        ``attrs["space_unit"] = "mm"``. The right arm and hand move; the rest of the body stands still.
    """
    if fps <= 0 or duration_s <= 0:
        raise ValueError(f"Expected fps > 0 and duration_s > 0, but got fps={fps}, duration_s={duration_s}")
    n = int(round(duration_s * fps))
    time_s = np.arange(n) / fps
    points = np.full((n, pose_layout.N_KEYPOINTS, 3), np.nan)
    for name, xyz in _BODY.items():
        points[:, pose_layout.KEYPOINT_NAMES.index(name)] = xyz
    angles = reach_angles(time_s, reach)
    shoulder, d0, b, a = _arm_plane()
    alpha = np.radians(angles["shoulder"])
    basis = np.stack([d0, b])
    elbow = shoulder + UPPER_ARM_MM * np.stack([np.cos(alpha), np.sin(alpha)], -1) @ basis
    wrist, _ = wrist_motion(time_s, reach)
    beta = alpha + np.pi - np.radians(angles["elbow"])
    # The hand turns from the forearm's line by 180° − wrist angle, in the arm's plane.
    gamma = beta + np.pi - np.radians(angles["wrist"])
    along = np.stack([np.cos(gamma), np.sin(gamma)], -1) @ basis
    points[:, pose_layout.KEYPOINT_NAMES.index("RElbow")] = elbow
    points[:, pose_layout.KEYPOINT_NAMES.index("RWrist")] = wrist
    # Thumb side of the right hand faces the body's midline (−x side of the arm plane's normal).
    points[:, pose_layout.RIGHT_HAND_SLICE] = _hand(wrist, along, np.broadcast_to(-a, wrist.shape))
    left_elbow, left_wrist = (np.array(_BODY[k], float) for k in ("LElbow", "LWrist"))
    left_along = (left_wrist - left_elbow) / np.linalg.norm(left_wrist - left_elbow)
    left_across = np.array([0.0, 1.0, 0.0])  # the resting left thumb points forward
    left_across = left_across - left_along * (left_across @ left_along)
    left_across /= np.linalg.norm(left_across)
    points[:, pose_layout.LEFT_HAND_SLICE] = _hand(np.broadcast_to(left_wrist, (n, 3)).copy(),
                                                   np.broadcast_to(left_along, (n, 3)),
                                                   np.broadcast_to(left_across, (n, 3)))
    position = np.moveaxis(points, -1, 1)[..., None]  # (time, space, keypoints, individuals)
    return schema.make_poses(position, fps=fps, keypoints=pose_layout.KEYPOINT_NAMES, individuals=["person0"],
                             views=["3d"], source_software="deepbehavior.synthetic.human_reach", space_unit="mm")


def reach_truth(ds: xr.Dataset, reach: Reach = Reach()) -> dict[str, float]:
    """The session numbers of :func:`deepbehavior.analysis.human.measure_human` for the synthetic
    reach, from the closed form at the frames of ``ds``.

    ``wrist_path_length`` (mm) is the sum of the straight steps between frames (what the measure
    sums); ``wrist_speed_peak`` (mm/s) the analytic speed's largest value at a frame.
    """
    time_s = schema.frame_seconds(ds)
    angles = reach_angles(time_s, reach)
    wrist, velocity = wrist_motion(time_s, reach)
    truth = {}
    for name in ("shoulder", "elbow", "wrist"):
        truth |= {f"{name}_angle_mean": float(angles[name].mean()), f"{name}_angle_min": float(angles[name].min()),
                  f"{name}_angle_max": float(angles[name].max())}
    hip, knee, ankle = (np.array(_BODY[k], float) for k in ("RHip", "RKnee", "RAnkle"))
    cosine = (hip - knee) @ (ankle - knee) / np.linalg.norm(hip - knee) / np.linalg.norm(ankle - knee)
    knee_angle = float(np.degrees(np.arccos(cosine)))  # the legs stand still
    truth |= {"knee_angle_mean": knee_angle, "knee_angle_min": knee_angle, "knee_angle_max": knee_angle}
    speed = np.linalg.norm(velocity, axis=1)
    truth |= {"wrist_path_length": float(np.linalg.norm(np.diff(wrist, axis=0), axis=1).sum()),
              "wrist_speed_mean": float(speed.mean()), "wrist_speed_peak": float(speed.max())}
    return truth


def _look_at(centre, target) -> tuple[np.ndarray, np.ndarray]:
    """Rodrigues vector and translation of a camera at ``centre`` looking at ``target`` (``z`` up)."""
    from ..geometry.camera import rotation_vector

    forward = np.asarray(target, float) - np.asarray(centre, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])
    return rotation_vector(rotation), -rotation @ np.asarray(centre, float)


def two_camera_rig(*, names: tuple[str, str] = ("cam1", "cam2"), size: tuple[int, int] = (1280, 720),
                   focal_px: float = 900.0, distance_mm: float = 3000.0, separation_deg: float = 60.0):
    """Two cameras in front of the person, ``separation_deg`` apart, at ``distance_mm`` from the
    chest, 1.4 m high, with barrel distortion; world frame of :func:`human_reach_3d` (mm).

    Returns
    -------
    deepbehavior.geometry.CameraGroup
        With ``metadata["unit"] = "mm"``.
    """
    from ..geometry.camera import Camera, CameraGroup

    target = np.array([0.0, 100.0, 1150.0])
    cameras = []
    for name, sign, dist in zip(names, (-1.0, 1.0), ([-0.12, 0.05, 0.001, -0.0005, 0.0],
                                                      [-0.10, 0.03, -0.0008, 0.0006, 0.0])):
        angle = np.radians(sign * separation_deg / 2)
        centre = target + [distance_mm * np.sin(angle), distance_mm * np.cos(angle), 250.0]
        rvec, tvec = _look_at(centre, target)
        matrix = [[focal_px, 0.0, size[0] / 2 - 0.5 + 6 * sign], [0.0, focal_px * 1.002, size[1] / 2 - 0.5 - 4],
                  [0.0, 0.0, 1.0]]
        cameras.append(Camera(name=name, size=size, matrix=matrix, dist=dist, rvec=rvec, tvec=tvec))
    return CameraGroup(cameras, metadata={"unit": "mm", "source": "deepbehavior.synthetic.human_reach"})


@dataclass(frozen=True)
class Observations:
    """What two pose backends would report: ``pixels (view, time, keypoints, 2)`` and ``confidence
    (view, time, keypoint)`` (NaN where missing), and which ``(time, keypoint)`` were made outliers."""

    pixels: np.ndarray
    confidence: np.ndarray
    outliers: np.ndarray
    dropouts: np.ndarray


def observe(ds: xr.Dataset, group, *, noise_px: float = 1.0, dropout: float = 0.02,
            outlier_frames: tuple[int, ...] = (), outlier_px: float = 60.0,
            outlier_keypoints: tuple[str, ...] = ("RShoulder", "RElbow", "RWrist"),
            seed: int = 0) -> Observations:
    """Project a 3D poses dataset into every camera and degrade it as a pose backend would.

    Parameters
    ----------
    ds
        3D poses (:func:`human_reach_3d`), one individual, mm.
    group
        The cameras (:func:`two_camera_rig`).
    noise_px
        Standard deviation of the Gaussian noise added to every pixel coordinate (pixels).
    dropout
        Fraction of (view, frame, keypoint) points reported missing, as a backend drops points it
        has no confidence in.
    outlier_frames, outlier_keypoints, outlier_px
        In these frames, these keypoints are moved by ``outlier_px`` pixels in a random direction
        in one (random) view and given a low confidence (0.05–0.2), as a backend that latched on to
        the wrong limb would.

    Returns
    -------
    Observations
        Confidence of a clean point is uniform in [0.75, 0.95]; points outside the image are
        missing.
    """
    rng = np.random.default_rng(seed)
    world = schema.select_view(ds["position"]).isel(individuals=0).transpose("time", "keypoints", "space").values
    pixels = group.project(world.astype(np.float64))  # (view, time, keypoint, 2)
    pixels = pixels + rng.normal(0.0, noise_px, pixels.shape)
    confidence = rng.uniform(0.75, 0.95, pixels.shape[:-1])
    names = [str(k) for k in ds["keypoints"].values]
    outliers = np.zeros(pixels.shape[1:3], dtype=bool)
    for frame in outlier_frames:
        for name in outlier_keypoints:
            k = names.index(name)
            view = int(rng.integers(len(group)))
            angle = rng.uniform(0, 2 * np.pi)
            pixels[view, frame, k] += outlier_px * np.array([np.cos(angle), np.sin(angle)])
            confidence[view, frame, k] = rng.uniform(0.05, 0.2)
            outliers[frame, k] = True
    dropped = (rng.random(pixels.shape[:-1]) < dropout) & ~outliers[None]
    for v, cam in enumerate(group.cameras):
        width, height = cam.size
        x, y = pixels[v, ..., 0], pixels[v, ..., 1]
        dropped[v] |= (x < 0) | (x > width - 1) | (y < 0) | (y > height - 1)
    pixels[dropped] = np.nan
    confidence[dropped] = np.nan
    return Observations(pixels.astype(np.float32), confidence.astype(np.float32), outliers, dropped)


def write_pose_store(path: str | os.PathLike, observations: Observations, *, fps: float, views: list[str],
                     chunk: int = 1000, subject: str = "sub01", session: str = "reach", group: str = "synthetic",
                     videos: dict[str, str] | None = None, overwrite: bool = False) -> Path:
    """Write two-view 2D poses as ``deepbehavior infer`` writes a pose backend's output.

    The store has the inference template (OpenPose layout, one ``slot0``, ``individuals_are =
    "slots"``), the same attributes (session, subject, group, videos, model, provenance) and one
    region per (view, time chunk), each written with its done marker.

    Parameters
    ----------
    observations
        From :func:`observe`: pixels ``(view, time, keypoints, 2)``, confidence ``(view, time, keypoints)``.
    views
        Camera names, in the order of the observations' first axis (the store's ``view`` labels).
    """
    from .. import store
    from ..models.outputs import prediction_arrays, store_parts

    n_views, n_frames = observations.confidence.shape[:2]
    if len(views) != n_views:
        raise ValueError(f"Expected {n_views} view names, but got {views}")
    description = ModelDescription(
        kind=schema.POSES, slots=1, class_names=("person",), keypoint_names=pose_layout.KEYPOINT_NAMES,
        metadata={"layout": pose_layout.LAYOUT, "derived": [], "backend": "synthetic_human"})
    parts = store_parts(description, n_frames=n_frames, fps=fps, views=list(views))
    key = f"{subject}_{session}"
    attrs = {"session": key, "subject": subject, "group": group,
             "videos": dict(videos or {v: f"{key}_{v}.mp4" for v in views}),
             "model": description.metadata, "provenance": {"generator": "deepbehavior.synthetic.human_reach"}}
    path = store.create_empty_store(path, parts, chunk=chunk, attrs=attrs, overwrite=overwrite)
    for region in store.layout_regions(views, n_frames, chunk):
        v = views.index(region.view)
        rows = slice(region.start, region.stop)
        # The predictor contract: keypoints (frame, slot, keypoint, 2), keypoint_conf (frame, slot, keypoint),
        # in its corner-origin pixels (the projections are the data model's, pixel centres at integers).
        results = {"keypoints": schema.to_corner_origin(observations.pixels[v, rows][:, None]),
                   "keypoint_conf": observations.confidence[v, rows][:, None]}
        store.write_region_arrays(path, prediction_arrays(schema.POSES, results), region)
    return path


def write_session(folder: str | os.PathLike, *, fps: float = 30.0, duration_s: float = 4.0,
                  reach: Reach = Reach(), noise_px: float = 1.0, dropout: float = 0.02,
                  outlier_frames: tuple[int, ...] = (20, 45, 62, 90), outlier_px: float = 60.0,
                  chunk: int = 60, subject: str = "sub01", session: str = "reach", seed: int = 0,
                  calibration_format: str = "toml") -> dict[str, Path]:
    """A complete synthetic two-camera session in ``folder``.

    Writes ``calibration.<toml|yml>`` (the rig), ``stores2d/<subject>_<session>.zarr`` (the 2D
    poses of both views), ``cohort.yaml`` (one session whose views are the cameras; the videos it
    names are not written) and ``truth.json`` (the closed-form measures of :func:`reach_truth`,
    the outlier frames and keypoints, the noise settings).

    Returns
    -------
    dict
        Paths: ``calibration``, ``store``, ``cohort``, ``truth``.
    """
    import yaml

    from ..geometry.calib_io import save_calibration
    from ..files import write_atomic

    if calibration_format not in ("toml", "yml"):
        raise ValueError(f"Expected calibration_format 'toml' or 'yml', but got {calibration_format!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    truth_ds = human_reach_3d(fps=fps, duration_s=duration_s, reach=reach)
    rig = two_camera_rig()
    obs = observe(truth_ds, rig, noise_px=noise_px, dropout=dropout, outlier_frames=outlier_frames,
                  outlier_px=outlier_px, seed=seed)
    calibration = save_calibration(rig, folder / f"calibration.{calibration_format}")
    videos = {name: f"videos/{subject}_{session}_{name}.mp4" for name in rig.names}
    store_path = write_pose_store(folder / "stores2d" / f"{subject}_{session}.zarr", obs, fps=fps,
                                  views=rig.names, chunk=chunk, subject=subject, session=session,
                                  videos=videos, overwrite=True)
    manifest = {"cohort": "synthetic-human", "views": rig.names,
                "sessions": [{"subject": subject, "group": "synthetic", "session": session, "videos": videos,
                              "calibration": calibration.name}]}
    cohort = folder / "cohort.yaml"
    write_atomic(cohort, yaml.safe_dump(manifest, sort_keys=False))
    names = [str(k) for k in truth_ds["keypoints"].values]
    outliers = [{"frame": int(t), "keypoint": names[k]} for t, k in zip(*np.nonzero(obs.outliers))]
    truth = {"measures": reach_truth(truth_ds, reach), "fps": fps, "frames": int(truth_ds.sizes["time"]),
             "noise_px": noise_px, "dropout": dropout, "outliers": outliers, "unit": "mm"}
    path_truth = folder / "truth.json"
    write_atomic(path_truth, json.dumps(truth, indent=2) + "\n")
    return {"calibration": calibration, "store": store_path, "cohort": cohort, "truth": path_truth}
