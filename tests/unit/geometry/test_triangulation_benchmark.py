"""benchmarks/triangulation.py's like-for-like comparison on a few frames: the interleaved timing,
the two ways of comparing with aniposelib and the target flags are what the JSON claims."""

import sys
from pathlib import Path

import numpy as np
import pytest

from deepbehavior.synthetic.camera_rigs import mouse_skeleton, ring_rig

pytest.importorskip("numba")
pytest.importorskip("aniposelib")
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import triangulation as bench  # noqa: E402


def test_interleaved_rounds_call_every_variant_once_per_round_in_rotated_order():
    calls = []
    times = bench.interleaved({name: (lambda name=name: calls.append(name)) for name in "abc"}, rounds=3)
    assert calls == list("abc" "bca" "cab")
    assert all(len(t["wall"]) == len(t["cpu"]) == 3 for t in times.values())


def test_comparison_reports_both_baselines_with_equal_error_and_honest_flags():
    from aniposelib.cameras import Camera as ACamera
    from aniposelib.cameras import CameraGroup as AGroup

    group = ring_rig(4)
    world = mouse_skeleton(40, seed=1).reshape(-1, 3)
    pixels = group.project(world) + np.random.default_rng(1).normal(size=(4, len(world), 2))
    agroup = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                     for c in group.cameras])
    out = bench.compare(group, agroup, pixels, world, None, rounds=2, modes=("dlt", "dlt_no_refine"))
    theirs = out["aniposelib_triangulate"]
    assert set(theirs) == {"complete", "pre_undistorted"}
    assert set(theirs["complete"]["modes"]) == {"svd", "fast"}
    # equal error: the same linear method on the same points, against the true skeleton (mm)
    svd = theirs["complete"]["modes"]["svd"]["median_error_mm"]
    assert abs(out["ours"]["dlt_no_refine"]["median_error_mm"] - svd) < 0.05 * svd
    assert svd < 1.5
    for row in out["ours"].values():
        for kind in ("complete", "pre_undistorted"):
            for clock in ("wall", "cpu"):
                ratio = row[f"speedup_vs_aniposelib_{kind}"][clock]
                assert ratio["min"] <= ratio["median"] <= ratio["max"]
                assert ratio["meets_50x"] == (ratio["median"] >= 50)
