"""Thin Hydra entry points: compose config, start the runtime, call the library, report."""
