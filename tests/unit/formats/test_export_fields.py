"""Exports keep what DeepLabCut, SLEAP and NWB users expect, field by field, read back with those tools' own
readers (sleap-io, pynwb with ndx-pose, pandas as DeepLabCut reads its tables) from stores made of the real
files in ../shared/data: skeleton edges, keypoint order, the video, tracks, NWB identifiers, subject,
session and start time, DeepLabCut's single- and multi-animal layouts, and the names of the files written.

Ground truth is the source file as its own tool reads it (sleap-io on the SLEAP file, pandas on the
DeepLabCut CSV) or a fact of the file (the creation time in the video's MP4 header).
"""

from __future__ import annotations

import datetime
import struct
import uuid
import warnings

import numpy as np
import pandas as pd
import pytest

from deepbehavior import store
from deepbehavior.formats import load_file
from deepbehavior.formats.exporting import export_dataset
from deepbehavior.formats.importing import write_store


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def flies(shared_data):
    return shared_data / "sleap-flies"


@pytest.fixture(scope="module")
def flies_store(flies, tmp_path_factory):
    """The two long tracks of the SLEAP flies, imported as ``import`` does (its video named), in a store
    with the subject and session attributes ``infer`` gives its stores."""
    ds = load_file(flies / "centered_pair_predictions.slp", fps=15, min_track_frames=100)
    path = tmp_path_factory.mktemp("stores") / "fly_pair_s1.zarr"
    write_store(ds, path, chunk=500, attrs={"video": str(flies / "centered_pair_low_quality.mp4"),
                                            "subject": "pair7", "session": "pair7_s1", "group": "wt"})
    return store.open_store(path)


@pytest.fixture(scope="module")
def original(flies):
    import sleap_io as sio

    return sio.load_slp(str(flies / "centered_pair_predictions.slp"), open_videos=False)


def _edges(skeleton) -> list[tuple[str, str]]:
    return [(e.source.name, e.destination.name) for e in skeleton.edges]


@pytest.mark.parametrize("suffix", [".slp", ".h5"])
def test_sleap_export_keeps_skeleton_edges_node_order_video_and_tracks(flies_store, original, flies, tmp_path,
                                                                       suffix):
    import sleap_io as sio

    (path,) = export_dataset(flies_store, tmp_path, name="pair", format="sleap", suffix=suffix)
    back = sio.load_file(str(path), open_videos=False)
    skeleton, source = back.skeletons[0], original.skeletons[0]
    assert len(source.edges) == 23
    assert [n.name for n in skeleton.nodes] == [n.name for n in source.nodes]  # SLEAP's order, not sorted
    assert _edges(skeleton) == _edges(source)
    assert back.videos[0].filename == str(flies / "centered_pair_low_quality.mp4")
    assert [t.name for t in back.tracks] == ["1", "2"]
    # positions of track "2" in frame 10, against sleap-io's reading of the original file
    ours = back.numpy(return_confidence=False)
    theirs = original.numpy(return_confidence=False)
    track = [t.name for t in original.tracks].index("2")
    np.testing.assert_allclose(ours[10, 1], theirs[10, track], rtol=1e-6)


def test_sleap_export_of_a_store_without_a_video_names_none(flies, tmp_path):
    import sleap_io as sio

    ds = load_file(flies / "centered_pair_predictions.slp", fps=15, min_track_frames=100)
    del ds.attrs["video"]
    (path,) = export_dataset(ds, tmp_path, name="pair", format="sleap")
    # never a made-up video.mp4 that could be mistaken for a real one
    assert sio.load_file(str(path), open_videos=False).videos[0].filename == "video-not-recorded-in-store.mp4"
    (path,) = export_dataset(ds, tmp_path, name="pair", format="sleap", suffix=".h5")
    import h5py

    with h5py.File(path) as f:
        assert f["video_path"][()] in (b"", "")


def _mvhd_creation_time(video) -> datetime.datetime:
    """The creation time in an MP4's movie header, found by searching its bytes (independently of the
    box walk of formats.nwb)."""
    data = video.read_bytes()
    at = data.index(b"mvhd") + 4
    version = data[at]
    seconds = struct.unpack(">Q" if version else ">I", data[at + 4:at + (12 if version else 8)])[0]
    return datetime.datetime(1904, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=seconds)


