"""One stream's part in planning from the first page (runstate.py): a full first page hands the part of
the window the stream has not reached to new streams, and asks QBO to count the run (counting.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from qbo_ingest.catalogue import Entity
from qbo_ingest.pipeline.planning import Span, hand_over
from qbo_ingest.pipeline.runstate import RunState, run_key
from qbo_ingest.pipeline.source import Pages
from qbo_ingest.records import placed_time, readable_time
from qbo_ingest.windows import day_window

log = logging.getLogger("qbo_ingest.backfill")


@dataclass
class Handover:
    """The first-page planning of one stream over a whole run of days (`span`)."""

    entity: Entity
    span: Span
    state: RunState
    page_size: int
    workers: int
    _mine: list[date] = field(default_factory=list)  # the stream's days not yet released (its own list)
    narrowed: bool = False
    counts_sent: int = 0

    def first_page(self, page: list[dict[str, Any]], pages: Pages, fetched: int) -> list[date]:
        """A short first page is the run's whole answer: its length is QBO's count. A full one tells the
        run's density: the rest of the window goes to new streams at once, by an estimate from the time
        the page covers, and QBO is asked to count the run (the source check's). The days this stream no
        longer holds (released by the caller)."""
        if len(page) < self.page_size:
            self.state.counted_as(run_key(self.entity, self.span), len(page))
            return []
        self.counts_sent = 1  # QBO counts the run now, with the other runs' counts (counting.py)
        if self.state.counts is not None:
            self.state.counts.ask(self.entity, self.span)
        w = self.span.window
        last = readable_time(page[-1])
        covered = (last - w.start).total_seconds() if last is not None else 0.0
        whole = (w.end - w.start).total_seconds()
        estimate = len(page) * whole / covered if covered > 0 else len(page) * self.workers * 5
        new = hand_over(self.span, pages.position, max(int(estimate), fetched), page_size=self.page_size,
                        max_streams=self.workers)
        if not new:
            return []
        keep_end = new[0].window.start
        pages.narrow(keep_end)
        self.narrowed = True
        share = int(estimate) // (len(new) + 1) // self.page_size + 1
        for sp in new:
            self.state.spawn(self.entity, sp, share)
        log.info("%s %s: about %d record(s) by its first page; %d more stream(s) from %s", self.entity.name,
                 self.span.label, int(estimate), len(new), new[0].label)
        return [d for d in self._mine if day_window(d).start >= keep_end]

    def keep(self, records: list[dict[str, Any]], pages: Pages, floor: datetime | None) -> list[dict[str, Any]]:
        """The records of a page that are still this stream's (a narrowed stream drops what it handed over)."""
        if not self.narrowed:
            return records
        end = pages.end
        return [r for r in records if placed_time(r, floor) < end]
