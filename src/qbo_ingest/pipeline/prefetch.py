"""Read one item ahead of the consumer: a stream fetches its next page while it upserts this one.

A keyset pager knows its next request as soon as a page has arrived (the page's newest
LastUpdatedTime), so the request and the upsert of the previous page can overlap. A stream still has
at most one request in flight (the producer thread is the only one that asks), and at most two pages
in memory: the one being upserted and the one just fetched - plus the run's spare places it holds
(runstate.RunState: a stream handed part of a run reads on while it waits for a worker).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


class prefetched(Generic[T]):  # used like a function: `for page in prefetched(pages)`
    """Iterate `source` in a helper thread, one item ahead; its exceptions are raised in the consumer.

    `spare`: places shared with other readers (a semaphore): while one is free, the producer reads a
    further item ahead, so a stream that waits for a worker still has its pages asked for in the second
    they were planned in; the consumer gives the place back when it takes the item. Leaving the loop early
    (break, an exception in the consumer) stops the producer after its current item.
    """

    def __init__(self, source: Iterable[T], *, spare: threading.Semaphore | None = None) -> None:
        self._source = source
        self._items: queue.Queue[tuple[T | _End, bool]] = queue.Queue()  # bounded by the places below
        self._slot = threading.Semaphore(1)  # the producer may fetch one item the consumer has not taken
        self._spare = spare
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"{threading.current_thread().name}-ahead",
                                        daemon=True)
        self._started = False

    def _place(self) -> bool:
        """Wait for a place for one more item; True when it is a spare one."""
        if self._slot.acquire(blocking=False):
            return False
        if self._spare is not None and self._spare.acquire(blocking=False):
            return True
        self._slot.acquire()
        return False

    def _give_back(self, spare: bool) -> None:
        (self._spare if spare and self._spare is not None else self._slot).release()

    def _produce(self) -> None:
        it = iter(self._source)
        try:
            while True:
                spare = self._place()
                if self._stop.is_set():
                    self._give_back(spare)
                    return
                try:
                    item = next(it)
                except StopIteration:
                    self._items.put((_End(), spare))
                    return
                self._items.put((item, spare))
                if self._stop.is_set():  # closed while this item was read: its place goes back too
                    self._drain()
                    return
        except BaseException as exc:  # handed to the consumer, which raises it
            self._items.put((_End(exc), False))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        """Ask for the first item now, before the consumer wants it."""
        if not self._started:
            self._started = True
            self._thread.start()

    def close(self) -> None:
        """The consumer wants no more: the producer stops after its current item; spare places taken by
        items never consumed go back."""
        self._stop.set()
        self._slot.release()
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                _, spare = self._items.get_nowait()
            except queue.Empty:
                return
            if spare and self._spare is not None:
                self._spare.release()

    def __iter__(self) -> Iterator[T]:
        self.start()
        try:
            while True:
                item, spare = self._items.get()
                self._give_back(spare)  # the producer may fetch the next one while this one is processed
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                yield item
        finally:
            self.close()
