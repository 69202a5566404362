"""Keyset paging over `start <= MetaData.LastUpdatedTime < end`, each record version once.

Offset paging over a changing set skips rows when a record is updated between two requests. The next
page therefore asks `LastUpdatedTime >= <newest second seen>` and drops the versions (Id,
LastUpdatedTime) already yielded: a record edited between two pages, whose new time is still inside
the window, comes again with its new payload and is kept (dropping it by Id would leave the older
payload in raw).

A second holding more than a page of records cannot be passed by the keyset; it is read by
STARTPOSITION. Positions shift when a record of that second is edited or deleted between two of those
requests, so a pass over the second is trusted only when `COUNT(*)` of the second is the same before
and after it and equals the records the pass saw; otherwise the second is read again (versions already
yielded are not yielded twice). A second that keeps changing for `MAX_PASSES` passes is an error
naming it, never a silent skip.

A running pager can be narrowed (`PageStream.narrow`): the engine hands the rest of a window it finds
dense to other streams, and this one stops at the new end (records past it, from a request already in
flight, are dropped: the stream that owns them fetches them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from qbo_ingest.errors import RetryableError
from qbo_ingest.records import Page, readable_time, to_qbo_literal, version_key

log = logging.getLogger(__name__)

MAX_PASSES = 5


@dataclass
class Cost:
    """What the requests behind one page cost (summed until the page is yielded)."""

    requests: int = 0
    retries: int = 0
    intuit_tid: str | None = None
    body: bytes | None = None
    keys_only: bool = False  # the rows hold only Id and MetaData.LastUpdatedTime; the payloads are in body


# fetch(lo, hi, position) -> (rows, cost); count(lo, hi) -> (n, cost)
Fetch = Callable[[datetime, datetime, "int | None"], "tuple[list[dict[str, Any]], Cost]"]
Count = Callable[[datetime, datetime], "tuple[int, Cost]"]


class KeysetPager:
    def __init__(self, entity: str, page_size: int, fetch: Fetch, count: Count) -> None:
        self.entity = entity
        self.page_size = page_size
        self._fetch = fetch
        self._count = count
        self._seen: set[tuple[str, str]] = set()
        self._number = 0
        self._pending = Cost()
        self._floor: datetime | None = None
        self.end: datetime | None = None  # the window's end; lowered by `narrow` while the pages run
        self.position: datetime | None = None  # the lower bound of the newest request
        self.start: datetime | None = None
        self.rows = 0  # records received so far (versions already seen included)
        self.hint = 0  # pages expected before the first one arrives (the planner's estimate)

    def pages_left(self, lo: datetime) -> int:
        """About how many requests the window still needs from `lo` on (this one included), by the time
        the records received so far covered: the rate limiter serves the longest stream first."""
        if self.rows == 0 or self.start is None or self.end is None or lo <= self.start:
            return self.hint
        covered = (lo - self.start).total_seconds()
        return 1 + int(self.rows * max((self.end - lo).total_seconds(), 0.0) / covered / self.page_size)

    def _add(self, cost: Cost) -> None:
        p = self._pending
        p.requests += cost.requests
        p.retries += cost.retries
        p.intuit_tid = cost.intuit_tid or p.intuit_tid
        p.body = cost.body
        p.keys_only = cost.keys_only

    def _get(self, lo: datetime, hi: datetime, position: int | None) -> list[dict[str, Any]]:
        rows, cost = self._fetch(lo, hi, position)
        self.rows += len(rows)
        self._add(cost)
        self._floor = lo
        self.position = lo
        return rows

    def _take(self, rows: list[dict[str, Any]]) -> Page | None:
        new = []
        end = self.end
        for r in rows:
            if end is not None and (t := readable_time(r)) is not None and t >= end:
                continue  # past a narrowed end: another stream's
            key = version_key(r)
            if key not in self._seen:
                self._seen.add(key)
                new.append(r)
        if not new:
            return None
        self._number += 1
        p = self._pending
        page = Page(self._number, new, p.intuit_tid, p.requests, p.retries, p.body, self._floor, p.keys_only)
        self._pending = Cost()
        return page

    def pages(self, start: datetime, end: datetime) -> Generator[Page, None, None]:
        lo = start
        self.end = end if self.end is None else min(self.end, end)
        self.position = self.start = start
        while lo < self.end:
            end = self.end
            rows = self._get(lo, end, None)
            page = self._take(rows)
            if page:
                yield page
            if len(rows) < self.page_size:
                return
            times = [t for t in map(readable_time, rows) if t is not None]  # unreadable ones: placed at lo
            newest = max(times, default=lo)
            nxt = newest.astimezone(timezone.utc).replace(microsecond=0)
            if nxt > lo:
                lo = nxt
                continue
            hi = min(lo + timedelta(seconds=1), self.end)  # a whole page shares the second `lo`
            if hi <= lo:
                return
            yield from self._whole_second(lo, hi)
            lo = hi

    def _counted(self, lo: datetime, hi: datetime) -> int:
        n, cost = self._count(lo, hi)
        self._add(cost)
        return n

    def _whole_second(self, lo: datetime, hi: datetime) -> Iterator[Page]:
        for attempt in range(1, MAX_PASSES + 1):
            before = self._counted(lo, hi)
            ids: set[str] = set()
            position = 1
            while True:
                rows = self._get(lo, hi, position)
                ids.update(version_key(r)[0] for r in rows)
                page = self._take(rows)
                if page:
                    yield page
                if len(rows) < self.page_size:
                    break
                position += len(rows)
            after = self._counted(lo, hi)
            if before == after == len(ids):
                return
            log.info("%s: the %d records of second %s changed while it was read by position (COUNT %d before, "
                     "%d after, %d seen); pass %d of at most %d, reading it again", self.entity, before,
                     to_qbo_literal(lo), before, after, len(ids), attempt + 1, MAX_PASSES)
        raise RetryableError(f"{self.entity}: the records of second {to_qbo_literal(lo)} kept changing during "
                             f"{MAX_PASSES} passes of STARTPOSITION paging",
                             next_step="rerun the day later (`qbo-ingest retry-failed`)")


class PageStream(Iterator[Page]):
    """The pages of one window (an iterator), which the consumer may narrow while they run."""

    def __init__(self, pager: KeysetPager, start: datetime, end: datetime) -> None:
        self._pager = pager
        pager.end = end
        self._pages = pager.pages(start, end)
        self.start = start

    def __next__(self) -> Page:
        return next(self._pages)

    def close(self) -> None:
        self._pages.close()

    @property
    def end(self) -> datetime:
        assert self._pager.end is not None
        return self._pager.end

    @property
    def position(self) -> datetime:
        """Where the pager is: the lower bound of its newest request (records before it are yielded)."""
        return self._pager.position or self.start

    def narrow(self, end: datetime) -> None:
        """Stop at `end` (a whole second) instead: later requests ask up to it, and records at or past it
        are dropped, also from a request already in flight. Never widens."""
        self._pager.end = min(self.end, end)

    @property
    def hint(self) -> int:
        """The requests expected before the first page arrives (orders the rate limiter's queue)."""
        return self._pager.hint

    @hint.setter
    def hint(self, n: int) -> None:
        self._pager.hint = n
