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


def test_decoder_noise_of_a_damaged_file_stays_off_the_console(avi_pair):
    _, cut = avi_pair
    code = ("import sys; from deepbehavior import video\n"
            "try:\n    video.probe(sys.argv[1])\nexcept video.VideoError as exc:\n    print(exc, file=sys.stderr)\n"
            "list(video.iter_frames(sys.argv[1]))\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code, str(cut)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cut.avi" in lines[0] and "truncated" in lines[0], lines
    # the baseline: plain OpenCV on the same file prints FFmpeg's messages
    plain = subprocess.run([sys.executable, "-c", "import cv2, sys\nc = cv2.VideoCapture(sys.argv[1])\n"
                            "while c.grab(): pass\n", str(cut)], capture_output=True, text=True, env=env, timeout=60)
    assert "mjpeg" in plain.stderr.lower() or "jpeg" in plain.stderr.lower()
