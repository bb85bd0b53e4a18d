"""Identity tracking against the truth, at scale, beside the simplest baseline a user could write.

Inputs: synthetic animals that cross, touch and hide (two and three animals, 13 keypoints), and
real trajectories: the two SLEAP flies (24 nodes, SLEAP's tracks 1 and 2, which never exchange
identities in this clip) and the DeepLabCut open-field mouse (its 116 labelled poses, played as
a slow video by linear interpolation, three copies offset in time so that they cross in the same
arena). Each becomes detections as a detector gives them: slots in random order every frame,
0-5 px noise, keypoints and whole animals dropped at random or in bursts of up to 15 frames,
false and duplicate detections. The baseline is a frame-to-frame Hungarian matcher on centroids
(last seen position, no gate). Done when, on every input: no identity switch where the baseline
has none, at most half of its switches where it has some, and no detection silently dropped.
"""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.schema import make_poses
from deepbehavior.tracking import quality_report, track_identities
from deepbehavior.tracking.matcher import DUPLICATE, EMPTY, EXTRA, MATCHED
from deepbehavior.tracking.metrics import clear_mot, covers_from_labels
from deepbehavior.tracking.motion import track_points
from deepbehavior.tracking.simulate import crossing_animals, detections

CONDITIONS = {  # name: detections() settings
    "clean": dict(noise=0.0),
    "random": dict(noise=2.5, keypoint_dropout=0.2, instance_dropout=0.05, false_positives=0.05, duplicates=0.05),
    "bursty": dict(noise=5.0, keypoint_dropout=0.01, instance_dropout=0.02, bursty=True, false_positives=0.05,
                   duplicates=0.05),
}


