"""Request planning: which days are fetched together.

The day stays the unit of the ledger, of retry and of the `extract_window_*` columns, but a run of
consecutive days is fetched as one keyset-paged stream, so a sparse entity costs about ceil(N/1000)
data requests instead of one per day. Dense runs are split into a few streams so they load in
parallel without exceeding QBO's 10 requests in flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from qbo_ingest.windows import Window, day_window


@dataclass(frozen=True)
class Span:
    """Consecutive days fetched by one stream of pages."""

    days: tuple[date, ...]

    @property
    def window(self) -> Window:
        return Window(day_window(self.days[0]).start, day_window(self.days[-1]).end)

    @property
    def label(self) -> str:
        return self.window.label


def contiguous_runs(days: list[date]) -> list[list[date]]:
    """Group sorted unique days into runs of consecutive days."""
    runs: list[list[date]] = []
    for d in sorted(set(days)):
        if runs and runs[-1][-1] + timedelta(days=1) == d:
            runs[-1].append(d)
        else:
            runs.append([d])
    return runs


def split_run(run: list[date], *, count: int | None, page_size: int, max_streams: int,
              pages_per_stream: int = 5) -> list[Span]:
    """Split a run into at most `max_streams` spans of about equal day counts.

    With a known record count, a run only gets a second stream when it holds more than
    `pages_per_stream` pages of records: every extra stream costs at most one partial page.
    """
    if not run:
        return []
    streams = 1 if count is None else max(1, math.ceil(count / (page_size * pages_per_stream)))
    streams = max(1, min(streams, max_streams, len(run)))
    size = math.ceil(len(run) / streams)
    return [Span(tuple(run[i : i + size])) for i in range(0, len(run), size)]
