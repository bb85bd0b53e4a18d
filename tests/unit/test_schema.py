import numpy as np
import pytest
import xarray as xr

from deepbehavior import schema


def test_make_poses_single_view_has_movement_layout():
    position = np.random.default_rng(0).normal(size=(10, 2, 3, 2))
    ds = schema.make_poses(position, fps=25, keypoints=["a", "b", "c"], individuals=["m1", "m2"],
                           time=np.arange(100, 110))
    assert ds["position"].dims == ("time", "space", "keypoints", "individuals")
    assert ds["confidence"].dims == ("time", "keypoints", "individuals")
    assert dict(ds.sizes) == {"time": 10, "space": 2, "keypoints": 3, "individuals": 2}
    assert ds["view"].ndim == 0 and str(ds["view"].values) == "view0"
    assert list(ds["keypoints"].values) == ["a", "b", "c"]
    # time in seconds, frame numbers kept for seeking
    assert ds["time"].dtype == np.float64 and ds["frame"].dtype == np.int64
    np.testing.assert_array_equal(ds["frame"].values, np.arange(100, 110))
    np.testing.assert_allclose(ds["time"].values, np.arange(100, 110) / 25)
    assert ds.attrs["fps"] == 25.0 and ds.attrs["time_unit"] == "seconds" and ds.attrs["space_unit"] == "px"
    np.testing.assert_allclose(ds["position"].values, position, rtol=1e-6)
    assert np.all(ds["confidence"].values == 1.0)
    schema.validate(ds)


def test_several_views_put_view_last():
    ds = schema.make_poses(np.zeros((4, 3, 2, 1, 2)), fps=30, views=["left", "right"], space_unit="mm")
    assert ds["position"].dims == ("time", "space", "keypoints", "individuals", "view")
    assert ds["confidence"].dims == ("time", "keypoints", "individuals", "view")
    assert list(ds["view"].values) == ["left", "right"] and ds.attrs["space_unit"] == "mm"
    schema.validate(ds)
    boxes = schema.make_boxes(np.ones((4, 2, 3, 2)), np.ones((4, 2, 3, 2)), fps=30, views=["a", "b"])
    assert boxes["class_index"].dims == ("time", "individuals", "view")
    schema.validate(boxes)


def test_a_five_dimensional_array_of_one_view_has_no_view_dimension():
    ds = schema.make_poses(np.zeros((4, 2, 2, 1, 1)), fps=30, views=["top"])
    assert "view" not in ds.dims and str(ds["view"].values) == "top"


def test_with_view_and_drop_single_view_are_inverse():
    ds = schema.make_boxes(np.arange(24.0).reshape(4, 2, 3), np.ones((4, 2, 3)), fps=30, views=["top"])
    wide = schema.with_view(ds)
    assert wide["position"].dims == ("time", "space", "individuals", "view")
    assert wide["confidence"].dims == ("time", "individuals", "view")
    assert list(wide["view"].values) == ["top"] and wide["frame"].dims == ("time",)
    schema.validate(wide)
    back = schema.drop_single_view(wide)
    xr.testing.assert_identical(back, ds)
    multi = schema.make_boxes(np.ones((4, 2, 3, 2)), np.ones((4, 2, 3, 2)), fps=30)
    assert schema.drop_single_view(multi) is multi
    assert schema.with_view(multi.transpose("view", ...))["position"].dims[-1] == "view"


def test_frames_come_from_the_frame_coordinate_or_time():
    ds = schema.make_poses(np.zeros((3, 2, 1, 1)), fps=7.5, time=[3, 5, 9])
    np.testing.assert_array_equal(schema.frames(ds), [3, 5, 9])
    np.testing.assert_array_equal(schema.frames(ds.drop_vars("frame")), [3, 5, 9])
    np.testing.assert_allclose(schema.frame_seconds(ds), [0.4, 2 / 3, 1.2])


