"""The thread rule: the CPUs a process may use, less those other programs keep busy (faked counts and loads)."""

import pytest

from deepbehavior.config import PredictConfig, TrainConfig, parse_threads
from deepbehavior.runtime import threads as rule
from deepbehavior.runtime.stages import predictor_kwargs


@pytest.mark.parametrize(("usable", "busy", "expected"), [
    (2, 0.0, 2),   # idle: every CPU
    (2, 0.3, 2),   # a little other work: a thread there still does most of a core's work
    (2, 1.0, 1),   # one CPU-bound program beside it (one `python -c 'while 1: pass'`)
    (2, 6.5, 1),   # load 6-7 on 2 cores: one thread, never zero
    (16, 4.0, 12),
    (16, 4.6, 11),  # rounded to the nearest CPU
    (1, 0.0, 1),
])
def test_threads_are_the_free_cpus_rounded_at_least_one(usable, busy, expected):
    assert rule.threads_for(usable, busy) == expected


def test_threads_for_refuses_no_cpus():
    with pytest.raises(ValueError, match="Expected usable CPUs >= 1, but got 0"):
        rule.threads_for(0, 0.0)


def test_cgroup_quota_v2_and_v1(tmp_path):
    root_only = tmp_path / "self-cgroup"
    root_only.write_text("0::/\n")
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert rule.cgroup_cpu_limit(tmp_path, proc_cgroup=root_only) == pytest.approx(1.5)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert rule.cgroup_cpu_limit(tmp_path, proc_cgroup=root_only) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert rule.cgroup_cpu_limit(v1, proc_cgroup=root_only) == pytest.approx(3.0)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert rule.cgroup_cpu_limit(v1, proc_cgroup=root_only) is None
    assert rule.cgroup_cpu_limit(tmp_path / "absent", proc_cgroup=root_only) is None
    assert rule.cgroup_cpu_limit(tmp_path / "absent", proc_cgroup=tmp_path / "no such file") is None


def test_cgroup_quota_is_read_at_the_process_own_v2_cgroup(tmp_path):
    """A batch system's quota sits on the job's cgroup, not the root (whose cpu.max says max)."""
    (tmp_path / "cpu.max").write_text("max 100000\n")
    job = tmp_path / "system.slice" / "slurmstepd.scope" / "job_7"
    job.mkdir(parents=True)
    (job / "cpu.max").write_text("200000 100000\n")
    own = tmp_path / "self-cgroup"
    own.write_text("0::/system.slice/slurmstepd.scope/job_7\n")
    assert rule.cgroup_cpu_limit(tmp_path, proc_cgroup=own) == pytest.approx(2.0)
    # a quota on a parent bounds the child; the tightest counts
    (tmp_path / "system.slice" / "cpu.max").write_text("50000 100000\n")
    assert rule.cgroup_cpu_limit(tmp_path, proc_cgroup=own) == pytest.approx(0.5)
    # a cgroup not mounted here (a container sees its own as the root) falls back to the root
    own.write_text("0::/elsewhere/container\n")
    (tmp_path / "cpu.max").write_text("300000 100000\n")
    assert rule.cgroup_cpu_limit(tmp_path, proc_cgroup=own) == pytest.approx(3.0)


@pytest.mark.parametrize("controller", ["cpu", "cpu,cpuacct"])
def test_cgroup_quota_is_read_at_the_process_own_v1_cgroup(tmp_path, controller):
    job = tmp_path / controller / "slurm" / "uid_1" / "job_7"
    job.mkdir(parents=True)
    (tmp_path / controller / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / controller / "cpu.cfs_period_us").write_text("100000\n")
    (job / "cpu.cfs_quota_us").write_text("400000\n")
    (job / "cpu.cfs_period_us").write_text("100000\n")
    own = tmp_path / "self-cgroup"
    own.write_text("9:memory:/slurm/uid_1/job_7\n4:cpu,cpuacct:/slurm/uid_1/job_7\n0::/\n")
    assert rule.cgroup_cpu_limit(tmp_path, proc_cgroup=own) == pytest.approx(4.0)


