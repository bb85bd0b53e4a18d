"""The test suite (a package, so that ``tests.helpers`` is ours, not the ``tests`` package sleap-io 0.9.5 installs)."""
