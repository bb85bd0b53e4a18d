"""A Hydra launcher that runs the runs of a sweep in parallel as Ray tasks (``hydra/launcher=ray``)."""
