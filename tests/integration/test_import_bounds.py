"""``deepbehavior import video=…``: the video's frame size and length bound what a file may hold.

The openfield recording (640×480, 2330 frames) and its labels in DeepLabCut's layout.
"""

from __future__ import annotations

import pytest

from jobs.import_files import ImportJob, main

OPENFIELD = "dlc-openfield/labeled-data/m4s1/CollectedData_Pranav.csv"
VIDEO = "dlc-openfield/videos/m3v1mp4.mp4"


def test_a_position_of_500000_px_in_a_640x480_video_is_refused_before_any_store(shared_data, tmp_path):
    path = tmp_path / "labels.csv"  # no images beside it: only the video gives the frame size
    path.write_text((shared_data / OPENFIELD).read_text().replace("21.521,265.428", "500000,265.428", 1))
    main.run(ImportJob(out=str(tmp_path / "plain"), source=str(path), format="dlc"))  # without video=: ±1e6 px only
    with pytest.raises(ValueError, match=r"labels\.csv, position x \(frame=0, keypoints=snout.*Expected values in "
                                         r"\[-64, 704\] px \(the video's frame of 640×480 px"):
        main.run(ImportJob(out=str(tmp_path / "out"), source=str(path), format="dlc",
                           video=str(shared_data / VIDEO)))
    assert not (tmp_path / "out" / "stores").exists()


def test_predictions_with_fewer_rows_than_the_video_has_frames_are_refused(shared_data, tmp_path):
    lines = (shared_data / OPENFIELD).read_text().splitlines(keepends=True)
    path = tmp_path / "predictions.csv"  # a predictions file cut at a line end: 116 of the video's 2330 frames
    path.write_text("".join(lines[:3]) + "".join(f"{i}," + row.split(",", 1)[1] for i, row in enumerate(lines[3:])))
    with pytest.raises(ValueError, match=r"predictions\.csv, rows: Expected a row for each of the 2330 frames of the "
                                         r"video \(the file may be truncated\), but got 116 rows"):
        main.run(ImportJob(out=str(tmp_path / "out"), source=str(path), format="lightning_pose",
                           video=str(shared_data / VIDEO)))