def test_make_boxes_marks_missing_boxes():
    centre = np.ones((4, 2, 1))
    centre[2] = np.nan
    ds = schema.make_boxes(centre, np.ones((4, 2, 1)), fps=30)
    assert np.isnan(ds["confidence"].values[2, 0]) and ds["confidence"].values[1, 0] == 1
    assert np.isnan(ds["class_index"].values[2, 0]) and ds["class_index"].values[0, 0] == 0
    assert ds.attrs["individuals_are"] == "slots"


def test_select_view_names_the_views():
    ds = schema.make_poses(np.zeros((4, 2, 1, 1, 2)), fps=30, views=["left", "right"])
    right = schema.select_view(ds, "right")
    assert "view" not in right.dims and str(right["view"].values) == "right"
    schema.validate(right)
    with pytest.raises(ValueError, match=r"Expected a view in \['left', 'right'\], but got 'top'"):
        schema.select_view(ds, "top")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ds: ds.drop_vars("confidence"), "Expected a variable 'confidence'"),
        (lambda ds: ds.transpose("space", ...), "Expected 'position' with dimensions"),
        (lambda ds: ds.assign_attrs(fps=-1), "Expected a positive fps"),
        (lambda ds: ds.assign_attrs(ds_type="tracks"), "Expected attrs['ds_type']"),
        (lambda ds: ds.drop_vars("frame"), "Expected a coordinate 'frame'"),
        (lambda ds: ds.assign_attrs(time_unit="frames"), "Expected attrs['time_unit'] == 'seconds'"),
        (lambda ds: ds.rename(individuals="individual"), "the old layout"),
    ],
)
def test_validate_rejects_wrong_datasets(mutate, message):
    ds = schema.make_poses(np.zeros((3, 2, 1, 1)), fps=10)
    with pytest.raises(schema.SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        schema.validate(mutate(ds))


def test_wrong_shapes_are_named():
    with pytest.raises(schema.SchemaError, match=r"Expected confidence of shape \(5, 2, 1, 1\), but got \(5, 3, 1, 1\)"):
        schema.make_poses(np.zeros((5, 2, 2, 1)), np.zeros((5, 3, 1)), fps=30)
    with pytest.raises(schema.SchemaError, match="Expected 2 keypoint names"):
        schema.make_poses(np.zeros((5, 2, 2, 1)), fps=30, keypoints=["a"])
    with pytest.raises(schema.SchemaError, match="Expected whole frame numbers"):
        schema.make_poses(np.zeros((2, 2, 1, 1)), fps=30, time=[0.0, 0.5])


def _legacy_poses(views=("cam",)):
    """A dataset as the layout before issue #13 wrote it (built by hand, not by our code)."""
    n_view = len(views)
    rng = np.random.default_rng(1)
    return xr.Dataset(
        {"position": (("time", "space", "keypoint", "individual", "view"), rng.normal(size=(5, 2, 2, 1, n_view))),
         "confidence": (("time", "keypoint", "individual", "view"), np.ones((5, 2, 1, n_view)))},
        coords={"time": np.arange(10, 15), "space": ["x", "y"], "keypoint": ["a", "b"], "individual": ["m"],
                "view": list(views)},
        attrs={"ds_type": "poses", "fps": 20.0, "time_unit": "frames", "source_software": "deepbehavior",
               "individuals_are": "identities"},
    )


def test_upgrade_legacy_renames_and_keeps_values():
    old = _legacy_poses()
    new = schema.upgrade_legacy(old)
    schema.validate(new)
    assert new["position"].dims == ("time", "space", "keypoints", "individuals")
    np.testing.assert_array_equal(new["frame"].values, np.arange(10, 15))
    np.testing.assert_allclose(new["time"].values, np.arange(10, 15) / 20.0)
    np.testing.assert_array_equal(new["position"].values, old["position"].values[..., 0])
    assert new.attrs["space_unit"] == "px" and str(new["view"].values) == "cam"
    two = schema.upgrade_legacy(_legacy_poses(("l", "r")))
    assert two["position"].dims[-1] == "view" and two.sizes["view"] == 2
