import cv2
import numpy as np
import pytest

from deepbehavior import schema
from deepbehavior.geometry import CameraGroup
from deepbehavior.geometry.triangulation import (
    linear_triangulation, midpoint_triangulation, triangulate, triangulate_dataset, write_3d)
from deepbehavior.store import open_store


def reference_triangulate(group: CameraGroup, pixels: np.ndarray) -> np.ndarray:
    """aniposelib's CameraGroup.triangulate when it imports; else its algorithm re-implemented:
    OpenCV undistortion, then for each point an unweighted SVD of the stacked DLT rows."""
    try:
        from aniposelib.cameras import Camera as ACamera
        from aniposelib.cameras import CameraGroup as AGroup

        import jax  # noqa: F401  (aniposelib 0.8 triangulates with jax)

        agroup = AGroup([ACamera(name=c.name, size=c.size, matrix=c.matrix, dist=c.dist, rvec=c.rvec, tvec=c.tvec)
                         for c in group.cameras])
        return agroup.triangulate(pixels)
    except ImportError:
        pass
    norm = np.stack([cv2.undistortPoints(p.reshape(-1, 1, 2), c.matrix, c.dist).reshape(-1, 2)
                     for c, p in zip(group.cameras, pixels)])
    ext = group.extrinsics()
    out = np.full((pixels.shape[1], 3), np.nan)
    for i in range(pixels.shape[1]):
        rows = []
        for v in range(len(group)):
            x, y = norm[v, i]
            rows += [x * ext[v, 2] - ext[v, 0], y * ext[v, 2] - ext[v, 1]]
        vh = np.linalg.svd(np.asarray(rows))[2]
        out[i] = vh[-1, :3] / vh[-1, 3]
    return out


@pytest.mark.parametrize("n_cameras", [2, 3, 5])
def test_noise_free_points_are_recovered(n_cameras, points, rig_factory):
    group = rig_factory(n_cameras)
    pixels = group.project(points)
    for refine in (0, 1):
        found, error = triangulate(group, pixels, refine=refine)
        relative = np.linalg.norm(found - points, axis=1) / np.linalg.norm(points, axis=1)
        assert relative.max() < 1e-6
        assert np.nanmax(error) < 1e-6


def test_midpoint_noise_free_and_in_first_camera_frame(points, rig_factory):
    group = rig_factory(2)
    pixels = group.project(points)
    found = triangulate(group, pixels, method="midpoint")[0]
    np.testing.assert_allclose(found, points, rtol=0, atol=1e-6 * np.abs(points).max())
    # with the first camera at the origin the result is in its frame (the Caltech convention)
    first = group.cameras[0]
    moved = CameraGroup([first.replace(rvec=np.zeros(3), tvec=np.zeros(3)),
                         group.cameras[1].replace(rvec=cv2.Rodrigues(group.cameras[1].rotation @ first.rotation.T)[0],
                                                  tvec=group.cameras[1].tvec - group.cameras[1].rotation @ first.rotation.T @ first.tvec)])
    in_left = points @ first.rotation.T + first.tvec
    np.testing.assert_allclose(triangulate(moved, pixels, method="midpoint")[0], in_left, atol=1e-6 * np.abs(points).max())


def test_midpoint_is_midpoint_of_common_perpendicular():
    # rays from (-1, 0.1, 0) along (1, 0, 5) and from (1, -0.1, 0) along (-1, 0, 5) pass 0.2 apart
    # in y at (0, ±0.1, 5); their common perpendicular is parallel to y, its midpoint (0, 0, 5)
    ext = np.array([np.hstack([np.eye(3), [[1.0], [-0.1], [0.0]]]), np.hstack([np.eye(3), [[-1.0], [0.1], [0.0]]])])
    normalized = np.array([[[0.2, 0.0]], [[-0.2, 0.0]]])
    np.testing.assert_allclose(midpoint_triangulation(normalized, ext), [[0.0, 0.0, 5.0]], atol=1e-12)


def test_with_noise_no_worse_than_aniposelib(rig):
    rng = np.random.default_rng(7)
    points = rng.uniform(-150, 150, size=(3000, 3))
    pixels = rig.project(points) + rng.normal(scale=1.0, size=(3, 3000, 2))
    ours = triangulate(rig, pixels, errors=False)[0]
    theirs = reference_triangulate(rig, pixels)
    ours_error = np.median(np.linalg.norm(ours - points, axis=1))
    theirs_error = np.median(np.linalg.norm(theirs - points, axis=1))
    assert ours_error <= theirs_error * 1.001
    assert ours_error < 2.0  # mm: about a pixel at 1 m with f = 800


