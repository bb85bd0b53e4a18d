"""The in-process runner: the same stores as the Ray path, resume, force, bad videos, model errors."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from deepbehavior import schema, store
from deepbehavior.synthetic import mice as synthetic
from deepbehavior.cohort import Cohort, Session
from deepbehavior.config import RayConfig
from deepbehavior.runtime.environment import start_ray
from deepbehavior.runtime.inference import infer_cohort
from deepbehavior.runtime.local import LOCAL_GPU_MAX_FRAMES, choose_runner, default_threads, infer_local, load_stage
from tests.helpers.models import random_yolo

FRAMES = 120


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    videos = [synthetic.render_session(folder / f"v{i}.mp4", frames=FRAMES, width=160, height=128, seed=i,
                                       noise=0).video for i in range(2)]
    return folder, videos, random_yolo(folder / "random.pt")


def _cohort(videos):
    return Cohort("t", ("top",), tuple(Session(f"m{i}", "g", "d1", {"top": v}) for i, v in enumerate(videos)))


def _kwargs(weights, **extra):
    # conf=0 keeps a random network's (deterministic) boxes, so every frame has something to compare
    return {"weights": str(weights), "imgsz": 160, "conf": 0.0, "max_individuals": 2, "threads": 1, **extra}


def _local(cohort, out, weights, *, chunk=50, backend="yolo", force=False, **extra):
    return infer_local(cohort, out, backend=backend, backend_kwargs=_kwargs(weights, **extra), chunk=chunk,
                       frames_per_batch=16, force=force, retries=1, printer=lambda m: None, progress_every=0)


def _values(out, key):
    ds = xr.open_zarr(out / "stores" / f"{key}.zarr")
    return {name: ds[name].values for name in ("position", "shape", "confidence", "class_index")}


def _assert_same(a, b):
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-4, atol=1e-3, equal_nan=True, err_msg=name)


def test_choose_runner():
    assert choose_runner("auto", address=None, frames=10**7, gpu=False) == "local"
    assert choose_runner("auto", address=None, frames=500, gpu=True) == "local"
    assert choose_runner("auto", address=None, frames=LOCAL_GPU_MAX_FRAMES + 1, gpu=True) == "ray"
    assert choose_runner("auto", address="10.0.0.1:6379", frames=500, gpu=False) == "ray"
    assert choose_runner("ray", address=None, frames=5, gpu=False) == "ray"
    with pytest.raises(ValueError, match="Expected runner among .* but got 'fast'"):
        choose_runner("fast", address=None, frames=5, gpu=False)


def test_prefetch_depth_is_sized_by_the_largest_video_probed_once_each(monkeypatch):
    from types import SimpleNamespace

    from deepbehavior.runtime import local
    from deepbehavior.video import VideoError

    sizes = {"small.mp4": (160, 120), "large.mp4": (1920, 1080)}
    probed = []

    def probe(video):
        probed.append(video)
        if video not in sizes:
            raise VideoError(f"Expected a video at {video}, but there is none")
        return SimpleNamespace(width=sizes[video][0], height=sizes[video][1])

    monkeypatch.setattr(local, "probe", probe)
    small_only = local.prefetch_depth(["small.mp4"], 16, 3)
    assert small_only == local.PREFETCH_BYTES // (16 * 160 * 120 * 3) > 3
    probed.clear()
    # a small first video must not let a large later one hold many batches ahead
    assert local.prefetch_depth(["small.mp4", "small.mp4", "large.mp4", "gone.mp4", "large.mp4"], 16, 3) == 3
    assert probed == ["small.mp4", "large.mp4", "gone.mp4"]  # each distinct video once
    assert local.prefetch_depth([], 16, 3) == 3
    assert local.prefetch_depth(["gone.mp4"], 16, 3) == 3


def test_the_local_predictor_takes_every_idle_cpu_this_process_may_use(monkeypatch, tmp_path):
    # a batch system's allocation or taskset narrows the process's CPUs: the runner follows it
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr("deepbehavior.runtime.threads.cgroup_cpu_limit", lambda: None)
    monkeypatch.setattr("deepbehavior.runtime.threads.busy_cpus", lambda cpus: (0.0, "faked idle"))
    assert default_threads() == 3
    weights = str(random_yolo(tmp_path / "model.pt"))
    stage = load_stage("yolo", {"weights": weights, "imgsz": 64, "device": "cpu"})
    assert stage.predictor.threads == 3
    given = load_stage("yolo", {"weights": weights, "imgsz": 64, "device": "cpu", "threads": 1})
    assert given.predictor.threads == 1  # +model.options.threads=N wins
    # other programs keep two of the three CPUs busy: one thread, recorded with the stage
    monkeypatch.setattr("deepbehavior.runtime.threads.busy_cpus", lambda cpus: (2.0, "faked load"))
    busy = load_stage("yolo", {"weights": weights, "imgsz": 64, "device": "cpu"})
    assert busy.predictor.threads == 1
    assert busy.threads.as_dict() == {"threads": 1, "usable": 3, "busy": 2.0, "source": "faked load"}


@pytest.mark.slow
def test_local_store_equals_the_ray_store_on_the_same_clips(material, tmp_path):
    _, videos, weights = material
    cohort = _cohort(videos)
    local = _local(cohort, tmp_path / "local", weights)
    ray = start_ray(RayConfig(num_cpus=2, num_gpus=0))
    try:
        remote = infer_cohort(cohort, tmp_path / "ray", backend="yolo", backend_kwargs=_kwargs(weights), chunk=50,
                              frames_per_batch=16, retries=1, printer=lambda m: None, progress_every=0)
    finally:
        ray.shutdown()
    assert local.failures == [] == remote.failures
    assert local.frames == remote.frames == 2 * FRAMES and local.shards_done == remote.shards_done == 6
    for key in ("m0_d1", "m1_d1"):
        a, b = _values(tmp_path / "local", key), _values(tmp_path / "ray", key)
        assert np.isfinite(a["position"]).all()  # conf=0: every slot of every frame filled
        _assert_same(a, b)
        ds_a, ds_b = (xr.open_zarr(tmp_path / p / "stores" / f"{key}.zarr") for p in ("local", "ray"))
        assert ds_a.attrs["fps"] == ds_b.attrs["fps"] and list(ds_a["frame"].values) == list(range(FRAMES))
        assert store.is_complete(tmp_path / "local" / "stores" / f"{key}.zarr")


def test_local_resume_redoes_only_lost_chunks_and_force_redoes_all(material, tmp_path):
    _, videos, weights = material
    cohort = _cohort(videos[:1])
    _local(cohort, tmp_path / "full", weights)
    _local(cohort, tmp_path / "resumed", weights)
    for key in ("top.1", "top.2"):  # an interrupted run: two chunks lost their markers
        (tmp_path / "resumed" / "stores" / "m0_d1.zarr.progress" / "done" / key).unlink()
    again = _local(cohort, tmp_path / "resumed", weights)
    assert again.shards_done == 2 and again.frames == 70  # frames 50-119 only
    _assert_same(_values(tmp_path / "full", "m0_d1"), _values(tmp_path / "resumed", "m0_d1"))
    nothing = _local(cohort, tmp_path / "resumed", weights)
    assert nothing.shards_done == 0 and nothing.frames == 0
    forced = _local(cohort, tmp_path / "resumed", weights, force=True)
    assert forced.shards_done == 3 and forced.frames == FRAMES
    _assert_same(_values(tmp_path / "full", "m0_d1"), _values(tmp_path / "resumed", "m0_d1"))


def test_local_corrupt_and_truncated_videos_do_not_stop_the_others(material, tmp_path):
    _, videos, weights = material
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00garbage" * 1000)
    truncated = tmp_path / "truncated.mp4"
    data = videos[1].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])  # the container claims more frames than decode
    report = _local(_cohort([videos[0], junk, truncated]), tmp_path / "out", weights)
    failed = {f["session"] for f in report.failures}
    assert "m1_d1" in failed and "m0_d1" not in failed
    assert store.is_complete(tmp_path / "out" / "stores" / "m0_d1.zarr")
    assert np.isfinite(_values(tmp_path / "out", "m0_d1")["position"]).all()


def test_local_model_error_fails_only_its_shard(material, tmp_path):
    _, videos, weights = material
    report = _local(_cohort(videos[:1]), tmp_path / "out", weights,
                    backend="tests.helpers.models:FailOnFramePredictor", bad_frame=60)
    assert [(f["start"], f["stop"]) for f in report.failures] == [(50, 100)]
    assert "cannot predict frame 60" in report.failures[0]["error"]
    path = tmp_path / "out" / "stores" / "m0_d1.zarr"
    assert {r.key for r in store.pending(path)} == {"top.1"} and report.shards_done == 2


def test_a_store_is_made_at_its_first_write_and_a_failure_before_it_is_kept(material, tmp_path):
    _, videos, weights = material
    path = tmp_path / "out" / "stores" / "m0_d1.zarr"
    seen = []  # (frames done so far, whether the store exists) at each progress line
    report = infer_local(_cohort(videos[:1]), tmp_path / "out", backend="tests.helpers.models:FailOnFramePredictor",
                         backend_kwargs=_kwargs(weights, bad_frame=10), chunk=50, frames_per_batch=16, retries=1,
                         printer=lambda m: seen.append((m.split()[1], path.exists())), progress_every=0)
    # the first shard (frames 0-49) fails before anything is written: the store is made to record it,
    # and making it for the later shards' writes does not wipe that record
    assert [(f["start"], f["stop"]) for f in report.failures] == [(0, 50)]
    assert [(f["start"], f["stop"]) for f in store.failures(path)] == [(0, 50)]
    assert {r.key for r in store.pending(path)} == {"top.0"} and report.shards_done == 2
    assert np.isfinite(_values(tmp_path / "out", "m0_d1")["position"][50:]).all()
    seen.clear()
    fresh = tmp_path / "fresh" / "stores" / "m0_d1.zarr"
    infer_local(_cohort(videos[:1]), tmp_path / "fresh", backend="yolo", backend_kwargs=_kwargs(weights), chunk=50,
                frames_per_batch=16, retries=1, progress_every=0,
                printer=lambda m: seen.append((m.split()[1], fresh.exists())))
    progress = [(done, exists) for done, exists in seen if "/" in done]  # "[infer] 16/120 frames, …"
    assert progress[0] == ("16/120", False)  # predicting before its store exists
    assert progress[-1] == ("120/120", True) and store.is_complete(fresh)


def test_a_fresh_run_predicts_before_zarr_loads_and_never_loads_xarray(material, tmp_path):
    # planning a fresh folder opens no store, so Zarr loads at the first write, after the first frames;
    # stores are made and written with Zarr alone, so xarray (and the Dask and pandas it brings) never load
    _, videos, weights = material
    script = f"""
