import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from deepbehavior import store
from deepbehavior.config import ImportJob, StoreConfig
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
