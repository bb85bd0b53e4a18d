"""The worker-side pieces of inference that need no Ray: reading ahead in a thread."""

import threading
import time

import pytest

from deepbehavior.runtime.stages import prefetched


def test_prefetched_keeps_order_and_reads_ahead_in_another_thread():
    producers = []

    def items():
        for i in range(20):
            producers.append(threading.current_thread())
            yield i

    assert list(prefetched(items(), depth=3)) == list(range(20))
    assert producers and all(t is not threading.current_thread() for t in producers)


def test_prefetched_raises_the_producers_error_at_its_place():
    def items():
        yield 1
        yield 2
        raise ValueError("frame 3 is corrupt")

    got = []
    with pytest.raises(ValueError, match="frame 3 is corrupt"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]


def test_closing_early_stops_the_reading_thread():
    made = []

    def endless():
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    stream = prefetched(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    time.sleep(0.5)  # the thread notices within 0.1 s that nobody takes its items
    count = len(made)
    time.sleep(0.3)
    assert len(made) == count <= 3 + 2 + 1
    assert not any(t.name == "deepbehavior-prefetch" and t.is_alive() for t in threading.enumerate())
