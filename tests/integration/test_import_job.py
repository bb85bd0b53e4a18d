import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from deepbehavior import store
from deepbehavior.config import StoreConfig
from jobs.import_files import ImportJob
from deepbehavior.formats import load_file
from jobs.import_files import main

REPO = Path(__file__).resolve().parents[2]


def test_import_writes_complete_chunked_stores(shared_data, tmp_path, capsys):
    formats = shared_data / "deepbehavior-formats"
    sources = [str(formats / "tensorbox_predictions_stream.json"), str(formats / "darknet_ext_output.txt")]
    main.run(ImportJob(out=str(tmp_path), source=sources, fps=25.0, store=StoreConfig(chunk=8)))
    printed = capsys.readouterr().out
    for source in sources:
        name = Path(source).stem
        path = tmp_path / "stores" / f"{name}.zarr"
        assert str(path) in printed
        assert store.is_complete(path)
        opened = store.open_store(path)
        assert opened["position"].data.chunks[0] == (8, 8, 8, 6)
        expected = load_file(source, fps=25.0)
        xr.testing.assert_equal(opened[["position", "shape", "confidence"]].load(),
                                expected[["position", "shape", "confidence"]])
        assert opened.attrs["fps"] == 25.0 and opened.attrs["source_format"] == expected.attrs["source_format"]
        assert opened.attrs["provenance"]["inputs"][0]["path"] == str(Path(source).resolve())
    assert "30 frames, 1 individuals, 0 keypoints, 3.3% missing" in printed  # frame 8 of 30 has no box


def test_import_errors_are_user_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        main.run(ImportJob(out=str(tmp_path), source=str(tmp_path / "none.json")))
    with pytest.raises(ValueError, match="Expected format to be auto or one of"):
        main.run(ImportJob(out=str(tmp_path), source=str(tmp_path), format="matlab"))


def test_cli_imports_an_openpose_folder(shared_data, tmp_path):
    folder = shared_data / "deepbehavior-formats" / "openpose_cam1"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "import", f"out={tmp_path}",
                             f"source={folder}", "name=cam1", "+options.people=all"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "67 keypoints" in result.stdout
    ds = store.open_store(tmp_path / "stores" / "cam1.zarr")
    assert ds.sizes["keypoints"] == 67 and ds.sizes["time"] == 30
    assert np.isnan(ds["position"].isel(time=13).values).all()
    bad = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "import", f"out={tmp_path}",
                          f"source={folder}", "+options.colour=red"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Expected options of the openpose reader" in bad.stderr


def test_import_dlc_h5(shared_data, tmp_path):
    source = shared_data / "dlc-reaching" / "labeled-data" / "reachingvideo1" / "CollectedData_Mackenzie.h5"
    main.run(ImportJob(out=str(tmp_path), source=str(source), fps=30.0))
    opened = store.open_store(tmp_path / "stores" / "CollectedData_Mackenzie.zarr")
    table = pd.read_hdf(source)
    assert opened.attrs["source_format"] == "dlc" and opened.sizes["time"] == len(table)
    expected = table[("Mackenzie", "Hand", "x")].to_numpy()
    kp = next(d for d in opened["position"].dims if d.startswith("keypoint"))
    got = opened["position"].sel({kp: "Hand", "space": "x"}).values.reshape(len(table), -1)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_cli_joins_one_file_per_camera_into_one_store(shared_data, tmp_path):
    flies = shared_data / "sleap-flies"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run([sys.executable, "-m", "deepbehavior.cli", "import", f"out={tmp_path}",
                             f"sources={{front: {flies / 'centered_pair_predictions.slp'}, "
                             f"side: {flies / 'centered_pair_predictions.h5'}}}", "name=flies",
                             "+options.min_track_frames=100"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 view(s)" in result.stdout
    opened = store.open_store(tmp_path / "stores" / "flies.zarr")
    assert [str(v) for v in opened["view"].values] == ["front", "side"]
    for view, name in (("front", "centered_pair_predictions.slp"), ("side", "centered_pair_predictions.h5")):
        alone = load_file(flies / name, min_track_frames=100)
        np.testing.assert_array_equal(opened["position"].sel(view=view).values,
                                      alone["position"].values.reshape(opened["position"].sel(view=view).shape))


def test_cohort_template_imports_each_session_with_its_views(shared_data, tmp_path):
    labels = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    preds = tmp_path / "preds"
    preds.mkdir()
    for key in ("m1_d1", "m2_d1"):
        for view in ("top", "side"):
            (preds / f"{key}_{view}.csv").symlink_to(labels)
    manifest = tmp_path / "cohort.yaml"
    manifest.write_text("sessions:\n"
                        "  - {subject: m1, session: d1, videos: {top: v/m1_top.mp4, side: v/m1_side.mp4}}\n"
                        "  - {subject: m2, session: d1, videos: {top: v/m2_top.mp4, side: v/m2_side.mp4}}\n")
    main.run(ImportJob(out=str(tmp_path / "out"), cohort=str(manifest), source=str(preds / "{key}_{view}.csv"),
                       fps=30.0))
    alone = load_file(labels, fps=30.0)
    for key in ("m1_d1", "m2_d1"):
        opened = store.open_store(tmp_path / "out" / "stores" / f"{key}.zarr")
        assert [str(v) for v in opened["view"].values] == ["top", "side"] and opened.sizes["time"] == 116
        for view in ("top", "side"):
            got = opened["position"].sel(view=view).values
            np.testing.assert_array_equal(got, alone["position"].values.reshape(got.shape))
    with pytest.raises(FileNotFoundError, match=r"m1_d1_top\.slp"):
        main.run(ImportJob(out=str(tmp_path / "out2"), cohort=str(manifest), source=str(preds / "{key}_{view}.slp")))


def test_bad_values_are_refused_before_any_store(tmp_path):
    good = tmp_path / "a.csv"
    good.write_text("scorer,n,n,n\nbodyparts,paw,paw,paw\ncoords,x,y,likelihood\n0,1,2,0.5\n1,3,4,0.25\n")
    bad = tmp_path / "b.csv"
    bad.write_text("scorer,n,n,n\nbodyparts,paw,paw,paw\ncoords,x,y,likelihood\n0,1,2,0.5\n1,3,4,-12345\n")
    with pytest.raises(ValueError, match=r"b\.csv, confidence \(frame=1.*Expected finite values in \[0, 1\]"):
        main.run(ImportJob(out=str(tmp_path / "out"), source=[str(good), str(bad)]))
    assert not (tmp_path / "out" / "stores").exists()
