"""Fault injection for training tests, with no hook in the library: put this folder first on
``PYTHONPATH`` and set ``DEEPBEHAVIOR_TRAIN_FAIL_ONCE=EPOCH:MARKER``. Every Python process then
(Ray's workers too, which inherit the variables) wraps the training loop's per-epoch seeding so that
worker 0 exits abruptly when epoch EPOCH (0-based) starts, once: only while the file MARKER does not
exist, and it writes it first. Nothing happens without the variable.

Ray Train's controller takes a reported checkpoint in when it next polls the workers (every
``RAY_TRAIN_HEALTH_CHECK_INTERVAL_S``); dying sooner would lose the previous epoch's report, as a
crash right after an epoch can. Waiting two polls first makes the crash one inside the epoch.
"""

import os
import sys

VARIABLE = "DEEPBEHAVIOR_TRAIN_FAIL_ONCE"
TARGET = "deepbehavior.models.training"


def _wrap(module) -> None:
    import time
    from pathlib import Path

    at, _, marker = os.environ[VARIABLE].partition(":")
    original = module._seed

    def seed_then_maybe_fail(seed: int) -> None:
        original(seed)
        import ray.train

        epoch = seed // 1000  # the loop seeds spec.seed + 1000 * epoch; the tests use spec.seed 0
        if seed < 1000 * int(at) or epoch != int(at) or Path(marker).exists():
            return
        if ray.train.get_context().get_world_rank() != 0:
            return
        time.sleep(2 * float(os.environ.get("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "2")) + 1)
        Path(marker).write_text(f"worker {os.getpid()} exited at epoch {epoch}\n")
        os._exit(17)  # no cleanup, like a killed process or a lost node

    module._seed = seed_then_maybe_fail


if os.environ.get(VARIABLE):
    import importlib.abc
    import importlib.util

    class _AfterImport(importlib.abc.MetaPathFinder):
        """Wraps the training module right after it is first imported."""

        def find_spec(self, name, path, target=None):
            if name != TARGET:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            run = spec.loader.exec_module

            def exec_module(module):
                run(module)
                _wrap(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _AfterImport())
