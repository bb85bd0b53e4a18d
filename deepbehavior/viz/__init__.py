"""Figures and videos of results: trajectories, speed, regions, interaction bouts, cohort plots,
labelled videos and 3D skeleton movies.

How to add a figure: write a function taking xarray or pandas data and an output path; build a
``matplotlib.figure.Figure`` on its own Agg canvas (as :func:`.plots._figure` does, never pyplot,
which would choose a backend for the whole process); label every axis with its unit; save through
:func:`.plots.save_figure`, which writes atomically. Videos go through :mod:`deepbehavior.video`.
"""