def naive_switches(points, labels, present, n):
    """The baseline's score, computed here from scratch so it does not lean on the tracker's code."""
    from scipy.optimize import linear_sum_assignment

    last = np.full((n, 2), np.nan)
    slot_of = np.full((points.shape[0], n), -1)
    with np.errstate(invalid="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            centroid = np.nanmean(points, axis=2)
    for t in range(points.shape[0]):
        slots = np.flatnonzero(np.isfinite(centroid[t]).all(1))
        if slots.size:
            cost = np.nan_to_num(np.linalg.norm(last[:, None] - centroid[t, slots][None], axis=-1), nan=1e6)
            r, c = linear_sum_assignment(cost)
            slot_of[t, r], last[r] = slots[c], centroid[t, slots[c]]
    return clear_mot(covers_from_labels(slot_of, labels), present)


def check(points, labels, n, *, max_jump):
    """Tracker vs baseline on one input; returns both scores after the shared assertions."""
    present = np.stack([(labels == a).any(1) for a in range(n)], axis=1)
    base = naive_switches(points, labels, present, n)
    slot_of, status, _, _ = track_points(points, n_identities=n, max_jump=max_jump)
    ours = clear_mot(covers_from_labels(slot_of, labels), present)
    # Never two identities on one detection, and every detection accounted for.
    held = slot_of[slot_of >= 0]
    rows = np.repeat(np.arange(len(slot_of)), n)[slot_of.ravel() >= 0]
    assert len(set(zip(rows.tolist(), held.tolist()))) == held.size
    detected = np.isfinite(points).all(-1).any(-1)
    assert ((status != EMPTY) == detected).all()
    assert (status == MATCHED).sum() == held.size
    assert np.isin(status[detected], (MATCHED, DUPLICATE, EXTRA)).all()
    if base["id_switches"] == 0:
        assert ours["id_switches"] == 0, (ours, base)
    else:
        assert ours["id_switches"] <= base["id_switches"] / 2, (ours, base)
    assert ours["idf1"] >= base["idf1"] - 0.01, (ours, base)
    return ours, base


# --------------------------------------------------------------------------------------------------
# Synthetic crossings


@pytest.mark.parametrize("n_animals", [2, 3])
@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_crossing_animals(n_animals, condition, seed):
    truth = crossing_animals(n_animals, 1500)
    points, labels = detections(truth, np.random.default_rng(seed), **CONDITIONS[condition])
    ours, base = check(points, labels, n_animals, max_jump=15)
    assert ours["idf1"] > 0.9


def test_the_crossings_are_real():
    # The animals meet: closer than a body length (40 px) at every crossing, and with detector
    # noise and dropout the baseline loses them there.
    truth = crossing_animals(2, 1500)
    d = np.linalg.norm(truth[:, 0].mean(1) - truth[:, 1].mean(1), axis=-1)
    assert d.min() < 10 and (d < 40).sum() > 50
    points, labels = detections(truth, np.random.default_rng(0), **CONDITIONS["random"])
    present = np.stack([(labels == a).any(1) for a in range(2)], axis=1)
    assert naive_switches(points, labels, present, 2)["id_switches"] >= 2


def test_hidden_while_crossing_is_repaired_and_reported():
    # Both animals vanish for 12 frames around every crossing.
    truth = crossing_animals(2, 900)
    d = np.linalg.norm(truth[:, 0].mean(1) - truth[:, 1].mean(1), axis=-1)
    meet = np.flatnonzero((d[1:-1] < d[:-2]) & (d[1:-1] <= d[2:])) + 1
    hidden = truth.copy()
    for t in meet:
        hidden[t - 6:t + 6] = np.nan
    points, labels = detections(hidden, np.random.default_rng(3), noise=1.0)
    check(points, labels, 2, max_jump=15)
    ds = make_poses(points.transpose(0, 3, 2, 1), fps=30.0, individuals_are="slots")
    out = track_identities(ds, n_identities=2, max_jump=15)
    report = quality_report(out, merge_distance=5, max_jump=15)
    missing = report.query("event == 'missing'")
    assert len(missing) == 2 * 12 * len(meet)
    assert report.query("event == 'jump'").empty  # the jump check sees across the hidden frames: nothing jumped


def test_unseen_is_not_free_in_the_repair():
    # Animal B is never seen after frame 100; A is seen throughout apart from short gaps, far from
    # where B was. The repair must not hand A's frames to B's identity.
    n = 400
    truth = crossing_animals(2, n, offset=150.0)
    truth[100:, 1] = np.nan
    points, labels = detections(truth, np.random.default_rng(4), noise=2.0, keypoint_dropout=0.3,
                                instance_dropout=0.2)
    slot_of, _, _, fix = track_points(points, n_identities=2, max_jump=15)
    present = np.stack([(labels == a).any(1) for a in range(2)], axis=1)
    assert clear_mot(covers_from_labels(slot_of, labels), present)["id_switches"] == 0
    assert fix.swaps == []


def test_extra_and_duplicate_detections_are_reported():
    truth = crossing_animals(2, 300, offset=100.0)
    points, labels = detections(truth, np.random.default_rng(5), noise=1.0, false_positives=0.2, duplicates=0.2)
    ds = make_poses(points.transpose(0, 3, 2, 1), fps=30.0, individuals_are="slots")
    out = track_identities(ds, n_identities=2, max_jump=15)
    report = quality_report(out, merge_distance=5)
    left = report[report["event"].isin(["extra", "duplicate"])]
    detected = int(np.isfinite(points).all(-1).any(-1).sum())
    held = int(out["position"].notnull().any(("space", "keypoints")).sum())
    assert held + len(left) == detected
    # Duplicates are second detections of a real animal, extras are the false ones.
    false = int(((labels == -1) & np.isfinite(points).all(-1).any(-1)).sum())
    assert len(report.query("event == 'extra'")) == false


# --------------------------------------------------------------------------------------------------
# Real trajectories


def _fly_truth(shared_data):
    sio = pytest.importorskip("sleap_io")
    labels = sio.load_file(str(shared_data / "sleap-flies" / "centered_pair_predictions.slp"))
    return labels.numpy()[:, :2].astype(np.float64)  # (time, fly, node, 2): SLEAP's tracks 1 and 2


def _mouse_truth(shared_data, upsample=20, offset=100):
    """Three mice from the one labelled open-field mouse: its 116 poses in order, played slowly
    (linear interpolation, ``upsample`` frames between labels), as is, mirrored left-right and
    mirrored top-bottom in the 640 x 480 arena, each starting ``offset`` frames later."""
    import pandas as pd

    csv = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    poses = pd.read_csv(csv, header=[0, 1, 2], index_col=0).to_numpy(float).reshape(-1, 4, 2)
    fine = np.linspace(0, len(poses) - 1, (len(poses) - 1) * upsample + 1)
    slow = np.stack([[np.interp(fine, np.arange(len(poses)), poses[:, k, c]) for c in range(2)]
                     for k in range(4)]).transpose(2, 0, 1)  # (time, keypoint, 2)
    n = len(slow) - 2 * offset
    mice = [slow[:n], slow[offset:offset + n] * [-1, 1] + [640, 0], slow[2 * offset:] * [1, -1] + [0, 480]]
    return np.stack(mice, axis=1)


def test_real_fly_trajectories_are_what_we_think(shared_data):
    flies = _fly_truth(shared_data)
    assert flies.shape == (1100, 2, 24, 2)
    c = np.nanmean(flies, axis=2)
    # SLEAP's two tracks never exchange: keeping labels always fits the next frame better than swapping.
    keep = np.linalg.norm(c[1:] - c[:-1], axis=-1).sum(1)
    swap = np.linalg.norm(c[1:] - c[:-1, ::-1], axis=-1).sum(1)
    assert (keep < swap).all()


@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_flies(shared_data, condition, seed):
    points, labels = detections(_fly_truth(shared_data), np.random.default_rng(seed), **CONDITIONS[condition])
    ours, _ = check(points, labels, 2, max_jump=20)
    assert ours["idf1"] > 0.9


def test_real_flies_as_sleap_predicted_them(shared_data):
    # SLEAP's own 27 tracks: 2 flies plus extra instances (false and duplicate detections).
    sio = pytest.importorskip("sleap_io")
    every = sio.load_file(str(shared_data / "sleap-flies" / "centered_pair_predictions.slp")).numpy()
    rng = np.random.default_rng(0)
    order = np.argsort(rng.random(every.shape[:2]), axis=1)
    points = np.take_along_axis(every.astype(np.float64), order[:, :, None, None], axis=1)
    labels = np.take_along_axis(np.where(np.arange(every.shape[1]) < 2, np.arange(every.shape[1]), -1)[None]
                                .repeat(len(every), 0), order, axis=1)
    labels = np.where(np.isfinite(points).all(-1).any(-1), labels, -1)
    ours, base = check(points, labels, 2, max_jump=20)
    assert ours["id_switches"] == 0 and ours["idf1"] > 0.99


@pytest.mark.parametrize("condition", list(CONDITIONS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_real_mice_in_one_arena(shared_data, condition, seed):
    truth = _mouse_truth(shared_data)
    points, labels = detections(truth, np.random.default_rng(seed), **CONDITIONS[condition])
    # 4 keypoints with up to 5 px noise: the gate must cover a step (<= 6 px) plus that noise.
    ours, _ = check(points, labels, 3, max_jump=25)
    assert ours["idf1"] > 0.9
