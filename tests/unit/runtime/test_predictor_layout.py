"""Where inference puts its predictors on a Ray cluster, and what its progress lines say."""

import pytest

from deepbehavior.runtime.inference import Progress, plan_predictors


def _node(cpus, gpus=0, alive=True):
    return {"Alive": alive, "Resources": {"CPU": float(cpus), **({"GPU": float(gpus)} if gpus else {})}}


def test_one_predictor_per_gpu_fed_by_the_cpus_they_leave():
    layout = plan_predictors([_node(16, 2), _node(8, 1)])
    assert layout == {"predictors": 3, "gpus_per_predictor": 1.0, "cpus_per_predictor": 1.0, "readers": 21}
    assert plan_predictors([_node(16, 2)], readers=4)["readers"] == 4


def test_without_gpus_one_predictor_per_node_with_cpus_reading_its_own_frames():
    # a head node that takes no work (0 CPUs) and a dead node are left out
    layout = plan_predictors([_node(0), _node(32), _node(16), _node(64, alive=False)])
    assert layout == {"predictors": 2, "gpus_per_predictor": 0.0, "cpus_per_predictor": 16.0, "readers": 0}
    assert plan_predictors([_node(2)])["cpus_per_predictor"] == 2.0


def test_bad_layouts_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="readers >= 1"):
        plan_predictors([_node(4)], readers=0)
    with pytest.raises(RuntimeError, match="CPUs or GPUs"):
        plan_predictors([_node(0)])


def test_progress_rate_counts_from_the_first_predictions(monkeypatch):
    clock = iter([100.0, 100.0, 110.0, 110.0])
    monkeypatch.setattr("deepbehavior.runtime.inference.time.monotonic", lambda: next(clock))
    lines = []
    progress = Progress({"m0": 100, "m1": 100}, every=0, printer=lines.append)
    progress.add("m0", 20)  # the first predictions, however long the workers took to start
    progress.add("m1", 30)  # 30 more frames in 10 s
    assert lines[0] == "[infer] 20/200 frames, ? frames/s, ? left | m0 20/100, m1 0/100"
    assert lines[1] == "[infer] 50/200 frames, 3.0 frames/s, 50s left | m0 20/100, m1 30/100"
