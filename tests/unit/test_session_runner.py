"""The one cohort runner: done sessions skipped, data errors recorded per session as typed failures
(the others go on), bugs and Ctrl-C stop the run, progress printed, and the jobs' one exit rule."""

from __future__ import annotations

import glob
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from deepbehavior.fingerprint import FingerprintMismatch
from deepbehavior.schema import make_poses
from deepbehavior.session_runner import SessionFailure, run_sessions
from deepbehavior.store import create_store, open_store, regions, write_region
from jobs._hydra import finish


@dataclass(frozen=True)
class Item:
    key: str


def _store(path: Path) -> Path:
    ds = make_poses(np.arange(40 * 2 * 2 * 1, dtype=float).reshape(40, 2, 2, 1), fps=10.0, keypoints=["a", "b"])
    create_store(path, ds, chunk=20)
    for region in regions(path):
        write_region(path, ds.isel(time=slice(region.start, region.stop)), region)
    return path


def _damage_chunk(path: Path) -> None:
    """Overwrite one stored chunk of ``position`` with bytes no codec can decode."""
    chunks = sorted(f for f in glob.glob(str(path / "position" / "c" / "**"), recursive=True) if Path(f).is_file())
    Path(chunks[0]).write_bytes(b"not a zstd frame" * 4)


def _total(path: Path) -> float:
    return float(open_store(path)["position"].sum())


def test_good_done_missing_and_damaged_stores(tmp_path):
    good, done, damaged = (_store(tmp_path / f"{k}.zarr") for k in ("good", "done", "damaged"))
    _damage_chunk(damaged)
    items = [Item("good"), Item("missing"), Item("done"), Item("damaged")]
    ran, lines = [], []

    def work(item):
        ran.append(item.key)
        return _total(tmp_path / f"{item.key}.zarr")

    report = run_sessions(items, work, is_done=lambda item: item.key == "done", label="test",
                          printer=lines.append, details=lambda item: {"store": f"{item.key}.zarr"})
    assert report.done == ["good"] and report.skipped == ["done"]
    assert sorted(ran) == ["damaged", "good", "missing"]  # the done one is never worked on
    # the true sum of 0..159, read back from the good store
    assert report.results == {"good": pytest.approx(sum(range(160)))}
    by_key = {f.session: f for f in report.failures}
    assert report.failed == ["missing", "damaged"]  # in the order given
    assert by_key["missing"].kind == "input" and by_key["missing"].message.startswith("FileNotFoundError: ")
    assert "missing.zarr" in by_key["missing"].message
    # a chunk no codec can read: zstd says so with a RuntimeError, recorded as the session's data failure
    assert by_key["damaged"].kind == "data" and "decompression" in by_key["damaged"].message.lower()
    assert by_key["damaged"].stage == "test" and by_key["damaged"].details == (("store", "damaged.zarr"),)
    # one line per failure as it happens, and progress that ends with every session counted
    assert [line for line in lines if "failed (" in line] == [
        f"[test] missing: failed (input): {by_key['missing'].message}",
        f"[test] damaged: failed (data): {by_key['damaged'].message}"]
    assert re.fullmatch(r"\[test\] 4/4 sessions \(1 already done, 2 failed\), \d+s", lines[-1])


def test_a_finished_output_made_otherwise_fails_its_session_from_is_done():
    def is_done(item):
        if item.key == "b":
            raise FingerprintMismatch("store b was made with other settings: chunk was 10, but this run has 20")
        return False

    report = run_sessions([Item("a"), Item("b")], lambda item: item.key.upper(), is_done=is_done, label="x",
                          printer=lambda line: None)
    assert report.results == {"a": "A"}
    assert report.failures == [SessionFailure("b", "x", "input", "FingerprintMismatch: store b was made with "
                                              "other settings: chunk was 10, but this run has 20")]


@pytest.mark.parametrize("error", [TypeError("bad argument"), AttributeError("no such attribute"),
                                   NotImplementedError("todo"), KeyboardInterrupt(), MemoryError()])
