"""Distributed inference: resume, failures, killed workers, and shard-size invariance."""


import numpy as np
import pytest
import xarray as xr

from deepbehavior import store
from deepbehavior.synthetic import mice as synthetic
from deepbehavior.cohort import Cohort, Session
from deepbehavior.config import RayConfig
from deepbehavior.runtime.environment import start_ray
from deepbehavior.runtime.inference import infer_cohort
from tests.helpers.models import random_yolo

FRAMES = 120


@pytest.fixture(scope="module", params=["cpu", "gpu-layout"])
def ray_local(request):
    """Ray as on a node without GPUs (an actor reads and predicts), then as on a node with one: Ray
    is told of a GPU, so decoding tasks feed a GPU predictor actor, which finding no CUDA here
    runs on the CPU. Every test runs on both layouts."""
    ray = start_ray(RayConfig(num_cpus=2, num_gpus=1 if request.param == "gpu-layout" else 0))
    assert ray.cluster_resources().get("GPU", 0) == (1 if request.param == "gpu-layout" else 0)
    yield ray
    ray.shutdown()


def test_the_embedded_ray_talks_over_loopback_only(ray_local):
    # Ray 2.60 swaps a 127.0.0.1 node address for the machine's routable one unless told not to;
    # then the driver reaches its own GCS through the network interface (CI's netcheck saw it).
    from ray._private import ray_constants

    assert ray_local.get_runtime_context().gcs_address.startswith("127.0.0.1:")
    assert {node["NodeManagerAddress"] for node in ray_local.nodes()} == {"127.0.0.1"}
    assert ray_local.util.get_node_ip_address() == "127.0.0.1"
    assert ray_constants.ENABLE_RAY_CLUSTER is True  # the flag is lowered only while ray.init runs


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("infer")
    videos = [synthetic.render_session(folder / f"v{i}.mp4", frames=FRAMES, width=160, height=128, seed=i,
                                       noise=0).video for i in range(2)]
    weights = random_yolo(folder / "random.pt")
    return folder, videos, weights


def _cohort(videos):
    return Cohort("t", ("top",), tuple(Session(f"m{i}", "g", "d1", {"top": v}) for i, v in enumerate(videos)))


def _kwargs(weights, **extra):
    # conf=0 keeps a random network's (deterministic) boxes, so every frame has something to compare.
    return {"weights": str(weights), "imgsz": 160, "conf": 0.0, "max_individuals": 2, "threads": 1, **extra}


def _run(cohort, out, weights, *, chunk=50, backend="yolo", force=False, printer=lambda m: None, **extra):
    return infer_cohort(cohort, out, backend=backend, backend_kwargs=_kwargs(weights, **extra), chunk=chunk,
                        frames_per_batch=16, force=force, retries=1, printer=printer, progress_every=0)


def _values(out, key):
    ds = xr.open_zarr(out / "stores" / f"{key}.zarr")
    return {name: ds[name].values for name in ("position", "shape", "confidence", "class_index")}


def _assert_same(a, b):
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-3, equal_nan=True, err_msg=name)


def test_output_is_identical_across_shard_sizes_and_complete(ray_local, material, tmp_path):
    _, videos, weights = material
    cohort = _cohort(videos)
    report_a = _run(cohort, tmp_path / "a", weights, chunk=50)
    report_b = _run(cohort, tmp_path / "b", weights, chunk=120)
    assert report_a.failures == [] and report_b.failures == []
    assert report_a.frames == report_b.frames == 2 * FRAMES
    for key in ("m0_d1", "m1_d1"):
        a, b = _values(tmp_path / "a", key), _values(tmp_path / "b", key)
        assert a["position"].shape == (FRAMES, 2, 2)  # one camera: no view dimension
        assert np.isfinite(a["position"]).all()  # conf=0: every slot of every frame filled
        _assert_same(a, b)
        assert store.is_complete(tmp_path / "a" / "stores" / f"{key}.zarr")