def test_low_confidence_view_is_ignored(rig, points):
    pixels = rig.project(points)
    pixels[2] += 40.0  # camera 2 is badly wrong …
    confidence = np.ones(pixels.shape[:2])
    confidence[2] = 0.05  # … and says so
    found, error = triangulate(rig, pixels, confidence, min_confidence=0.1)
    np.testing.assert_allclose(found, points, atol=1e-6 * np.abs(points).max())
    assert np.isnan(error[2]).all() and np.isfinite(error[:2]).all()


def test_robust_mode_drops_the_outlier_view(points, rig_factory):
    group = rig_factory(4)
    pixels = group.project(points)
    pixels[1, :100] += 60.0
    plain = triangulate(group, pixels)[0]
    robust, error = triangulate(group, pixels, method="robust", max_error=5.0)
    assert np.abs(plain[:100] - points[:100]).max() > 1.0
    np.testing.assert_allclose(robust, points, atol=1e-5 * np.abs(points).max())
    assert np.isnan(error[1, :100]).all() and np.isfinite(error[1, 100:]).all()


def test_fewer_than_two_views_give_nan(rig, points):
    pixels = rig.project(points[:3])
    pixels[1:, 0] = np.nan  # seen by one camera only
    found = triangulate(rig, pixels)[0]
    assert np.isnan(found[0]).all()
    assert np.isfinite(found[1:]).all()


def test_linear_triangulation_checks_shapes():
    with pytest.raises(ValueError, match="Expected normalized"):
        linear_triangulation(np.zeros((2, 5, 2)), np.zeros((3, 3, 4)))


def _poses_dataset(group, points, *, fps=30.0):
    """(time, keypoint, individual) world points seen by every camera as a 2D poses dataset."""
    pixels = group.project(points)  # (view, time, keypoint, individual, 2)
    position = np.moveaxis(pixels, (0, -1), (-1, 1))  # (time, space, keypoint, individual, view)
    return schema.make_poses(position, fps=fps, views=group.names, keypoints=["snout", "tail"])


def test_triangulate_dataset_is_lazy_and_correct(rig, tmp_path):
    rng = np.random.default_rng(3)
    world = rng.uniform(-100, 100, size=(250, 2, 1, 3))
    ds = _poses_dataset(rig, world)
    ds["confidence"][5, 0, 0, :] = 0.0  # frame 5, snout: in no view
    out = triangulate_dataset(ds, rig, chunk=100)
    assert out["position"].chunks[0] == (100, 100, 50)
    assert "view" not in out.dims and str(out["view"].values) == "3d" and list(out["space"].values) == ["x", "y", "z"]
    schema.validate(out)
    path = write_3d(out, tmp_path / "p3d.zarr")
    back = open_store(path)
    got = back["position"].transpose("time", "keypoints", "individuals", "space").values
    expected = world.astype(np.float32).copy()
    expected[5, 0] = np.nan
    np.testing.assert_allclose(got, expected, atol=1e-3, equal_nan=True)
    assert np.nanmax(back["reprojection_error"].values) < 1e-2  # float32 pixels in the store
    assert np.isnan(back["reprojection_error"].values[5, 0, 0])


def test_triangulate_boxes_gives_centre_keypoint(rig):
    world = np.random.default_rng(4).uniform(-100, 100, size=(20, 2, 3))  # (time, individual, 3)
    pixels = rig.project(world)  # (view, time, individual, 2)
    centre = np.moveaxis(pixels, (0, -1), (-1, 1))
    ds = schema.make_boxes(centre, np.full(centre.shape, 10.0), fps=25.0, views=rig.names)
    out = triangulate_dataset(ds, rig).compute()
    assert list(out["keypoints"].values) == ["centre"]
    got = out["position"].isel(keypoints=0).transpose("time", "individuals", "space").values
    np.testing.assert_allclose(got, world, atol=1e-3)


def test_triangulate_dataset_rejects_unknown_view(rig, points):
    ds = _poses_dataset(rig, points[:10].reshape(5, 2, 1, 3))
    ds = ds.assign_coords(view=["cam0", "cam1", "elsewhere"])
    with pytest.raises(KeyError, match="elsewhere"):
        triangulate_dataset(ds, rig)
