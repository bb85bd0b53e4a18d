"""The command line as a new user meets it: job listing, --help, one-line errors with a non-zero
exit for bad input, a missing out=, Ctrl-C, a quiet healthy run and the cohort a videos=[…] run leaves."""

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
import typing
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from deepbehavior.cli import INTERRUPTED, JOBS  # noqa: E402

# The jobs whose YAML has no default for out (all but demo, and label, whose out follows project).
JOBS_NEEDING_OUT = ("infer", "train", "track", "analyze", "triangulate", "frames", "calibrate", "import",
                    "pose_export")


def _env():
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def _cli(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", *args], cwd=cwd, capture_output=True,
                            text=True, timeout=300, env=_env())
    return result.returncode, result.stdout, result.stderr.strip()


def test_help_lists_every_job(tmp_path):
    code, out, _ = _cli("--help", cwd=tmp_path)
    assert code == 0
    for job in ("demo", "infer", "train", "calibrate", "triangulate", "import", "analyze", "frames", "label"):
        assert f"  {job} " in out


@pytest.mark.parametrize("args, message", [
    (["nosuchjob"], "deepbehavior: error: unknown job 'nosuchjob'"),
    (["infer", "out=o", "modle.imgsz=320"], "deepbehavior infer: error: Could not override 'modle.imgsz'"),
    (["infer", "out=o", "model.conf=2", "videos=[a.mp4]"], "deepbehavior infer: error: Expected model.conf in [0, 1], but got 2.0"),
    (["infer", "out=o", "model.weights=absent.pt", "videos=[a.mp4]"],
     "deepbehavior infer: error: Expected model weights at absent.pt, but there is no such file"),
    (["infer", "out=o"], "deepbehavior infer: error: Expected either cohort=FILE or videos=[...], but got neither"),
    (["infer", "out=o", "cohort=none.yaml", "model.weights=w.pt"], "deepbehavior infer: error: Expected a cohort manifest at none.yaml"),
    (["label"], "deepbehavior label: error: Expected project=..., but got no project="),
])
def test_bad_input_gives_one_line_and_non_zero_exit(tmp_path, args, message):
    (tmp_path / "w.pt").write_bytes(b"")
    code, _, err = _cli(*args, cwd=tmp_path)
    assert code == 2
    assert err.startswith(message), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("job", JOBS_NEEDING_OUT)
def test_missing_out_is_one_line_naming_out(tmp_path, job):
    code, out, err = _cli(job, "videos=[a.mp4]" if job in ("infer", "frames") else "force=false"
                          if job in ("track", "triangulate") else "n=1" if False else "cohort=c.yaml"
                          if job == "analyze" else "source=x" if job == "import" else "store=s.zarr"
                          if job == "pose_export" else "train.data=d.yaml" if job == "train" else "every=1",
                          cwd=tmp_path)
    assert code == 2, err
    assert err.startswith(f"deepbehavior {job}: error: Expected out=DIR"), err
    assert len(err.splitlines()) == 1, err
    assert not list(tmp_path.iterdir())  # nothing written anywhere


def test_missing_video_is_one_line(tmp_path):
    from tests.helpers.models import random_yolo

    random_yolo(tmp_path / "w.pt")
    code, _, err = _cli("infer", "out=o", "model.weights=w.pt", "videos=[missing.mp4]", cwd=tmp_path)
    assert code == 2
    assert err == "deepbehavior infer: error: Expected a video file at missing.mp4, but there is none"


def _leaves(schema, prefix=""):
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _leaves(hints[f.name], f"{prefix}{f.name}.")
        else:
            yield prefix + f.name


@pytest.mark.parametrize("job", list(JOBS))
def test_job_help_describes_every_setting_with_type_and_default(tmp_path, job):
    from deepbehavior.cli import MODULES, jobs_package

    schema = __import__(f"{jobs_package().__name__}.{MODULES.get(job, job)}", fromlist=["main"]).main.schema
    code, out, err = _cli(job, "--help", cwd=tmp_path)
    assert code == 0, err
    assert "powered by Hydra" not in out and "== Config ==" not in out
    assert out.startswith(f"usage: deepbehavior {job}")
    lines = out.splitlines()
    settings = lines[lines.index(next(l for l in lines if l.startswith("settings"))) + 1:lines.index("examples:") - 1]
    # A setting's row starts two spaces in; its description may wrap onto lines indented further,
    # and a group of settings (train's) has a title line of its own.
    rows = []
    for line in settings:
        if line.startswith("  ") and not line[2].isspace():
            rows.append(line)
        elif line.startswith("   ") and rows:
            rows[-1] += line
    listed = {row.split()[0]: " ".join(row.split()) for row in rows}
    assert sorted(listed) == sorted(_leaves(schema))
    for name, line in listed.items():
        # name, a type, a default, then words of description
        assert len(line.split()) >= 4, f"{job}: {name} has no description: {line!r}"
    examples = lines[lines.index("examples:") + 1:]
    assert any(l.startswith(f"  deepbehavior {job}") for l in examples)
    assert not list(tmp_path.iterdir())


