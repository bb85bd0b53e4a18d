"""Shared fixtures: the real data beside the project, synthetic data, and a hermetic runtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DEEPBEHAVIOR_SHARED_DATA", REPO.parent / "shared" / "data"))

# Runtime state (ultralytics settings, Ray's home) of the test run stays out of the user's home.
os.environ.setdefault("DEEPBEHAVIOR_HOME", str(REPO / ".pytest_cache" / "deepbehavior-home"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (real recordings); tests using it skip with a reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real test data not found at {SHARED_DATA} (see ../shared/data/README.md)")
    return SHARED_DATA


# --------------------------------------------------------------------------------------------------
# Two lanes. ``pytest`` alone runs the fast lane: the unit tests that neither train a model, start
# Ray, nor run a whole job or a CLI in a subprocess. ``pytest --full`` (or any ``-m`` expression,
# e.g. ``-m ""``) runs everything; naming a test file or node id runs all of its tests. The slow
# tests are marked here, in one place, rather than in each file, so that the lanes are decided by
# one list: every test outside ``tests/unit`` (integration, e2e, fuzz, cluster...), the tests that
# use a fixture that trains or starts Ray, and the unit tests named below.

#: Fixtures that train a model or start Ray: a test using one is slow.
SLOW_FIXTURES = {"trained", "ray_local", "foreign_head"}

#: Unit test files (every test in them) and single unit tests that are slow, and why.
SLOW_UNIT_TESTS = {
    "unit/models/test_yolo_train.py": "trains (in process and on two Ray workers)",
    "unit/models/test_topdown_training.py": "trains the top-down model",
    "unit/runtime/test_train_runner.py": "trains in process",
    "unit/test_process_side_effects.py": "builds predictors in subprocesses",
    "unit/test_cluster_files.py::test_slurm_script_starts_the_cluster_runs_the_job_and_passes_its_exit_status_on":
        "runs the SLURM script and a job",
    "unit/test_tracking.py::test_sleap_flies_through_the_track_job": "runs the track job",
    "unit/analysis/test_plausibility.py::test_one_slot_is_measured_and_a_false_detection_is_flagged":
        "runs the analyze job",
    "unit/test_tracking_benchmark.py::test_whole_command_runs_ours_and_both_plain_scripts_on_one_session":
        "runs the track job and two scripts",
    "unit/labeling/test_labeling_benchmark.py::test_whole_commands_all_run_write_n_images_and_ratio_is_best_plain_over_ours":
        "runs the frames job and two scripts",
    "unit/labeling/test_project_folder.py::test_the_label_command_starts_reporting_each_bad_file":
        "runs the label command in a subprocess",
    "unit/test_console.py::test_the_real_mediapipe_import_line_is_dropped": "imports mediapipe in subprocesses",
}


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true", default=False,
                     help="run the slow tests too (training, Ray, whole jobs): the full suite, as CI runs it")


def _is_slow(item, tests: Path) -> bool:
    try:
        where = Path(str(item.path)).resolve().relative_to(tests).as_posix()
    except ValueError:
        return False
    if not where.startswith("unit/"):
        return True
    test = f"{where}::{item.originalname or item.name}"
    if where in SLOW_UNIT_TESTS or test in SLOW_UNIT_TESTS:
        return True
    return bool(SLOW_FIXTURES & set(getattr(item, "fixturenames", ())))


def _fast_lane(config) -> bool:
    """True unless ``--full``, a ``-m`` expression, a test file or node id, or a folder other than
    ``tests`` and ``tests/unit`` was asked for."""
    if config.getoption("full") or config.option.markexpr:
        return False
    args = [*config.invocation_params.args, *os.environ.get("PYTEST_ADDOPTS", "").split()]
    if any(a == "-m" or (a.startswith("-m") and not a.startswith("--")) or a.startswith("--markexpr") for a in args):
        return False
    tests = Path(__file__).resolve().parent
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path.suffix == ".py" or "::" in arg:
            return False  # a test file or test asked for by name: all of it
        if path != tests and tests / "unit" not in (path, *path.parents):
            return False  # integration/, e2e/...: their tests are the slow ones
    return True


def pytest_ignore_collect(collection_path, config):
    # The fast lane does not even import the other folders' modules (they import whole jobs).
    if not _fast_lane(config):
        return None
    tests = Path(__file__).resolve().parent
    try:
        where = Path(collection_path).resolve().relative_to(tests).parts
    except ValueError:
        return None
    if where and where[0] != "unit" and (Path(collection_path).is_dir() or where[0] != "conftest.py"):
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before the -m selection, which must see the slow marks
def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).resolve().parent
    slow = pytest.mark.slow
    for item in items:
        if _is_slow(item, tests) and "slow" not in item.keywords:
            item.add_marker(slow)
    if _fast_lane(config):
        kept = [item for item in items if "slow" not in item.keywords]
        deselected = [item for item in items if "slow" in item.keywords]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
    _skip_gpu_tests(items)


def pytest_report_header(config):
    if _fast_lane(config):
        return "fast lane: slow tests (training, Ray, whole jobs) deselected; pytest --full runs them all"
    return None


def _skip_gpu_tests(items) -> None:
    if not any("gpu" in item.keywords for item in items):
        return  # importing torch costs seconds; only pay it when a GPU test is collected
    try:
        import torch

        has_gpu = torch.cuda.is_available()
    except Exception:
        has_gpu = False
    if not has_gpu:
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