import sys
from deepbehavior.cohort import cohort_from_videos
from deepbehavior.runtime.local import infer_local
heavy = ("zarr", "xarray", "dask", "pandas")
loaded = []
def printer(line):
    if not loaded and line.split()[1][:2] != "0/" and "/" in line.split()[1]:
        loaded.append([m for m in heavy if m in sys.modules])
report = infer_local(cohort_from_videos([{str(videos[0])!r}]), {str(tmp_path / "out")!r}, backend="yolo",
                     backend_kwargs={_kwargs(weights)!r}, chunk=50, frames_per_batch=16, printer=printer,
                     progress_every=0)
print("FIRST", loaded[0], "END", [m for m in heavy if m in sys.modules], "FRAMES", report.frames)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FIRST [] END ['zarr'] FRAMES 120" in done.stdout, done.stdout
    made = list((tmp_path / "out" / "stores").glob("*.zarr"))
    assert len(made) == 1 and store.is_complete(made[0])
    ds = store.open_store(made[0])  # read back with xarray, as every later job does
    assert np.isfinite(ds["position"].values).all() and schema.validate(ds) is ds  # conf=0: every slot filled


def test_next_step_hint_reads_what_it_can_and_puts_the_command_on_its_own_line(tmp_path):
    from jobs.infer import next_step

    cohort = Cohort("t", ("top",), tuple(Session(f"m{i}", "g", "d1", {"top": f"v{i}.mp4"}) for i in range(4)))
    position = np.full((6, 2, 1, 3), np.nan)
    position[:, :, 0, :2] = 1.0  # two animals in every frame
    ds = schema.make_poses(position, fps=30, keypoints=["c"], individuals_are="slots")
    stores = tmp_path / "o" / "stores"
    store.write_dataset(ds, stores / "m0_d1.zarr", chunk=5)
    store.write_dataset(ds.isel(time=slice(0, 0)), stores / "m1_d1.zarr", chunk=5)  # no frames
    (stores / "m2_d1.zarr").mkdir()  # not a store: left out of the hint, no traceback
    hint = next_step(cohort, tmp_path / "o", manifest=tmp_path / "c.yaml", cohort_file=None, failed={"m3_d1"})
    explanation, command = hint.splitlines()
    assert explanation == "2 animals in most frames of the stores; track them with:"
    assert command == f"deepbehavior track out={tmp_path / 'o'} cohort={tmp_path / 'c.yaml'} track.n_identities=2"
    assert next_step(cohort, tmp_path / "o", manifest=None, cohort_file="c.yaml", failed={"m0_d1"}) is not None
    assert next_step(cohort, tmp_path / "none", manifest=None, cohort_file="c.yaml", failed=set()) is None
