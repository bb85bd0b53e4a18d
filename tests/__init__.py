"""The test suite as a package: sleap-io 0.9.5 installs a top-level ``tests`` package into
site-packages, which would otherwise shadow ``tests.helpers``."""
