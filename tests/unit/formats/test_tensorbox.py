import json

import numpy as np
import pytest
import xarray as xr

from deepbehavior.formats import load_file
from deepbehavior.formats.tensorbox import read_tensorbox


def paw(i):
    """The closed-form paw of the samples at frame i: its centre in the data model's pixels, half a
    pixel less than in the files (TensorBox puts (0, 0) at the top-left pixel's corner, the data
    model at its centre)."""
    i = np.asarray(i, dtype=float)
    return 320 + 100 * np.cos(i / 5) - 0.5, 240 + 60 * np.sin(i / 5) - 0.5


@pytest.mark.parametrize("name", ["tensorbox_predictions_array.json", "tensorbox_predictions_stream.json"])
def test_predictions_follow_the_closed_form(formats_dir, name):
    ds = read_tensorbox(formats_dir / name, fps=30)
    n = ds.sizes["time"]
    assert ds.sizes["individuals"] == 1 and ds.attrs["individuals_are"] == "slots"
    np.testing.assert_array_equal(ds["frame"].values, np.arange(n))
    x, y = paw(np.arange(n))
    seen = np.ones(n, bool)
    seen[8] = False  # "no detection"
    pos = ds["position"].values[:, :, 0]
    np.testing.assert_allclose(pos[seen, 0], x[seen], atol=0.1)
    np.testing.assert_allclose(pos[seen, 1], y[seen], atol=0.1)
    np.testing.assert_allclose(ds["shape"].values[seen, :, 0], np.tile([40, 30], (seen.sum(), 1)), atol=0.11)
    assert np.isnan(pos[8]).all() and np.isnan(ds["shape"].values[8]).all()
    conf = ds["confidence"].values[:, 0]
    assert conf[7] == pytest.approx(0.42) and np.isnan(conf[8])
    np.testing.assert_allclose(np.delete(conf, [7, 8]), 0.999, rtol=1e-6)


def test_array_and_stream_variants_agree(formats_dir):
    a = load_file(formats_dir / "tensorbox_predictions_array.json")
    b = load_file(formats_dir / "tensorbox_predictions_stream.json")
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert a.attrs["source_format"] == b.attrs["source_format"] == "tensorbox"


def test_labels_over_images(formats_dir):
    ds = read_tensorbox(formats_dir / "tensorbox_labels.json")
    paths = ds.attrs["image_paths"]
    frames = np.array([int(p[-9:-4]) for p in paths])
    np.testing.assert_array_equal(frames, np.arange(0, 30, 3))
    np.testing.assert_array_equal(ds["frame"].values, np.arange(len(paths)))
    x, y = paw(frames)
    np.testing.assert_allclose(ds["position"].values[:, 0, 0], x, atol=0.1)
    np.testing.assert_allclose(ds["position"].values[:, 1, 0], y, atol=0.1)
    assert (ds["confidence"].values == 1).all()


def test_json_work_progress_file_reads_like_the_array(formats_dir, tmp_path):
    records = json.loads((formats_dir / "tensorbox_labels.json").read_text())
    work = tmp_path / "labels.json_work"
    work.write_text("".join(json.dumps(r, indent=1) for r in records))
    a = read_tensorbox(formats_dir / "tensorbox_labels.json")
    b = load_file(work)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


def _record(frame, x1=1.0, score=0.9):
    return {"frame_number": f"pict{frame:05d}.png",
            "coordinates": [{"y1": 2.0, "x2": x1 + 4, "x1": x1, "y2": 6.0, "score": score}]}


def test_several_boxes_and_frame_numbers_from_names(tmp_path):
    recs = [_record(5), _record(3)]
    recs[0]["coordinates"].append({"x1": 10, "y1": 10, "x2": 20, "y2": 30, "score": 0.5})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(recs))
    ds = read_tensorbox(path)
    np.testing.assert_array_equal(ds["frame"].values, [3, 5])
    assert ds.sizes["individuals"] == 2
    # x 10..20, y 10..30 from the corner: pixels 10-19 and 10-29, whose middle is at (14.5, 19.5)
    np.testing.assert_allclose(ds["position"].values[1, :, 1], [14.5, 19.5])
    np.testing.assert_allclose(ds["shape"].values[1, :, 1], [10, 20])
    assert np.isnan(ds["position"].values[0, :, 1]).all()


def test_stream_with_a_broken_object_names_the_line(tmp_path):
    path = tmp_path / "s.json"
    good = json.dumps(_record(0), indent=1)
    path.write_text(good + '{\n "frame_number": "pict00001.png",\n "coordinates": [ {"x1": 1,, }]\n}' + good)
    with pytest.raises(ValueError, match=r"s\.json, line 1[0-9]"):
        read_tensorbox(path)


def test_missing_field_names_object_and_field(tmp_path):
    rec = _record(1)
    del rec["coordinates"][0]["x1"]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_record(0)) + json.dumps(rec))
    with pytest.raises(ValueError, match=r"object 1 .*box 0.*Expected a field 'x1'"):
        read_tensorbox(path)


def test_not_a_prediction_is_an_error(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"frame_number": "a.png", "rects": []}]))
    with pytest.raises(ValueError, match=r"object 0 \(line 1\).*Expected a prediction"):
        read_tensorbox(path)


def test_truncated_last_object_is_dropped_with_a_warning(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(_record(0)) + json.dumps(_record(1))[:25])
    with pytest.warns(UserWarning, match="incomplete"):
        ds = read_tensorbox(path)
    assert ds.sizes["time"] == 1
