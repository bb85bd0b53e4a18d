"""Detection and pose models.

How to add a new model backend: write a class with the :class:`~deepbehavior.models.base.Predictor`
interface (load in ``__init__``, ``__call__(batch) -> batch``, plus ``describe()``), make it
picklable by its constructor arguments, and register its name in
:data:`deepbehavior.runtime.stages.BACKENDS` (or pass ``model.backend=package.module:Class``). Its
constructor arguments come from ``+model.options.NAME=VALUE`` on the command line. The inference
pipeline needs nothing else.
"""
