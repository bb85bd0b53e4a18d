import pytest

from deepbehavior.formats import READERS, guess_format, load_file


@pytest.mark.parametrize("name, expected", [
    ("deepbehavior-formats/tensorbox_predictions_array.json", "tensorbox"),
    ("deepbehavior-formats/tensorbox_predictions_stream.json", "tensorbox"),
    ("deepbehavior-formats/tensorbox_labels.json", "tensorbox"),
    ("deepbehavior-formats/darknet_bounding_box.txt", "darknet"),
    ("deepbehavior-formats/darknet_ext_output.txt", "darknet"),
    ("deepbehavior-formats/openpose_cam1", "openpose"),
    ("yolo-mark-example", "yolo_mark"),
    ("yolo-mark-example/obj.data", "yolo_mark"),
    ("dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.csv", "dlc"),
    ("sleap-flies/centered_pair_predictions.h5", "sleap"),
    ("sleap-flies/centered_pair_predictions.slp", "sleap"),
])
def test_guess_format(shared_data, name, expected):
    assert guess_format(shared_data / name) == expected
    assert expected in READERS


def test_user_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "nothing.json")
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(ValueError, match="could not tell the format"):
        load_file(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match="Expected format to be one of"):
        load_file(tmp_path / "notes.txt", format="matlab")
    with pytest.raises(ValueError, match=r"Expected options of the darknet reader .* but got \['people'\]"):
        load_file(tmp_path / "notes.txt", format="darknet", people="all")
