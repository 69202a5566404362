"""Backfill jobs: which days to load (a range, the range less what succeeded, the failed days, one
Mage child's day), handed to the engine. Each is `job(engine, ...) -> report`."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

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
    days = backfill_days(engine, fecha_inicio, fecha_fin)
    with engine.checked(entities) as conn:
        plan = pending_days(conn, engine, entities, days, resume=resume)
    return engine.load_plan(plan, run_id=run_id, command="backfill")


def backfill_days(engine: Engine, fecha_inicio: DateLike, fecha_fin: DateLike) -> list[date]:
    """The UTC days a backfill of `fecha_inicio`..`fecha_fin` covers (a future fecha_fin refused)."""
    return [w.day for w in daily_windows(fecha_inicio, fecha_fin, today=engine.clock().date())]


def pending_days(conn: Any, engine: Engine, entities: Sequence[Entity], days: list[date], *,
                 resume: bool) -> dict[Entity, list[date]]:
    """The days each entity still needs: all of them, or with `resume` those the ledger does not mark
    succeeded. The one rule `backfill` loads by and `plan` estimates by."""
    plan: dict[Entity, list[date]] = {}
    for e in entities:
        pending = days
        if resume:
            done = {r.day for r in wh.ledger_days(conn, engine.realm_id, e.name, status="succeeded",
                                                  start=days[0], end=days[-1])}
            pending = [d for d in days if d not in done]
            if done:
                log.info("%s: resume skips %d succeeded day(s), %d to do", e.name, len(done), len(pending))
        plan[e] = pending
    return plan


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


def ledger_day(dsn: str, realm_id: str, entity: Entity, day: date) -> wh.LedgerRow | None:
    """The ledger row of one day (None: never loaded): what a Mage child checks before fetching (no
    engine, no QBO client: one query)."""
    with wh.connect(dsn) as conn:
        rows = wh.ledger_days(conn, realm_id, entity.name, start=day, end=day)
    return rows[0] if rows else None


def take_over_day(dsn: str, row: wh.LedgerRow, run_id: str) -> None:
    """Stamp a failed day with `run_id`, keeping its counts and error (a Mage child taking over the
    failure its planner recorded, so that a retry of that child knows to fetch the day)."""
    with wh.connect(dsn) as conn:
        wh.ledger_finish(conn, row.realm_id, row.entity, row.day, status="failed",
                         rows_fetched=row.rows_fetched, rows_upserted=row.rows_upserted, pages=row.pages,
                         requests=row.requests, retries=row.retries, error=row.error,
                         intuit_tid=row.intuit_tid, seconds=row.seconds, run_id=run_id)


_TID = re.compile(r"intuit_tid=([A-Za-z0-9._-]+)")


def charge_failures(engine: Engine, entity: Entity, outcomes: Sequence[DayOutcome], *, requests: int,
                    retries: int, intuit_tid: str | None = None) -> None:
    """Give the first failed day what the engine could not attribute to a page: `requests` the client
    sent and `retries` it made during this load, less what the ledger rows of these days already carry
    (the failed page's attempts are on no row), and the last `intuit_tid` (its error's, else the last one
    the client logged, `intuit_tid`: a circuit breaker error names none). So the ledger
    row of a failed day shows what the failure cost and what to quote to Intuit support."""
    failed = sorted((o for o in outcomes if o.status != "succeeded" and o.entity == entity.name),
                    key=lambda o: o.day)
    if not failed or (requests <= 0 and retries <= 0):
        return
    days = {o.day for o in outcomes if o.entity == entity.name}
    with wh.connect(engine.dsn) as conn:
        rows = {r.day: r for r in wh.ledger_days(conn, engine.realm_id, entity.name, start=min(days),
                                                 end=max(days)) if r.day in days}
        row = rows.get(failed[0].day)
        if row is None:
            return
        extra_requests = max(0, requests - sum(r.requests for r in rows.values()))
        extra_retries = max(0, retries - sum(r.retries for r in rows.values()))
        tid = _TID.findall(row.error or "") or ([intuit_tid] if intuit_tid else [])
        wh.ledger_finish(conn, engine.realm_id, entity.name, row.day, status="failed",
                         rows_fetched=row.rows_fetched, rows_upserted=row.rows_upserted, pages=row.pages,
                         requests=row.requests + extra_requests, retries=row.retries + extra_retries,
                         error=row.error, intuit_tid=tid[-1] if tid else row.intuit_tid, seconds=row.seconds,
                         run_id=row.run_id)


def query_counts(engine: Engine) -> tuple[int, int]:
    """(query requests, retries) the engine's client has made so far; (0, 0) for a source without stats."""
    stats = getattr(getattr(engine, "client", None), "stats", None)
    if stats is None:
        return 0, 0
    return int(stats.by_kind.get("query", 0)), int(stats.retries)
