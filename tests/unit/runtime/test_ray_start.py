"""Starting Ray: a start that fails is one line (the job shows it as its error), and the process's own
SIGTERM handler survives ``ray.init`` (which replaces it)."""

import signal

import pytest

ray = pytest.importorskip("ray")

from deepbehavior.config import RayConfig  # noqa: E402
from deepbehavior.runtime import environment  # noqa: E402


@pytest.mark.parametrize("address", [None, "10.0.0.1:6379"])
def test_a_failed_ray_start_is_one_line(monkeypatch, address):
    def fail(**kwargs):
        raise TimeoutError("The current node timed out during startup.\nThis could happen because ...\nmore")

    monkeypatch.setattr(ray, "init", fail)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    with pytest.raises(environment.RayStartError) as caught:
        environment.start_ray(RayConfig(address=address, num_cpus=1))
    message = str(caught.value)
    assert "\n" not in message and "timed out during startup" in message and message.startswith("Expected")
    assert isinstance(caught.value, OSError)  # jobs show OSErrors as one line (jobs/_hydra.USER_ERRORS)
    assert environment.ray_temp_dir() is None  # a partial start is cleaned up


def test_the_processs_sigterm_handler_survives_ray_init(monkeypatch):
    def like_ray(**kwargs):  # what Ray 2.60's init does to SIGTERM
        signal.signal(signal.SIGTERM, lambda signum, frame: None)

    def ours(signum, frame):
        pass

    monkeypatch.setattr(ray, "init", like_ray)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    previous = signal.signal(signal.SIGTERM, ours)
    try:
        environment.start_ray(RayConfig(num_cpus=1))
        assert signal.getsignal(signal.SIGTERM) is ours
    finally:
        signal.signal(signal.SIGTERM, previous)
        environment.stop_ray()
