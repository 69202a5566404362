"""`qbo-ingest plan`: what a backfill will cost in QBO requests, before it runs.

The estimate asks QBO one `COUNT(*)` per contiguous run of pending days (one per entity for a plain
range) - metered calls themselves, recorded in the month's book - and applies the engine's own
planning: a run whose records fit in one page costs that page; a larger one costs its COUNT (sent after
its first page; it doubles as the source check when raw agrees) and `split_run`'s streams, each
`records // page_size + 1` data requests (the last page is partial or empty); plus at most one token
refresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from qbo_ingest.catalogue import Entity
from qbo_ingest.jobs.loads import backfill_days, pending_days
from qbo_ingest.pipeline.engine import Engine
from qbo_ingest.pipeline.planning import Span, contiguous_runs, split_run
from qbo_ingest.windows import DateLike


@dataclass
class EntityEstimate:
    entity: str
    days: int
    runs: int
    records: int
    streams: int
    data_requests: int
    count_requests: int

    @property
    def requests(self) -> int:
        return self.data_requests + self.count_requests


@dataclass
class Estimate:
    lines: list[EntityEstimate] = field(default_factory=list)
    estimate_cost: int = 0  # the COUNT requests this estimate itself sent
    month_used: int = 0  # metered calls in the book this month before the estimate
    monthly_budget: int | None = None

    @property
    def requests(self) -> int:
        """Metered requests the backfill is expected to send (token refresh apart)."""
        return sum(x.requests for x in self.lines)


def estimate(engine: Engine, entities: Sequence[Entity], fecha_inicio: DateLike, fecha_fin: DateLike, *,
             resume: bool = False) -> Estimate:
    """The requests `backfill(engine, entities, fecha_inicio, fecha_fin, resume=resume)` would send."""
    days = backfill_days(engine, fecha_inicio, fecha_fin)
    out = Estimate(monthly_budget=engine.budget.monthly_budget)
    with engine.checked(entities) as conn:
        out.month_used = engine.budget.used_before
        pending = pending_days(conn, engine, entities, days, resume=resume)
    for e, todo in pending.items():
        runs = contiguous_runs(todo)
        line = EntityEstimate(e.name, len(todo), len(runs), 0, 0, 0, 0)
        for run in runs:
            n = engine.client.count(e, *_bounds(run))
            out.estimate_cost += 1
            line.records += n
            if n < engine.page_size and not engine.budget.limited:  # one short page: the whole answer and its count
                line.streams += 1
                line.data_requests += 1
                continue
            line.count_requests += 1  # the run's COUNT after its first (full) page
            spans = split_run(run, count=n, page_size=engine.page_size, max_streams=engine.workers)
            line.streams += len(spans)
            line.data_requests += sum(n // len(spans) // engine.page_size + 1 for _ in spans)
        out.lines.append(line)
    engine.book_calls()
    return out


def _bounds(run: list[date]) -> tuple[datetime, datetime]:
    w = Span(tuple(run)).window
    return w.start, w.end

