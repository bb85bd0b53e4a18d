import cv2
import numpy as np
import pytest

from deepbehavior import video


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A video whose frame i shows the number i as a bar pattern (survives compression)."""
    path = tmp_path_factory.mktemp("video") / "counter.mp4"

    def frames():
        for i in range(157):
            frame = np.zeros((96, 128, 3), np.uint8)
            for bit in range(8):
                if i >> bit & 1:
                    frame[:, bit * 16:(bit + 1) * 16] = 255
            yield frame

    return video.write_video(path, frames(), fps=25)


def _decode_number(frame):
    bars = frame[..., 0].reshape(96, 8, 16).mean(axis=(0, 2))
    return int(sum(1 << b for b in range(8) if bars[b] > 127))


def test_probe_generated(generated):
    info = video.probe(generated)
    assert (info.frames, info.fps, info.width, info.height) == (157, 25.0, 128, 96)
    assert not info.variable_frame_rate


def test_ranges_match_sequential_decoding_generated(generated):
    sequential = video.read_frames(generated, 0, 157)
    assert [_decode_number(f) for f in sequential] == list(range(157))
    for start, stop in [(0, 1), (37, 38), (60, 90), (150, 157), (100, 101)]:
        np.testing.assert_array_equal(video.read_frames(generated, start, stop), sequential[start:stop])


def test_ranges_match_sequential_decoding_real(shared_data):
    path = shared_data / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
    info = video.probe(path)
    assert (info.frames, info.width, info.height) == (2330, 640, 480)
    assert abs(info.fps - 30) < 0.1
    capture = cv2.VideoCapture(str(path))
    sequential = []
    for _ in range(1300):
        ok, frame = capture.read()
        assert ok
        sequential.append(frame)
    capture.release()
    for start, stop in [(0, 3), (299, 302), (1000, 1001), (1234, 1300)]:
        np.testing.assert_array_equal(video.read_frames(path, start, stop), np.stack(sequential[start:stop]))
    tail = video.read_frames(path, 2328, 2330)
    assert tail.shape == (2, 480, 640, 3)


@pytest.mark.parametrize("forward", [0, 30, 1000])
def test_frames_at_numbers_are_the_frames_of_those_numbers_near_or_far(generated, monkeypatch, forward):
    # forward=30: near ones decoded on (3 -> 5 -> 30), far ones sought (30 -> 100 -> 156); 0: every
    # one sought; 1000: one forward pass. Repeats once.
    monkeypatch.setattr(video, "FORWARD_FRAMES", forward)
    wanted = [100, 3, 5, 30, 156, 5]
    got = list(video.iter_frames_at(generated, wanted))
    assert [n for n, _ in got] == [3, 5, 30, 100, 156]
    assert [_decode_number(frame) for _, frame in got] == [3, 5, 30, 100, 156]
    assert list(video.iter_frames_at(generated, [])) == []
    with pytest.raises(video.VideoError, match="before frame 170"):
        list(video.iter_frames_at(generated, [150, 170]))


def test_frames_at_numbers_equal_opencv_on_the_real_video(shared_data):
    path = shared_data / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
    wanted = [0, 20, 58, 1199, 1200, 2329]
    capture = cv2.VideoCapture(str(path))
    expected = []
    for number in range(2330):
        ok, frame = capture.read() if number in wanted else (capture.grab(), None)
        assert ok
        if number in wanted:
            expected.append(frame)
    capture.release()
    got = list(video.iter_frames_at(path, wanted))
    assert [n for n, _ in got] == wanted
    for (_, frame), truth in zip(got, expected):
        np.testing.assert_array_equal(frame, truth)


def test_reading_past_the_end_names_the_frame(generated):
    with pytest.raises(video.VideoError, match="expected frames up to 199, but the video ended at frame 157"):
        video.read_frames(generated, 150, 200)


def test_frame_batches_hold_the_frames_in_order_in_fresh_arrays(generated):
    """Frames decoded straight into the batch arrays are the frames, numbered as the bars say."""
    batches = list(video.iter_frame_batches(generated, 37, 60, 5))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    numbers = [_decode_number(f) for b in batches for f in b]
    assert numbers == list(range(37, 60))
    assert all(b.flags.c_contiguous and b.dtype == np.uint8 and b.shape[1:] == (96, 128, 3) for b in batches)
    assert not any(np.shares_memory(a, b) for i, a in enumerate(batches) for b in batches[i + 1:])
    np.testing.assert_array_equal(np.concatenate(batches), video.read_frames(generated, 37, 60))


def test_frame_batches_past_the_end_name_the_frame(generated):
    with pytest.raises(video.VideoError, match="expected frames up to 199, but the video ended at frame 157"):
        list(video.iter_frame_batches(generated, 150, 200, 4))
    with pytest.raises(ValueError, match="Expected a batch size >= 1, but got 0"):
        list(video.iter_frame_batches(generated, 0, 10, 0))


def test_frame_batches_equal_opencv_on_the_real_video(shared_data):
    path = shared_data / "dlc-openfield" / "videos" / "m3v1mp4.mp4"
    capture = cv2.VideoCapture(str(path))
    expected = [capture.read()[1] for _ in range(310)]
    capture.release()
    got = np.concatenate(list(video.iter_frame_batches(path, 290, 310, 8)))
    np.testing.assert_array_equal(got, np.stack(expected[290:310]))


def test_probe_decodes_a_file_once_until_it_changes(tmp_path, monkeypatch):
    """A job probes its videos before the work and again when planning it: the second answer is remembered,
    unless the file changed in between (another video written over it)."""
    path = video.write_video(tmp_path / "a.mp4", (np.full((32, 48, 3), i, np.uint8) for i in range(12)), fps=10)
    opened = []
    real_open = video._open
    monkeypatch.setattr(video, "_open", lambda p: opened.append(p) or real_open(p))
    first = video.probe(path)
    assert video.probe(path) == first and len(opened) == 1
    video.write_video(path, (np.zeros((32, 48, 3), np.uint8) for _ in range(20)), fps=10)
    assert video.probe(path).frames == 20 and len(opened) == 2


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(video.VideoError, match="Expected a video file at .*nope.mp4"):
        video.probe(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(video.VideoError, match="junk.mp4"):
        video.probe(junk)