def test_resume_skips_done_chunks_and_gives_the_same_output(ray_local, material, tmp_path):
    _, videos, weights = material
    cohort = _cohort(videos)
    _run(cohort, tmp_path / "full", weights)
    _run(cohort, tmp_path / "resumed", weights)
    path = tmp_path / "resumed" / "stores" / "m0_d1.zarr"
    # Simulate an interrupted run: two chunks lost their data and their markers.
    for key in ("top.1", "top.2"):
        (tmp_path / "resumed" / "stores" / "m0_d1.zarr.progress" / "done" / key).unlink()
    again = _run(cohort, tmp_path / "resumed", weights)
    assert again.shards_done == 2 and again.frames == 70  # frames 50-119 only
    _assert_same(_values(tmp_path / "full", "m0_d1"), _values(tmp_path / "resumed", "m0_d1"))
    nothing = _run(cohort, tmp_path / "resumed", weights)
    assert nothing.shards_done == 0 and nothing.frames == 0
    forced = _run(cohort, tmp_path / "resumed", weights, force=True)
    assert forced.shards_done == 6
    assert store.is_complete(path)


def test_corrupt_and_missing_videos_do_not_stop_the_others(ray_local, material, tmp_path):
    folder, videos, weights = material
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 1000)
    truncated = tmp_path / "truncated.mp4"
    data = videos[1].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # the container claims more frames than decode
    cohort = _cohort([videos[0], junk, truncated])
    report = _run(cohort, tmp_path / "out", weights)
    failed = {f["session"] for f in report.failures}
    assert "m1_d1" in failed
    assert "m0_d1" not in failed and store.is_complete(tmp_path / "out" / "stores" / "m0_d1.zarr")
    assert np.isfinite(_values(tmp_path / "out", "m0_d1")["position"]).all()


def test_a_model_error_fails_only_its_shard(ray_local, material, tmp_path):
    _, videos, weights = material
    cohort = _cohort(videos[:1])
    report = _run(cohort, tmp_path / "out", weights, backend="tests.helpers.models:FailOnFramePredictor", bad_frame=60)
    assert [(f["start"], f["stop"]) for f in report.failures] == [(50, 100)]
    assert "cannot predict frame 60" in report.failures[0]["error"]
    path = tmp_path / "out" / "stores" / "m0_d1.zarr"
    assert {r.key for r in store.pending(path)} == {"top.1"}
    assert store.failures(path)[0]["chunk"] == 1


def test_a_killed_worker_does_not_change_the_output(ray_local, material, tmp_path):
    _, videos, weights = material
    cohort = _cohort(videos[:1])
    _run(cohort, tmp_path / "clean", weights)
    marker = tmp_path / "crashed.txt"
    report = _run(cohort, tmp_path / "crash", weights, backend="tests.helpers.models:CrashOncePredictor",
                  marker=str(marker))
    assert marker.exists(), "the predictor should have been killed once"
    assert report.failures == []
    _assert_same(_values(tmp_path / "clean", "m0_d1"), _values(tmp_path / "crash", "m0_d1"))


def test_progress_comes_within_a_shard_with_rate_and_time_left(ray_local, material, tmp_path):
    _, videos, weights = material
    lines = []
    # 8 batches of 0.4 s a shard: predictions go out about every second, not once a shard is whole
    _run(_cohort(videos), tmp_path / "out", weights, chunk=120, printer=lines.append,
         backend="tests.helpers.models:SlowPredictor", delay=0.4)
    counts = [int(line.split()[1].split("/")[0]) for line in lines[1:]]  # "[infer] 32/240 frames, …"
    assert counts[-1] == 2 * FRAMES and counts == sorted(counts)
    assert any(count % 120 for count in counts), counts
    assert "frames/s" in lines[-1] and "s left" in lines[-1] and "m0_d1 120/120, m1_d1 120/120" in lines[-1]
