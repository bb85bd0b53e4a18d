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


def test_a_run_in_process_leaves_the_process_as_it_found_it(tmp_path):
    # ultralytics' trainer sets torch to one fewer thread than the CPUs, deterministic algorithms on and
    # OMP_NUM_THREADS=1 in the environment; the process goes on (a sweep's next run, inference) without them
    import os

    import torch
    import yaml

    from deepbehavior.models.dataset_checks import check_dataset
    from deepbehavior.models.yolo_train import NO_AUGMENTATION, LoopSpec
    from deepbehavior.runtime.local_training import fit_local
    from deepbehavior.synthetic.shapes_dataset import write_synthetic_dataset

    summary = check_dataset(write_synthetic_dataset(tmp_path / "data", images=8, val_images=2, size=64))
    data = tmp_path / "data.yaml"
    data.write_text(yaml.safe_dump(summary.data))
    spec = LoopSpec(data=str(data), out=str(tmp_path / "out"), task="detect", model="yolo11n.yaml", epochs=1,
                    batch=8, overrides={"imgsz": 64, "workers": 0, **NO_AUGMENTATION})
    torch.set_num_threads(2)
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), dict(os.environ))
    result = fit_local(spec, storage=tmp_path / "checkpoints", threads=2)
    assert result.checkpoint and result.checkpoint.endswith("epoch_0001")
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), dict(os.environ)) == before
