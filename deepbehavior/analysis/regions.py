"""Regions of interest (three-chamber, open field): occupancy, time in each region, entries, distance.

A region is a rectangle ``[x0, y0, x1, y1]`` or a polygon ``[[x, y], [x, y], ...]`` (at least three
vertices), in the units of the positions it is tested against (pixels, or mm after scaling). A
point is inside a rectangle when ``x0 <= x < x1`` and ``y0 <= y < y1`` (half-open, so regions that
share an edge never both hold a point); inside a polygon by the even–odd rule of
``matplotlib.path.Path``. Regions may overlap; each is measured on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from .tracks import fps_of, path_length, runs


@dataclass(frozen=True)
class RegionOfInterest:
    """A named rectangle or polygon. ``vertices`` is ``(n, 2)`` (x, y); a rectangle has its 4 corners."""

    name: str
    vertices: np.ndarray
    is_rectangle: bool

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """Whether each point of ``xy`` ``(n, 2)`` is inside; False for NaN points."""
        xy = np.asarray(xy, dtype=np.float64)
        finite = np.isfinite(xy).all(axis=1)
        if self.is_rectangle:
            (x0, y0), (x1, y1) = self.vertices.min(axis=0), self.vertices.max(axis=0)
            with np.errstate(invalid="ignore"):
                inside = (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
            return inside & finite
        from matplotlib.path import Path  # polygons only: importing matplotlib takes ~0.15 s

        inside = np.zeros(len(xy), dtype=bool)
        if finite.any():
            inside[finite] = Path(self.vertices).contains_points(xy[finite])
        return inside


def parse_regions(spec: Mapping[str, Sequence]) -> list[RegionOfInterest]:
    """Regions from a mapping ``name -> [x0, y0, x1, y1]`` or ``name -> [[x, y], ...]``.

    Raises
    ------
    ValueError
        Naming the region whose coordinates are neither a rectangle nor a polygon.
    """
    regions = []
    for name, coords in spec.items():
        values = np.asarray(coords, dtype=np.float64)
        if values.shape == (4,):
            x0, y0, x1, y1 = values
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"Expected region {name!r} as [x0, y0, x1, y1] with x1 > x0 and y1 > y0, but got {list(coords)}")
            vertices = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
            regions.append(RegionOfInterest(str(name), vertices, True))
        elif values.ndim == 2 and values.shape[1] == 2 and values.shape[0] >= 3:
            regions.append(RegionOfInterest(str(name), values, False))
        else:
            raise ValueError(
                f"Expected region {name!r} as [x0, y0, x1, y1] or a list of at least 3 [x, y] vertices, "
                f"but got an array of shape {values.shape}"
            )
    if not regions:
        raise ValueError("Expected at least one region of interest, but got none")
    return regions


def occupancy(track: xr.DataArray, regions: Sequence[RegionOfInterest]) -> xr.DataArray:
    """Whether the point is in each region, frame by frame.

    Parameters
    ----------
    track
        Position ``(time, space)`` with x and y (a ``z`` is ignored).
    regions
        From :func:`parse_regions`, in the units of ``track``.

    Returns
    -------
    xarray.DataArray
        ``(time, region)`` floats: 1 inside, 0 outside, NaN where the position is missing.
    """
    xy = np.asarray(track.sel(space=["x", "y"]).transpose("time", "space").values, dtype=np.float64)
    missing = ~np.isfinite(xy).all(axis=1)
    values = np.stack([r.contains(xy) for r in regions], axis=1).astype(np.float64)
    values[missing] = np.nan
    return xr.DataArray(values, dims=("time", "region"),
                        coords={"time": track["time"].values, "region": [r.name for r in regions]},
                        attrs=dict(track.attrs))


def time_in_regions(inside: xr.DataArray, *, fps: float | None = None) -> dict[str, float]:
    """Seconds spent in each region (frames inside / fps); frames with no position count nowhere."""
    fps = fps_of(inside, fps)
    counts = (inside == 1).sum("time").values
    return {str(name): float(n) / fps for name, n in zip(inside["region"].values, counts)}


def count_entries(inside: xr.DataArray, *, count_start: bool = False) -> dict[str, int]:
    """Entries into each region: frames inside whose previous frame with a position was outside.

    Frames with no position are skipped, so losing the animal for a few frames inside a region is
    not a new entry. Being inside on the first frame counts as an entry only with ``count_start``.
    """
    out = {}
    for name in inside["region"].values:
        states = inside.sel(region=name).values
        states = states[np.isfinite(states)] == 1
        starts, _ = runs(states)
        n = len(starts)
        if n and starts[0] == 0 and not count_start:
            n -= 1
        out[str(name)] = n
    return out


def measure_regions(
    track: xr.DataArray,
    regions: Sequence[RegionOfInterest],
    *,
    fps: float | None = None,
    unit: str = "px",
    count_start: bool = False,
) -> list[tuple[str, float, str]]:
    """Time in each region (s), entries into each region, and distance travelled.

    Parameters
    ----------
    track
        Position ``(time, space)``, in the units of ``regions`` (``unit``).
    fps
        Frames per second; default ``track.attrs["fps"]``.

    Returns
    -------
    list of (measure, value, unit)
        ``time_in_<name>`` (s), ``entries_<name>`` (count) for each region, ``distance`` (``unit``,
        summed over steps between frames that both have a position).
    """
    fps = fps_of(track, fps)
    inside = occupancy(track, regions)
    seconds = time_in_regions(inside, fps=fps)
    entries = count_entries(inside, count_start=count_start)
    rows = [(f"time_in_{r.name}", seconds[r.name], "s") for r in regions]
    rows += [(f"entries_{r.name}", float(entries[r.name]), "count") for r in regions]
    rows.append(("distance", path_length(track), unit))
    return rows
