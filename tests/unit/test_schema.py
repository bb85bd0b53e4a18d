import numpy as np
import pytest

from deepbehavior import schema


def test_make_poses_adds_a_view_and_names():
    position = np.random.default_rng(0).normal(size=(10, 2, 3, 2))
    ds = schema.make_poses(position, fps=25, keypoints=["a", "b", "c"], individuals=["m1", "m2"])
    assert ds["position"].dims == ("time", "space", "keypoint", "individual", "view")
    assert ds.sizes == {"time": 10, "space": 2, "keypoint": 3, "individual": 2, "view": 1}
    assert list(ds["keypoint"].values) == ["a", "b", "c"]
    assert ds.attrs["fps"] == 25.0
    np.testing.assert_allclose(ds["position"].values[..., 0], position, rtol=1e-6)
    assert np.all(ds["confidence"].values == 1.0)
    schema.validate(ds)


def test_make_boxes_marks_missing_boxes():
    centre = np.ones((4, 2, 1))
    centre[2] = np.nan
    ds = schema.make_boxes(centre, np.ones((4, 2, 1)), fps=30)
    assert np.isnan(ds["confidence"].values[2, 0, 0]) and ds["confidence"].values[1, 0, 0] == 1
    assert np.isnan(ds["class_index"].values[2, 0, 0]) and ds["class_index"].values[0, 0, 0] == 0
    assert ds.attrs["individuals_are"] == "slots"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ds: ds.drop_vars("confidence"), "Expected a variable 'confidence'"),
        (lambda ds: ds.transpose("space", ...), "Expected 'position' with dimensions"),
        (lambda ds: ds.assign_attrs(fps=-1), "Expected a positive fps"),
        (lambda ds: ds.assign_attrs(ds_type="tracks"), "Expected attrs['ds_type']"),
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