@pytest.mark.parametrize("workers", [1, 2])
def test_bugs_interrupts_and_memory_stop_the_run(error, workers):
    started = []

    def work(item):
        started.append(item.key)
        if item.key == "b":
            raise error
        return item.key

    with pytest.raises(type(error)):
        run_sessions([Item("a"), Item("b")] + [Item(f"later{i}") for i in range(3)] * (workers == 1), work,
                     label="x", workers=workers, printer=lambda line: None)
    if workers == 1:
        assert started == ["a", "b"]  # nothing after the bug ran


def test_threads_keep_the_order_and_run_sessions_at_once():
    both = threading.Barrier(2, timeout=10)  # passes only when two sessions run at the same time

    def work(item):
        both.wait()
        if item.key == "s1":
            raise KeyError("keypoints")
        return item.key

    report = run_sessions([Item(f"s{i}") for i in range(4)], work, label="x", workers=2, printer=lambda line: None)
    assert report.done == ["s0", "s2", "s3"] and report.failed == ["s1"]
    assert report.failures[0].message == "KeyError: 'keypoints'" and report.failures[0].kind == "data"


def test_fail_fast_raises_the_sessions_own_error():
    def work(item):
        raise FileNotFoundError(f"Expected a store for session {item.key}")

    with pytest.raises(FileNotFoundError, match="session a"):
        run_sessions([Item("a"), Item("b")], work, label="x", fail_fast=True, printer=lambda line: None)


def test_progress_gives_the_rate_and_time_left(monkeypatch):
    import deepbehavior.session_runner as runner

    clock = iter(float(t) for t in range(100))
    monkeypatch.setattr(runner.time, "monotonic", lambda: next(clock))
    lines = []
    run_sessions([Item(str(i)) for i in range(4)], lambda item: None, label="p", printer=lines.append,
                 progress_every=0.0)
    # the clock ticks once per call: started at 1, then each session's line reads the next tick
    assert lines[0] == "[p] 1/4 sessions (0 already done, 0 failed), 1 sessions/s, 3s left"
    assert lines[1] == "[p] 2/4 sessions (0 already done, 0 failed), 1 sessions/s, 2s left"
    assert lines[-1] == "[p] 4/4 sessions (0 already done, 0 failed), 4s"


def test_failure_records_keep_the_keys_reports_had():
    shard = SessionFailure.from_record({"session": "m1_d1", "view": "top", "start": 50, "stop": 100,
                                        "error": "cannot predict\nframe 60"}, "infer")
    assert shard.kind == "data" and shard.where == "view=top start=50 stop=100"
    assert shard.to_json() == {"session": "m1_d1", "view": "top", "start": 50, "stop": 100,
                               "error": "cannot predict frame 60", "kind": "data", "stage": "infer"}
    planned = SessionFailure.from_record({"session": "m2_d1", "view": "*", "start": 0, "stop": 0,
                                          "error": "Expected a video file at gone.mp4"}, "infer")
    assert planned.kind == "input"
    assert json.loads(json.dumps(planned.to_json()))["error"] == "Expected a video file at gone.mp4"
    with pytest.raises(ValueError, match=r"Expected a failure kind in \['input', 'data'\], but got 'other'"):
        SessionFailure("a", "x", "other", "m")


def test_the_exit_rule_names_each_failed_session_and_the_report(capsys, tmp_path):
    report = tmp_path / "job_report.json"
    assert finish("track", [], report, sessions=3) is None  # nothing failed: status 0
    failures = [SessionFailure("m1_d1", "infer", "data", "cannot predict frame 60", (("view", "top"),)),
                SessionFailure("m1_d1", "infer", "data", "only 3 of 50 frames came back"),
                SessionFailure("m3_d1", "infer", "input", "Expected a video file at gone.mp4")]
    with pytest.raises(SystemExit) as exit_info:
        finish("infer", failures, report, sessions=3)
    assert exit_info.value.code == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"deepbehavior infer: session m1_d1 failed (data; view=top): cannot predict frame 60 "
        f"(and 1 more failures); report: {report}",
        f"deepbehavior infer: session m3_d1 failed (input): Expected a video file at gone.mp4; report: {report}",
        f"deepbehavior infer: error: 2 of 3 sessions failed: m1_d1, m3_d1; fix them, then rerun the same "
        f"command (finished sessions are skipped); report: {report}"]
