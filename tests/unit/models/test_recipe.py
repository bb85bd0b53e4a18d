"""The top-down recipe chosen from labels (issue 28): rigs with known geometry, drawn here, must get the
choices their geometry implies, and collapsed or swapped parts must be found."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deepbehavior.models.recipe import (
    choose_recipe,
    closest_parts,
    describe,
    guess_pairs,
    identity_problems,
    identity_summary,
    turning,
)

NAMES = ["snout", "leftear", "rightear", "tailbase"]
# a mouse seen from above, facing +x, in its own frame (px): ears 10 px either side behind the snout
BODY = np.array([[40.0, 0.0], [28.0, -10.0], [28.0, 10.0], [-60.0, 0.0]])


def _turned(body, angle_deg, at):
    t = math.radians(angle_deg)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return body @ rot.T + np.asarray(at)


def free_mice(n=60, seed=0):
    """Top-view mice anywhere in a 640x480 arena, facing any way."""
    rng = np.random.default_rng(seed)
    return [_turned(BODY, rng.uniform(-180, 180), rng.uniform([100, 100], [540, 380])) for _ in range(n)]


def head_fixed(n=60, seed=0, turn=3.0):
    """The same body, head-fixed: the same place and heading up to ``turn`` degrees, parts jitter 2 px."""
    rng = np.random.default_rng(seed)
    return [_turned(BODY, rng.uniform(-turn, turn), (300, 200)) + rng.normal(0, 2, BODY.shape) for _ in range(n)]


@pytest.mark.parametrize("names, pairs", [
    (["snout", "leftear", "rightear", "tailbase"], [("leftear", "rightear")]),
    (["paw1LH", "paw2LF", "paw3RF", "paw4RH", "nose", "tail"], [("paw1LH", "paw4RH"), ("paw2LF", "paw3RF")]),
    (["LEar", "REar", "ear_L", "ear_R", "Left_paw", "Right_paw", "Hand"],
     [("LEar", "REar"), ("ear_L", "ear_R"), ("Left_paw", "Right_paw")]),
    (["Hand", "Finger1", "Tongue", "Joystick1", "Joystick2"], []),
    (["LF", "RF", "LH", "RH"], [("LF", "RF"), ("LH", "RH")]),
])
def test_left_right_pairs_are_found_by_name_in_any_position(names, pairs):
    assert sorted(guess_pairs(names)) == sorted(pairs)


def test_a_freely_turning_top_view_animal_is_cropped_turned_fully_and_mirrored_with_its_ears_swapped():
    mice = free_mice()
    recipe = choose_recipe(mice, [(640, 480)] * len(mice), NAMES)
    assert recipe.mode == "crop" and recipe.centre is None
    assert recipe.rotation == 180.0
    assert recipe.flip and recipe.flip_pairs == (("leftear", "rightear"),)
    assert recipe.window <= 480  # never larger than the frame
    # the closest labelled parts (snout to an ear, ~15.6 px) span min_cells heatmap cells
    assert recipe.cells_between_parts >= 3.0
    true_closest = float(np.hypot(12, 10))
    assert closest_parts(np.array(mice)) == pytest.approx(true_closest, rel=0.01)
    assert "recipe chosen from the labels" in describe(recipe)


def test_a_head_fixed_rig_works_on_a_fixed_window_with_a_small_turn():
    mice = head_fixed()
    recipe = choose_recipe(mice, [(640, 480)] * len(mice), NAMES)
    assert recipe.mode == "frame" and recipe.centre is not None
    np.testing.assert_allclose(recipe.centre, (290, 200), atol=8)  # the centre of the labelled box
    assert recipe.rotation <= 20
    assert turning(np.array(mice)) <= 5


def test_a_mirror_rig_with_two_views_in_one_frame_is_one_window_never_larger_than_the_frame():
    rng = np.random.default_rng(1)
    names = ["nose_side", "tail_side", "paw1LH_side", "paw4RH_side", "nose_bottom", "tail_bottom", "paw1LH_bottom",
             "paw4RH_bottom"]
    side = np.array([[320, 60], [80, 80], [150, 120], [170, 125]], dtype=float)
    bottom = np.array([[320, 300], [80, 300], [150, 270], [160, 330]], dtype=float)
    animals = [np.vstack([side, bottom]) + rng.normal(0, 3, (8, 2)) for _ in range(40)]
    recipe = choose_recipe(animals, [(396, 406)] * 40, names)
    assert len(recipe.views) == 2 and recipe.mode == "frame"
    assert recipe.window <= 406
    assert ("paw1LH_side", "paw4RH_side") in recipe.flip_pairs
    assert ("paw1LH_bottom", "paw4RH_bottom") in recipe.flip_pairs
    assert recipe.rotation <= 20


def test_two_clusters_of_parts_that_stay_apart_are_two_views():
    rng = np.random.default_rng(2)
    names = ["a", "b", "c", "d", "e", "f"]
    base = np.array([[100, 50], [130, 60], [115, 80], [100, 350], [130, 360], [115, 380]], dtype=float)
    animals = [base + rng.normal(0, 2, base.shape) for _ in range(30)]
    recipe = choose_recipe(animals, [(400, 420)] * 30, names)
    assert sorted(map(sorted, recipe.views)) == [["a", "b", "c"], ["d", "e", "f"]]


def test_no_pairs_and_a_handed_layout_turn_the_mirror_off_and_settings_win():
    rng = np.random.default_rng(3)
    names = ["hand", "finger", "lever"]
    base = np.array([[100, 100], [120, 110], [200, 40]], dtype=float)
    animals = [base + rng.normal(0, 3, base.shape) for _ in range(30)]
    recipe = choose_recipe(animals, [(640, 480)] * 30, names)
    assert recipe.flip is False and recipe.flip_pairs == ()
    forced = choose_recipe(animals, [(640, 480)] * 30, names, flip=True, rotation=33.0, mode="crop", crop_size=96,
                           flip_pairs=["hand:finger"])
    assert forced.flip and forced.rotation == 33.0 and forced.mode == "crop" and forced.crop_size == 96
    assert forced.flip_pairs == (("hand", "finger"),)
    with pytest.raises(ValueError, match="flip_pairs"):
        choose_recipe(animals, [(640, 480)] * 30, names, flip_pairs=["hand:nose"])


def test_collapsed_and_swapped_parts_are_reported():
    mice = free_mice()
    recipe = choose_recipe(mice, [(640, 480)] * len(mice), NAMES)
    truth = np.array(mice[:10])
    assert identity_problems(truth, recipe, NAMES, truth=truth) == {"collapsed": {}, "swapped": {}, "frames": 10}
    assert identity_problems(truth, recipe, NAMES)["swapped"] == {}  # the labels' own sides
    pred = truth.copy()
    pred[:3, 1] = pred[:3, 2]  # left ear on the right ear in 3 frames
    pred[5:9, [1, 2]] = pred[5:9, [2, 1]]  # ears swapped in 4 frames
    with_truth = identity_problems(pred, recipe, NAMES, truth=truth)
    assert with_truth["collapsed"] == {"leftear=rightear": 3}
    assert with_truth["swapped"] == {"leftear<->rightear": 4}
    # without labels (inference), a swap is the pair on the wrong side of the snout-tail axis
    assert identity_problems(pred, recipe, NAMES)["swapped"] == {"leftear<->rightear": 4}
    assert "leftear=rightear in 3 of 10 frames" in identity_summary(with_truth)


def test_a_fixed_window_is_refused_for_several_animals_a_frame_and_auto_crops_them():
    mice = head_fixed()
    assert choose_recipe(mice, [(640, 480)] * len(mice), NAMES).mode == "frame"  # one animal: a fixed window
    assert choose_recipe(mice, [(640, 480)] * len(mice), NAMES, animals_per_frame=2).mode == "crop"
    with pytest.raises(ValueError, match=r"^Expected one animal per frame for train.topdown.mode=frame, but got 2$"):
        choose_recipe(mice, [(640, 480)] * len(mice), NAMES, mode="frame", animals_per_frame=2)


def test_a_largest_input_below_the_smallest_chosen_is_refused():
    from deepbehavior.config import TopDownConfig

    mice = free_mice()
    with pytest.raises(ValueError, match="train.topdown.max_crop_size >= 64"):
        choose_recipe(mice, [(640, 480)] * len(mice), NAMES, max_crop_size=48)
    with pytest.raises(ValueError, match="train.topdown.max_crop_size >= 64"):
        TopDownConfig(max_crop_size=48)
    assert choose_recipe(mice, [(640, 480)] * len(mice), NAMES, max_crop_size=64).crop_size <= 64
