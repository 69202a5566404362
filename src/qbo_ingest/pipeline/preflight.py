"""Before the first ledger row of a run: the requests that prove QBO answers and plan the streams.

Without a request budget the first page of each run (the first 10 runs, QBO's 10 in flight) goes out
at once (runstate.py: a run is counted only when its first page is full, and split while it runs).
Under a budget (`--max-requests`, QBO_MONTHLY_CALL_BUDGET) every run is counted first instead, so
each stream's cost is known before it starts and the run can stop between streams, the days left
pending. When not one first page could reach QBO (connection, timeout, open breaker), or not one COUNT
is answered, the run stops here with the first error; a wrong QBO_REALM_ID (403) stops it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import BudgetStop, CallLimitReached, CircuitOpenError, ConfigError, RetriesExhausted
from qbo_ingest.pipeline.planning import Span, split_run
from qbo_ingest.pipeline.runstate import Head, RunKey, run_key
from qbo_ingest.records import Page
from qbo_ingest.redact import redact

if TYPE_CHECKING:
    from qbo_ingest.pipeline.engine import Engine

log = logging.getLogger("qbo_ingest.backfill")

MAX_IN_FLIGHT = 10  # QBO: 10 requests per second / in flight per realm
T = TypeVar("T")


@dataclass
class Job:
    """One stream to run: its span, its first page when fetched ahead, its estimated requests, and
    whether it plans itself from its first page (a whole run, no count known)."""

    entity: Entity
    span: Span
    head: Head | None
    estimate: int
    plans_itself: bool


def _each(spans: Sequence[tuple[Entity, Span]], fn: Callable[[Entity, Span], T],
          error: Callable[[T], Exception | None]) -> list[T]:
    """`fn` over the spans, 10 in flight (BudgetStop, CallLimitReached and ConfigError raise); when
    every one failed (`error`), the first error raises."""
    with ThreadPoolExecutor(max_workers=min(MAX_IN_FLIGHT, len(spans)), thread_name_prefix="qbo-first") as pool:
        out = list(pool.map(lambda es: fn(*es), spans))
    failed = [x for x in map(error, out) if x is not None]
    if failed and len(failed) == len(out):
        raise failed[0]
    return out


def _error(x: object) -> Exception | None:
    return x if isinstance(x, Exception) else None


def _unreachable(x: object) -> Exception | None:
    """The error when QBO could not be reached at all (connection, timeout, open breaker): a first page
    QBO answered with an error (a 500 storm) fails its days in the ledger instead, as a later page would."""
    if isinstance(x, CircuitOpenError):
        return x if x.unanswered else None
    last = x.last if isinstance(x, RetriesExhausted) else x
    return x if isinstance(x, Exception) and getattr(last, "kind", None) in ("connection", "timeout") else None


def _guarded(fn: Callable[[], T]) -> T | Exception:
    try:
        return fn()
    except (BudgetStop, CallLimitReached, ConfigError):  # ConfigError: a wrong QBO_REALM_ID (403)
        raise
    except Exception as exc:
        return exc


def first_pages(engine: Engine, spans: Sequence[tuple[Entity, Span]]) -> list[Job]:
    """The jobs of an unbudgeted run, the first 10 with their first page (dense ones first)."""
    ahead = spans[:MAX_IN_FLIGHT]

    started: list[Head] = []

    def first(e: Entity, span: Span) -> Head:
        w = span.window
        pages = engine.client.pages(e, w.start, w.end, page_size=engine.page_size, keys_only=True)
        got = _guarded(lambda: next(pages, None))
        head = Head(pages, got)
        if isinstance(got, Page):  # the run's next page goes out now, not when its stream starts
            started.append(head)
            head.read()
        return head

    try:
        heads = _each(ahead, first, lambda h: _unreachable(h.first)) if ahead else []
    except BaseException:
        for h in started:
            h.close()
        raise
    jobs = [Job(e, span, heads[i] if i < len(heads) else None, 0 if i < len(heads) else 1, True)
            for i, (e, span) in enumerate(spans)]
    return sorted(jobs, key=lambda j: 0 if j.head is not None and j.head.full(engine.page_size) else 1)


def counted_jobs(engine: Engine, spans: Sequence[tuple[Entity, Span]], counted: dict[RunKey, int | None]) -> list[Job]:
    """The jobs of a budgeted run: COUNT(*) of every run first (kept in `counted`: the source check's),
    each run split by `split_run`, the biggest streams first. A failed COUNT means one stream."""
    counts = _each(spans, lambda e, span: _guarded(lambda: engine.count(e, span.window)), _error)
    jobs: list[Job] = []
    for (e, span), got in zip(spans, counts, strict=True):
        n = None if isinstance(got, Exception) else got
        if isinstance(got, Exception):
            log.warning("%s %s: planning count failed (%s); fetching as one stream", e.name, span.label,
                        redact(str(got)).splitlines()[0])
        counted[run_key(e, span)] = n
        pieces = split_run(list(span.days), count=n, page_size=engine.page_size, max_streams=engine.workers)
        jobs += [Job(e, p, None, (n or 0) // len(pieces) // engine.page_size + 1, False) for p in pieces]
    return sorted(jobs, key=lambda j: -j.estimate)
