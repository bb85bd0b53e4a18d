"""Sweep run folders: an index and the settings given, never a path (jobs/_sweep_names.py)."""

from jobs._sweep_names import MAX_LENGTH, run_name


def test_paths_and_out_are_left_out_and_the_index_comes_first(tmp_path):
    data = tmp_path / "data.yaml"
    data.write_text("")
    name = run_name(3, [f"train.data={tmp_path}/mice/v3/data.yaml", "out=/scratch/sweep", "train.lr0=0.004",
                        "train.imgsz=160", f"model.weights={data}"])
    assert name == "3_train.lr0=0.004,train.imgsz=160"


def test_an_existing_file_given_without_a_folder_is_a_path_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "best.pt").write_text("")
    assert run_name(0, ["model.weights=best.pt", "model.conf=0.5"]) == "0_model.conf=0.5"


def test_no_setting_left_gives_the_index_alone_and_names_stay_one_short_component():
    assert run_name(7, ["out=/a/b", "videos=[/a/b.mp4,/c/d.mp4]"]) == "7"
    name = run_name(1, ["+extra.tag=x y[z]"] + [f"k{i}=v{i}" for i in range(50)])
    assert name.startswith("1_extra.tag=x_y_z_,k0=v0") and len(name) == MAX_LENGTH and "/" not in name
