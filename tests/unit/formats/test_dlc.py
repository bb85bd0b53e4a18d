import numpy as np
import pandas as pd
import pytest

from deepbehavior.formats import load_file
from deepbehavior.formats.dlc import read_dlc


def test_openfield_labels_match_pandas(shared_data):
    path = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    ds = load_file(path)
    table = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    assert ds.attrs["source_format"] == "dlc" and ds.attrs["scorer"] == "Pranav"
    assert list(ds["keypoints"].values) == ["snout", "leftear", "rightear", "tailbase"]
    assert ds.sizes["time"] == 116 and ds.sizes["individuals"] == 1
    assert ds.attrs["image_paths"] == list(table.index)
    for part in ds["keypoints"].values:
        for axis in ("x", "y"):
            expected = table[("Pranav", part, axis)].to_numpy()
            np.testing.assert_allclose(ds["position"].sel(keypoints=part, space=axis).values[:, 0], expected,
                                       rtol=1e-6)
    assert (ds["confidence"].values == 1).all()


def test_reaching_labels_keep_missing_points_missing(shared_data):
    path = shared_data / "dlc-reaching" / "labeled-data" / "reachingvideo1" / "CollectedData_Mackenzie.csv"
    ds = read_dlc(path)
    table = pd.read_csv(path, header=[0, 1, 2], index_col=0)
    expected = table[("Mackenzie", "Tongue", "x")].isna().to_numpy()
    assert expected.any()
    np.testing.assert_array_equal(np.isnan(ds["position"].sel(keypoints="Tongue", space="x").values[:, 0]), expected)
    np.testing.assert_array_equal(np.isnan(ds["confidence"].sel(keypoints="Tongue").values[:, 0]), expected)


MULTI = """scorer,,,me,me,me,me,me,me
individuals,,,mus1,mus1,mus1,mus2,mus2,mus2
bodyparts,,,nose,nose,nose,nose,nose,nose
coords,,,x,y,likelihood,x,y,likelihood
labeled-data,v1,img001.png,1.5,2.5,0.9,10,20,0.8
labeled-data,v1,img002.png,,,,11,21,0.7
"""


def test_multi_animal_with_three_index_columns(tmp_path):
    path = tmp_path / "CollectedData_me.csv"
    path.write_text(MULTI)
    ds = read_dlc(path)
    assert list(ds["individuals"].values) == ["mus1", "mus2"] and list(ds["keypoints"].values) == ["nose"]
    assert ds.attrs["image_paths"] == ["labeled-data/v1/img001.png", "labeled-data/v1/img002.png"]
    np.testing.assert_allclose(ds["position"].values[0, :, 0, :], [[1.5, 10], [2.5, 20]])
    np.testing.assert_allclose(ds["confidence"].values[:, 0, :], [[0.9, 0.8], [np.nan, 0.7]])


def test_predictions_indexed_by_frame_number(tmp_path):
    path = tmp_path / "videoDLC_resnet50.csv"
    path.write_text("scorer,net,net,net\nbodyparts,paw,paw,paw\ncoords,x,y,likelihood\n"
                    "0,1,2,0.5\n1,3,4,0.25\n2,5,6,1.0\n")
    ds = read_dlc(path, fps=100)
    np.testing.assert_array_equal(ds["frame"].values, [0, 1, 2])
    np.testing.assert_allclose(ds["position"].values[:, :, 0, 0], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_allclose(ds["confidence"].values[:, 0, 0], [0.5, 0.25, 1.0])
    assert "image_paths" not in ds.attrs and ds.attrs["fps"] == 100


def test_malformed_cell_names_line_and_column(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(MULTI.replace("11,21", "11,abc"))
    with pytest.raises(ValueError, match=r"c\.csv, line 6, column 8 \(mus2 nose y\): Expected a number, but got abc"):
        read_dlc(path)


def test_missing_header_row(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("scorer,a,a\nframe,x,y\n0,1,2\n")
    with pytest.raises(ValueError, match=r"c\.csv, line 2: Expected a 'bodyparts' header row"):
        read_dlc(path)
