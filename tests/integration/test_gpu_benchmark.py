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
        "decode": "ok", "inference": "ok", "pose": "ok", "training": "ok"}, parts
    # the tiny clip is the open-field video's (or a synthetic video's) first 24 frames, once
    assert parts["decode"]["frames"] == 24 and parts["decode"]["cpu_one_process_fps"] > 0
    assert parts["decode"]["gpu_decode"].startswith(("unavailable", "not measured"))
    fp32 = parts["inference"]["fp32"]
    for key in ("ours_fps", "ultralytics_batch_fps", "ultralytics_stream_fps"):
        assert fp32[key] > 0, key
    # every figure is written to 3 decimals: a ratio near 0.02 carries up to 1e-3 of rounding
    assert fp32["ours_vs_ultralytics_batch"] == pytest.approx(fp32["ours_fps"] / fp32["ultralytics_batch_fps"],
                                                             rel=1e-2, abs=1e-3)
    assert "fp16" not in parts["inference"]  # no half precision on the CPU
    assert parts["inference"]["bf16"]["ours_fps"] > 0  # model.bfloat16: on a CPU too (AMX runs it fast)
    assert result["ratio_vs_baseline_best"] == pytest.approx(result["summary"]["steady_vs_ultralytics_batch"], abs=1e-3)
    end = parts["inference"]["end_to_end"]
    assert end["frames"] == 24 and end["end_to_end_fps"] > 0 and end["end_to_end_warm_fps"] > 0
    assert end["local_runner_fps"] > 0
    assert parts["pose"]["ours_fps"] > 0 and parts["pose"]["ultralytics_batch_fps"] > 0
    train = parts["training"]
    assert train["epochs"] == 1 and train["ray_images_per_s"] > 0 and train["ultralytics_images_per_s"] > 0
    assert set(result["summary"]) >= {"steady_vs_ultralytics_batch", "steady_vs_ultralytics_stream",
                                      "end_to_end_fps", "training_vs_ultralytics", "pose_vs_ultralytics_batch"}
    assert result["machine"]["gpu"] is None and result["cpu_mode"] is True
