"""The pipeline steps as Python functions: each takes data, paths or a cohort plus keyword settings
and returns a report; none of them exits the interpreter.

``import deepbehavior as db`` re-exports them (:mod:`deepbehavior`), loaded on first use:

- :func:`.io.load` / :func:`.io.save`: another tool's file or one of our Zarr stores to a dataset,
  and back.
- :func:`.track.track`: detection slots to identities (:class:`.track.TrackReport`).
- :func:`.analyze.analyze`: task measures of one dataset, a store or a cohort's stores
  (:class:`.analyze.AnalyzeReport`).
- :func:`.calibrate.calibrate`: cameras from board images or videos (:class:`.calibrate.CalibrationReport`).
- :func:`.triangulate.triangulate`: a multi-view 2D dataset to 3D (:class:`.triangulate.TriangulateReport`).
- :func:`.infer.infer`: a trained model over videos, in this process (:class:`.infer.InferReport`).
- :func:`.train.train`: a detector or pose model from a labelled dataset (:class:`.train.TrainReport`).

The command-line jobs (``jobs/``) still run their own copies of the per-session loops (resume,
fingerprints, figures, one report file per cohort); these functions call the same library pieces
for one dataset or a cohort held in memory. How to add a step: a module here with one function,
data first and options keyword-only, returning a frozen report dataclass; export it in
``deepbehavior/__init__.py``'s table.
"""
