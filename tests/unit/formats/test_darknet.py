import numpy as np
import pytest
import xarray as xr

from deepbehavior.formats import SOCIAL_CLASSES, load_file
from deepbehavior.formats.darknet import read_darknet


def bodies(i):
    """Closed-form body centres (pixels) of the two mice at frame i: opposite points of one ellipse."""
    th = np.asarray(i, dtype=float) / 8
    return (200 + 150 * np.cos(th), 240 + 100 * np.sin(th)), (200 - 150 * np.cos(th), 240 - 100 * np.sin(th))


@pytest.fixture(scope="module", params=["darknet_bounding_box.txt", "darknet_ext_output.txt"])
def social(request, shared_data):
    return read_darknet(shared_data / "deepbehavior-formats" / request.param, class_names=SOCIAL_CLASSES)


def test_both_layouts_read_the_same(formats_dir):
    a = load_file(formats_dir / "darknet_bounding_box.txt")
    b = load_file(formats_dir / "darknet_ext_output.txt")
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


def test_bodies_follow_the_closed_form(social):
    n = social.sizes["time"]
    assert n == 30
    (x1, y1), (x2, y2) = bodies(np.arange(n))
    body = social["position"].sel(individuals="body.0").values
    mini = social["position"].sel(individuals="body_mini.0").values
    np.testing.assert_allclose(body, np.stack([x1, y1], 1), atol=1.0)
    np.testing.assert_allclose(mini, np.stack([x2, y2], 1), atol=1.0)
    np.testing.assert_array_equal(social["shape"].sel(individuals="body.0").values, 60)


@pytest.mark.parametrize("mouse", ["", "_mini"])
def test_parts_sit_at_their_distance_ahead_or_behind(social, mouse):
    th = np.arange(social.sizes["time"]) / 8
    sign = 1 if not mouse else -1
    forward = np.stack([-150 * np.sin(th), 100 * np.cos(th)], 1) * sign  # direction of motion
    forward /= np.linalg.norm(forward, axis=1, keepdims=True)
    body = social["position"].sel(individuals=f"body{mouse}.0").values
    for part, distance, ahead in (("head", 35, True), ("nose", 50, True), ("tail", 45, False)):
        offset = social["position"].sel(individuals=f"{part}{mouse}.0").values - body
        ok = ~np.isnan(offset).any(axis=1)
        np.testing.assert_allclose(np.linalg.norm(offset[ok], axis=1), distance, atol=1.6)
        along = (offset[ok] * forward[ok]).sum(axis=1)
        assert (along > 0.9 * distance).all() if ahead else (along < -0.9 * distance).all()


def test_missing_tails_and_confidences(social):
    tails = social["position"].sel(individuals=["tail.0", "tail_mini.0"]).values
    missing = np.isnan(tails).any(axis=(1, 2))
    np.testing.assert_array_equal(np.flatnonzero(missing), [11])
    i = np.arange(30)
    np.testing.assert_allclose(social["confidence"].sel(individuals="body.0").values, (90 + i % 10) / 100)
    np.testing.assert_allclose(social["confidence"].sel(individuals="nose_mini.0").values,
                               (90 + (i + 1) % 10) / 100)
    np.testing.assert_array_equal(social["class_index"].sel(individuals="head_mini.0").values,
                                  SOCIAL_CLASSES.index("head_mini"))
    assert social.attrs["class_names"] == list(SOCIAL_CLASSES)


FRAME = "\x1b[2J\x1b[1;1H\nFPS:20.0\nObjects:\n\n"


def test_extra_instances_keep_the_most_probable(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text("layer 1 conv\n" + FRAME
                    + "body: 50% \t(left_x: 0 top_y: 0 width: 10 height: 10)\n"
                    + "body: 80% \t(left_x: 100 top_y: 0 width: 10 height: 20)\n"
                    + "body: 70%, nose: 30% \t(left_x: 200 top_y: 0 width: 10 height: 10)\n"
                    + FRAME)
    ds = read_darknet(path, max_per_class=2)
    assert list(ds["individuals"].values) == ["body.0", "body.1", "nose.0"]
    # left 100, width 10 covers pixels 100-109: their middle is 104.5 (darknet's origin is the corner)
    np.testing.assert_allclose(ds["position"].values[0, 0, :], [104.5, 204.5, 204.5])
    np.testing.assert_allclose(ds["confidence"].values[0, :], [0.8, 0.7, 0.3])
    assert ds.attrs["dropped_detections"] == 1
    assert np.isnan(ds["position"].values[1]).all()


def test_class_lines_share_the_following_box(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text(FRAME + "head: 60%\r\nnose: 40%\r\nBounding Box: Left=10, Top=20, Right=30, Bottom=60\r\n")
    ds = read_darknet(path)
    # Left=10, Right=30 (corner origin) covers pixels 10-29, centred at 19.5; Top=20, Bottom=60 at 39.5
    np.testing.assert_allclose(ds["position"].values[0, :, :], [[19.5, 19.5], [39.5, 39.5]])
    np.testing.assert_allclose(ds["shape"].values[0, :, :], [[20, 20], [40, 40]])


@pytest.mark.parametrize("body, message", [
    ("body: 90%\n\n", r"line 5: Expected a 'Bounding Box:' line after 'body'"),
    ("garbage here\n", r"line 5: Expected 'class: NN%'"),
    ("body: 90% \t(left_x: 1 top_y: 2 width: 3)\n", r"line 5: Expected box fields left_x, top_y, width, height"),
    ("Bounding Box: Left=1, Top=2, Right=3, Bottom=4\n", r"line 5: Expected a 'class: NN%' line before"),
])
def test_malformed_lines_are_named(tmp_path, body, message):
    path = tmp_path / "d.txt"
    path.write_text(FRAME + body)
    with pytest.raises(ValueError, match=message):
        read_darknet(path)


def test_unknown_class_and_no_frames_are_errors(tmp_path):
    path = tmp_path / "d.txt"
    path.write_text(FRAME + "cat: 90% (left_x: 1 top_y: 2 width: 3 height: 4)\n")
    with pytest.raises(ValueError, match=r"Expected classes among .*but got \['cat'\]"):
        read_darknet(path, class_names=SOCIAL_CLASSES)
    path.write_text("nothing\n")
    with pytest.raises(ValueError, match="Expected darknet frame blocks"):
        read_darknet(path)
