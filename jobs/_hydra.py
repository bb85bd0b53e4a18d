"""What every job shares: its Hydra entry point, config checking, ``--help`` and one-line errors."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path


def _conf_dir() -> str:
    """The jobs' YAML: ``conf/`` inside the installed package (a wheel), else ``conf/`` of the checkout."""
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return str(packaged if (packaged / "common.yaml").is_file() else here.parent / "conf")


CONF_DIR = _conf_dir()

# Errors caused by the user's input: shown as one line, exit status 2. Anything else is a bug
# and keeps its traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, FileNotFoundError, FileExistsError,
                                                 KeyError, OSError)

# Arguments that Hydra handles itself (everything else is key=value).
_HYDRA_FLAGS = ("-m", "--multirun", "--cfg", "-c", "--hydra-help", "--info", "-i", "--resolve", "--package", "-p",
                "--config-name", "-cn", "--config-path", "-cp", "--config-dir", "-cd", "--run", "-r",
                "--shell-completion", "-sc")


def _fail(job: str, message: str) -> None:
    message = " ".join(str(message).split())
    sys.stderr.write(f"deepbehavior {job}: error: {message}\n")
    raise SystemExit(2)


def finish(job: str, failures, report: Path, *, sessions: int) -> None:
    """The jobs' one exit rule, after the work: return (status 0) when no session failed, else print one
    line per failed session (its name, the reason, the report) and a last line naming them all, and
    exit with status 1. (Bad input found before any work exits with 2, through :func:`_fail`.)

    Parameters
    ----------
    job
        The job's name, as typed after ``deepbehavior``.
    failures
        The :class:`deepbehavior.session_runner.SessionFailure` records of the run (an inference
        session may have several: one per failed shard).
    report
        The JSON report that lists every failure.
    sessions
        Sessions in the run, for the count in the last line.
    """
    if not failures:
        return
    by_session: dict[str, list] = {}
    for failure in failures:
        by_session.setdefault(failure.session, []).append(failure)
    for name, found in by_session.items():
        first = found[0]
        where = f"; {first.where}" if first.where else ""
        more = f" (and {len(found) - 1} more failures)" if len(found) > 1 else ""
        sys.stderr.write(f"deepbehavior {job}: session {name} failed ({first.kind}{where}): {first.message}"
                         f"{more}; report: {report}\n")
    kinds = {f.kind for f in failures}
    advice = ("fix their inputs, then rerun the same command" if kinds == {"input"}
              else "rerun the same command to retry them (finished sessions are skipped)" if job == "infer"
              and kinds == {"data"} else "fix them, then rerun the same command (finished sessions are skipped)")
    sys.stderr.write(f"deepbehavior {job}: error: {len(by_session)} of {sessions} sessions failed: "
                     f"{', '.join(by_session)}; {advice}; report: {report}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _sets_key(overrides: list[str], key: str) -> bool:
    return any(a.lstrip("+~").split("=", 1)[0] == key and "=" in a for a in overrides)


def _check_required(job: str, overrides: list[str]) -> None:
    """Settings the job's YAML marks ``???`` (``out``, ``cohort``, ``project``...) must be given: say
    so in one line, before Hydra fails to resolve its own folders from them."""
    from omegaconf import OmegaConf

    yaml = OmegaConf.load(Path(CONF_DIR) / f"{job}.yaml")
    for key in yaml:
        if key == "defaults" or not OmegaConf.is_missing(yaml, key) or _sets_key(overrides, key):
            continue
        what = "DIR (the folder for this job's results)" if key == "out" else "..."
        _fail(job, f"Expected {key}={what}, but got no {key}= "
                   f"(e.g. deepbehavior {job} {key}={job + '-out' if key == 'out' else '...'} ...; "
                   f"'deepbehavior {job} --help' lists the settings)")


@contextmanager
def _settings_errors_in_one_line(job: str, overrides: list[str], job_started: Callable[[], bool]):
    """A typo in the settings gives one line (exit 2) instead of Hydra's report.

    Hydra composes the settings itself before the job starts; with ``HYDRA_FULL_ERROR`` set while it
    runs, its error reaches this code as an exception instead of a printed report. Only errors from
    before ``job_started()`` (the composition's) become one line; one raised by the job itself keeps
    its traceback. Sweeps, ``--cfg`` and the other flags keep Hydra's own handling.
    """
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if any(a.startswith("-") for a in overrides):
        yield
        return
    before = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        yield
    except (HydraException, OmegaConfBaseException) as exc:
        if job_started():
            raise
        first = str(exc).strip().splitlines()
        cause = exc.__cause__
        detail = " ".join(str(cause).split("\n")[0:1]) if cause else ""
        _fail(job, f"{first[0] if first else exc}{' (' + detail + ')' if detail else ''}")
    finally:
        if before is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = before


def _list_keys(schema: type, prefix: str = "") -> set[str]:
    """Dotted names of the settings of ``schema`` that hold a list."""
    import typing

    found = set()
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        hint = hints.get(f.name, f.type)
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if typing.get_origin(hint) is typing.Union and len(args) == 1 else hint
        if dataclasses.is_dataclass(hint):
            found |= _list_keys(hint, f"{prefix}{f.name}.")
        elif typing.get_origin(hint) in (list, tuple):
            found.add(prefix + f.name)
    return found


def lists_as_given(schema: type, args: list[str]) -> list[str]:
    """``args`` with a list setting given one value (``videos=a.mp4``), or values separated by commas
    outside a sweep (``videos=a.mp4,b.mp4``), written as the list it means (``videos=[a.mp4]``): Hydra
    would refuse it with "str is not a ListConfig". A sweep's commas (``-m``), brackets, ``null`` and
    interpolations are left to Hydra."""
    lists = _list_keys(schema)
    sweep = any(a in ("-m", "--multirun") for a in args)
    given = []
    for arg in args:
        key, sep, value = arg.partition("=")
        plain = value.strip()
        if (sep and key.lstrip("+") in lists and plain and plain[0] not in "[(" and plain != "null"
                and "${" not in plain and not (sweep and "," in plain)):
            arg = f"{key}=[{value}]"
        given.append(arg)
    return given


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


def composed_defaults(job: str) -> dict:
    """The job's settings with nothing overridden (schema defaults, then its YAML), unresolved."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=CONF_DIR, version_base=None):
        cfg = compose(config_name=job)
    return OmegaConf.to_container(cfg, resolve=False)


def hydra_job(job: str, schema: type, *, open_keys: tuple[str, ...] = ()) -> Callable[[Callable], Callable[[], None]]:
    """Turn ``run(cfg)`` (``cfg`` an instance of the dataclass ``schema``) into a Hydra job ``main``."""
    import hydra
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    ConfigStore.instance().store(name=f"{job}_schema", node=_schema_node(schema, open_keys))
    from ._sweep_names import register as register_run_names

    register_run_names()  # conf/common.yaml names sweep runs with it, here and in a launcher's workers

    def decorate(run: Callable) -> Callable[[], None]:
        progress = {"started": False}

        @hydra.main(config_path=CONF_DIR, config_name=job, version_base=None)
        def task(cfg) -> None:
            progress["started"] = True
            try:
                config = OmegaConf.to_object(cfg)
            except Exception as exc:  # omegaconf wraps __post_init__ errors; show the cause
                _fail(job, str(exc.__cause__ or exc).splitlines()[0])
            from hydra.core.hydra_config import HydraConfig
            from hydra.types import RunMode

            if HydraConfig.get().mode == RunMode.MULTIRUN:  # each run of a sweep in its own folder
                config = dataclasses.replace(config, out=HydraConfig.get().runtime.output_dir)
            try:
                return run(config)
            except USER_ERRORS as exc:
                _fail(job, str(exc))

        def main() -> None:
            args = sys.argv[1:]
            if "--help" in args or "-h" in args:
                from ._help import job_help

                summary = _first_sentence_of_module(run)
                print(job_help(job, schema, composed_defaults(job), summary))
                return
            _check_required(job, args)
            sys.argv[1:] = args = lists_as_given(schema, args)  # videos=a.mp4 means videos=[a.mp4]
            progress["started"] = False
            with _settings_errors_in_one_line(job, args, lambda: progress["started"]):
                task()  # Hydra composes the settings (once more for its mode), then runs the job

        main.run = run  # callable directly from Python and tests, without Hydra
        main.schema = schema
        return main

    return decorate


def _first_sentence_of_module(run: Callable) -> str:
    """The first sentence of the job module's docstring (what the job does), whole."""
    from ._help import first_sentence

    doc = (sys.modules.get(run.__module__).__doc__ or "") if run.__module__ in sys.modules else ""
    return first_sentence(doc.strip().split("\n\n")[0])
