"""The compiled (numba) triangulation agrees with the NumPy reference, rule for rule."""

import numpy as np
import pytest

from deepbehavior.geometry import Camera, CameraGroup
from deepbehavior.geometry.triangulation import triangulate, triangulate_dataset

pytest.importorskip("numba")


def random_rig(rng: np.random.Generator, n_cameras: int, look_at) -> CameraGroup:
    """Cameras on a sphere around the origin with random intrinsics and 5-coefficient distortion."""
    cameras = []
    for i in range(n_cameras):
        direction = rng.normal(size=3)
        direction[2] = abs(direction[2]) + 0.3
        rvec, tvec = look_at(rng.uniform(800, 1500) * direction / np.linalg.norm(direction),
                             target=rng.uniform(-30, 30, size=3))
        f = rng.uniform(600, 1200)
        matrix = [[f, rng.uniform(-1, 1), rng.uniform(300, 340)], [0, f * rng.uniform(0.98, 1.02), rng.uniform(220, 260)],
                  [0, 0, 1]]
        dist = [rng.uniform(-0.3, 0.1), rng.uniform(-0.05, 0.1), rng.uniform(-2e-3, 2e-3), rng.uniform(-2e-3, 2e-3),
                rng.uniform(-0.02, 0.02)]
        cameras.append(Camera(name=f"c{i}", size=(640, 480), matrix=matrix, dist=dist, rvec=rvec, tvec=tvec))
    return CameraGroup(cameras)


def both(group, pixels, confidence=None, **options):
    fast = triangulate(group, pixels, confidence, engine="numba", **options)
    slow = triangulate(group, pixels, confidence, engine="numpy", **options)
    return fast, slow


def assert_same(fast, slow, scale):
    for a, b in zip(fast, slow):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        # the two sum the normal equations in different orders: ill-conditioned points (5 random
        # cameras, 2 px noise) differ by up to ~2e-9 of the scene
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8 * scale, equal_nan=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_cameras", [2, 3, 5])
def test_kernel_agrees_with_numpy_on_random_rigs(seed, n_cameras, pose_factory):
    rng = np.random.default_rng(seed * 10 + n_cameras)
    group = random_rig(rng, n_cameras, pose_factory)
    points = rng.uniform(-150, 150, size=(500, 3))
    pixels = group.project(points) + rng.normal(scale=2.0, size=(n_cameras, 500, 2))
    confidence = rng.uniform(0, 1, size=(n_cameras, 500))
    confidence[rng.random(confidence.shape) < 0.1] = 0.0  # zero weights
    confidence[rng.random(confidence.shape) < 0.05] = np.nan  # NaN confidence: view unused
    pixels[rng.random(confidence.shape) < 0.1] = np.nan  # views that did not see the point
    pixels[:, :5] = np.nan  # seen by nobody
    pixels[1:, 5:10] = np.nan  # by one camera only
    for options in ({}, {"min_confidence": 0.3}, {"refine": 0}, {"refine": 3}):
        fast, slow = both(group, pixels, confidence, **options)
        assert_same(fast, slow, scale=150.0)
        assert np.isnan(fast[0][:10]).all()
    # without confidence every finite view weighs 1
    assert_same(*both(group, pixels), scale=150.0)
    # robust mode: the consensus kernel chooses the same views as the NumPy reference
    pixels[0, 20:60] += 80.0
    if n_cameras >= 3:
        assert_same(*both(group, pixels, confidence, method="robust", max_error=10.0), scale=150.0)


def test_kernel_keeps_first_solution_for_point_behind_a_camera(rig):
    group = rig
    # a point seen by cameras 0 and 1 but lying behind camera 2 (unused): no depth reweighting
    behind = group.cameras[2].centre * 1.5
    pixels = group.project(behind[None])
    pixels[2] = np.nan
    pixels[:2] += np.array([[[0.7, -0.4]], [[-0.3, 0.5]]])
    fast, slow = both(group, pixels)
    assert np.isfinite(fast[0]).all()
    assert_same(fast, slow, scale=3000.0)
    assert np.isnan(fast[1][2]).all()


def test_kernel_falls_back_where_newton_cannot_invert_the_distortion(pose_factory):
    # k1 = -0.5 folds the lens: distorted radii above ~0.54 have no preimage near the centre
    cams = [Camera(name=f"c{i}", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]],
                   dist=[-0.5, 0.0, 0.0, 0.0, 0.0], rvec=rvec, tvec=tvec)
            for i, (rvec, tvec) in enumerate(pose_factory([1000 * np.cos(a), 1000 * np.sin(a), 300.0]) for a in (0.0, 1.5))]
    group = CameraGroup(cams)
    pixels = np.array([[[320.0 + 0.8 * 800, 240.0], [330.0, 250.0]], [[300.0, 200.0], [310.0, 230.0]]])
    fast, slow = both(group, pixels)
    assert_same(fast, slow, scale=1000.0)


