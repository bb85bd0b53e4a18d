import json

import numpy as np
import pytest
import xarray as xr

from deepbehavior import schema, store
from deepbehavior.models.base import ModelDescription
from deepbehavior.models.outputs import prediction_arrays, predictions_to_part, store_parts


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
    assert ds["position"].dims == ("time", "space", "individuals", "view")
    assert ds["position"].encoding["chunks"] == (100, 2, 2, 1)
    np.testing.assert_array_equal(ds["frame"].values, np.arange(250))
    np.testing.assert_allclose(ds["time"].values, np.arange(250) / 30)
    assert ds.attrs["provenance"] == {"a": 1} and ds.attrs["chunk"] == 100
    assert bool(ds["position"].isnull().all())
    assert [r.key for r in store.regions(path)] == ["top.0", "top.1", "top.2", "side.0", "side.1", "side.2"]
    assert store.regions(path)[2].frames == 50


@pytest.mark.parametrize("views", [("top", "side"), ("top",)])
def test_a_new_store_is_metadata_only_and_its_regions_are_known_before_it_is_made(tmp_path, views):
    path = store.create_store(tmp_path / "s.zarr", _template(views=views), chunk=100)
    # every chunk is the fill value (missing), so none is written: creating costs no memory or disk per frame
    ds = store.open_store(path)
    assert set(ds.data_vars) >= {"position", "shape", "confidence"}
    assert [p.name for name in ds.data_vars for p in (path / name).rglob("*") if p.is_file()] == \
        ["zarr.json"] * len(ds.data_vars)
    assert np.isnan(ds["position"].values).all()
    # what planning lists for a store not made yet is what the made store lists
    assert store.layout_regions(views, 250, 100) == store.regions(path)
    assert store.open_store(path, chunked=False)["position"].chunks is None  # no Dask where none is wanted


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


def test_write_regions_writes_a_view_in_one_go_and_marks_each_region_done(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(), chunk=100)
    side = [r for r in store.regions(path) if r.view == "side"]  # frames 0-99, 100-199, 200-249
    values = np.arange(250 * 4, dtype=float).reshape(250, 2, 2)
    part = schema.make_boxes(values, np.full((250, 2, 2), 2.0), fps=30, time=np.arange(250))
    store.write_regions(path, part, side)
    ds = store.open_store(path)
    np.testing.assert_array_equal(ds["position"].sel(view="side").values, values)
    assert bool(ds["position"].sel(view="top").isnull().all())
    assert store.done_keys(path) == {"side.0", "side.1", "side.2"}
    with pytest.raises(ValueError, match="Expected consecutive regions of one view"):
        store.write_regions(path, part, [side[0], side[2]])
    with pytest.raises(ValueError, match="Expected 250 frames for region side.0..side.2"):
        store.write_regions(path, part.isel(time=slice(0, 200)), side)


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


def test_single_view_store_has_no_view_dimension_and_takes_parts_with_or_without_one(tmp_path):
    path = store.create_store(tmp_path / "one.zarr", _template(views=("top",)), chunk=100)
    ds = xr.open_zarr(path)
    assert ds["position"].dims == ("time", "space", "individuals")
    assert ds["position"].encoding["chunks"] == (100, 2, 2)
    assert str(ds["view"].values) == "top"
    regions = store.regions(path)
    assert [r.key for r in regions] == ["top.0", "top.1", "top.2"]
    store.write_region(path, _part(regions[0], 3.0), regions[0])  # a part of one view, no view dim
    store.write_region(path, schema.with_view(_part(regions[2], 5.0)), regions[2])  # with a view dim
    ds = store.open_store(path)
    position = ds["position"].values
    assert np.all(position[:100] == 3.0) and np.isnan(position[100:200]).all() and np.all(position[200:] == 5.0)
    assert store.done_keys(path) == {"top.0", "top.2"}
    schema.validate(ds)


def test_write_dataset_drops_a_single_view(tmp_path):
    ds = schema.with_view(schema.make_poses(np.ones((30, 2, 1, 1)), fps=10, views=["cam"]))
    path = store.write_dataset(ds, tmp_path / "w.zarr", chunk=8)
    back = xr.open_zarr(path)
    assert back["position"].dims == ("time", "space", "keypoints", "individuals")
    assert back["position"].encoding["chunks"] == (8, 2, 1, 1)


def _legacy_store(path, views=("cam",)):
    """A store in the layout before issue #13, written with plain xarray (not our code)."""
    n = len(views)
    old = xr.Dataset(
        {"position": (("time", "space", "keypoint", "individual", "view"), np.arange(40.0 * n).reshape(10, 2, 2, 1, n)),
         "confidence": (("time", "keypoint", "individual", "view"), np.ones((10, 2, 1, n)))},
        coords={"time": np.arange(10), "space": ["x", "y"], "keypoint": ["a", "b"], "individual": ["m"],
                "view": list(views)},
        attrs={"ds_type": "poses", "fps": 25.0, "time_unit": "frames", "source_software": "deepbehavior",
               "individuals_are": "identities", "chunk": 4},
    )
    old = old.assign_coords({k: old[k].astype(object) for k in ("space", "keypoint", "individual", "view")})
    with store._consolidated_metadata():
        old.to_zarr(path, zarr_format=3, consolidated=True)
    return old


