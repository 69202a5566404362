"""What the streams of one run share besides the day book: the counts QBO gave for each run of days
(the source check's), the COUNTs still on their way, and the pool new streams are handed to.

No COUNT is sent before a run starts. Every run of days starts as one stream; its first page tells the
rest: a short page is the whole answer (its length is the run's count, no COUNT needed); a full one
gives the run's density (the time its 1000 records cover), and the stream hands the part of its window
it has not reached to new streams when the run holds more than a few pages (planning.hand_over), and
asks QBO to count the run: the counts of the runs whose first pages came back full go out together, as
one batch request (counting.py), and each is its run's source check (checks.source_checks).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qbo_ingest.catalogue import Entity
from qbo_ingest.pipeline.counting import Asked, Counts
from qbo_ingest.pipeline.daybook import DayBook
from qbo_ingest.pipeline.planning import Span
from qbo_ingest.pipeline.prefetch import prefetched
from qbo_ingest.pipeline.source import Pages
from qbo_ingest.records import Page

log = logging.getLogger("qbo_ingest.backfill")

SPARE_PAGES = 16
RunKey = tuple[str, date, date]  # (entity, first day, last day) of a run of consecutive days


def run_key(entity: Entity, span: Span) -> RunKey:
    return (entity.name, span.days[0], span.days[-1])


class _Unsent:
    """The first page has not been asked for."""


UNSENT = _Unsent()


@dataclass
class Head:
    """A stream's pages, with the first one when it was fetched ahead: a Page, None (the answer was
    empty), the exception its request failed with, or the Future of a request still on its way."""

    pages: Pages
    first: Page | Exception | _Unsent | Future[Page | None] | None = UNSENT
    _reading: Reading | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def full(self, page_size: int) -> bool:
        """The first page came back full: the run holds more than one page."""
        return isinstance(self.first, Page) and len(self.first.records) >= page_size

    def read(self, *, now: bool = True, spare: threading.Semaphore | None = None) -> Reading:
        """Every page, the first one included, each next one asked for while the one before is processed;
        `now`: the next page's request goes out at once (the first is here already), not when the first
        is taken. Once read, the same reading (`read` in the preflight starts it as the first page arrives)."""
        first = self.first
        if isinstance(first, Future):
            try:
                first = first.result()
            except Exception as exc:  # raised by the reading, where the stream fails its days
                first = exc
        with self._lock:
            if self._reading is None:
                rest = None if isinstance(first, Exception) else prefetched(self.pages, spare=spare)
                if rest is not None and now:
                    rest.start()
                self._reading = Reading(first, rest, self.pages)
            return self._reading

    def close(self) -> None:
        """Stop reading (a stream that never ran: the run stopped)."""
        (self._reading or Reading(None, None, self.pages)).close()


class Reading:
    """A stream's pages being read (`Head.read`); `close()` stops the reading wherever it is."""

    def __init__(self, first: Page | Exception | _Unsent | None, rest: prefetched[Page] | None,
                 pages: Pages) -> None:
        self._first = first
        self._rest = rest
        self.pages = pages

    def __iter__(self) -> Iterator[Page]:
        if isinstance(self._first, Exception):
            raise self._first
        if isinstance(self._first, Page):
            yield self._first
        if self._rest is not None:
            yield from self._rest

    def close(self) -> None:
        if self._rest is not None and self._rest.started:
            self._rest.close()  # its reader closes the pages when it stops
        else:
            self.pages.close()


@dataclass
class RunState:
    """Thread-safe state of one `Engine.load_plan` run."""

    run_id: str
    book: DayBook = field(default_factory=DayBook)
    counted: dict[RunKey, int | None] = field(default_factory=dict)  # what QBO said each run holds
    counts: Counts | None = None  # the source check's COUNTs, sent together (attached with the pool)
    _heads: ThreadPoolExecutor | None = None
    # pages the streams handed part of a run may read beyond their next one (about 1.7 MB each)
    _spare: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(SPARE_PAGES), repr=False)
    _submit: Callable[[Entity, Span, int, Head], Future[Any]] | None = None  # hands a new stream to the pool
    _pages: Callable[[Entity, Span], Pages] | None = None  # a new stream's pager
    futures: list[Future[Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def counted_as(self, key: RunKey, n: int | None) -> None:
        with self._lock:
            self.counted[key] = n

    def wait_counts(self) -> None:
        """Wait for the COUNTs asked (a failed one is logged: the source check counts that run again)."""
        if self.counts is not None:
            self.counts.wait()

    def attach(self, submit: Callable[[Entity, Span, int, Head], Future[Any]],
               pages: Callable[[Entity, Span], Pages], count: Callable[[Asked], list[int | Exception]], *,
               owed: int = 0) -> None:
        """The run's pool (`submit`), a new stream's pager and the COUNT of windows (counting.Counts);
        `owed`: the runs whose first page, fetched ahead, came back full (each will ask for its count)."""
        self._submit = submit
        self._pages = pages
        self.counts = Counts(count, lambda e, span, n: self.counted_as(run_key(e, span), n), owed=owed)

    def spawn(self, entity: Entity, span: Span, estimate: int) -> None:
        """A new stream over `span` (about `estimate` requests), registered on its days before it is queued
        (the stream handing the days over still holds them, so no day closes in between).

        Its first page is asked for at once, on threads of its own (at most 4), and the next ones as they
        arrive, not when a worker is free (up to SPARE_PAGES pages ahead in the run): the stream finds
        them there (Head.read)."""
        assert self._submit is not None and self._pages is not None, "spawn() needs an attached run"
        self.book.add(entity.name, span.days)
        pages = self._pages(entity, span)
        pages.hint = estimate
        with self._lock:
            if self._heads is None:
                self._heads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qbo-head")
            first: Future[Page | None] = self._heads.submit(next, pages, None)
            head = Head(pages, first)
            first.add_done_callback(lambda f: None if f.cancelled() else head.read(spare=self._spare))
            self.futures.append(self._submit(entity, span, estimate, head))

    def all_futures(self) -> list[Future[Any]]:
        with self._lock:
            return list(self.futures)

    def close(self) -> None:
        with self._lock:
            heads, self._heads = self._heads, None
        if self.counts is not None:
            self.counts.close()
        if heads is not None:
            heads.shutdown(wait=True, cancel_futures=True)
