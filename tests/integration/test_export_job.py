"""deepbehavior export: stores written by import, read back by movement and sleap-io."""

import warnings

import numpy as np
import pandas as pd
import pytest

from deepbehavior import store
from jobs.export import ExportJob
from jobs.import_files import ImportJob
from jobs.export import main as export
from jobs.import_files import main as import_files


@pytest.fixture(scope="module")
def stores(shared_data, tmp_path_factory):
    """Two sessions of a cohort (the open-field labels as 'predictions'), and a two-camera store."""
    root = tmp_path_factory.mktemp("export")
    labels = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.h5"
    manifest = root / "cohort.yaml"
    manifest.write_text("sessions:\n  - {subject: m1, session: d1, videos: {top: v/a.mp4}}\n"
                        "  - {subject: m2, session: d1, videos: {top: v/b.mp4}}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import_files.run(ImportJob(out=str(root), cohort=str(manifest), source=str(labels), fps=30.0))
        flies = shared_data / "sleap-flies"
        import_files.run(ImportJob(out=str(root), name="flies", fps=30.0, options={"min_track_frames": 100},
                                   sources={"front": str(flies / "centered_pair_predictions.slp"),
                                            "side": str(flies / "centered_pair_predictions.h5")}))
    return root, manifest, labels


def test_cohort_to_dlc_reads_back_in_movement(stores, tmp_path):
    from movement.io import load_poses

    root, manifest, labels = stores
    export.run(ExportJob(out=str(tmp_path), format="dlc", cohort=str(manifest), stores=str(root / "stores")))
    truth = pd.read_hdf(labels)
    for key in ("m1_d1", "m2_d1"):
        ds = load_poses.from_dlc_file(tmp_path / f"{key}.csv", fps=30)
        np.testing.assert_allclose(ds["position"].sel(keypoints="snout", space="x").values[:, 0],
                                   truth[("Pranav", "snout", "x")].to_numpy(), rtol=1e-6)


def test_multi_camera_store_to_sleap_and_nwb_one_file_per_camera(stores, tmp_path):
    import sleap_io as sio
    from movement.io import load_poses

    root, _, _ = stores
    path = root / "stores" / "flies.zarr"
    opened = store.open_store(path)
    export.run(ExportJob(out=str(tmp_path), format="sleap", store=str(path)))
    export.run(ExportJob(out=str(tmp_path), format="sleap", store=str(path), sleap_suffix=".h5"))
    for view in ("front", "side"):
        ours = opened["position"].sel(view=view).values  # (time, space, keypoint, individual)
        labels = sio.load_slp(str(tmp_path / f"flies_{view}.slp"), open_videos=False)
        assert [t.name for t in labels.tracks] == ["1", "2"]
        arr = labels.numpy()  # (frame, track, node, xy)
        np.testing.assert_allclose(arr.transpose(0, 3, 2, 1), ours.reshape(arr.transpose(0, 3, 2, 1).shape),
                                   rtol=1e-6)
        analysis = load_poses.from_sleap_file(tmp_path / f"flies_{view}.h5", fps=30)
        np.testing.assert_allclose(analysis["position"].values, ours.reshape(analysis["position"].shape), rtol=1e-6)
    with pytest.raises(FileExistsError, match="flies_front.slp"):
        export.run(ExportJob(out=str(tmp_path), format="sleap", store=str(path)))


def test_openpose_and_csv_exports(stores, tmp_path):
    root, _, _ = stores
    path = root / "stores" / "m1_d1.zarr"
    export.run(ExportJob(out=str(tmp_path), format="csv", store=str(path)))
    table = pd.read_csv(tmp_path / "m1_d1.table.csv")
    assert list(table.columns) == ["frame", "time_s", "individual", "keypoint", "x", "y", "confidence"]
    assert len(table) == 116 * 4
    np.testing.assert_allclose(table["time_s"].to_numpy()[::4], np.arange(116) / 30)
    export.run(ExportJob(out=str(tmp_path), format="openpose", store=str(path)))
    assert len(list((tmp_path / "m1_d1_openpose").glob("m1_d1_*_keypoints.json"))) == 116


def test_export_errors(stores, tmp_path):
    root, _, _ = stores
    with pytest.raises(ValueError, match="Expected format .*dlc, sleap.*, but got 'matlab'"):
        export.run(ExportJob(out=str(tmp_path), format="matlab", store="x"))
    with pytest.raises(FileNotFoundError, match="Expected a Zarr store at .*none.zarr"):
        export.run(ExportJob(out=str(tmp_path), format="dlc", store=str(tmp_path / "none.zarr")))