def test_old_stores_are_refused_with_how_to_convert_them(tmp_path):
    old = _legacy_store(tmp_path / "old.zarr")
    with pytest.raises(schema.SchemaError, match=r"old.zarr: Expected dimensions 'individuals'/'keypoints'.*upgrade_store"):
        store.open_store(tmp_path / "old.zarr")
    store.upgrade_store(tmp_path / "old.zarr", tmp_path / "new.zarr")
    new = store.open_store(tmp_path / "new.zarr")
    schema.validate(new)
    np.testing.assert_array_equal(new["position"].values, old["position"].values[..., 0])
    np.testing.assert_array_equal(new["frame"].values, np.arange(10))
    np.testing.assert_allclose(new["time"].values, np.arange(10) / 25.0)
    assert new["position"].encoding["chunks"][0] == 4


def _files(root):
    """Every file of a store: zarr.json parsed, chunks as bytes."""
    return {str(f.relative_to(root)): json.loads(f.read_text()) if f.name == "zarr.json" else f.read_bytes()
            for f in sorted(root.rglob("*")) if f.is_file()}


def _description(kind):
    return ModelDescription(kind=kind, slots=3, class_names=("mouse", "hand"),
                            keypoint_names=("nose", "ear", "tail") if kind == schema.POSES else (),
                            metadata={"weights": "w.pt"})


@pytest.mark.parametrize("kind", [schema.POSES, schema.BOXES])
@pytest.mark.parametrize("views", [("top",), ("left", "right")])
@pytest.mark.parametrize("frames", [0, 1, 250, 300_001])
def test_a_store_made_with_zarr_alone_is_file_for_file_the_one_xarray_makes(tmp_path, kind, views, frames):
    # 300,001 frames: Zarr splits the time coordinate into several chunks of its choosing
    chunk = 100 if frames < 1000 else 100_000
    parts = store_parts(_description(kind), n_frames=frames, fps=29.97, views=list(views))
    attrs = {"session": "m1_d1", "provenance": {"versions": {"zarr": "3"}}, "fingerprint": {"chunk": str(chunk)}}
    by_xarray = store.create_store(tmp_path / "x.zarr", parts.dataset(), chunk=chunk, attrs=attrs)
    by_zarr = store.create_empty_store(tmp_path / "z.zarr", parts, chunk=chunk, attrs=attrs)
    assert _files(by_zarr) == _files(by_xarray)
    xr.testing.assert_identical(store.open_store(by_zarr), store.open_store(by_xarray))
    assert frames < 1000 or len(list((by_zarr / "time" / "c").iterdir())) > 1


