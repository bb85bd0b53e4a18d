"""The ``dask.scheduler`` setting: names checked in one line, ``threads`` kept in this process."""

import dask
import dask.array as da
import pytest

from deepbehavior.runtime.dask_cluster import DaskConfig, check_scheduler, dask_scheduler, distributed_is_active


@pytest.mark.parametrize("setting", ["threads", "processes", "tcp://10.0.0.5:8786", "node12:8786"])
def test_scheduler_settings_that_name_a_scheduler_pass(setting):
    assert DaskConfig(scheduler=setting).scheduler == setting


def test_a_scheduler_that_is_none_of_them_fails_in_one_line():
    with pytest.raises(ValueError, match=r"^Expected dask.scheduler threads, processes or a scheduler address "
                                         r"\(tcp://HOST:PORT\), but got 'thread'$"):
        check_scheduler("thread")


def test_threads_runs_in_this_process_with_the_workers_given():
    with dask_scheduler("threads", workers=3) as client:
        assert client is None and not distributed_is_active()
        assert dask.config.get("scheduler") == "threads" and dask.config.get("num_workers") == 3
        assert int(da.ones(10, chunks=2).sum().compute()) == 10
    assert dask.config.get("num_workers", None) != 3  # the setting ends with the block
