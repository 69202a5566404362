"""Request planning: which days are fetched together.

The day stays the unit of the ledger, of retry and of the `extract_window_*` columns, but a run of
consecutive days is fetched as one keyset-paged stream, so a sparse entity costs about ceil(N/1000)
data requests instead of one per day. Dense runs are split into a few streams so they load in
parallel without exceeding QBO's 10 requests in flight; a run with fewer days than the streams its
records call for (a single heavy day, two dense days with 10 workers) is cut into sub-day time
slices, so a 100,000-record day is not one sequential stream. The engine closes a day only when
every stream touching it has passed it (backfill.DayBook).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from qbo_ingest.records import to_qbo_literal
from qbo_ingest.windows import Window, day_window

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Span:
    """What one stream of pages fetches: consecutive whole days, or a UTC time slice [start, end).

    `days` are the UTC days the stream touches (for a slice, the day(s) it lies in); `start`/`end`
    are set only for a slice that does not cover whole days.
    """

    days: tuple[date, ...]
    start: datetime | None = None
    end: datetime | None = None

    @property
    def window(self) -> Window:
        return Window(self.start or day_window(self.days[0]).start, self.end or day_window(self.days[-1]).end)

    @property
    def is_slice(self) -> bool:
        return self.start is not None or self.end is not None

    @property
    def label(self) -> str:
        if not self.is_slice:
            return self.window.label
        w = self.window
        return f"{to_qbo_literal(w.start)}..{to_qbo_literal(w.end)}"


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
    """Split a run into at most `max_streams` streams.

    With a known record count, a run only gets a second stream when it holds more than
    `pages_per_stream` pages of records: every extra stream costs at most one partial page.
    N = min(max_streams, ceil(count / (page_size * pages_per_stream))) streams. When N <= the run's
    days, the streams are spans of about equal whole-day counts; when N is larger (a single heavy
    day, a few dense days), each day is cut into equal time slices (day-aligned: no slice crosses
    midnight UTC), the days' slice counts differing by at most one.
    """
    if not run:
        return []
    run = sorted(run)
    streams = 1 if count is None else max(1, math.ceil(count / (page_size * pages_per_stream)))
    streams = max(1, min(streams, max_streams))
    if streams <= len(run):
        size = math.ceil(len(run) / streams)
        return [Span(tuple(run[i : i + size])) for i in range(0, len(run), size)]
    base, extra = divmod(streams, len(run))
    spans: list[Span] = []
    for i, d in enumerate(run):
        spans.extend(day_slices(d, base + (1 if i < extra else 0)))
    return spans


def day_slices(d: date, n: int) -> list[Span]:
    """Day `d` cut into `n` equal time slices on whole seconds (QBO literals carry seconds)."""
    if n <= 1:
        return [Span((d,))]
    start = day_window(d).start
    cuts = [start + timedelta(seconds=SECONDS_PER_DAY * i // n) for i in range(n + 1)]
    return [Span((d,), cuts[i], cuts[i + 1]) for i in range(n)]


def hand_over(span: Span, position: datetime, count: int, *, page_size: int, max_streams: int) -> list[Span]:
    """The streams a running stream over the run `span` hands its rest to, once QBO has counted the run.

    The run is split as `split_run` would have split it with the count known before it started; the
    running stream keeps the pieces up to the one it is in (`position`, the lower bound of its newest
    request), the pieces after it are returned: new streams. Empty: the stream goes on alone."""
    pieces = split_run(list(span.days), count=count, page_size=page_size, max_streams=max_streams)
    return [p for p in pieces if p.window.start > position]