@pytest.mark.parametrize("kind", [schema.POSES, schema.BOXES])
@pytest.mark.parametrize("views", [("top",), ("left", "right")])
def test_predictions_written_with_zarr_alone_are_file_for_file_those_xarray_writes(tmp_path, kind, views):
    rng = np.random.default_rng(0)
    description = _description(kind)
    parts = store_parts(description, n_frames=250, fps=30, views=list(views))
    paths = [store.create_empty_store(tmp_path / f"{name}.zarr", parts, chunk=100) for name in ("x", "z")]
    for region in store.layout_regions(views, 250, 100):
        n = region.frames
        if kind == schema.POSES:
            results = {"keypoints": rng.uniform(0, 640, (n, 3, 3, 2)), "keypoint_conf": rng.uniform(0, 1, (n, 3, 3))}
        else:
            corner = rng.uniform(0, 600, (n, 3, 2))
            results = {"boxes": np.concatenate([corner, corner + 20], -1), "box_conf": rng.uniform(0, 1, (n, 3)),
                       "class_index": rng.integers(0, 2, (n, 3)).astype(float)}
        results["box_conf" if kind == schema.BOXES else "keypoint_conf"][n // 2:] = np.nan  # some missing
        store.write_region(paths[0], predictions_to_part(kind, results, np.arange(region.start, region.stop), 30),
                           region)
        store.write_region_arrays(paths[1], prediction_arrays(kind, results), region)
    assert _files(paths[1]) == _files(paths[0])
    assert store.done_keys(paths[1]) == store.done_keys(paths[0]) == {f"{v}.{c}" for v in views for c in range(3)}


def test_writing_arrays_refuses_wrong_variables_shapes_and_views_naming_the_store(tmp_path):
    parts = store_parts(_description(schema.BOXES), n_frames=250, fps=30, views=["top", "side"])
    path = store.create_empty_store(tmp_path / "s.zarr", parts, chunk=100)
    region = store.layout_regions(["top", "side"], 250, 100)[0]
    good = {"position": np.zeros((100, 2, 3)), "shape": np.ones((100, 2, 3)), "confidence": np.ones((100, 3)),
            "class_index": np.zeros((100, 3))}
    with pytest.raises(ValueError, match=r"Expected the variables .* of .*s\.zarr, but got"):
        store.write_region_arrays(path, {k: v for k, v in good.items() if k != "shape"}, region)
    with pytest.raises(ValueError, match=r"Expected position of shape \(100, 2, 3\) for region top\.0 .* \(50, 2, 3\)"):
        store.write_region_arrays(path, {**good, "position": np.zeros((50, 2, 3))}, region)
    with pytest.raises(ValueError, match="Expected a view of .* in region front.0, but got 'front'"):
        store.write_region_arrays(path, good, store.Region("front", 0, 0, 100))
    assert store.done_keys(path) == set() and not (path / "position" / "c").exists()  # nothing written
    store.write_region_arrays(path, good, region)
    assert store.done_keys(path) == {"top.0"}
    written = store.open_store(path)["shape"].sel(view="top").values
    assert np.all(written[:100] == 1) and np.isnan(written[100:]).all()


# One notion of "complete" for every writer (issue 31): region by region, or a whole dataset at once.

def _poses_3d(frames=30):
    rng = np.random.default_rng(3)
    return schema.make_poses(rng.normal(size=(frames, 3, 2, 1)), fps=30, keypoints=["a", "b"])


def test_a_store_written_whole_is_complete_and_its_rewrite_clears_old_markers(tmp_path):
    path = store.write_dataset(_poses_3d(), tmp_path / "whole.zarr", chunk=8)
    assert store.is_complete(path)
    assert len(store.done_keys(path)) == 4  # ceil(30 / 8) regions of the one (unnamed) view
    ds = store.open_complete(path)
    assert ds.sizes["space"] == 3
    shorter = store.write_dataset(_poses_3d(frames=10), path, chunk=8, overwrite=True)
    assert store.done_keys(shorter) == {"view0.0", "view0.1"}  # none of the old store's four


def test_open_complete_refuses_an_unfinished_store_in_one_line_and_accepts_it_once_done(tmp_path):
    path = store.create_store(tmp_path / "s.zarr", _template(frames=250), chunk=100)
    todo = store.regions(path)
    for region in todo[:-1]:
        store.write_region(path, _part(region, 1.0), region)
    with pytest.raises(store.IncompleteStoreError) as info:
        store.open_complete(path, what="2D store")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Expected a complete 2D store at {path}, but 1 of its 6 regions are unfinished")
    assert "view side, frames 200-249" in message
    store.write_region(path, _part(todo[-1], 1.0), todo[-1])
    assert float(store.open_complete(path)["position"].sel(view="side").isel(time=-1).max()) == 1.0
    with pytest.raises(FileNotFoundError, match="Expected a Zarr store at"):
        store.open_complete(tmp_path / "absent.zarr")


def test_recorded_videos_of_inference_and_import_stores():
    ds = _template(frames=5)
    assert store.recorded_videos(ds) == {}
    assert store.recorded_videos(ds.assign_attrs(videos={"top": "a.mp4", "side": "b.mp4"})) == {
        "top": "a.mp4", "side": "b.mp4"}
    one = schema.select_view(ds, "top").assign_attrs(video="/data/a.mp4")
    assert store.recorded_videos(one) == {"top": "/data/a.mp4"}


def test_animals_in_most_frames_read_from_a_store_with_zarr_alone(tmp_path):
    position = np.full((12, 2, 1, 3, 2), np.nan)
    position[:, :, 0, 0, :] = 1.0  # one animal in every frame of both cameras
    position[:3, :, 0, 1, 1] = 4.0  # and a second one in three frames of the side camera
    position[5, 0, 0, 2, 0] = 9.0  # a detection with x but no y does not count
    ds = schema.make_poses(position, fps=30, keypoints=["c"], views=["top", "side"], individuals_are="slots")
    path = store.write_dataset(ds, tmp_path / "s.zarr", chunk=5)
    assert store.animals_in_most_frames(path) == 1
    assert store.animals_in_most_frames(path, frames=3) == 2  # only the first frames are read
    assert store.most_common_count(np.array([[0, 2], [0, 2], [0, 1]])) == 2
    assert store.most_common_count(np.zeros((4, 1))) == 0
    assert store.most_common_count(np.zeros((0, 2))) == 0 and store.most_common_count(np.zeros(0)) == 0
    empty = store.write_dataset(ds.isel(time=slice(0, 0)), tmp_path / "empty.zarr", chunk=5)
    assert store.animals_in_most_frames(empty) == 0
