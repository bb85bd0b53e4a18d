"""benchmarks/labeling.py's comparisons on a tiny video: ours and the plain OpenCV scripts both run,
write the same number of images (the same frames, for uniform; one per scene, for k-means), and
the ratios are the plain side's median time over ours."""

import re
import statistics
import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import labeling as bench  # noqa: E402


def _is_ratio_of(ratio: float, plain: list[float], ours: list[float]) -> bool:
    """``ratio`` is median(plain) / median(ours) of the unrounded times the 3-decimal rounds stand for."""
    p, o = statistics.median(plain), statistics.median(ours)
    return (p - 5e-4) / (o + 5e-4) - 1e-3 <= ratio <= (p + 5e-4) / max(o - 5e-4, 1e-9) + 1e-3


def _frame_numbers(folder: Path) -> list[int]:
    return sorted(int(re.search(r"(\d{6})\.png$", name).group(1)) for name in bench._images(folder))


def test_plain_scripts_pick_what_a_user_expects(scenes_video, tmp_path):
    for variant in ("uniform", "uniform_forward"):
        assert bench.plain_select(scenes_video, tmp_path / variant, variant, 4, 0) == 4
        assert _frame_numbers(tmp_path / variant) == [7, 22, 37, 52]  # the centres of 4 equal parts of 60 frames
    assert bench.ours_select(scenes_video, tmp_path / "ours", "uniform", 4, 0) == 4
    assert _frame_numbers(tmp_path / "ours") == [7, 22, 37, 52]
    assert bench.plain_select(scenes_video, tmp_path / "k", "kmeans", 3, 30) == 3
    assert sorted(f // 20 for f in _frame_numbers(tmp_path / "k")) == [0, 1, 2]  # one frame of each scene


def _check_row(row, method, rounds):
    sides = ["ours", *(f"plain_{v}" for v in bench.VARIANTS[method])]
    seconds = row["seconds"]
    assert sorted(seconds) == sorted(sides) and row["images"] == 3
    assert all(len(seconds[side]["rounds"]) == rounds for side in sides)
    best = min(sides[1:], key=lambda side: statistics.median(seconds[side]["rounds"]))
    assert row["plain_best"] == best
    assert _is_ratio_of(row["ratio_plain_over_ours"], seconds[best]["rounds"], seconds["ours"]["rounds"])


def test_select_comparison_writes_equal_images_and_ratio_is_best_plain_over_ours(scenes_video, tmp_path):
    out = bench.compare_select(scenes_video, tmp_path, n=3, candidates=30, rounds=2)
    for method in bench.METHODS:
        _check_row(out[method], method, 2)
        assert len(bench._images(tmp_path / f"ours-{method}-1")) == 3  # every round wrote its images
        for variant in bench.VARIANTS[method]:
            assert len(bench._images(tmp_path / f"plain-{variant}-1")) == 3


def test_whole_commands_all_run_write_n_images_and_ratio_is_best_plain_over_ours(scenes_video, tmp_path):
    out = bench.compare_whole(scenes_video, tmp_path, n=3, candidates=30, rounds=1)
    for method in bench.METHODS:
        _check_row(out[method], method, 1)
        assert len(bench._images(tmp_path / f"whole-ours-{method}-0")) == 3
        for variant in bench.VARIANTS[method]:
            assert len(bench._images(tmp_path / f"whole-plain-{variant}-0")) == 3
    head = bench.summary({"whole_command_s": out}, 3, 30)
    assert head["whole_command_ratio"] == out["uniform"]["ratio_plain_over_ours"]
    assert head["ratio_vs_baseline_best"] is None and "no select part" in head["baseline_best"]
