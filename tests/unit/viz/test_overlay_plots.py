"""Overlay drawing and the group figure, checked on pixels and on the plotted data."""

import numpy as np
import pandas as pd
import pytest

from deepbehavior.viz.overlay import COLOURS, draw_frame
from deepbehavior.viz.plots import plot_measure_by_group


def test_draw_frame_puts_keypoints_boxes_and_link_where_asked():
    frame = np.zeros((60, 80, 3), np.uint8)
    out = draw_frame(frame, {"a": np.array([[10.0, 12.0], [np.nan, np.nan]]), "b": np.array([[60.0, 40.0]])},
                     boxes={"b": np.array([60.0, 40.0, 20.0, 10.0])}, link=(np.array([10.0, 12.0]), np.array([60.0, 40.0])))
    assert (frame == 0).all()  # input untouched
    assert tuple(out[12, 10]) == COLOURS[0]
    assert tuple(out[35, 55]) == COLOURS[1]  # top edge of b's box: y = 40 - 5
    midpoint = out[26, 35]
    assert midpoint.max() > 0  # the link line passes through the midpoint
    assert out[5:8, 70:78].max() == 0  # nothing drawn far from everything


def test_measure_by_group_plots_each_session_value():
    table = pd.DataFrame({"subject": list("abcd"), "group": ["x", "x", "y", "y"], "session": "s",
                          "measure": "m", "value": [1.0, 2.0, 5.0, 7.0], "unit": "s"})
    fig = plot_measure_by_group(table, "m")
    ax = fig.axes[0]
    points = sorted(v for line in ax.lines if line.get_marker() == "o" for v in line.get_ydata())
    assert points == [1.0, 2.0, 5.0, 7.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    with pytest.raises(ValueError, match="Expected measure 'zz'"):
        plot_measure_by_group(table, "zz")
