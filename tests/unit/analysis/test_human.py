"""Human reaching: joint angles of a planar arm, the confidence filter, interpolation, smoothing."""

import math

import numpy as np
import pytest

from deepbehavior.analysis.human import (
    default_angles,
    filter_confidence_sd,
    interpolate_gaps,
    joint_angle,
    measure_human,
    smooth_tracks,
)
from deepbehavior.schema import make_poses

KEYPOINTS = ["RShoulder", "RElbow", "RWrist", "RHip", "RKnee", "RAnkle", "RHandMiddleMCP"]
FPS = 30.0


def _arm(elbow_deg, shoulder_deg, wrist_deg, knee_deg, n=60):
    """A planar body in the x–y plane (z = 5 mm) with the given angles at each joint (mm)."""
    def unit(deg):
        return np.array([math.cos(math.radians(deg)), math.sin(math.radians(deg)), 0.0])

    pos = np.zeros((n, 3, len(KEYPOINTS)))
    for i in range(n):
        shoulder = np.array([0.0, 0.0, 5.0]) + [i * 2.0, 0, 0]  # the whole body moves 2 mm/frame
        hip = shoulder + 400 * unit(-90)
        elbow = shoulder + 300 * unit(-90 + shoulder_deg[i])
        # angle at elbow between elbow->shoulder and elbow->wrist
        to_shoulder = math.degrees(math.atan2(*(shoulder - elbow)[[1, 0]]))
        wrist = elbow + 250 * unit(to_shoulder + elbow_deg[i])
        to_elbow = math.degrees(math.atan2(*(elbow - wrist)[[1, 0]]))
        hand = wrist + 80 * unit(to_elbow - wrist_deg[i])
        knee = hip + 450 * unit(-90)
        to_hip = math.degrees(math.atan2(*(hip - knee)[[1, 0]]))
        ankle = knee + 420 * unit(to_hip + knee_deg[i])
        pos[i] = np.stack([shoulder, elbow, wrist, hip, knee, ankle, hand], axis=1)
    return pos


def test_joint_angles_of_a_planar_arm_are_exact():
    n = 60
    elbow = np.linspace(60, 170, n)
    shoulder = np.linspace(10, 120, n)
    wrist = np.full(n, 150.0)
    knee = np.full(n, 175.0)
    ds = make_poses(_arm(elbow, shoulder, wrist, knee)[..., None], fps=FPS, keypoints=KEYPOINTS,
                    space=["x", "y", "z"])
    position = ds["position"].sel(individuals="individual0")
    for name, expected in (("elbow", elbow), ("shoulder", shoulder), ("wrist", wrist), ("knee", knee)):
        got = joint_angle(position, *default_angles("R")[name]).values
        np.testing.assert_allclose(got, expected, atol=1e-3)
    rows = {m: v for m, v, _ in measure_human(ds["position"].assign_attrs(ds.attrs))}
    assert rows["elbow_angle_min"] == pytest.approx(60, abs=1e-3)
    assert rows["elbow_angle_max"] == pytest.approx(170, abs=1e-3)
    assert rows["wrist_speed_peak"] > 0
    # The wrist's own path: summed straight steps between consecutive frames.
    w = ds["position"].sel(keypoints="RWrist", individuals="individual0").values
    assert rows["wrist_path_length"] == pytest.approx(np.linalg.norm(np.diff(w, axis=0), axis=1).sum(), rel=1e-5)


def test_confidence_filter_drops_below_mean_minus_k_sd():
    rng = np.random.default_rng(1)
    n = 200
    position = rng.normal(size=(n, 2, 2, 1))
    confidence = np.clip(rng.normal(0.9, 0.02, size=(n, 2, 1)), 0, 1)
    confidence[[10, 50, 120], 0, 0] = 0.2
    ds = make_poses(position, confidence, fps=FPS, keypoints=["a", "b"])
    out = filter_confidence_sd(ds, k=3.0)
    for j in range(2):
        c = confidence[:, j, 0]
        expected = c < c.mean() - 3 * c.std(ddof=1)
        dropped = np.isnan(out["position"].values[:, 0, j, 0])
        np.testing.assert_array_equal(dropped, expected)
    assert np.isnan(out["position"].values[[10, 50, 120], 0, 0, 0]).all()
    assert not np.isnan(ds["position"].values).any()  # input untouched


def test_interpolate_gaps_recovers_linear_motion_and_leaves_long_gaps():
    n = 50
    x = np.stack([np.arange(n) * 3.0, np.arange(n) * -1.0], axis=1)[:, :, None, None]
    ds = make_poses(x, fps=FPS)
    holey = ds["position"].copy()
    holey[5:8] = np.nan
    holey[20:30] = np.nan
    filled = interpolate_gaps(holey, max_gap=5)
    np.testing.assert_allclose(filled.values[5:8], ds["position"].values[5:8], rtol=1e-6)
    assert np.isnan(filled.values[20:30]).all()
    np.testing.assert_allclose(interpolate_gaps(holey).values, ds["position"].values, rtol=1e-6)


def test_robust_smoothing_removes_noise_and_ignores_an_outlier():
    rng = np.random.default_rng(2)
    n = 200
    t = np.arange(n) / FPS
    truth = 100 * np.sin(2 * np.pi * 0.5 * t)
    noisy = truth + rng.normal(0, 3, n)
    noisy[100] += 300  # a tracking glitch
    ds = make_poses(np.stack([noisy, truth], axis=1)[:, :, None, None], fps=FPS)
    smoothed = smooth_tracks(ds["position"]).values[:, 0, 0, 0]
    raw_error = np.sqrt(np.mean((noisy - truth) ** 2))
    assert np.sqrt(np.mean((smoothed - truth) ** 2)) < raw_error / 3
    assert abs(smoothed[100] - truth[100]) < 10


def test_openpose_sample_angles_and_gap_fill(shared_data):
    """The OpenPose sample folder: the elbow angle from the files' own numbers, frame 13 (no person) filled."""
    import json

    from deepbehavior.analysis.human import clean_poses
    from deepbehavior.formats.openpose import read_openpose

    folder = shared_data / "deepbehavior-formats" / "openpose_cam1"
    ds = read_openpose(folder, fps=30.0)
    raw = []
    for i in (0, 12, 14):
        body = json.loads((folder / f"cam1_{i:012d}_keypoints.json").read_text())["people"][0]["pose_keypoints_2d"]
        raw.append(np.asarray(body, dtype=float).reshape(25, 3)[:, :2])  # BODY_25 rows: 2 RShoulder, 3 RElbow, 4 RWrist
    u, v = raw[0][2] - raw[0][3], raw[0][4] - raw[0][3]
    expected = math.degrees(math.acos(u @ v / (np.linalg.norm(u) * np.linalg.norm(v))))
    position = ds["position"]  # one camera: no view dimension
    got = joint_angle(position, "RShoulder", "RElbow", "RWrist").isel(time=0).values.item()
    assert got == pytest.approx(expected, abs=1e-3)
    cleaned = clean_poses(ds, k=3.0, smooth=False)
    elbow = cleaned.sel(keypoints="RElbow").isel(individuals=0).values
    np.testing.assert_allclose(elbow[13], (raw[1][3] + raw[2][3]) / 2, atol=1e-3)
