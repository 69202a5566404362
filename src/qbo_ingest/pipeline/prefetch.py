"""Read one item ahead of the consumer: a stream fetches its next page while it upserts this one.

A keyset pager knows its next request as soon as a page has arrived (the page's newest
LastUpdatedTime), so the request and the upsert of the previous page can overlap. A stream still has
at most one request in flight (the producer thread is the only one that asks), and at most two pages
in memory: the one being upserted and the one just fetched.
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

    Leaving the loop early (break, an exception in the consumer) stops the producer after its current
    item: it is not asked for another one.
    """

    def __init__(self, source: Iterable[T]) -> None:
        self._source = source
        self._items: queue.Queue[T | _End] = queue.Queue(maxsize=1)
        self._slot = threading.Semaphore(1)  # the producer may fetch one item the consumer has not taken
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"{threading.current_thread().name}-ahead",
                                        daemon=True)
        self._started = False

    def _produce(self) -> None:
        it = iter(self._source)
        try:
            while True:
                self._slot.acquire()
                if self._stop.is_set():
                    return
                try:
                    item = next(it)
                except StopIteration:
                    self._items.put(_End())
                    return
                self._items.put(item)
        except BaseException as exc:  # handed to the consumer, which raises it
            self._items.put(_End(exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[T]:
        if not self._started:
            self._started = True
            self._thread.start()
        try:
            while True:
                item = self._items.get()
                if isinstance(item, _End):
                    if item.error is not None:
                        raise item.error
                    return
                self._slot.release()  # the producer may fetch the next one while this one is processed
                yield item
        finally:
            self._stop.set()
            self._slot.release()
