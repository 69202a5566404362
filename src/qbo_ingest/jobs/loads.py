"""Backfill jobs: which days to load (a range, the range less what succeeded, the failed days, one
Mage child's day), handed to the engine. Each is `job(engine, ...) -> report`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import date

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity
from qbo_ingest.pipeline.daybook import DayBook
from qbo_ingest.pipeline.engine import Engine
from qbo_ingest.pipeline.planning import Span, contiguous_runs
from qbo_ingest.pipeline.report import DayOutcome, RunReport
from qbo_ingest.windows import DateLike, daily_windows, day_range

log = logging.getLogger("qbo_ingest.backfill")


def backfill(engine: Engine, entities: Sequence[Entity], fecha_inicio: DateLike, fecha_fin: DateLike, *,
             resume: bool = False, run_id: str | None = None) -> RunReport:
    """Every UTC day of `fecha_inicio`..`fecha_fin` for each entity; `resume` skips days that succeeded."""
    days = [w.day for w in daily_windows(fecha_inicio, fecha_fin, today=engine.clock().date())]
    plan: dict[Entity, list[date]] = {}
    with engine.checked(entities) as conn:
        for e in entities:
            pending = days
            if resume:
                done = {r.day for r in wh.ledger_days(conn, engine.realm_id, e.name, status="succeeded",
                                                      start=days[0], end=days[-1])}
                pending = [d for d in days if d not in done]
                if done:
                    log.info("%s: resume skips %d succeeded day(s), %d to do", e.name, len(done), len(pending))
            plan[e] = pending
    return engine.load_plan(plan, run_id=run_id, command="backfill")


def retry_failed(engine: Engine, entities: Sequence[Entity], *, start: DateLike | None = None,
                 end: DateLike | None = None,
                 run_id: str | None = None) -> RunReport:
    """Rerun every day whose ledger status is not `succeeded` (failed, or left running by a crash)."""
    s, t = day_range(start, end)
    plan: dict[Entity, list[date]] = {}
    with engine.checked(entities) as conn:
        for e in entities:
            rows = wh.ledger_days(conn, engine.realm_id, e.name, start=s, end=t)
            todo = sorted({r.day for r in rows if r.status != "succeeded"})
            if todo:
                plan[e] = todo
    return engine.load_plan(plan, run_id=run_id, command="retry-failed")


def load_days(engine: Engine, entity: Entity, days: Sequence[date], *, run_id: str | None = None) -> list[DayOutcome]:
    """Load exactly these days, each run of consecutive ones as one stream (what one Mage child does
    for its day): no planning COUNT, no source check, no runs row."""
    with engine.checked([entity]):
        pass
    outcomes: list[DayOutcome] = []
    for run in contiguous_runs(list(days)):
        span = Span(tuple(run))
        book = DayBook()
        book.add(entity.name, span.days)
        outs, _ = engine.stream(entity, span, run_id or uuid.uuid4().hex[:12], book)
        outcomes.extend(outs)
    return outcomes
