"""The embedded runtime: a loopback-only local Ray and an offline ultralytics, set up once per process.

Measured on our machines (see DESIGN.md): a plain ``ray.init()`` probes 8.8.8.8 to find its own
address and its dashboard probes cloud metadata services unless ``~/ray_bootstrap_config.yaml``
exists; ultralytics downloads a font, checks for updates and auto-installs packages unless told
not to. Every job calls :func:`start_ray` and :func:`offline_ultralytics` so users and tests never
have to remember any of it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..config import RayConfig
from ..offline import OFFLINE_ENV, RAY_ENV, WORKER_ENV, offline_ultralytics, state_dir

__all__ = ["OFFLINE_ENV", "RAY_ENV", "WORKER_ENV", "RayStartError", "offline_ultralytics", "ray_temp_dir",
           "start_ray", "state_dir", "stop_ray"]


class RayStartError(ConnectionError):
    """Ray could not be started or joined (a timeout on a loaded machine, an unreachable address);
    the message is one line naming what was tried and Ray's first line."""


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


@contextmanager
def _keeping_sigterm():
    """Keep a SIGTERM handler of the process's own through ``ray.init``.

    Measured with Ray 2.60: ``ray.init`` replaces the SIGTERM handler (with ``sys.exit(15)``, and its
    core worker then with a crash report and exit 15), so a scheduler's pre-emption no longer ends
    the job the way the command line handles it (one line, state saved, exit 143). A handler set
    in Python (the CLI's) is put back; without one, Ray's stays.
    """
    import signal
    import threading

    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and callable(previous):
            signal.signal(signal.SIGTERM, previous)


def _ray_home() -> Path:
    home = state_dir() / "ray-home"
    home.mkdir(parents=True, exist_ok=True)
    bootstrap = home / "ray_bootstrap_config.yaml"
    if not bootstrap.exists():
        bootstrap.write_text("{}\n")
    return home


_OWN_TEMP_DIR: Path | None = None


def start_ray(config: RayConfig = RayConfig()):
    """Start (or join, with ``config.address``) Ray for this process; return the ``ray`` module.

    Without ``config.address`` this always starts a new Ray of our own, bound to 127.0.0.1 only,
    without dashboard, usage stats or cloud probes, with its session in a fresh temporary folder: it
    never joins the cluster another ``ray start`` on the machine recorded as current, nor the one
    ``RAY_ADDRESS`` names. ``config.address="auto"`` is the explicit way to join that cluster (Ray's
    own rules: ``RAY_ADDRESS``, then the recorded current cluster); any other address joins that one.
    Calling it again in the same process reuses the running Ray.
    """
    global _OWN_TEMP_DIR
    env = offline_ultralytics()
    import ray

    if ray.is_initialized():
        return ray
    os.environ.update(RAY_ENV)
    # A progress line: starting Ray takes seconds (tens on a busy machine).
    where = f"joining Ray at {config.address}" if config.address else "starting a local Ray (loopback only)"
    print(f"deepbehavior: {where} ...", flush=True)
    runtime_env = {"env_vars": env}
    if config.address:
        try:
            with _keeping_sigterm():
                ray.init(address=config.address, namespace=config.namespace, runtime_env=runtime_env,
                         log_to_driver=True, logging_level="WARNING")
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; the job shows one line
            raise RayStartError(f"Expected to join Ray at {config.address}, but it failed: {_first_line(exc)}") \
                from None
        return ray
    # The head processes inherit our environment at start: HOME with an empty bootstrap config stops
    # the dashboard's cloud-metadata probes; RAY_ADDRESS is hidden from them so nothing we start
    # drifts into a foreign cluster. address="local" and a temp dir of our own (short: Ray's socket
    # paths must fit 107 bytes) keep Ray from reading the machine's "current cluster" record.
    saved = {key: os.environ.get(key) for key in ("HOME", "RAY_ADDRESS")}
    os.environ["HOME"] = str(_ray_home())
    os.environ.pop("RAY_ADDRESS", None)
    _OWN_TEMP_DIR = Path(tempfile.mkdtemp(prefix="dbray-"))
    atexit.register(stop_ray)
    try:
        with _loopback_node(ray), _keeping_sigterm():
            ray.init(
                address="local",
                num_cpus=config.num_cpus,
                num_gpus=config.num_gpus,
                namespace=config.namespace,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                _temp_dir=str(_OWN_TEMP_DIR),
                runtime_env=runtime_env,
                logging_level="WARNING",
                log_to_driver=True,
                configure_logging=True,
            )
    except Exception as exc:  # noqa: BLE001 - Ray raises many kinds (a timeout under load); one line
        try:
            stop_ray()  # whatever part of it started
        except Exception:  # noqa: BLE001 - the start's error is the one to show
            pass
        raise RayStartError("Expected a local Ray to start (loopback only), but it failed: "
                            f"{_first_line(exc)} (a loaded machine can make its start time out: retry)") from None
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return ray


@contextmanager
def _loopback_node(ray):
    """Keep ``_node_ip_address="127.0.0.1"`` as given while ``ray.init`` starts the node.

    Measured with Ray 2.60: ``ray.init`` replaces a loopback node address with the machine's
    routable one (found by a UDP probe towards 8.8.8.8) unless Ray's "cluster mode" is off, which
    it reads once, when ``ray`` is imported, from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER``. The driver
    then talks to its own GCS over the network interface (netcheck saw 192.0.2.2). Setting the
    variable before ``import ray`` cannot be promised (a notebook or a launcher may import Ray
    first), so the flag is turned off for the duration of the start. The processes Ray starts get
    the variable from :data:`RAY_ENV`.
    """
    from ray._private import ray_constants

    saved = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved


def ray_temp_dir() -> Path | None:
    """The session folder of the Ray this process started (``None`` when it joined one)."""
    return _OWN_TEMP_DIR


def stop_ray() -> None:
    """Shut down this process's Ray; remove the temporary folder of one we started."""
    global _OWN_TEMP_DIR
    import ray

    if ray.is_initialized():
        ray.shutdown()
    if _OWN_TEMP_DIR is not None:
        shutil.rmtree(_OWN_TEMP_DIR, ignore_errors=True)
        _OWN_TEMP_DIR = None
