"""Regions of interest: a point moving along a known path through two rectangles and a polygon."""

import numpy as np
import pytest
import xarray as xr

from deepbehavior.analysis.regions import count_entries, measure_regions, occupancy, parse_regions

FPS = 10.0


def _track(xy, fps=FPS):
    xy = np.asarray(xy, dtype=float)
    return xr.DataArray(xy, dims=("time", "space"), coords={"time": np.arange(len(xy)), "space": ["x", "y"]},
                        attrs={"fps": fps})


def _there_and_back():
    x = np.concatenate([np.arange(0, 100), np.arange(99, -1, -1)]).astype(float)  # 1 px per frame
    return _track(np.stack([x, np.full_like(x, 5.0)], axis=1))


def test_time_entries_distance_through_two_rectangles():
    regions = parse_regions({"left": [10, 0, 30, 10], "right": [50, 0, 60, 10]})
    rows = {m: (v, u) for m, v, u in measure_regions(_there_and_back(), regions)}
    # x in [10, 30) is 20 frames each way: 40 frames at 10 fps.
    assert rows["time_in_left"] == (4.0, "s")
    assert rows["time_in_right"] == (2.0, "s")
    assert rows["entries_left"] == (2.0, "count")
    assert rows["entries_right"] == (2.0, "count")
    assert rows["distance"] == (198.0, "px")


def test_shared_edge_counts_once_and_polygon_matches_half_planes():
    regions = parse_regions({"a": [0, 0, 10, 10], "b": [10, 0, 20, 10],
                             "tri": [[0, 0], [40, 0], [0, 40]]})
    rng = np.random.default_rng(0)
    xy = rng.uniform(0.5, 39.5, size=(500, 2))
    xy[0] = (10.0, 5.0)  # on the shared edge
    inside = occupancy(_track(xy), regions)
    assert inside.sel(region="a").values[0] == 0 and inside.sel(region="b").values[0] == 1
    expected_tri = (xy[:, 0] > 0) & (xy[:, 1] > 0) & (xy[:, 0] + xy[:, 1] < 40)
    np.testing.assert_array_equal(inside.sel(region="tri").values == 1, expected_tri)


def test_missing_frames_inside_are_not_new_entries():
    x = np.array([0, 15, 15, np.nan, np.nan, 15, 15, 0, 15], dtype=float)
    track = _track(np.stack([x, np.full_like(x, 5.0)], axis=1))
    inside = occupancy(track, parse_regions({"r": [10, 0, 20, 10]}))
    assert np.isnan(inside.values[3, 0])
    assert count_entries(inside) == {"r": 2}
    started_inside = occupancy(track.isel(time=slice(1, None)), parse_regions({"r": [10, 0, 20, 10]}))
    assert count_entries(started_inside) == {"r": 1}
    assert count_entries(started_inside, count_start=True) == {"r": 2}


@pytest.mark.parametrize("bad", [[1, 2, 3], [10, 0, 5, 10], [[0, 0], [1, 1]]])
def test_bad_region_names_the_region(bad):
    with pytest.raises(ValueError, match="Expected region 'box'"):
        parse_regions({"box": bad})