def test_usable_cpus_is_the_affinity_capped_by_the_quota_rounded_up():
    assert rule.usable_cpus({0, 1, 2, 3}, quota=None) == 4
    assert rule.usable_cpus({0, 1, 2, 3}, quota=1.5) == 2
    assert rule.usable_cpus({0, 1}, quota=8.0) == 2
    assert rule.usable_cpus({3}, quota=0.2) == 1


def _stat(cpus: dict[int, tuple[int, int]]) -> str:
    """/proc/stat text with each cpu's (busy, idle) jiffies (busy as user time)."""
    total_busy, total_idle = sum(b for b, _ in cpus.values()), sum(i for _, i in cpus.values())
    lines = [f"cpu  {total_busy} 0 0 {total_idle} 0 0 0 0 0 0"]
    lines += [f"cpu{n} {b} 0 0 {i} 0 0 0 0 0 0" for n, (b, i) in cpus.items()]
    return "\n".join(lines + ["intr 1 2 3", "ctxt 5"]) + "\n"


def test_busy_cpus_counts_only_this_process_cpus_from_proc_stat(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    samples = iter([_stat({0: (100, 100), 1: (100, 100), 2: (0, 0)}),
                    # over the window: cpu0 fully busy, cpu1 a quarter busy, cpu2 (not ours) fully busy
                    _stat({0: (200, 100), 1: (125, 175), 2: (100, 0)})])
    monkeypatch.setattr(rule.Path, "read_text", lambda self: next(samples))
    monkeypatch.setattr(rule.time, "sleep", lambda s: None)
    own = iter([10.0, 10.05])  # this process used half a CPU over the (faked) tenth of a second
    clock = iter([100.0, 100.1])
    monkeypatch.setattr(rule.time, "process_time", lambda: next(own))
    monkeypatch.setattr(rule.time, "monotonic", lambda: next(clock))
    busy, source = rule.busy_cpus({0, 1}, seconds=0.1, stat=stat)
    assert busy == pytest.approx(2 * 125 / 200 - 0.5)  # its own half CPU is not other programs' work
    assert source.startswith("/proc/stat")


def test_busy_cpus_falls_back_to_the_load_average(tmp_path, monkeypatch):
    monkeypatch.setattr(rule.os, "getloadavg", lambda: (6.0, 5.0, 4.0))
    monkeypatch.setattr(rule.os, "cpu_count", lambda: 4)
    busy, source = rule.busy_cpus({0, 1}, stat=tmp_path / "no such file")
    assert (busy, source) == (3.0, "load average")  # half the machine's CPUs: half its runnable tasks


def test_choose_threads_applies_the_rule_limit_share_and_setting(monkeypatch):
    monkeypatch.setattr(rule, "affinity", lambda: {0, 1, 2, 3})
    monkeypatch.setattr(rule, "cgroup_cpu_limit", lambda: None)
    monkeypatch.setattr(rule, "busy_cpus", lambda cpus: (1.0, "faked"))
    assert rule.choose_threads().as_dict() == {"threads": 3, "usable": 4, "busy": 1.0, "source": "faked"}
    assert rule.choose_threads(limit=2).threads == 2  # 1 of 4 busy: a quarter of the 2 it may use → 1.5 free
    assert rule.choose_threads(share=2).threads == 1
    assert rule.choose_threads("3").as_dict() == {"threads": 3, "usable": 4, "busy": 0.0, "source": "set"}
    monkeypatch.setattr(rule, "busy_cpus", lambda cpus: (7.0, "faked"))
    assert rule.choose_threads().threads == 1


def test_the_real_measurement_runs_here():
    choice = rule.choose_threads()
    assert 1 <= choice.threads <= choice.usable and choice.busy >= 0


@pytest.mark.parametrize(("value", "expected"), [("auto", None), (None, None), ("AUTO", None), (0, None),
                                                  (3, 3), ("2", 2)])
def test_parse_threads(value, expected):
    assert parse_threads(value) == expected


@pytest.mark.parametrize("value", ["many", -1, 1.5, True])
def test_bad_thread_settings_fail_in_one_line(value):
    with pytest.raises(ValueError, match=r"Expected model.threads 'auto' or a whole number of threads >= 1, but got"):
        PredictConfig(threads=value)
    with pytest.raises(ValueError, match=r"Expected train.threads 'auto'"):
        TrainConfig(data="d.yaml", threads=value)


def test_model_threads_reaches_threaded_predictors_only():
    assert predictor_kwargs(PredictConfig(weights="m.pt", threads="2"))["threads"] == 2
    assert "threads" not in predictor_kwargs(PredictConfig(weights="m.pt"))  # auto: the runtime decides
    assert "threads" not in predictor_kwargs(PredictConfig(threads="2"), "mediapipe")
    # an explicit option still wins, as before model.threads existed
    assert predictor_kwargs(PredictConfig(weights="m.pt", threads="2", options={"threads": 1}))["threads"] == 1


def test_ray_inference_measures_the_load_only_on_a_ray_this_process_started(monkeypatch, tmp_path):
    """Joined by address, the predictor may run on another machine: this one's load says nothing of it."""
    from types import SimpleNamespace

    from deepbehavior.runtime import environment
    from deepbehavior.runtime import inference as inf

    layout = {"predictors": 1, "gpus_per_predictor": 0.0, "cpus_per_predictor": 4.0, "readers": 0}
    monkeypatch.setattr(inf, "plan_predictors", lambda nodes, readers: layout)
    monkeypatch.setattr(inf, "session_fingerprints", lambda *a, **k: {})
    monkeypatch.setattr(inf, "plan_shards", lambda *a, **k: ([inf.Shard("s.zarr", "s", "top", "v.mp4", 0, 0, 10)], []))
    monkeypatch.setattr(inf, "note_variants", lambda *a, **k: None)
    monkeypatch.setattr(inf, "choose_threads", lambda **k: rule.ThreadChoice(1, 4, 3.0, "faked load"))
    used = []
    monkeypatch.setattr(inf, "run_inference",
                        lambda shards, **k: used.append(k["backend_kwargs"]["threads"]) or inf.RunReport(0, 0.0, 0, []))

    def run():
        return inf._infer_cohort(None, tmp_path, backend="yolo", backend_kwargs={"weights": "m.pt"}, chunk=10,
                                 frames_per_batch=16, force=False, retries=0, readers=None, provenance=None,
                                 printer=lambda m: None, progress_every=0, description=SimpleNamespace(kind="boxes"),
                                 decoder_log=None, ray=SimpleNamespace(nodes=lambda: []))

    monkeypatch.setattr(environment, "_OWN_TEMP_DIR", tmp_path)  # started here
    assert run().threads["source"] == "faked load" and used == [1]
    monkeypatch.setattr(environment, "_OWN_TEMP_DIR", None)  # joined by address
    assert run().threads is None and used == [1, 4]  # the CPUs the predictor reserved


def test_ray_train_workers_measure_the_load_only_alone_on_this_process_ray(monkeypatch):
    """Sibling workers still starting, or another machine's work, would count as busy."""
    from deepbehavior.runtime import distributed_training as dt

    seen = []
    monkeypatch.setattr(dt, "LoopSpec", lambda **spec: spec)
    monkeypatch.setattr(dt, "RaySession", lambda *a: None)
    monkeypatch.setattr(dt, "train_loop", lambda spec, session: seen.append(spec["threads"]))
    monkeypatch.setattr(dt, "choose_threads", lambda limit=None: rule.ThreadChoice(1, limit, 2.5, "faked load"))
    dt._worker({"spec": {"threads": None}, "cpus": 4, "measure": True})
    dt._worker({"spec": {"threads": None}, "cpus": 4, "measure": False})
    dt._worker({"spec": {"threads": 2}, "cpus": 4, "measure": False})
    assert seen == [1, 4, 2]
