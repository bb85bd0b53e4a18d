"""The per-session tracks figure: one line per identity in x and y, repaired swaps marked."""

import numpy as np

from deepbehavior.schema import make_poses
from deepbehavior.viz.tracks import plot_tracks


def test_plot_tracks_draws_each_identity_and_marks_swaps():
    t = np.arange(50, dtype=float)
    position = np.zeros((50, 2, 1, 3))
    for i in range(3):
        position[:, 0, 0, i], position[:, 1, 0, i] = t + 10 * i, 2 * t
    ds = make_poses(position, fps=10.0, individuals=["a", "b", "c"])
    ds.attrs["swap_frames"] = {"view0": [20, 30]}
    fig = plot_tracks(ds, title="s")
    top, bottom = fig.axes
    solid = [line for line in top.get_lines() if line.get_linestyle() == "-"]
    assert [line.get_label() for line in solid] == ["a", "b", "c"]
    np.testing.assert_allclose(solid[1].get_ydata(), t + 10)
    np.testing.assert_allclose(solid[0].get_xdata(), t / 10.0)  # seconds
    marks = [line.get_xdata()[0] for line in bottom.get_lines() if line.get_linestyle() == "--"]
    assert marks == [2.0, 3.0]
