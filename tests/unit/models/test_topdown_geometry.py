"""Top-down keypoints, closed-form parts: crop geometry and back-mapping, left/right swap under a mirror,
heatmap targets and their sub-pixel decoding, matching animals by centre. No training here."""

from __future__ import annotations

import numpy as np
import pytest

from deepbehavior.models import crops
from deepbehavior.models.heatmap import decode, find_peaks, render_targets
from deepbehavior.models.keypoint_metrics import animal_size, errors_by_centre, summarize_keypoint_errors
from deepbehavior.models.topdown import TopDownSettings, animal_centre, frame_geometry, window_from_labels
from deepbehavior.models.topdown_train import Augmentation, make_sample


def test_crop_matrix_maps_centre_scale_and_turn_as_stated():
    m = crops.crop_matrix((200.0, 100.0), size=80, out_size=40)  # half size: 2 frame px per crop px
    np.testing.assert_allclose(crops.apply_matrix(m, [[200.0, 100.0]]), [[19.5, 19.5]])
    np.testing.assert_allclose(crops.apply_matrix(m, [[220.0, 100.0]]), [[29.5, 19.5]])
    # 90 degrees counter-clockwise on screen (y down): a point right of the centre goes above it
    turned = crops.crop_matrix((200.0, 100.0), size=40, out_size=40, angle=90)
    np.testing.assert_allclose(crops.apply_matrix(turned, [[210.0, 100.0]]), [[19.5, 9.5]], atol=1e-9)
    # a mirror sends a point right of the centre to the left of it
    mirrored = crops.crop_matrix((200.0, 100.0), size=40, out_size=40, flip=True)
    np.testing.assert_allclose(crops.apply_matrix(mirrored, [[210.0, 103.0]]), [[9.5, 22.5]])


@pytest.mark.parametrize("angle, flip", [(0.0, False), (37.0, False), (-120.0, True)])
def test_points_map_back_to_the_frame_exactly(angle, flip):
    rng = np.random.default_rng(1)
    frame_points = rng.uniform(0, 300, size=(50, 2))
    m = crops.crop_matrix((150.3, 140.7), size=123.4, out_size=96, angle=angle, flip=flip)
    back = crops.apply_matrix(crops.invert_matrix(m), crops.apply_matrix(m, frame_points))
    np.testing.assert_allclose(back, frame_points, atol=1e-9)


def test_cut_puts_a_marked_pixel_where_the_matrix_says():
    image = np.zeros((240, 320), np.uint8)
    image[87, 201] = 255  # row y, column x
    m = crops.crop_matrix((190.0, 95.0), size=64, out_size=64, angle=30.0)
    crop = crops.cut(image, m, 64)
    expected = crops.apply_matrix(m, [[201.0, 87.0]])[0]
    y, x = np.unravel_index(np.argmax(crop), crop.shape)
    assert np.hypot(x - expected[0], y - expected[1]) < 1.0


def test_swap_order_and_guessed_pairs():
    names = ["snout", "leftear", "rightear", "tailbase"]
    assert crops.guess_flip_pairs(names) == [("leftear", "rightear")]
    assert crops.swap_order(names, crops.guess_flip_pairs(names)) == [0, 2, 1, 3]
    assert crops.guess_flip_pairs(["LHand", "RHand", "Left_paw", "Right_paw", "Tongue"]) == [
        ("LHand", "RHand"), ("Left_paw", "Right_paw")]
    with pytest.raises(ValueError, match="Expected both keypoints"):
        crops.swap_order(names, [("leftear", "rightpaw")])


