"""The test suite (a regular package, so that ``tests.helpers`` is ours and not the ``tests`` package
that sleap-io 0.9.5 installs into site-packages)."""
