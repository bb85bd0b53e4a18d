"""Analyses of trajectories: cleaning (filters, gap filling, smoothing), kinematics, task measures.

Every function takes and returns xarray objects (NumPy- or Dask-backed) and does no I/O.

How to add a task measure: write ``analysis/<measure>.py`` with a function from a track (an
``xr.DataArray`` with ``time`` in seconds, ``space``, and the dataset's ``space_unit``) to rows of
(measure, value, unit); put its parameters in a frozen dataclass in :mod:`deepbehavior.config` and
make it a field of :class:`.measure_settings.MeasureSettings`; add its name to
:data:`.measure_settings.MEASURES` (the one list of measures) and a branch to
:func:`.cohort.measure_session`. The ``analyze`` job's schema extends ``MeasureSettings``, so its
command line (``<measure>.<setting>=``), table and ``--help`` then include it.
"""
