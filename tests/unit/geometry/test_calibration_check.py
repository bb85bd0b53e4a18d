"""Checking a calibration on board detections: a wrong camera is named before triangulating."""

import numpy as np
import pytest

from deepbehavior.geometry.calibration import Board
from deepbehavior.geometry.calibration_check import check_calibration
from deepbehavior.geometry.synthetic_rig import board_detections, perturb_camera, ring_rig

BOARD = Board(kind="charuco", columns=8, rows=6, square_size=24.0, marker_size=18.0)


@pytest.fixture(scope="module")
def boards():
    rig = ring_rig(4)
    detections, _ = board_detections(rig, BOARD, frames=25, noise=0.3, seed=4)
    return rig, detections


def test_good_calibration_passes(boards):
    rig, detections = boards
    result = check_calibration(rig, detections, BOARD)
    assert result["suspect"] == [] and result["warnings"] == []
    for row in result["cameras"].values():
        assert row["board_rms_px"] < 0.5  # 0.3 px noise per axis
        assert row["consensus_median_px"] < 1.0
        assert row["board_frames"] > 5
    assert result["square_size_measured"] == pytest.approx(24.0, abs=0.1)


@pytest.mark.parametrize("how", ["swap", "shift", "rotate"])
def test_wrong_camera_is_named(boards, how):
    rig, detections = boards
    wrong = perturb_camera(rig, 1, how)
    result = check_calibration(wrong, detections, BOARD)
    assert result["suspect"] == ["cam1"]
    assert len(result["warnings"]) == 1 and "camera cam1" in result["warnings"][0]
    others = max(result["cameras"][n]["consensus_median_px"] for n in ("cam0", "cam2", "cam3"))
    assert result["cameras"]["cam1"]["consensus_median_px"] > 20 * others
    # the good cameras still measure the board right
    assert result["square_size_measured"] == pytest.approx(24.0, abs=0.2)


def test_unknown_camera_is_an_error(boards):
    rig, detections = boards
    with pytest.raises(ValueError, match="Expected cameras named in the calibration"):
        check_calibration(rig.subset(["cam0", "cam1"]), detections, BOARD)
