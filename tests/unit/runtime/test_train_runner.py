"""Which runner trains: in this process where Ray would add only its start-up, Ray Train otherwise."""

import pytest

from deepbehavior.runtime.local_training import choose_train_runner

ONE_WORKER = {"address": None, "num_workers": 1, "use_gpu": False, "max_failures": 0, "storage": "/tmp/ckpt"}


def test_one_worker_on_this_machines_cpus_trains_in_this_process():
    assert choose_train_runner("auto", **ONE_WORKER) == "local"
    assert choose_train_runner("ray", **ONE_WORKER) == "ray"  # asked for: kept


@pytest.mark.parametrize("setting, value", [("num_workers", 2), ("address", "10.0.0.1:6379"), ("use_gpu", True),
                                            ("max_failures", 1), ("storage", "s3://bucket/ckpt")])
def test_what_only_ray_does_goes_to_ray_and_is_refused_in_process(setting, value):
    config = {**ONE_WORKER, setting: value}
    assert choose_train_runner("auto", **config) == "ray"
    name = "ray.address" if setting == "address" else setting
    with pytest.raises(ValueError, match=f"Expected runner=ray \\(or auto\\) with {name} set, but got runner=local"):
        choose_train_runner("local", **config)


def test_an_unknown_runner_is_refused():
    with pytest.raises(ValueError, match="Expected runner among 'auto', 'local', 'ray', but got 'threads'"):
        choose_train_runner("threads", **ONE_WORKER)