def test_nwb_export_has_unique_identifiers_subject_session_start_time_and_the_skeleton(flies_store, original,
                                                                                     flies, tmp_path):
    from pynwb import NWBHDF5IO

    written = export_dataset(flies_store, tmp_path, name="pair", format="nwb")
    assert written == [tmp_path / "pair_1.nwb", tmp_path / "pair_2.nwb"]
    assert sorted(tmp_path.iterdir()) == written  # the files named are the files written
    start = _mvhd_creation_time(flies / "centered_pair_low_quality.mp4")
    assert start.year == 2019  # the header holds a real time (2019-03-22), not 0
    identifiers = []
    for path, individual in zip(written, ["1", "2"]):
        with NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            identifiers.append(nwb.identifier)
            prefix, _, unique = nwb.identifier.rpartition("_")
            assert prefix == f"pair7_s1_{individual}"
            uuid.UUID(unique)  # unique, not the individual's name
            assert nwb.subject.subject_id == f"pair7_{individual}"
            assert nwb.session_id == "pair7_s1"
            assert nwb.session_start_time == start
            assert "creation time" in nwb.notes
            assert str(flies / "centered_pair_low_quality.mp4") in nwb.session_description
            (estimation,) = [v for v in nwb.processing["behavior"].data_interfaces.values()
                             if type(v).__name__ == "PoseEstimation"]
            assert list(estimation.original_videos[:]) == [str(flies / "centered_pair_low_quality.mp4")]
            nodes = [str(n) for n in estimation.skeleton.nodes[:]]
            assert nodes == [n.name for n in original.skeletons[0].nodes]
            pairs = [(nodes[a], nodes[b]) for a, b in estimation.skeleton.edges[:]]
            assert pairs == _edges(original.skeletons[0])
            assert estimation.skeleton.subject.subject_id == nwb.subject.subject_id
    assert len(set(identifiers)) == 2
    again = load_file(written[0], fps=15)
    assert [str(k) for k in again["keypoints"].values] == [n.name for n in original.skeletons[0].nodes]
    assert [str(i) for i in again["individuals"].values] == ["pair7_1"]


def test_nwb_start_time_is_stated_unknown_when_the_recording_does_not_record_it(shared_data, tmp_path):
    from pynwb import NWBHDF5IO

    video = shared_data / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
    assert _mvhd_creation_time(video).year == 1904  # its header's creation time is 0: not recorded
    ds = load_file(shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv", fps=30)
    ds.attrs["video"] = str(video)
    (path,) = export_dataset(ds, tmp_path, name="m4s1", format="nwb")
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        assert nwb.session_start_time == datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        assert "unknown" in nwb.notes
        assert nwb.subject.subject_id == "individual0" and nwb.session_id == "m4s1"


@pytest.mark.parametrize("suffix", [".csv", ".h5"])
def test_one_animal_exports_as_deeplabcut_single_animal_table(shared_data, tmp_path, suffix):
    source = shared_data / "dlc-openfield" / "labeled-data" / "m4s1" / "CollectedData_Pranav.csv"
    truth = pd.read_csv(source, header=[0, 1, 2], index_col=0)  # DeepLabCut's own reading
    ds = load_file(source, fps=30)
    (path,) = export_dataset(ds, tmp_path, name="m4s1", format="dlc", suffix=suffix)
    table = pd.read_csv(path, header=[0, 1, 2], index_col=0) if suffix == ".csv" else pd.read_hdf(path)
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]
    parts = list(dict.fromkeys(table.columns.get_level_values("bodyparts")))
    assert parts == list(dict.fromkeys(truth.columns.get_level_values("bodyparts"))) == \
        ["snout", "leftear", "rightear", "tailbase"]
    assert list(dict.fromkeys(table.columns.get_level_values("coords"))) == ["x", "y", "likelihood"]
    # label rows are images; their frame numbers are the exported rows
    rows = np.asarray(ds["frame"].values)
    for part in parts:
        for axis in "xy":
            np.testing.assert_allclose(table.xs((part, axis), level=["bodyparts", "coords"], axis=1).iloc[rows, 0],
                                       truth.xs((part, axis), level=["bodyparts", "coords"], axis=1).iloc[:, 0],
                                       rtol=1e-6)


def test_several_animals_export_as_deeplabcut_multi_animal_table(flies_store, tmp_path):
    (path,) = export_dataset(flies_store, tmp_path, name="pair", format="dlc")
    table = pd.read_csv(path, header=[0, 1, 2, 3], index_col=0)
    assert list(table.columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    assert list(dict.fromkeys(table.columns.get_level_values("individuals"))) == ["1", "2"]
    assert list(dict.fromkeys(table.columns.get_level_values("bodyparts"))) == \
        [str(k) for k in flies_store["keypoints"].values]


def test_lightning_pose_export_names_the_files_it_writes(flies_store, tmp_path):
    written = export_dataset(flies_store, tmp_path, name="pair", format="lightning_pose")
    assert written == [tmp_path / "pair_1.csv", tmp_path / "pair_2.csv"]
    assert sorted(tmp_path.iterdir()) == written
    one = export_dataset(flies_store.isel(individuals=[0]), tmp_path / "one", name="pair", format="lightning_pose")
    assert one == [tmp_path / "one" / "pair.csv"] and one[0].is_file()
    table = pd.read_csv(one[0], header=[0, 1, 2], index_col=0)
    assert list(table.columns.names) == ["scorer", "bodyparts", "coords"]


def test_an_existing_per_individual_file_is_refused_before_anything_is_written(flies_store, tmp_path):
    (tmp_path / "pair_2.nwb").write_bytes(b"")
    with pytest.raises(FileExistsError, match="pair_2.nwb"):
        export_dataset(flies_store, tmp_path, name="pair", format="nwb")
    assert not (tmp_path / "pair_1.nwb").exists()
