"""What every job shares: its Hydra entry point, config checking, and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")

# Errors caused by the user's input: shown as one line, exit status 2. Anything else is a bug
# and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, FileExistsError,
                                                 KeyError, OSError)


def _fail(job: str, message: str) -> None:
    message = " ".join(str(message).split())
    sys.stderr.write(f"deepbehavior {job}: error: {message}\n")
    raise SystemExit(2)


def _check_overrides(job: str, schema: type, overrides: list[str]) -> None:
    """Compose the config once before Hydra does, so a typo gives one line instead of a report."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if "-m" in overrides or "--multirun" in overrides or any(a.startswith("-") for a in overrides):
        return  # sweeps, --help, --cfg: Hydra's own handling
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
            compose(config_name=job, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        first = str(exc).strip().splitlines()
        cause = exc.__cause__
        detail = " ".join(str(cause).split("\n")[0:1]) if cause else ""
        _fail(job, f"{first[0] if first else exc}{' (' + detail + ')' if detail else ''}")


def _schema_node(schema: type, open_keys: tuple[str, ...]):
    """``schema`` as an OmegaConf node that overrides can change.

    Frozen sub-configs make OmegaConf mark their nodes read-only, and every override of them
    (``model.imgsz=320``) would then fail to merge. The dataclasses stay frozen:
    ``OmegaConf.to_object`` still builds them. ``open_keys`` are mappings whose keys are the user's
    (region names, say), where new keys are allowed; everywhere else a typo is still an error.
    """
    from omegaconf import DictConfig, ListConfig, OmegaConf

    def clear(node) -> None:
        OmegaConf.set_readonly(node, None)
        for key in node.keys() if isinstance(node, DictConfig) else range(len(node)):
            child = node._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)):
                clear(child)

    node = OmegaConf.structured(schema)
    clear(node)
    for key in open_keys:
        OmegaConf.set_struct(OmegaConf.select(node, key), False)
    return node


def hydra_job(job: str, schema: type, *, open_keys: tuple[str, ...] = ()) -> Callable[[Callable], Callable[[], None]]:
    """Turn ``run(cfg)`` (``cfg`` an instance of the dataclass ``schema``) into a Hydra job ``main``."""
    import hydra
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    ConfigStore.instance().store(name=f"{job}_schema", node=_schema_node(schema, open_keys))

    def decorate(run: Callable) -> Callable[[], None]:
        @hydra.main(config_path=CONF_DIR, config_name=job, version_base=None)
        def task(cfg) -> None:
            try:
                config = OmegaConf.to_object(cfg)
            except Exception as exc:  # omegaconf wraps __post_init__ errors; show the cause
                _fail(job, str(exc.__cause__ or exc).splitlines()[0])
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            if HydraConfig.get().mode == RunMode.MULTIRUN:  # each run of a sweep in its own folder
                config.out = HydraConfig.get().runtime.output_dir
            try:
                return run(config)
            except USER_ERRORS as exc:
                _fail(job, str(exc))

        def main() -> None:
            _check_overrides(job, schema, sys.argv[1:])
            task()

        main.run = run  # callable directly from Python and tests, without Hydra
        return main

    return decorate
