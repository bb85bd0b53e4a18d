import numpy as np
import pytest
import xarray as xr

from deepbehavior import schema, store


def _template(frames=250, views=("top", "side")):
    nan = np.full((frames, 2, 2, len(views)), np.nan)
    return schema.make_boxes(nan, nan, fps=30, views=list(views))


def _part(region, value):
    n = region.frames
    return schema.make_boxes(np.full((n, 2, 2), value), np.full((n, 2, 2), 2.0), fps=30,
                             time=np.arange(region.start, region.stop))


def test_store_opens_with_xarray_with_documented_dims_and_chunks(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100, attrs={"provenance": {"a": 1}})
    ds = xr.open_zarr(path)
    assert ds["position"].dims == ("time", "space", "individual", "view")
    assert ds["position"].encoding["chunks"] == (100, 2, 2, 1)
    assert ds.attrs["provenance"] == {"a": 1} and ds.attrs["chunk"] == 100
    assert bool(ds["position"].isnull().all())
    assert [r.key for r in store.regions(path)] == ["top.0", "top.1", "top.2", "side.0", "side.1", "side.2"]
    assert store.regions(path)[2].frames == 50


def test_write_region_fills_only_its_region_and_marks_it_done(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100)
    region = store.regions(path)[4]  # side, frames 100-199
    store.write_region(path, _part(region, 7.0), region)
    ds = store.open_store(path)
    written = ds["position"].sel(view="side").isel(time=slice(100, 200))
    assert float(written.min()) == 7.0 == float(written.max())
    assert int(ds["position"].notnull().sum()) == 100 * 4
    assert store.done_keys(path) == {"side.1"}
    assert "side.1" not in {r.key for r in store.pending(path)}


def test_a_region_killed_before_its_marker_is_redone(tmp_path, monkeypatch):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100)
    region = store.regions(path)[0]

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed between the data and the marker")

    monkeypatch.setattr(store, "mark_done", killed)
    with pytest.raises(KeyboardInterrupt):
        store.write_region(path, _part(region, 1.0), region)
    assert region.key in {r.key for r in store.pending(path)}
    assert not list((tmp_path).glob("**/*.partial"))


def test_failures_are_recorded_and_cleared_when_done(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100)
    region = store.regions(path)[0]
    store.record_failure(path, region, "IOError: corrupt")
    assert store.failures(path) == [{"view": "top", "chunk": 0, "start": 0, "stop": 100, "error": "IOError: corrupt"}]
    store.write_region(path, _part(region, 1.0), region)
    assert store.failures(path) == []


def test_existing_store_is_not_overwritten_by_accident(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100)
    with pytest.raises(FileExistsError, match="Expected no store"):
        store.create_store(path, _template(), chunk=100)


def test_wrong_frame_count_is_refused(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100)
    region = store.regions(path)[0]
    short = store.Region(region.view, region.chunk, 0, 50)
    with pytest.raises(ValueError, match="Expected 100 frames for region top.0"):
        store.write_region(path, _part(short, 1.0), region)