def test_kernel_with_rational_model_uses_opencv_for_that_camera(rig):
    group = rig
    rational = group.cameras[1].replace(dist=[-0.2, 0.05, 0.001, -0.0005, 0.01, 0.02, 0.0, 0.0])
    group = CameraGroup([group.cameras[0], rational, group.cameras[2]])
    points = np.random.default_rng(5).uniform(-150, 150, size=(300, 3))
    pixels = group.project(points)
    fast, slow = both(group, pixels)
    assert_same(fast, slow, scale=150.0)
    np.testing.assert_allclose(fast[0], points, atol=1e-6 * 150)
    assert np.nanmax(fast[1]) < 1e-6


def test_kernel_runs_in_worker_threads_of_dask(rig):
    # Dask's threads call the serial variant; the result must equal the main-thread call
    from deepbehavior import schema

    group = rig
    world = np.random.default_rng(6).uniform(-100, 100, size=(300, 2, 1, 3))
    position = np.moveaxis(group.project(world), (0, -1), (-1, 1))
    ds = schema.make_poses(position, fps=30.0, views=group.names, keypoints=["a", "b"])
    fast = triangulate_dataset(ds, group, chunk=64, engine="numba").compute()
    slow = triangulate_dataset(ds, group, chunk=64, engine="numpy").compute()
    np.testing.assert_allclose(fast["position"].values, slow["position"].values, atol=1e-4)
    np.testing.assert_allclose(fast["position"].transpose("time", "keypoints", "individuals", "space"),
                               world, atol=1e-3)


def test_unknown_engine_is_rejected(rig):
    with pytest.raises(ValueError, match="engine"):
        triangulate(rig, np.zeros((3, 1, 2)), engine="fortran")


def test_kernel_views_used_and_threads_agree_with_numpy(pose_factory, monkeypatch):
    # store-shaped input: several blocks of points, views missing (NaN), low confidences dropped;
    # the views the kernel reports as used are those the NumPy reference uses, and spreading the
    # blocks over threads changes nothing
    from deepbehavior.geometry import _kernels
    from deepbehavior.geometry.triangulation import triangulate_diagnostics

    rng = np.random.default_rng(11)
    group = random_rig(rng, 4, pose_factory)
    n = 3 * _kernels.BLOCK + 17
    points = rng.uniform(-150, 150, size=(n, 3))
    pixels = group.project(points) + rng.normal(scale=1.0, size=(4, n, 2))
    pixels[rng.random((4, n)) < 0.2] = np.nan
    confidence = rng.uniform(0, 1, size=(4, n))
    options = {"min_confidence": 0.2, "errors": True}
    fast = triangulate_diagnostics(group, pixels, confidence, engine="numba", **options)
    slow = triangulate_diagnostics(group, pixels, confidence, engine="numpy", **options)
    assert_same(fast[:2], slow[:2], scale=150.0)
    np.testing.assert_array_equal(fast[2], slow[2])
    # without noise, the true points wherever at least two views are left
    enough = slow[2].sum(axis=0) >= 2
    assert enough.mean() > 0.8
    exact = np.where(np.isnan(pixels), np.nan, group.project(points))
    found = triangulate_diagnostics(group, exact, confidence, engine="numba", **options)[0]
    np.testing.assert_allclose(found[enough], points[enough], atol=1e-6 * 150)
    assert np.isnan(found[~enough]).all()
    monkeypatch.setattr(_kernels, "PARALLEL_MIN_POINTS", 0)
    threaded = triangulate_diagnostics(group, pixels, confidence, engine="numba", **options)
    for a, b in zip(threaded, fast):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dist", [[-0.3, 0.1, 1e-3, -1e-3, -0.02],  # strong barrel: some points need the scalar finish
                                  [-0.08, 0.02, 3e-4, -2e-4, 0.0],  # an ordinary lens: two Newton steps everywhere
                                  [0.1, -0.05, 2e-3, 2e-3, 0.02]])  # pincushion
def test_kernel_recovers_noise_free_points_across_the_image(pose_factory, dist):
    """Known answer: noise-free pixels out to the image corners give back the true points (the
    undistortion's start and convergence test may not cost precision anywhere in the image)."""
    from deepbehavior.geometry import _kernels
    from deepbehavior.geometry.triangulation import _kernel_cameras

    cams = [Camera(name=f"c{i}", size=(640, 480), matrix=[[800, 0, 320], [0, 800, 240], [0, 0, 1]], dist=dist,
                   rvec=rvec, tvec=tvec)
            for i, (rvec, tvec) in enumerate(pose_factory([1000 * np.cos(a), 1000 * np.sin(a), 300.0])
                                             for a in (0.0, 2.1, 4.2))]
    group = CameraGroup(cams)
    truth = np.random.default_rng(3).uniform(-280, 280, size=(4000, 3))
    pixels = group.project(truth)
    # the points fill each image out to its corners (normalized radius up to ~0.5)
    radius = np.linalg.norm(group.undistort(pixels), axis=-1)
    assert radius.max() > 0.45
    intrinsics, distortion, ext, _, terms = _kernel_cameras(group)
    points, _, _, status = _kernels.triangulate_views(pixels, None, intrinsics, distortion, ext, terms)
    assert (status == _kernels.OK).all()
    np.testing.assert_allclose(points, truth, rtol=0, atol=1e-9 * 280)
