"""Reading ahead: a stream's next page is asked for before its first is taken, and a stream waiting for
a worker reads on into the run's spare places, which come back as pages are taken or dropped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from qbo_ingest.pipeline.prefetch import prefetched
from qbo_ingest.pipeline.runstate import Head
from qbo_ingest.records import Page


class _Numbers(Iterator[int]):
    """0, 1, 2, ... up to `n`, noting when each was asked for; a Pages stand-in for `Head`."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.asked: list[int] = []
        self.closed = False
        self._i = 0

    def __next__(self) -> int:
        if self._i >= self.n:
            raise StopIteration
        self.asked.append(self._i)
        self._i += 1
        return self._i - 1

    def close(self) -> None:
        self.closed = True


def _until(cond: Callable[[], bool], timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def test_without_spare_places_the_producer_stays_one_item_ahead():
    src = _Numbers(10)
    it = prefetched(src)
    it.start()
    assert _until(lambda: src.asked == [0])
    time.sleep(0.05)
    assert src.asked == [0]  # nothing further until the consumer takes it
    assert list(it) == list(range(10))


def test_spare_places_let_a_waiting_reader_read_on_and_come_back_when_taken_or_dropped():
    spare = threading.Semaphore(3)
    src = _Numbers(10)
    it = prefetched(src, spare=spare)
    it.start()
    assert _until(lambda: len(src.asked) == 4)  # its own place + the 3 spare ones
    time.sleep(0.05)
    assert len(src.asked) == 4
    assert spare.acquire(blocking=False) is False  # all 3 in use
    got = iter(it)
    assert next(got) == 0 and next(got) == 1
    it.close()  # the rest is dropped: the spare places its items held come back
    assert _until(lambda: src.closed)
    back = sum(spare.acquire(blocking=False) for _ in range(3))
    assert back == 3


class _Pages(_Numbers):
    def __next__(self) -> Page:  # type: ignore[override]
        n = super().__next__()
        return Page(n + 1, [], None, 1, 0)


def test_a_head_asks_for_its_second_page_before_the_first_is_taken():
    src = _Pages(3)
    head = Head(src, next(src))  # type: ignore[arg-type]
    reading = head.read()
    assert _until(lambda: src.asked == [0, 1])  # page 2 asked for at once
    assert head.read() is reading  # one reading per head
    assert [p.number for p in reading] == [1, 2, 3]


def test_a_head_read_later_asks_nothing_until_then():
    src = _Pages(3)
    head = Head(src, next(src))  # type: ignore[arg-type]
    reading = head.read(now=False)
    time.sleep(0.05)
    assert src.asked == [0]
    reading.close()
    assert src.closed


def test_a_page_that_arrives_after_the_reading_closed_gives_its_spare_place_back():
    spare = threading.Semaphore(1)
    release = threading.Event()

    def slow() -> Iterator[int]:
        yield 0  # taken by the producer's own place
        release.wait(5)  # the second one (a spare place) is on its way when the reading closes
        yield 1

    it = prefetched(slow(), spare=spare)
    it.start()
    time.sleep(0.05)  # the producer holds item 0 and waits on item 1 with the spare place
    it.close()
    release.set()
    assert _until(lambda: spare.acquire(blocking=False))  # the place held by item 1 came back
