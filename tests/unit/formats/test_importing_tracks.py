"""Reading a tracked file's tracks as identities or as detection slots, and dropping short tracks
(issue 31): known answers on small hand-made datasets, then SLEAP's own fly file."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior import schema
from deepbehavior.formats.importing import drop_short_tracks, fragment_note, track_frames, tracks_as_slots
from deepbehavior.tracking.layout import animals_in_most_frames


def _tracks() -> tuple:
    """Three tracks over 6 frames, one keypoint: A everywhere, B in frames 0-3, C (a fragment) in
    frames 4-5, where it stands in for B. Track k's point is (10 k + frame, 0); confidences differ."""
    position = np.full((6, 2, 1, 3), np.nan)
    confidence = np.full((6, 1, 3), np.nan)
    where = {0: range(6), 1: range(4), 2: range(4, 6)}
    score = {0: 0.5, 1: 0.9, 2: 0.7}
    for k, frames in where.items():
        for t in frames:
            position[t, :, 0, k] = (10 * k + t, 0.0)
            confidence[t, 0, k] = score[k]
    ds = schema.make_poses(position, confidence, fps=30, keypoints=["c"], individuals=["A", "B", "C"],
                           individuals_are="identities")
    return ds, where, score


def test_tracks_as_slots_keeps_every_instance_most_confident_first():
    ds, where, score = _tracks()
    slots = tracks_as_slots(ds)
    assert slots.attrs["individuals_are"] == "slots"
    assert list(slots["individuals"].values) == ["slot0", "slot1"]  # at most two tracks in one frame
    assert slots.attrs["tracks_read_as_slots"] == ["A", "B", "C"]
    for t in range(6):
        present = sorted((k for k in where if t in where[k]), key=lambda k: -score[k])
        expected = [10 * k + t for k in present]
        assert slots["position"].sel(space="x").isel(time=t, keypoints=0).values.tolist() == expected
        np.testing.assert_allclose(slots["confidence"].isel(time=t, keypoints=0).values, [score[k] for k in present],
                                   rtol=1e-6)  # confidence is stored as float32
    assert tracks_as_slots(slots) is slots


def test_tracks_as_slots_per_camera_of_a_multi_camera_dataset():
    ds, _, _ = _tracks()
    two = schema.make_poses(np.stack([ds["position"].values, ds["position"].values[..., ::-1]], axis=-1),
                            np.stack([ds["confidence"].values, ds["confidence"].values[..., ::-1]], axis=-1),
                            fps=30, keypoints=["c"], individuals=["A", "B", "C"], views=["top", "side"],
                            individuals_are="identities")
    slots = tracks_as_slots(two)
    np.testing.assert_array_equal(slots["position"].sel(view="top").values, slots["position"].sel(view="side").values)


def test_drop_short_tracks_and_the_fragment_note():
    ds, where, _ = _tracks()
    assert track_frames(ds) == {"A": 6, "B": 4, "C": 2}
    kept = drop_short_tracks(ds, min_frames=3)
    assert list(kept["individuals"].values) == ["A", "B"] and kept.attrs["dropped_tracks"] == ["C"]
    assert drop_short_tracks(ds, min_frames=1) is ds
    with pytest.raises(ValueError, match="Expected a track seen in at least 7 frames .* the longest is seen in 6"):
        drop_short_tracks(ds, min_frames=7)
    note = fragment_note(ds, share=0.5)
    assert note.startswith("1 of 3 tracks are fragments (each seen in fewer than 3 of 6 frames); min_track_frames=3")
    assert fragment_note(tracks_as_slots(ds)) is None


def test_animals_in_most_frames_ignores_a_detectors_occasional_extra_slot():
    position = np.full((10, 2, 1, 3), np.nan)
    position[:, :, 0, 0] = 1.0  # one animal in every frame
    position[[2, 7], :, 0, 1] = 5.0  # a second detection in two frames
    ds = schema.make_poses(position, fps=30, keypoints=["c"], individuals_are="slots")
    assert animals_in_most_frames(ds) == 1
    assert animals_in_most_frames(ds.isel(time=[2, 7])) == 2
    assert animals_in_most_frames(ds.isel(individuals=[2])) == 0


def test_the_fly_file_read_as_slots_keeps_every_instance(shared_data):
    import sleap_io

    from deepbehavior.formats import load_file

    slp = shared_data / "sleap-flies" / "centered_pair_predictions.slp"
    ds = load_file(slp)
    labels = sleap_io.load_slp(str(slp))
    assert ds.sizes["individuals"] == len(labels.tracks) == 27
    note = fragment_note(ds)
    assert note.startswith("25 of 27 tracks are fragments"), note
    slots = tracks_as_slots(ds)
    present = np.isfinite(slots["position"].values).all(axis=1).any(axis=1)
    assert int(present.sum()) == sum(len(lf.instances) for lf in labels.labeled_frames)
    assert animals_in_most_frames(slots) == 2
