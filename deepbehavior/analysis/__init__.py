"""Analyses of trajectories: cleaning (filters, gap filling, smoothing), kinematics, task measures.

Every function takes and returns xarray objects (NumPy- or Dask-backed) and does no I/O.
"""