def test_infer_help_shows_defaults_and_a_backend_option_example(tmp_path):
    _, out, _ = _cli("infer", "--help", cwd=tmp_path)
    line = next(l for l in out.splitlines() if l.split()[:1] == ["model.imgsz"])
    assert line.split()[1:3] == ["int", "640"]
    assert re.search(r"^  out\s+str\s+\(required\)", out, re.M)
    assert "+model.options." in out.split("examples:")[1]


def test_demo_help_shows_the_yaml_defaults_of_that_job(tmp_path):
    _, out, _ = _cli("demo", "--help", cwd=tmp_path)
    line = next(l for l in out.splitlines() if l.split()[:1] == ["train.topdown.crop_size"])
    assert line.split()[1:3] == ["int", "64"]  # DemoJob's own default, not TopDownConfig's 0 (chosen from the labels)


@pytest.fixture(scope="module")
def tiny_inputs(tmp_path_factory):
    from deepbehavior.synthetic.mice import render_session
    from tests.helpers.models import random_yolo

    folder = tmp_path_factory.mktemp("cli-inputs")
    random_yolo(folder / "w.pt")
    render_session(folder / "m1.mp4", frames=40, width=160, height=128)
    return folder


def test_healthy_videos_run_is_quiet_shows_start_progress_and_writes_its_cohort(tmp_path, tiny_inputs):
    from deepbehavior.cohort import load_cohort

    video = tiny_inputs / "m1.mp4"
    code, out, err = _cli("infer", f"out={tmp_path / 'o'}", f"videos=[{video}]", f"model.weights={tiny_inputs / 'w.pt'}",
                          "model.imgsz=128", "store.chunk=20", "runner=ray", cwd=tmp_path)
    assert code == 0, err
    assert err == "", err  # no Ray token warning, no core_worker line, nothing
    assert not re.search(r"\]\[INFO\]", out), out  # no libraries' INFO log records either
    lines = out.splitlines()
    ray_line = next(i for i, l in enumerate(lines) if "starting a local Ray" in l)
    first_frames = next(i for i, l in enumerate(lines) if re.search(r"\d+/40 frames", l))
    assert ray_line < first_frames
    cohort = load_cohort(tmp_path / "o" / "cohort.yaml")
    assert [s.videos["camera"].resolve() for s in cohort.sessions] == [video.resolve()]
    assert (tmp_path / "o" / "stores" / f"{cohort.sessions[0].key}.zarr").is_dir()


