"""benchmarks/gpu.sh in its CPU mode on a few frames: every part runs and the one JSON has its fields.

The GPU figures themselves need a GPU; this checks that the script, each part and the JSON it
writes work, so that a GPU machine's one run is not wasted on a bug.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_without_a_usable_python_it_says_how_to_set_one_up_in_one_line(tmp_path):
    env = {**os.environ, "PYTHON": str(tmp_path / "no-python"), "WHEELS": str(tmp_path / "no-wheels")}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--cpu", "--tiny"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("gpu.sh: error: Expected a Python that imports torch") and "bash scripts/setup.sh" in lines[0]


@pytest.mark.slow
def test_gpu_benchmark_runs_every_part_on_the_cpu_and_writes_one_json(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "GPU_BENCH_TIMEOUT": "1700", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu.sh"), "--cpu", "--tiny", "--timeout-scale", "6", "--budget", "1600",
         "--out", str(out)], env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    parts = result["parts"]
    assert {name: part["status"] for name, part in parts.items()} == {
        "decode": "ok", "inference": "ok", "end_to_end": "ok", "export": "ok", "accuracy": "ok", "pose": "ok",
        "training": "ok"}, parts
    # the tiny clip is the open-field video's (or a synthetic video's) first 24 frames, once
    decode = parts["decode"]
    assert decode["frames"] == 24 and decode["cpu_one_process_fps"] > 0 and decode["codec"]
    assert decode["gpu_decode"].startswith(("unavailable", "not measured"))
    inference = parts["inference"]
    assert set(inference["precisions"]) == {"fp32", "bf16"}  # no float16 on the CPU
    for precision, row in inference["precisions"].items():
        for key in ("ours_fps", "ultralytics_batch_fps", "ultralytics_stream_fps"):
            assert row[key] > 0, (precision, key)
        assert row["ours_vs_ultralytics_batch"] == pytest.approx(row["ours_fps"] / row["ultralytics_batch_fps"],
                                                                 rel=1e-2, abs=1e-3)
        assert 0 < row["ultralytics_stream"]["frames"] <= 1000  # stream baselines: at most 1,000 frames
    # accuracy against fp32, on the trained model, beside each speed figure
    assert inference["precisions"]["fp32"]["accuracy_vs_fp32"] == "reference"
    bf16 = inference["precisions"]["bf16"]["accuracy_vs_fp32"]
    assert bf16 == parts["accuracy"]["bf16"] and {"detections", "box_max_abs_px", "keypoint_px"} <= set(bf16)
    sweep = inference["batch_sweep"]["rows"]
    assert set(sweep) == {"1", "8"}
    assert all(r["ours_fps"] > 0 and r["ultralytics_video_batch_fps"] > 0 for r in sweep.values())
    export = parts["export"]
    assert export["export"] in ("measured", "unavailable")
    assert export.get("fps", 0) > 0 if export["export"] == "measured" else export["why"]
    end = parts["end_to_end"]
    assert end["frames"] > 0 and end["end_to_end_fps"] > 0 and end["end_to_end_warm_fps"] > 0
    assert end["local_runner_fps"] > 0
    assert parts["pose"]["ours_fps"] > 0 and parts["pose"]["ultralytics_batch_fps"] > 0
    train = parts["training"]
    assert train["epochs"] == 1 and train["ray_images_per_s"] > 0 and train["ultralytics_images_per_s"] > 0
    assert result["ratio_vs_baseline_best"] == pytest.approx(result["summary"]["steady_vs_ultralytics_batch"], abs=1e-3)
    assert set(result["summary"]) >= {"steady_vs_ultralytics_batch", "steady_vs_ultralytics_stream",
                                      "batch_sweep_best_ours_vs_best_ultralytics", "steady_vs_ultralytics_export",
                                      "end_to_end_fps", "training_vs_ultralytics", "pose_vs_ultralytics_batch"}
    assert result["machine"]["gpu"] is None and result["cpu_mode"] is True
