"""Running work at scale: the embedded Ray, cohort inference and distributed training.

- :mod:`.environment`: the loopback-only local Ray (or one joined by address) and an offline
  ultralytics; it sets only the variables those libraries read, never the host's console settings.
- :mod:`.inference`: a cohort cut into shards (one Zarr chunk each, the unit of resume), run
  through predictor actors into one store per session, with retries and recorded failures.
- :mod:`.stages`: decoding and prediction stages, and :data:`.stages.BACKENDS`, the model registry.
- :mod:`.training`: Ray Train wiring of the training loop of :mod:`deepbehavior.models.training`.

How to add a model backend: see :mod:`deepbehavior.models`. How to run on a cluster: pass
``ray.address=HOST:PORT`` (or ``auto``); nothing else changes. How to add a runtime other than Ray:
give it :func:`.inference.infer_cohort`'s contract (shards in, stores and a report out) and keep the
shard as the unit of work and of resuming.
"""