def test_mirrored_sample_swaps_left_and_right_parts():
    """With the mirror forced, the target of 'leftear' lies where the mirrored right ear is."""
    image = np.full((120, 160, 3), 30, np.uint8)
    animal = np.array([[[80.0, 40.0], [70.0, 55.0], [92.0, 57.0], [80.0, 90.0]]])  # snout, left, right, tail
    settings = TopDownSettings(crop_size=64, window=64.0, centroid_size=160, stride=1, sigma=1.0)
    none = dict(rotation=0.0, scale=0.0, jitter=0.0, brightness=0.0, contrast=0.0)
    rng = np.random.default_rng(0)
    *_, plain = make_sample(image, animal, 0, settings=settings, aug=Augmentation(flip=0.0, **none),
                            flip_idx=[0, 2, 1, 3], rng=rng)
    *_, mirrored = make_sample(image, animal, 0, settings=settings, aug=Augmentation(flip=1.0, **none),
                               flip_idx=[0, 2, 1, 3], rng=rng)

    def peak(target):
        y, x = np.unravel_index(np.argmax(target), target.shape)
        return np.array([x, y])

    centre = animal_centre(animal[0])
    m = crops.crop_matrix(centre, size=64, out_size=64, flip=True)
    right_ear_mirrored = crops.apply_matrix(m, animal[0, 2])
    np.testing.assert_allclose(peak(mirrored[1]), np.round(right_ear_mirrored), atol=1)
    # unmirrored, the left ear is left of the snout in the crop; mirrored, the new 'leftear' is too
    # (a mirrored right ear is a left ear), which is what keeps the labels' meaning
    assert peak(plain[1])[0] < peak(plain[0])[0] and peak(mirrored[1])[0] < peak(mirrored[0])[0]
    np.testing.assert_allclose(peak(mirrored[0])[0], 63 - peak(plain[0])[0], atol=1)


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_gaussian_decodes_to_its_sub_pixel_centre(stride):
    truth = np.array([[37.3, 21.8], [5.6, 50.2]])
    maps = render_targets(truth, [True, True], shape=(64 // stride, 80 // stride), stride=stride, sigma=1.5)
    points, peaks = decode(maps, stride)
    np.testing.assert_allclose(points, truth, atol=0.02)
    assert (peaks > 0.8).all()
    empty = render_targets(truth, [True, False], shape=(16, 20), stride=4, sigma=1.5)
    assert empty[1].max() == 0.0


def test_find_peaks_finds_each_animal_most_confident_first():
    maps = render_targets(np.array([[10.0, 12.0], [40.2, 30.7]]), [True, True], shape=(48, 64), stride=1, sigma=2.0)
    maps = np.maximum(maps[0] * 0.6, maps[1])
    found = find_peaks(maps, threshold=0.3, max_peaks=5)
    assert found.shape == (2, 3)
    np.testing.assert_allclose(found[0, :2], [40.2, 30.7], atol=0.05)
    np.testing.assert_allclose(found[1, :2], [10.0, 12.0], atol=0.05)
    assert find_peaks(maps, threshold=0.7, max_peaks=5).shape == (1, 3)


def test_frame_geometry_and_window_from_labels():
    assert frame_geometry(480, 640, 256) == (0.4, 256, 192)
    assert frame_geometry(747, 832, 256)[1:] == (256, 240)
    animals = [np.array([[0.0, 0.0], [100.0, 20.0]]), np.array([[5.0, 5.0], [np.nan, np.nan], [25.0, 45.0]])]
    # 98th percentile of extents 100 and 40, times 1 + 2 * 0.25
    assert window_from_labels(animals, 0.25) == pytest.approx((40 + 0.98 * 60) * 1.5)
    assert animal_size(animals[1]) == 40.0


def test_errors_by_centre_matches_animals_and_counts_misses():
    truth = np.array([[[10.0, 10.0], [20.0, 10.0]], [[100.0, 100.0], [np.nan, np.nan]]])
    pred = np.array([[[101.0, 100.0], [110.0, 100.0]], [[10.0, 13.0], [24.0, 10.0]], [[np.nan] * 2] * 2])
    errors = errors_by_centre(truth, pred)
    np.testing.assert_allclose(errors[0], [3.0, 4.0])
    assert errors[1, 0] == pytest.approx(1.0) and np.isnan(errors[1, 1])
    missed = errors_by_centre(truth, pred[1:2])  # only the first animal was found
    assert np.isinf(missed[1, 0])
    summary = summarize_keypoint_errors(missed, np.array([10.0, 10.0]), pck_threshold=0.35)
    assert summary["kpt_detected"] == pytest.approx(2 / 3) and summary["pck"] == pytest.approx(1 / 3)


def test_real_labels_fit_inside_their_crops(shared_data):
    """Every labelled part of the DeepLabCut open-field mouse lies inside the window sized from the labels."""
    from deepbehavior.formats.dlc import read_dlc

    ds = read_dlc(shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv")
    position = ds["position"].isel(individuals=0).transpose("time", "keypoints", "space").values
    animals = [np.asarray(frame, float) for frame in position]  # (keypoints, 2) per labelled frame, NaN if unseen
    window = window_from_labels(animals, 0.2)
    assert 100 < window < 250  # a mouse of ~100 px in a 640x480 frame
    inside = []
    for a in animals:
        m = crops.crop_matrix(animal_centre(a), size=window, out_size=160)
        p = crops.apply_matrix(m, a)
        inside.append(((p >= 0) & (p <= 159)).all(axis=1)[np.isfinite(a).all(axis=1)].mean())
    assert np.mean(inside) > 0.99


def test_errors_by_centre_can_match_on_the_found_centre():
    truth = np.array([[[10.0, 10.0], [50.0, 10.0]]])  # centre (30, 10), size 40
    wild = np.array([[[90.0, 10.0], [50.0, 10.0]]])  # box centre (70, 10): too far to match
    assert np.isinf(errors_by_centre(truth, wild)).all()
    found_here = errors_by_centre(truth, wild, pred_centres=np.array([[32.0, 11.0]]))
    np.testing.assert_allclose(found_here[0], [80.0, 0.0])
