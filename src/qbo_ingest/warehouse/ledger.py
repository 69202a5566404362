"""The ledger (one row per realm, entity and UTC day), the runs table and the CDC checks, in the state
schema.

Re-exported by `qbo_ingest.warehouse`; same transaction rule: each call commits on return unless made
inside a transaction the caller opened. Day ranges here are inclusive (`start`..`end` dates), like
`fecha_inicio`/`fecha_fin`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from qbo_ingest import catalogue
from qbo_ingest.catalogue import Entity

Status = Literal["succeeded", "failed"]
RunStatus = Literal["running", "succeeded", "failed", "interrupted"]
MAX_ERROR_CHARS = 2000

_LEDGER_COLUMNS = (
    "realm_id, entity, day, status, rows_fetched, rows_upserted, pages, requests, retries, "
    "chars_escaped, attempts, started_at, finished_at, seconds, error, intuit_tid, run_id"
)
_RUN_COLUMNS = (
    "run_id, command, realm_id, entities, range_start, range_end, started_at, finished_at, status, "
    "requests, days_succeeded, days_failed, error"
)


@dataclass(frozen=True)
class LedgerRow:
    realm_id: str
    entity: str
    day: date
    status: str
    rows_fetched: int
    rows_upserted: int
    pages: int
    requests: int
    retries: int
    chars_escaped: int
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    seconds: float | None
    error: str | None
    intuit_tid: str | None
    run_id: str | None


@dataclass(frozen=True)
class RunRow:
    run_id: str
    command: str
    realm_id: str | None
    entities: list[str]
    range_start: date | None
    range_end: date | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    requests: int
    days_succeeded: int | None
    days_failed: int | None
    error: str | None


def _name(e: Entity | str) -> str:
    return e.name if isinstance(e, Entity) else catalogue.get(e).name


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def ledger_begin(
    conn: psycopg.Connection[Any], realm_id: str, entity: Entity | str, days: Iterable[date], *, run_id: str
) -> None:
    """Mark days `running` (counts reset, attempts + 1, started_at now).

    A day still `running` under another run whose process no longer holds its liveness lock
    (`run_alive`: it was killed, crashed, the machine went down) means that run ended without finishing
    it: that run is marked `interrupted` in the runs table. A run still alive is left alone (both load
    the day; the upsert is idempotent and the last to finish writes the day's row).
    """
    ds = sorted(set(days))
    if not ds:
        return
    with conn.transaction():
        conn.execute(
            """UPDATE qbo_ingest.runs SET status = 'interrupted', finished_at = now(),
    error = 'ended without finishing (process killed or crashed); its days were taken over by run ' || %s
WHERE status = 'running' AND run_id <> %s AND run_id IN (
    SELECT l.run_id FROM qbo_ingest.ledger AS l WHERE l.realm_id = %s AND l.entity = %s
       AND l.day = ANY(%s::date[]) AND l.status = 'running')
  AND pg_try_advisory_xact_lock(hashtextextended('qbo_ingest.run:' || run_id, 0))""",
            (run_id, run_id, realm_id, _name(entity), ds),
        )
        conn.execute(
            """INSERT INTO qbo_ingest.ledger AS l
    (realm_id, entity, day, status, attempts, started_at, run_id)
SELECT %s, %s, d, 'running', 1, now(), %s FROM unnest(%s::date[]) AS d
ON CONFLICT (realm_id, entity, day) DO UPDATE SET
    status = 'running', attempts = l.attempts + 1, started_at = now(), finished_at = NULL,
    seconds = NULL, error = NULL, run_id = EXCLUDED.run_id, rows_fetched = 0, rows_upserted = 0,
    pages = 0, requests = 0, retries = 0, chars_escaped = 0""",
            (realm_id, _name(entity), run_id, ds),
        )


def ledger_finish(
    conn: psycopg.Connection[Any],
    realm_id: str,
    entity: Entity | str,
    day: date,
    *,
    status: Status,
    rows_fetched: int,
    rows_upserted: int,
    pages: int,
    requests: int,
    retries: int,
    error: str | None = None,
    intuit_tid: str | None = None,
    seconds: float | None = None,
    run_id: str | None = None,
    chars_escaped: int = 0,
) -> None:
    """Record a day's outcome (inserting the row if `ledger_begin` was not called)."""
    with conn.transaction():
        conn.execute(_FINISH_SQL, _finish_params(
            realm_id, entity, day, status=status, rows_fetched=rows_fetched, rows_upserted=rows_upserted,
            pages=pages, requests=requests, retries=retries, error=error, intuit_tid=intuit_tid, seconds=seconds,
            run_id=run_id, chars_escaped=chars_escaped))


def _finish_params(realm_id: str, entity: Entity | str, day: date, *, status: Status, rows_fetched: int,
                   rows_upserted: int, pages: int, requests: int, retries: int, error: str | None = None,
                   intuit_tid: str | None = None, seconds: float | None = None,
                   run_id: str | None = None, chars_escaped: int = 0) -> dict[str, Any]:
    if status not in ("succeeded", "failed"):
        raise ValueError(f"status must be 'succeeded' or 'failed', not {status!r}")
    return {
        "realm": realm_id, "entity": _name(entity), "day": day, "status": status,
        "fetched": rows_fetched, "upserted": rows_upserted, "pages": pages, "requests": requests,
        "retries": retries, "escaped": chars_escaped, "seconds": seconds, "error": _clip(error),
        "tid": intuit_tid, "run": run_id,
    }


_FINISH_SQL = """INSERT INTO qbo_ingest.ledger AS l (realm_id, entity, day, status, rows_fetched, rows_upserted,
        pages, requests, retries, chars_escaped, attempts, started_at, finished_at, seconds, error,
        intuit_tid, run_id)
VALUES (%(realm)s, %(entity)s, %(day)s, %(status)s, %(fetched)s, %(upserted)s, %(pages)s, %(requests)s,
        %(retries)s, %(escaped)s, 1, now(), now(), %(seconds)s, %(error)s, %(tid)s, %(run)s)
ON CONFLICT (realm_id, entity, day) DO UPDATE SET
    status = EXCLUDED.status, rows_fetched = EXCLUDED.rows_fetched, rows_upserted = EXCLUDED.rows_upserted,
    pages = EXCLUDED.pages, requests = EXCLUDED.requests, retries = EXCLUDED.retries,
    chars_escaped = EXCLUDED.chars_escaped, finished_at = now(), error = EXCLUDED.error,
    seconds = COALESCE(EXCLUDED.seconds, EXTRACT(EPOCH FROM now() - l.started_at)::double precision),
    intuit_tid = COALESCE(EXCLUDED.intuit_tid, l.intuit_tid), run_id = COALESCE(EXCLUDED.run_id, l.run_id),
    attempts = GREATEST(l.attempts, 1), started_at = COALESCE(l.started_at, now())"""


def ledger_finish_many(conn: psycopg.Connection[Any], closes: Sequence[Mapping[str, Any]]) -> None:
    """Several days' outcomes in ONE transaction (one `executemany`, pipelined by psycopg); each item
    holds `ledger_finish`'s arguments after `conn` (realm_id, entity, day, status=..., ...). What the
    engine uses to close the days a page releases (a sparse page closes tens of days: one commit, not
    one each)."""
    if not closes:
        return
    params = []
    for kw in closes:
        args = dict(kw)
        params.append(_finish_params(args.pop("realm_id"), args.pop("entity"), args.pop("day"), **args))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(_FINISH_SQL, params)


def _ledger_query(
    conn: psycopg.Connection[Any],
    *,
    realm_id: str | None,
    entities: Iterable[Entity | str] | None,
    status: str | None,
    start: date | None,
    end: date | None,
) -> list[LedgerRow]:
    where: list[sql.Composable] = []
    params: list[Any] = []
    if realm_id is not None:
        where.append(sql.SQL("realm_id = %s"))
        params.append(realm_id)
    if entities is not None:
        where.append(sql.SQL("entity = ANY(%s)"))
        params.append([_name(e) for e in entities])
    if status is not None:
        where.append(sql.SQL("status = %s"))
        params.append(status)
    if start is not None:
        where.append(sql.SQL("day >= %s"))
        params.append(start)
    if end is not None:
        where.append(sql.SQL("day <= %s"))
        params.append(end)
    q = sql.SQL("SELECT {cols} FROM qbo_ingest.ledger").format(cols=sql.SQL(_LEDGER_COLUMNS))
    if where:
        q += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    q += sql.SQL(" ORDER BY realm_id, entity, day")
    with conn.transaction(), conn.cursor(row_factory=class_row(LedgerRow)) as cur:
        return cur.execute(q, params).fetchall()


def ledger_days(
    conn: psycopg.Connection[Any],
    realm_id: str,
    entity: Entity | str,
    *,
    status: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[LedgerRow]:
    """One entity's ledger rows for a realm, by day (optionally one status, days start..end inclusive)."""
    return _ledger_query(conn, realm_id=realm_id, entities=[entity], status=status, start=start, end=end)


def ledger_summary(
    conn: psycopg.Connection[Any],
    realm_id: str | None = None,
    entities: Iterable[Entity | str] | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    status: str | None = None,
) -> list[LedgerRow]:
    """Ledger rows across realms/entities, ordered (realm, entity, day): what `qbo-ingest status` shows."""
    return _ledger_query(conn, realm_id=realm_id, entities=entities, status=status, start=start, end=end)


def run_start(
    conn: psycopg.Connection[Any],
    *,
    command: str,
    entities: Iterable[Entity | str] = (),
    start: date | None = None,
    end: date | None = None,
    realm_id: str | None = None,
    run_id: str | None = None,
) -> str:
    """Insert a `running` row in qbo_ingest.runs; returns its run_id (a new uuid4 hex unless given)."""
    rid = run_id or uuid.uuid4().hex
    with conn.transaction():
        conn.execute(
            """INSERT INTO qbo_ingest.runs (run_id, command, realm_id, entities, range_start, range_end)
VALUES (%s, %s, %s, %s, %s, %s)""",
            (rid, command, realm_id, [_name(e) for e in entities], start, end),
        )
    return rid


def run_finish(
    conn: psycopg.Connection[Any],
    run_id: str,
    *,
    status: RunStatus,
    requests: int = 0,
    days_succeeded: int | None = None,
    days_failed: int | None = None,
    error: str | None = None,
) -> None:
    with conn.transaction():
        cur = conn.execute(
            """UPDATE qbo_ingest.runs SET status = %s, finished_at = now(), requests = %s,
    days_succeeded = %s, days_failed = %s, error = %s WHERE run_id = %s""",
            (status, requests, days_succeeded, days_failed, _clip(error), run_id),
        )
        if cur.rowcount != 1:
            raise LookupError(f"run {run_id!r} not found in qbo_ingest.runs")


def runs_recent(conn: psycopg.Connection[Any], limit: int = 20) -> list[RunRow]:
    """The latest runs, newest first."""
    q = sql.SQL("SELECT {cols} FROM qbo_ingest.runs ORDER BY started_at DESC LIMIT %s").format(
        cols=sql.SQL(_RUN_COLUMNS)
    )
    with conn.transaction(), conn.cursor(row_factory=class_row(RunRow)) as cur:
        return cur.execute(q, (limit,)).fetchall()


@contextmanager
def run_alive(dsn: str, run_id: str) -> Iterator[None]:
    """Hold the run's liveness lock (a session advisory lock on its own connection) while the run lives;
    the server releases it when the process dies, however it dies."""
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        conn.execute("SELECT pg_advisory_lock(hashtextextended('qbo_ingest.run:' || %s, 0))", (run_id,))
        yield
    finally:
        conn.close()


def cdc_checked_at(conn: psycopg.Connection[Any], realm_id: str, entity: Entity | str) -> datetime | None:
    """When the sync last asked CDC for this entity's deletions (the next `changedSince`), or None."""
    with conn.transaction():
        row = conn.execute("SELECT checked_at FROM qbo_ingest.cdc_state WHERE realm_id = %s AND entity = %s",
                           (realm_id, _name(entity))).fetchone()
    return row[0] if row else None


def cdc_save_check(conn: psycopg.Connection[Any], realm_id: str, entity: Entity | str, at: datetime) -> None:
    with conn.transaction():
        conn.execute("""INSERT INTO qbo_ingest.cdc_state (realm_id, entity, checked_at) VALUES (%s, %s, %s)
ON CONFLICT (realm_id, entity) DO UPDATE SET checked_at = EXCLUDED.checked_at""", (realm_id, _name(entity), at))


def newest_succeeded_day(conn: psycopg.Connection[Any], realm_id: str, entity: Entity | str) -> date | None:
    """The newest UTC day the ledger marks succeeded for this entity, or None: what the sync starts
    from when raw holds nothing for it (a backfill of days with no record)."""
    with conn.transaction():
        row = conn.execute("SELECT max(day) FROM qbo_ingest.ledger WHERE realm_id = %s AND entity = %s "
                           "AND status = 'succeeded'", (realm_id, _name(entity))).fetchone()
    return row[0] if row else None