def test_ctrl_c_prints_one_line_and_exits_130(tmp_path, tiny_inputs):
    proc = subprocess.Popen([sys.executable, "-m", "deepbehavior.cli", "infer", f"out={tmp_path / 'o'}",
                             f"videos=[{tiny_inputs / 'm1.mp4'}]", f"model.weights={tiny_inputs / 'w.pt'}",
                             "model.imgsz=128", "runner=ray"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    for line in proc.stdout:  # interrupt while Ray starts, the longest wait of a job
        if "starting a local Ray" in line:
            break
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()  # a job that hangs is not left running (with its Ray node) after the test
    assert proc.returncode == 130, err
    assert err.strip() == f"deepbehavior infer: {INTERRUPTED}", err


# Jobs where a Ctrl-C lands in awkward places. Each sends SIGINT to itself, then works in small
# steps until it prints "finished": a job that was interrupted never prints it.
_AWKWARD_JOB = """
import logging, os, signal, sys, time, types
from deepbehavior import cli
cli._CtrlC.WATCHDOG_S = 8.0

def ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):  # the handler runs here, between bytecodes
        pass

def work():
    for _ in range(150):  # 1.5 s: well past the re-sent Ctrl-C, well before the watchdog
        time.sleep(0.01)
    print("finished", flush=True)

class Finalized:
    def __del__(self):
        ctrl_c()
        print("finalizer done", flush=True)

class Interrupting(logging.Handler):
    def emit(self, record):
        ctrl_c()
        print("log record done", flush=True)

def swallowed():  # a library that catches the KeyboardInterrupt and goes on
    try:
        ctrl_c()
    except KeyboardInterrupt:
        print("swallowed", flush=True)
    work()

def in_finalizer():
    Finalized()
    work()

def in_logging():
    log = logging.getLogger("awkward")
    log.addHandler(Interrupting())
    log.warning("x")
    work()

def hangs():  # swallows every Ctrl-C and never returns
    while True:
        try:
            ctrl_c() if not hangs.sent else time.sleep(0.01)
            hangs.sent = True
        except KeyboardInterrupt:
            hangs.sent = True

hangs.sent = False

cli.importlib.import_module = lambda name: types.SimpleNamespace(main=globals()[sys.argv[1]])
before = signal.getsignal(signal.SIGINT)
try:
    cli.main(["frames"])
except SystemExit:
    print("restored", signal.getsignal(signal.SIGINT) is before, flush=True)
    raise
"""


@pytest.mark.parametrize("job, stdout", [
    ("swallowed", ["swallowed", "finished", "restored True"]),  # ends as interrupted when it returns
    ("in_finalizer", ["finalizer done", "restored True"]),  # sent again after the finalizer: stops the work
    ("in_logging", ["log record done", "restored True"]),  # sent again outside logging's lock
    ("hangs", []),  # the watchdog: out with the one line
])
def test_a_ctrl_c_in_an_awkward_place_still_ends_the_job_as_interrupted(tmp_path, job, stdout):
    done = subprocess.run([sys.executable, "-c", _AWKWARD_JOB, job], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=_env())
    assert done.returncode == 130, done.stderr
    assert done.stdout.splitlines() == stdout
    assert done.stderr.strip() == f"deepbehavior frames: {INTERRUPTED}"  # no "Exception ignored", no traceback


# The console entry leaves without the interpreter's teardown: what an exit must do still happens.
_EXITING_JOB = """
import atexit, sys, threading, time, types
from pathlib import Path
from deepbehavior import cli
how = sys.argv[1]

def main():
    atexit.register(lambda: Path("atexit.txt").write_text("ran"))
    def late():
        time.sleep(0.5)
        Path("thread.txt").write_text("joined")
    threading.Thread(target=late).start()  # not a daemon: Python waits for it, and so must we
    sys.stdout.write("x" * 100_000)  # left in the buffer
    if how != "ok":
        raise SystemExit(int(how) if how.isdigit() else how)

cli.importlib.import_module = lambda name: types.SimpleNamespace(main=main)
sys.argv = ["deepbehavior", "frames"]
cli.console()
print("never here")
"""


@pytest.mark.parametrize("how, code, err", [("ok", 0, ""), ("2", 2, ""), ("a message", 1, "a message")])
def test_the_console_entry_exits_with_the_jobs_code_after_threads_atexit_and_flushing(tmp_path, how, code, err):
    done = subprocess.run([sys.executable, "-c", _EXITING_JOB, how], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=_env())
    assert done.returncode == code, done.stderr
    assert done.stdout == "x" * 100_000
    assert done.stderr.strip() == err
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "thread.txt").read_text() == "joined"


def test_verbose_is_accepted_by_every_job(tmp_path, tiny_inputs):
    """verbose=true is the command line's own switch: a job without such a setting still runs."""
    code, out, err = _cli("frames", f"out={tmp_path / 'p'}", f"videos=[{tiny_inputs / 'm1.mp4'}]", "n=2",
                          "verbose=true", cwd=tmp_path)
    assert code == 0, err
    assert len(list((tmp_path / "p" / "frames").iterdir())) == 2


# What a process has imported once the CLI is done (run in-process in a fresh interpreter).
# (cli.main, not the console entry: that one leaves with os._exit, before anything could be printed.)
_MODULES_AFTER = """
import sys
from deepbehavior import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
print("MODULES " + ",".join(sorted(m for m in ("ray", "torch", "ultralytics", "dask", "xarray", "pandas", "matplotlib")
                                   if m in sys.modules)))
"""


def _modules_after(*args, cwd) -> set[str]:
    result = subprocess.run([sys.executable, "-c", _MODULES_AFTER, *args], cwd=cwd, capture_output=True, text=True,
                            timeout=600, env=_env())
    line = next((x for x in result.stdout.splitlines() if x.startswith("MODULES ")), None)
    assert line is not None, result.stderr[-2000:]
    return set(filter(None, line.split(" ", 1)[1].split(",")))


@pytest.mark.parametrize("args", [("--help",), ("infer", "--help"), ("track", "--help"), ("analyze", "--help"),
                                  ("infer", "out=o", "videos=[missing.mp4]", "model.weights=missing.pt")])
def test_help_and_bad_input_import_no_heavy_library(tmp_path, args):
    """--help and a one-line error come before any of the libraries that take seconds to import."""
    assert _modules_after(*args, cwd=tmp_path) == set()


def test_picking_frames_uniformly_imports_no_store_library(tmp_path, tiny_inputs):
    """`deepbehavior frames` by uniform or k-means picks reads videos only: xarray (and pandas, Dask
    with it) would be a second of start-up for nothing."""
    modules = _modules_after("frames", f"out={tmp_path / 'p'}", f"videos=[{tiny_inputs / 'm1.mp4'}]", "n=3",
                             cwd=tmp_path)
    assert modules == set()
    assert len(list((tmp_path / "p").rglob("*.png"))) == 3  # it did pick and write the frames


def test_local_infer_never_imports_ray(tmp_path, tiny_inputs):
    """The embedded default on a CPU runs in this process: Ray is not even imported."""
    modules = _modules_after("infer", f"out={tmp_path / 'o'}", f"videos=[{tiny_inputs / 'm1.mp4'}]",
                             f"model.weights={tiny_inputs / 'w.pt'}", "model.imgsz=128", "store.chunk=20",
                             "model.device=cpu", cwd=tmp_path)
    assert "torch" in modules  # it did run the model
    assert "ray" not in modules
    assert (tmp_path / "o" / "infer_report.json").is_file()
