"""Thin Hydra entry points: compose config, start the runtime, call the library, report.

Each job is ``jobs/<name>.py``: its schema (a dataclass ``<Name>Job`` holding the library's own
settings from :mod:`deepbehavior.config` as typed groups), registered with Hydra's ConfigStore by
:func:`._hydra.hydra_job`, its YAML ``conf/<name>.yaml``, and its ``main``. The library never
imports this package.
"""
