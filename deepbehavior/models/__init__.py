"""Detection and pose models.

How to add a new model backend: write a class with the :class:`~deepbehavior.models.base.Predictor`
interface (load in ``__init__``, ``__call__(batch) -> batch``, plus ``describe()``), make it
picklable by its constructor arguments, and register its name in
:data:`deepbehavior.models.base.BACKENDS`. The inference pipeline needs nothing else.
"""
