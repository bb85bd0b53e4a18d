"""SIGTERM (a batch scheduler's pre-emption, or its time limit, before SIGKILL) ends a job as Ctrl-C does:
one line, what was finished kept, exit 143; rerunning the command resumes to the same stores, bit for bit."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import zarr

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from deepbehavior.cli import EXIT_TERMINATED, INTERRUPTED, TERMINATED  # noqa: E402

FRAMES = 360
CHUNK = 20


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


# A job that sends itself SIGTERM and then works on: it must never print "finished".
_TERMINATED_JOB = """
import os, signal, sys, time, types
from deepbehavior import cli

def main():
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(300):
        time.sleep(0.01)
    print("finished", flush=True)

cli.importlib.import_module = lambda name: types.SimpleNamespace(main=main)
before = signal.getsignal(signal.SIGTERM)
try:
    cli.main(["frames"])
except SystemExit:
    print("restored", signal.getsignal(signal.SIGTERM) is before, flush=True)
    raise
"""


def test_sigterm_ends_a_job_with_one_line_and_143():
    done = subprocess.run([sys.executable, "-c", _TERMINATED_JOB], capture_output=True, text=True, timeout=120,
                          env=_env())
    assert done.returncode == EXIT_TERMINATED == 143, done.stderr
    assert done.stdout.splitlines() == ["restored True"]
    assert done.stderr.strip() == f"deepbehavior frames: {TERMINATED}"
    assert TERMINATED != INTERRUPTED and "resume" in TERMINATED


# With Ray running in the process, a job whose main thread cannot act on the signal (here it swallows
# every KeyboardInterrupt, as Ray's C++ core ending the process first amounts to) still ends with the
# line and 143 at once, not after the watchdog.
_RAY_JOB = """
import os, signal, sys, time, types
from deepbehavior import cli
cli._CtrlC.WATCHDOG_S = 60.0
sys.modules["ray"] = types.SimpleNamespace(is_initialized=lambda: True)

def main():
    os.kill(os.getpid(), signal.SIGTERM)
    for _ in range(3000):
        try:
            time.sleep(0.01)
        except KeyboardInterrupt:
            pass
    print("finished", flush=True)

cli.importlib.import_module = lambda name: types.SimpleNamespace(main=main)
cli.main(["infer"])
"""


def test_sigterm_with_ray_running_ends_the_job_at_once():
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _RAY_JOB], capture_output=True, text=True, timeout=120, env=_env())
    assert done.returncode == EXIT_TERMINATED, done.stderr
    assert done.stdout == "" and done.stderr.strip() == f"deepbehavior infer: {TERMINATED}"
    assert time.monotonic() - start < 25  # the watchdog would take 60 s, the job's own loop 30 s


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    from deepbehavior.synthetic.mice import render_session
    from tests.helpers.models import random_yolo

    folder = tmp_path_factory.mktemp("sigterm-inputs")
    random_yolo(folder / "w.pt")
    render_session(folder / "m1.mp4", frames=FRAMES, width=160, height=128, noise=0)
    return folder


def _infer_args(inputs, out, runner):
    return [sys.executable, "-m", "deepbehavior.cli", "infer", f"out={out}", f"videos=[{inputs / 'm1.mp4'}]",
            f"model.weights={inputs / 'w.pt'}", "model.imgsz=128", "model.conf=0.0", "model.max_individuals=2",
            "model.threads=1", "model.batch_size=4", f"store.chunk={CHUNK}", "ray.num_cpus=2", f"runner={runner}"]


def _arrays(out):
    """Every array of every store under ``out``, by store and name."""
    found = {}
    for path in sorted((out / "stores").glob("*.zarr")):
        group = zarr.open_group(str(path), mode="r")
        for name, array in group.arrays():
            found[f"{path.name}/{name}"] = np.asarray(array[...])
    return found


@pytest.mark.slow
@pytest.mark.parametrize("runner", ["local", "ray"])
def test_sigterm_mid_run_then_rerun_gives_the_same_stores_bit_for_bit(inputs, tmp_path, runner):
    reference = subprocess.run(_infer_args(inputs, tmp_path / "whole", runner), capture_output=True, text=True,
                               timeout=600, env=_env(), cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr[-3000:]

    out = tmp_path / "stopped"
    log = open(tmp_path / "first.log", "w")
    # its own session, as a batch job's step: SIGTERM goes to every process of it (driver, Ray, workers)
    proc = subprocess.Popen(_infer_args(inputs, out, runner), stdout=log, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=tmp_path, start_new_session=True)
    markers = out / "stores"
    try:
        deadline = time.monotonic() + 400
        while len(list(markers.glob("*.zarr.progress/done/*"))) < 2:  # some chunks done, not all
            assert proc.poll() is None, "ended before it could be stopped:\n" + (tmp_path / "first.log").read_text()
            assert time.monotonic() < deadline, "no chunk done in time"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGTERM)  # as scancel, or a pre-empting scheduler, does
        _, err = proc.communicate(timeout=120)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # nothing of a job that hangs is left running after the test
        except ProcessLookupError:
            pass
        proc.wait()
        log.close()
    assert proc.returncode == 143, err
    assert err.strip() == f"deepbehavior infer: {TERMINATED}", err
    kept = len(list(markers.glob("*.zarr.progress/done/*")))
    assert 2 <= kept < FRAMES // CHUNK, kept

    resumed = subprocess.run(_infer_args(inputs, out, runner), capture_output=True, text=True, timeout=600,
                             env=_env(), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    report = json.loads((out / "infer_report.json").read_text())
    assert report["frames"] == FRAMES - kept * CHUNK  # only what was not kept was predicted again
    whole, again = _arrays(tmp_path / "whole"), _arrays(out)
    assert sorted(whole) == sorted(again) and any(name.endswith("/position") for name in whole)
    for name, values in whole.items():
        assert values.dtype == again[name].dtype, name
        assert np.array_equal(values, again[name], equal_nan=values.dtype.kind == "f"), name
