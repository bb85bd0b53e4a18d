"""Detection and pose models: predictors, their output as schema datasets, and training.

- Predictors: :mod:`.yolo` (boxes), :mod:`.yolo_pose`, :mod:`.mediapipe_pose`, :mod:`.topdown`
  (keypoints in crops), all on the contract of :mod:`.base`; :mod:`.outputs` turns their arrays
  into the store's layout.
- Training: :mod:`.yolo_train` (ultralytics' parts in our data-parallel loop),
  :mod:`.topdown_train`, both run in a session of :mod:`.train_session`; :mod:`.train_report`,
  :mod:`.keypoint_metrics`, :mod:`.dataset_checks`.

How to add a new model backend: write a class with the :class:`~deepbehavior.models.base.Predictor`
interface (load in ``__init__``, ``__call__(batch) -> batch``, plus ``describe()``), make it
picklable by its constructor arguments, and register its name in
:data:`deepbehavior.runtime.stages.BACKENDS` (or pass ``model.backend=package.module:Class``). Its
constructor arguments come from ``+model.options.NAME=VALUE`` on the command line
(:func:`deepbehavior.runtime.stages.predictor_kwargs`). The inference pipeline needs nothing else.
Anything of ultralytics beyond its documented interface goes through :mod:`.ultralytics_internals`,
which names the versions it was checked against.
"""
