"""Damaged videos: a file cut short is detected from its container's frame count, quietly."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deepbehavior import video

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def avi_pair(tmp_path):
    """A 100-frame MJPEG AVI and the same file cut in half (its header still lists 100 frames)."""
    path = tmp_path / "whole.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (64, 48))
    for i in range(100):
        writer.write(np.full((48, 64, 3), 2 * i, np.uint8))
    writer.release()
    cut = tmp_path / "cut.avi"
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    return path, cut


def test_a_truncated_avi_is_reported_not_silently_shorter(avi_pair):
    whole, cut = avi_pair
    info = video.probe(whole)
    assert info.frames == 100 and info.container_frames == 100
    with pytest.raises(video.VideoError, match=r"Expected 100 frames in .*cut.avi.*only \d+ decode"):
        video.probe(cut)
    partial = video.probe(cut, allow_truncated=True)
    assert 0 < partial.frames < 60 and partial.container_frames == 100


def test_decoder_noise_of_a_damaged_file_goes_to_the_log_with_one_console_line(avi_pair, tmp_path):
    _, cut = avi_pair
    log = tmp_path / "job" / "decoder.log"
    code = ("import sys; from deepbehavior import video\n"
            "try:\n    video.probe(sys.argv[1])\nexcept video.VideoError as exc:\n    print(exc, file=sys.stderr)\n"
            "list(video.iter_frames(sys.argv[1]))\nlist(video.iter_frames(sys.argv[1], 3, 10))\n"
            "print('ours, after decoding', file=sys.stderr)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), video.DECODER_LOG_ENV: str(log)}
    result = subprocess.run([sys.executable, "-c", code, str(cut)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    about = [line for line in lines if "cut.avi" in line]
    # our error, one line naming the file and the log, and fd 2 is the console again afterwards
    assert len(lines) == 3 and lines[-1] == "ours, after decoding", lines
    assert len(about) == 2 and any("truncated" in line for line in about), lines
    assert sum(str(log) in line for line in about) == 1, lines
    # the baseline: plain OpenCV on the same file prints FFmpeg's messages to the console ...
    plain = subprocess.run([sys.executable, "-c", "import cv2, sys\nc = cv2.VideoCapture(sys.argv[1])\n"
                            "while c.grab(): pass\n", str(cut)], capture_output=True, text=True, env=env, timeout=60)
    assert "jpeg" in plain.stderr.lower()
    # ... which here are in the log instead
    text = log.read_text()
    assert "jpeg" in text.lower() and len(text.splitlines()) >= 2


def test_an_undamaged_file_writes_nothing_to_the_console_or_the_log(avi_pair, tmp_path, capfd, monkeypatch):
    whole, _ = avi_pair
    log = tmp_path / "decoder.log"
    monkeypatch.setenv(video.DECODER_LOG_ENV, str(log))
    assert video.probe(whole).frames == 100
    assert len(video.read_frames(whole, 10, 20)) == 10
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert not log.exists() or log.stat().st_size == 0


def test_a_damaged_file_read_in_a_reader_thread_gives_one_line_and_the_console_back(avi_pair, tmp_path, capfd,
                                                                                      monkeypatch):
    """The CPU path reads frames in a thread (stages.prefetched); once it is done, fd 2 is the
    console again and the file got its one line."""
    import os

    from deepbehavior.runtime.stages import prefetched

    _, cut = avi_pair
    log = tmp_path / "decoder.log"
    monkeypatch.setenv(video.DECODER_LOG_ENV, str(log))
    video._DECODER_LOG.reported.discard(str(cut))
    count = 0
    for _frame in prefetched(video.iter_frames(cut)):
        count += 1
    os.write(2, b"consumer says hi\n")
    _, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert 0 < count < 60
    assert lines[-1] == "consumer says hi" and len(lines) == 2 and "cut.avi" in lines[0] and str(log) in lines[0], lines
    assert "jpeg" in log.read_text().lower()


def test_decode_shard_sends_the_decoder_messages_to_the_jobs_log(avi_pair, tmp_path, capfd):
    from deepbehavior.runtime.stages import decode_shard

    _, cut = avi_pair
    log = tmp_path / "out" / "decoder.log"
    batch = {"shard": np.array([0]), "video": np.array([str(cut)]), "start": np.array([0]), "stop": np.array([100])}
    previous = video.set_decoder_log(None)
    try:
        rows = list(decode_shard(batch, frames_per_batch=16, retries=1, decoder_log=str(log)))
    finally:
        video.set_decoder_log(previous)
    # the cut file ends early: the shard's error names it; its frames before the cut came out
    assert "cut.avi" in rows[-1]["error"][0] and "ended at frame" in rows[-1]["error"][0]
    _, err = capfd.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "cut.avi" in lines[0] and str(log) in lines[0], lines
    assert "jpeg" in log.read_text().lower()


@pytest.fixture
def fresh_log(monkeypatch, tmp_path):
    """A private temporary folder and a decoder log state as a new process has it."""
    import tempfile

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv(video.DECODER_LOG_ENV, raising=False)
    monkeypatch.setattr(video, "_DECODER_LOG", video.DecoderLog())
    monkeypatch.setattr(video, "_PRIVATE_LOG", [])
    previous = video.set_decoder_log(None)
    yield temp
    video.set_decoder_log(previous)


def test_the_default_log_is_private_and_a_planted_link_is_never_followed(avi_pair, tmp_path, fresh_log, capfd):
    """Another user's link at the old fixed name ``$TMPDIR/deepbehavior-decoder.log`` gets nothing."""
    import stat

    _, cut = avi_pair
    victim = tmp_path / "victim.txt"
    victim.write_text("theirs\n")
    (fresh_log / "deepbehavior-decoder.log").symlink_to(victim)
    assert 0 < len(list(video.iter_frames(cut))) < 60
    _, err = capfd.readouterr()
    assert victim.read_text() == "theirs\n"
    logs = [p for p in fresh_log.iterdir() if p.name.startswith("deepbehavior-decoder-") and not p.is_symlink()]
    assert len(logs) == 1 and str(logs[0]) in err
    assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600  # mkstemp's: readable by this user only
    assert "jpeg" in logs[0].read_text().lower()


@pytest.mark.parametrize("plant", ["link", "fifo"])
def test_a_link_or_fifo_at_the_jobs_log_path_is_not_opened(avi_pair, tmp_path, fresh_log, capfd, plant):
    import os
    import threading

    _, cut = avi_pair
    victim = tmp_path / "victim.txt"
    victim.write_text("theirs\n")
    log = tmp_path / "out" / "decoder.log"
    log.parent.mkdir()
    if plant == "link":
        log.symlink_to(victim)
    else:
        os.mkfifo(log)
    video.set_decoder_log(log)
    frames = []
    reader = threading.Thread(target=lambda: frames.extend(video.iter_frames(cut)), daemon=True)
    reader.start()
    reader.join(60)  # opening a FIFO to write would wait for a reader for ever
    assert not reader.is_alive() and 0 < len(frames) < 60
    _, err = capfd.readouterr()
    assert victim.read_text() == "theirs\n"
    private = [p for p in fresh_log.iterdir() if p.name.startswith("deepbehavior-decoder-")]
    assert len(private) == 1 and str(private[0]) in err and "jpeg" in private[0].read_text().lower()
