"""Every person in a photo with the mediapipe backend (max_individuals > 1), on ultralytics' photos."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("mediapipe", reason="mediapipe==0.10.21 is not installed")

from deepbehavior.models import pose_layout as L  # noqa: E402
from deepbehavior.models.mediapipe_pose import MediaPipeHolisticPredictor, MediaPipePeoplePredictor  # noqa: E402

ASSETS = Path(importlib.util.find_spec("ultralytics").origin).parent / "assets"
# (x1, y1, x2, y2) pixels, read off bus.jpg by eye: the two men standing fully in view on the left.
BUS_LEFT_MAN = (40, 390, 250, 920)
BUS_SECOND_MAN = (210, 390, 350, 880)
R_WRIST, L_WRIST = L.KEYPOINT_NAMES.index("RWrist"), L.KEYPOINT_NAMES.index("LWrist")


def _bus() -> np.ndarray:
    image = cv2.imread(str(ASSETS / "bus.jpg"))
    if image is None:
        pytest.skip("bus.jpg is missing from the installed ultralytics")
    return image


def _inside(xy: np.ndarray, box) -> np.ndarray:
    x1, y1, x2, y2 = box
    return (xy[..., 0] >= x1) & (xy[..., 0] <= x2) & (xy[..., 1] >= y1) & (xy[..., 1] <= y2)


@pytest.fixture(scope="module")
def people():
    model = MediaPipeHolisticPredictor(max_individuals=4)  # the registry's class gives the people predictor
    assert isinstance(model, MediaPipePeoplePredictor)
    out = model({"frames": _bus()[None], "frame": np.array([7])})
    yield model, out
    model.close()


def test_finds_both_men_each_in_their_own_box(people):
    _, out = people
    assert out["keypoints"].shape == (1, 4, 67, 2) and out["keypoint_conf"].shape == (1, 4, 67)
    np.testing.assert_array_equal(out["frame"], [7])
    found = np.isfinite(out["keypoints"][0, :, :25]).any(axis=(-1, -2))
    assert found.sum() >= 2
    boxes = []
    for slot in np.flatnonzero(found):
        xy, conf = out["keypoints"][0, slot], out["keypoint_conf"][0, slot]
        sure = conf[:25] > 0.5
        hits = [box for box in (BUS_LEFT_MAN, BUS_SECOND_MAN) if _inside(xy[:25][sure], box).mean() > 0.9]
        boxes += hits[:1]
    assert BUS_LEFT_MAN in boxes and BUS_SECOND_MAN in boxes


def test_hands_belong_to_the_body_they_are_reported_with(people):
    _, out = people
    hands = 0
    for slot in range(out["keypoints"].shape[1]):
        xy = out["keypoints"][0, slot]
        for hand, wrist in ((L.LEFT_HAND_SLICE, L_WRIST), (L.RIGHT_HAND_SLICE, R_WRIST)):
            if np.isfinite(xy[hand][0]).all() and np.isfinite(xy[wrist]).all():
                hands += 1
                others = [out["keypoints"][0, s, w] for s in range(out["keypoints"].shape[1]) if s != slot
                          for w in (L_WRIST, R_WRIST)]
                own = np.linalg.norm(xy[hand][0] - xy[wrist])
                assert all(own < np.linalg.norm(xy[hand][0] - o) for o in others if np.isfinite(o).all())
    assert hands >= 1


def test_describe_pickle_and_settings(people):
    model, out = people
    description = model.describe()
    assert description.slots == 4 and description.keypoint_names == L.KEYPOINT_NAMES
    copy = pickle.loads(pickle.dumps(model))
    assert isinstance(copy, MediaPipePeoplePredictor) and copy.kwargs == model.kwargs
    copy.close()
    with pytest.raises(ValueError, match="max_individuals"):
        MediaPipePeoplePredictor(max_individuals=0)
    with pytest.raises(ValueError, match="min_person_size"):
        MediaPipePeoplePredictor(min_person_size=2.0)


def test_min_person_size_drops_small_people():
    model = MediaPipePeoplePredictor(max_individuals=4, min_person_size=0.9)  # nobody is 90% of the frame high
    xy, _ = model.predict_people(_bus())
    model.close()
    assert len(xy) == 0


def test_one_person_setting_is_the_one_person_predictor():
    model = MediaPipeHolisticPredictor(max_individuals=1, static_image_mode=True)
    assert type(model) is MediaPipeHolisticPredictor and model.describe().slots == 1
    model.close()


def test_options_of_the_other_predictor_are_ignored_with_reason_or_refused_in_one_line():
    # several people run in static mode: static mode and smoothing (off in static mode) change nothing
    model = MediaPipeHolisticPredictor(max_individuals=3, static_image_mode=True, smooth_landmarks=True)
    assert isinstance(model, MediaPipePeoplePredictor) and model.kwargs["max_individuals"] == 3
    model.close()
    with pytest.raises(ValueError, match=r"^Expected model.options.static_image_mode true or unset with "
                                         r"model.max_individuals=3 .*but got false$"):
        MediaPipeHolisticPredictor(max_individuals=3, static_image_mode=False)
    with pytest.raises(ValueError, match=r"^Expected model.options mask_pad, min_person_size only with "
                                         r"model.max_individuals above 1"):
        MediaPipeHolisticPredictor(max_individuals=1, min_person_size=0.1, mask_pad=0.2)
    with pytest.raises(ValueError, match="mask_pad"):
        MediaPipeHolisticPredictor(mask_pad=0.2)


def test_finds_both_men_of_zidane_by_their_heads():
    # Head boxes read off zidane.jpg by eye (as in test_mediapipe_pose.py); one-person holistic
    # reports only the right man here.
    heads = {"left": (470, 190, 690, 450), "right": (870, 30, 1090, 300)}
    image = cv2.imread(str(ASSETS / "zidane.jpg"))
    if image is None:
        pytest.skip("zidane.jpg is missing from the installed ultralytics")
    model = MediaPipePeoplePredictor(max_individuals=4)
    xy, _ = model.predict_people(image)
    model.close()
    nose = xy[:, 0]  # MediaPipe's landmark 0 is the nose
    found = {name for name, box in heads.items() for p in nose if _inside(p, box)}
    assert found == {"left", "right"}
    assert len(xy) <= 3  # at most one spurious find beside the two men


def test_people_keep_their_identity_over_a_panning_clip():
    from deepbehavior.tracking.people import track_people

    image = cv2.imread(str(ASSETS / "zidane.jpg"))
    if image is None:
        pytest.skip("zidane.jpg is missing from the installed ultralytics")
    # The camera pans right 8 px a frame: every head moves 8 px left; head boxes as above.
    heads = {"left": np.array([470, 190, 690, 450]), "right": np.array([870, 30, 1090, 300])}
    shifts = 8 * np.arange(6)
    frames = np.stack([np.ascontiguousarray(image[:, s:s + 1200]) for s in shifts])
    model = MediaPipePeoplePredictor(max_individuals=3)
    out = model({"frames": frames, "frame": np.arange(len(frames))})
    model.close()
    tracks, _, report = track_people(out["keypoints"], n_identities=3, max_jump=60.0)
    nose = tracks[:, :, L.KEYPOINT_NAMES.index("Nose")]  # (time, identity, 2)
    owner = {}
    for name, box in heads.items():
        for t, s in enumerate(shifts):
            inside = [i for i in range(3) if _inside(nose[t, i], box - [s, 0, s, 0])]
            assert len(inside) == 1, (name, t)  # found in every frame, once
            owner.setdefault(name, inside[0])
            assert inside[0] == owner[name], (name, t)  # and always under the same identity
    assert owner["left"] != owner["right"]
    assert report["reacquisitions"] == 0
