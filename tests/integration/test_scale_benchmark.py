"""benchmarks/scale.py at a tiny size: its JSON holds every figure it promises, and the kill -9 resume
redoes only the chunks not marked done and leaves stores equal, byte for byte, to the uninterrupted run's
(compared here again, straight from the Zarr arrays, not only through the script's own verdict)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

pytestmark = pytest.mark.slow  # runs the benchmark, which starts a process per pipeline step

REPO = Path(__file__).resolve().parents[2]
STEPS = ("infer", "track", "analyze", "triangulate")


def _arrays(stores: Path) -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(stores.glob("*.zarr")):
        for name, array in zarr.open_group(path, mode="r").arrays():
            found[f"{path.name}/{name}"] = array[...]
    return found


def test_scale_benchmark_tiny_run_reports_and_resumes_bitwise(tmp_path):
    out, work = tmp_path / "scale.json", tmp_path / "work"
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scale.py"), "--frames", "2000", "--session-frames", "500",
         "--chunk", "100", "--size", "96x72", "--ceiling-frames", "500", "--rounds", "1", "--no-640",
         "--work", str(work), "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "[scale " in done.stdout  # progress is printed
    result = json.loads(out.read_text())

    assert result["benchmark"] == "scale" and result["sizes"] == [2000]
    for key in ("ratio_vs_baseline_best", "baseline_best", "whole_command_ratio", "whole_command"):
        assert key in result
    run = result["runs"]["2000"]
    assert run["sessions"] == 2
    for step in STEPS:
        figures = run["steps"][step]
        assert figures["seconds"] > 0 and figures["process_seconds"] >= figures["seconds"]
        assert figures["ms_per_frame"] == pytest.approx(1000 * figures["seconds"] / 2000, rel=1e-3)
        assert figures["peak_rss_mb"] > 0 and figures["processes"] and all(p["pid"] > 0 for p in figures["processes"])
    assert run["steps"]["infer"]["frames_predicted"] == 2000
    assert run["steps"]["analyze"]["failures"] == 0 and run["steps"]["analyze"]["rows"] > 0
    assert run["steps"]["triangulate"]["written"] == 2 and run["steps"]["triangulate"]["failures"] == 0
    assert set(result["peak_memory"]) == set(STEPS)
    assert len(result["machine"]["load_average_start"]) == 3 and len(result["machine"]["load_average_end"]) == 3

    resume = result["resume"]
    assert resume["chunks"] == 20  # 2 sessions x 2 views x 500 frames / 100
    assert 0 < resume["chunks_done_at_kill"] < resume["chunks"]
    assert resume["frames_redone"] == (resume["chunks"] - resume["chunks_done_at_kill"]) * 100
    assert resume["only_missing_redone"] and resume["chunks_done_after"] == resume["chunks"]
    assert resume["bitwise_equal"] and not resume["arrays_differing"]
    resumed, reference = _arrays(work / "resume-2000" / "stores"), _arrays(work / "run-2000" / "stores")
    assert resumed.keys() == reference.keys()
    assert {"m00000_s1.zarr/position", "m00001_s1.zarr/confidence"} <= set(reference)
    for key, array in reference.items():
        same = (resumed[key].tobytes() == array.tobytes() if array.dtype.kind in "biufc"
                else resumed[key].tolist() == array.tolist())
        assert same, key
    # the blob stand-in found the mouse in (nearly) every frame: the stores are not all NaN
    positions = reference["m00000_s1.zarr/position"]
    assert np.isfinite(positions).mean() > 0.9

    ceiling = result["ceiling"]["96x72"]
    for side in ("decode_cv2_loop", "decode_iter_frame_batches", "infer_empty_predictor", "infer_blob_predictor"):
        assert ceiling["fps"][side]["median"] > 0 and ceiling["frames"][side] == 500
    assert ceiling["infer_empty_over_decode_cv2"] > 0
    assert result["gpu_feed"] is None  # --no-640: nothing to extrapolate from
