"""One stream's part in planning from the first page (runstate.py): count the run when its first page is
full, and once QBO has answered, hand the part of the window the stream has not reached to new streams."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import BudgetStop, CallLimitReached, ConfigError
from qbo_ingest.pipeline.planning import Span, hand_over
from qbo_ingest.pipeline.runstate import RunState, run_key
from qbo_ingest.pipeline.source import Pages
from qbo_ingest.records import placed_time
from qbo_ingest.redact import redact
from qbo_ingest.windows import day_window

log = logging.getLogger("qbo_ingest.backfill")


@dataclass
class Handover:
    """The first-page planning of one stream over a whole run of days (`span`)."""

    entity: Entity
    span: Span
    state: RunState
    count: Callable[[], int]  # COUNT(*) of the run (one request)
    page_size: int
    workers: int
    _pending: Future[int] | None = None
    narrowed: bool = False
    counts_sent: int = 0

    def first_page(self, records: int) -> None:
        """A short first page is the run's whole answer: its length is QBO's count. A full one: count."""
        if records < self.page_size:
            self.state.counted_as(run_key(self.entity, self.span), records)
        else:
            self._pending = self.state.ask_count(self.count)
            self.counts_sent = 1

    def keep(self, records: list[dict[str, Any]], pages: Pages, floor: datetime | None) -> list[dict[str, Any]]:
        """The records of a page that are still this stream's (a narrowed stream drops what it handed over)."""
        if not self.narrowed:
            return records
        end = pages.end
        return [r for r in records if placed_time(r, floor) < end]

    def poll(self, pages: Pages, fetched: int, mine: list[date], *, wait: bool = False) -> list[date]:
        """When the run's count is in: record it and hand the rest over; the days this stream no longer
        holds (released by the caller). `wait`: the stream has ended, wait for the count (the source
        check's)."""
        fut = self._pending
        if fut is None or not (wait or fut.done()):
            return []
        self._pending = None
        try:
            n = fut.result()
        except (BudgetStop, CallLimitReached, ConfigError):
            raise
        except Exception as exc:  # only means no split, and a COUNT again for the source check
            log.warning("%s %s: count failed (%s); fetching as one stream", self.entity.name, self.span.label,
                        redact(str(exc)).splitlines()[0])
            return []
        self.state.counted_as(run_key(self.entity, self.span), n)
        if wait:
            return []
        new = hand_over(self.span, pages.position, max(n, fetched), page_size=self.page_size,
                        max_streams=self.workers)
        if not new:
            return []
        keep_end = new[0].window.start
        pages.narrow(keep_end)
        self.narrowed = True
        share = max(n, fetched) // (len(new) + 1) // self.page_size + 1
        for sp in new:
            self.state.spawn(self.entity, sp, share)
        log.info("%s %s: %d record(s) by QBO's count; %d more stream(s) from %s", self.entity.name,
                 self.span.label, n, len(new), new[0].label)
        return [d for d in mine if day_window(d).start >= keep_end]
