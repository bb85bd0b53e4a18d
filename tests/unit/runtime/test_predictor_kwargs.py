"""The model config reaches a predictor as its constructor arguments, threads decided by the runtime."""

from __future__ import annotations

import inspect

import pytest

from deepbehavior.config import PredictConfig
from deepbehavior.runtime.stages import BACKENDS, THREADED_BACKENDS, load_backend, predictor_kwargs, with_threads


@pytest.mark.parametrize("backend", ["yolo", "yolo_pose", "topdown", "mediapipe"])
def test_every_argument_is_one_the_backend_takes(backend):
    takes = inspect.signature(load_backend(backend).__init__).parameters
    kwargs = predictor_kwargs(PredictConfig(weights="model.pt", backend=backend))
    assert set(kwargs) <= set(takes), f"{backend} does not take {set(kwargs) - set(takes)}"
    assert "threads" not in kwargs  # no sentinel: the runtime decides


def test_config_values_and_options_arrive():
    model = PredictConfig(weights="model.pt", imgsz=320, conf=0.4, iou=0.5, max_individuals=3,
                          options={"half": True, "threads": 2})
    assert predictor_kwargs(model) == {"weights": "model.pt", "imgsz": 320, "conf": 0.4, "iou": 0.5,
                                       "max_individuals": 3, "device": "auto", "half": True, "threads": 2}
    assert predictor_kwargs(PredictConfig(backend="pkg.mod:Mine", options={"a": 1})) == {"a": 1}


def test_threaded_backends_take_threads_and_get_them_unless_set():
    for backend in THREADED_BACKENDS:
        assert backend in BACKENDS
        assert "threads" in inspect.signature(load_backend(backend).__init__).parameters
    assert with_threads("yolo", {"conf": 0.1}, 4) == {"conf": 0.1, "threads": 4}
    assert with_threads("yolo", {"threads": 1}, 4) == {"threads": 1}
    assert with_threads("yolo", {"threads": None}, 4) == {"threads": 4}
    assert with_threads("mediapipe", {}, 4) == {}


@pytest.mark.parametrize("backend", ["yolo", "yolo_pose"])
def test_bfloat16_reaches_the_predictor_and_its_store_fingerprint_only_when_on(backend):
    from deepbehavior.fingerprint import differences, predictor_fingerprint

    plain = predictor_kwargs(PredictConfig(weights="m.pt", backend=backend))
    bf16 = predictor_kwargs(PredictConfig(weights="m.pt", backend=backend, bfloat16=True))
    assert "bfloat16" not in plain  # a store made before the setting existed keeps its fingerprint
    assert bf16["bfloat16"] is True and "bfloat16" in inspect.signature(load_backend(backend).__init__).parameters
    changed = differences(predictor_fingerprint(backend, plain, {}, chunk=100),
                          predictor_fingerprint(backend, bf16, {}, chunk=100))
    assert [name for name, *_ in changed] == ["options.bfloat16"]  # a resume never mixes the two


def test_half_and_bfloat16_together_are_one_line_naming_both_fields_before_any_model_is_loaded():
    with pytest.raises(ValueError, match=r"model\.half .* model\.bfloat16, but got both true"):
        PredictConfig(weights="m.pt", half=True, bfloat16=True)
