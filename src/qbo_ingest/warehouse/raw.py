"""Raw tables `raw.qb_<plural>`: the per-page upsert (newer wins), CDC deletes, counts and reads.

Every table name comes from the entity catalogue and is quoted with `psycopg.sql.Identifier`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import psycopg
from psycopg import sql

from qbo_ingest import faultpoints
from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import WarehouseError
from qbo_ingest.records import parse_qbo_time, placed_time, readable_time, record_id, version_key
from qbo_ingest.warehouse.connection import EntityLike, entity_of, table
from qbo_ingest.warehouse.storable import storable_json
from qbo_ingest.windows import Window, day_window

log = logging.getLogger("qbo_ingest.warehouse")

UTC = timezone.utc
_STAGE = "qbo_page_stage"


@dataclass(frozen=True)
class UpsertResult:
    rows_fetched: int
    rows_upserted: int
    by_day: dict[date, tuple[int, int]] = field(default_factory=dict)  # day -> (fetched, upserted)
    # day -> characters jsonb cannot hold (NUL, lone surrogates), stored escaped (warehouse/storable.py)
    escaped_by_day: dict[date, int] = field(default_factory=dict)


_Row = tuple[str, Mapping[str, Any], datetime, datetime, datetime]  # id, record, LastUpdatedTime, window


def _naive_utc(ts: datetime) -> datetime:
    if ts.tzinfo is None:
        return ts
    return ts.astimezone(UTC).replace(tzinfo=None)


def _create_stage(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (id text NOT NULL, payload jsonb NOT NULL, "
            "lu timestamptz NOT NULL, ws timestamp NOT NULL, we timestamp NOT NULL) ON COMMIT DELETE ROWS"
        ).format(sql.Identifier(_STAGE))
    )
    conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("pg_temp", _STAGE)))


def _upsert_sql(e: Entity, source: sql.Composable) -> sql.Composed:
    """INSERT ... ON CONFLICT DO UPDATE from `source` (id, payload, lu, ws, we): newer or equal wins."""
    return sql.SQL(
        """INSERT INTO {t} AS t (realm_id, id, payload, ingested_at_utc, extract_window_start_utc,
                          extract_window_end_utc, page_number, last_updated_at)
    SELECT DISTINCT ON (s.id)
           %(realm)s, s.id, s.payload, (now() AT TIME ZONE 'UTC'), s.ws, s.we, %(page)s, s.lu
    FROM {stage} AS s
    ORDER BY s.id, s.lu DESC
    ON CONFLICT (realm_id, id) DO UPDATE SET
        payload = EXCLUDED.payload,
        ingested_at_utc = EXCLUDED.ingested_at_utc,
        extract_window_start_utc = EXCLUDED.extract_window_start_utc,
        extract_window_end_utc = EXCLUDED.extract_window_end_utc,
        page_number = EXCLUDED.page_number,
        last_updated_at = EXCLUDED.last_updated_at,
        deleted_at_utc = CASE WHEN t.deleted_at_utc IS NOT NULL
                               AND EXCLUDED.last_updated_at > t.deleted_at_utc
                              THEN NULL ELSE t.deleted_at_utc END
    WHERE t.last_updated_at <= EXCLUDED.last_updated_at
    RETURNING t.extract_window_start_utc"""
    ).format(t=table(e), stage=source)


_FROM_BODY = """WITH k AS (
    SELECT * FROM unnest(%(ids)s::text[], %(lus)s::timestamptz[], %(ws)s::timestamp[], %(we)s::timestamp[])
                  AS k(id, lu, ws, we)
), j AS MATERIALIZED (
    SELECT k.id, el.value AS payload, k.lu, k.ws, k.we
    FROM k JOIN jsonb_array_elements(CAST(%(body)s AS jsonb) -> 'QueryResponse' -> %(name)s) AS el(value)
           ON el.value ->> 'Id' = k.id
), up AS ({upsert})
SELECT NULL::date, (SELECT count(*) FROM j)
UNION ALL
SELECT CAST(extract_window_start_utc AS date), count(*) FROM up GROUP BY 1"""


class _BodyMismatch(Exception):
    """The body did not give exactly one element per record: undo the statement, load the records."""


def _upsert_from_body(conn: psycopg.Connection[Any], e: Entity, body: bytes, rows: Sequence[_Row],
                      realm_id: str, page_number: int) -> dict[date, int] | None:
    """The page in one statement: PostgreSQL parses the response text once, joins its elements to the
    Python-computed keys by Id and upserts them (no staging table). None, with nothing changed, when the
    body does not hold exactly these records or PostgreSQL refuses its text (a \\u0000 jsonb cannot hold)."""
    stmt = sql.SQL(_FROM_BODY).format(upsert=_upsert_sql(e, sql.Identifier("j")))
    try:
        params = {"ids": [r[0] for r in rows], "lus": [r[2] for r in rows], "ws": [r[3] for r in rows],
                  "we": [r[4] for r in rows], "body": body.decode("utf-8"), "name": e.name,
                  "realm": realm_id, "page": page_number}
        with conn.transaction(), conn.cursor() as cur:  # a savepoint: a refusal leaves the page loadable
            cur.execute(stmt, params)
            out = dict(cur.fetchall())
            if out.pop(None) != len(rows):
                raise _BodyMismatch
            return {d: int(n) for d, n in out.items()}
    except (psycopg.DataError, UnicodeDecodeError, _BodyMismatch) as exc:
        log.debug("page body not usable for %s (%s): encoding records instead", e.name, type(exc).__name__)
    return None


def upsert_page(
    conn: psycopg.Connection[Any],
    entity: EntityLike,
    realm_id: str,
    records: Sequence[Mapping[str, Any]],
    *,
    page_number: int,
    window: Window | None = None,
    body: bytes | None = None,
    floor: datetime | None = None,
    keys_only: bool = False,
) -> UpsertResult:
    """Load one page with INSERT ... ON CONFLICT DO UPDATE where not older.

    `body`, the raw query response the records came from (`qbo.Page.body`), lets PostgreSQL take each
    payload from the response text itself, in one statement: stored exactly as received, and no JSON
    re-encoding in Python (a quarter of the engine's CPU, bench/README.md). Without it, or if the body
    does not hold exactly these records, the records are encoded and COPied into a temp table first.
    `keys_only` records (`Page.keys_only`: only Id and LastUpdatedTime) take their payloads from `body`
    in either case.

    `rows_upserted` counts rows inserted or updated by the statement: a newer or equal
    LastUpdatedTime replaces the row (equal: only metadata and ingested_at_utc change); an older one
    is skipped and not counted. `window=None` attributes each record to the UTC day of its
    LastUpdatedTime; a given window is stamped on every row. Committed on return unless called
    inside the caller's transaction.
    """
    e = entity_of(entity)
    if not records:
        return UpsertResult(0, 0, {})
    rows: list[_Row] = []
    fetched_by_day: dict[date, int] = {}
    unplaced: list[str] = []
    for rec in records:
        rid = record_id(rec, entity=e.name)
        lu = placed_time(rec, floor, entity=e.name)
        if floor is not None and readable_time(rec) is None:
            unplaced.append(rid)
        w = window or day_window(lu.astimezone(UTC).date())
        ws, we = _naive_utc(w.start), _naive_utc(w.end)
        fetched_by_day[ws.date()] = fetched_by_day.get(ws.date(), 0) + 1
        rows.append((rid, rec, lu, ws, we))

    stmt = sql.SQL("WITH up AS ({upsert})\nSELECT CAST(extract_window_start_utc AS date), count(*) FROM up GROUP BY 1"
                   ).format(upsert=_upsert_sql(e, sql.Identifier("pg_temp", _STAGE)))

    escaped_by_day: dict[date, int] = {}
    escaped_ids: list[str] = []
    upserted_by_day: dict[date, int] = {}
    try:
        _load_page(conn, e, realm_id, rows, stmt, page_number, body, escaped_by_day, escaped_ids, upserted_by_day,
                   keys_only)
    except psycopg.errors.LockNotAvailable:
        raise WarehouseError(f"{e.qualified_table} is locked by another session (waited lock_timeout)",
                             next_step="find it with SELECT pid, usename, state, query FROM pg_stat_activity "
                             "WHERE pid IN (SELECT pid FROM pg_locks WHERE relation = "
                             f"'{e.qualified_table}'::regclass); end it, then qbo-ingest retry-failed") from None
    except psycopg.errors.QueryCanceled:
        raise WarehouseError(f"{e.qualified_table}: page {page_number} took longer than statement_timeout",
                             next_step="check the server's load and locks, then qbo-ingest retry-failed") from None
    except psycopg.DataError as exc:
        # The message's DETAIL/CONTEXT quote the offending record's text: keep only the primary message.
        raise WarehouseError(f"{e.name} page {page_number}: PostgreSQL refused a record ({exc.sqlstate}: "
                             f"{exc.diag.message_primary})",
                             next_step="report the page's record Ids (in the log) as a bug") from None
    by_day = {d: (n, upserted_by_day.get(d, 0)) for d, n in sorted(fetched_by_day.items())}
    if unplaced:  # stored, not dropped: QBO returned them for this query
        log.warning("%s page %d: %d record(s) without a readable MetaData.LastUpdatedTime (missing, or no UTC "
                    "offset) stored at the query's lower bound %s, Id %s", e.name, page_number, len(unplaced),
                    floor.isoformat() if floor else "-", ", ".join(unplaced[:20]))
    if escaped_ids:  # Ids only: never the record's text
        log.warning("%s page %d: %d character(s) jsonb cannot hold (NUL, lone surrogate) stored escaped "
                    "as \\uXXXX text in %d record(s), Id %s", e.name, page_number,
                    sum(escaped_by_day.values()), len(escaped_ids), ", ".join(escaped_ids[:20]))
    return UpsertResult(len(records), sum(upserted_by_day.values()), by_day, escaped_by_day)


def _load_page(conn: psycopg.Connection[Any], e: Entity, realm_id: str, rows: Sequence[_Row], stmt: sql.Composed,
               page_number: int, body: bytes | None, escaped_by_day: dict[date, int], escaped_ids: list[str],
               upserted_by_day: dict[date, int], keys_only: bool) -> None:
    with conn.transaction():
        got = None if body is None else _upsert_from_body(conn, e, body, rows, realm_id, page_number)
        if got is not None:
            upserted_by_day.update(got)
        else:
            if keys_only:
                rows = _whole_rows(e, body, rows)
            _create_stage(conn)
            with conn.cursor() as cur:
                with cur.copy(sql.SQL("COPY {} (id, payload, lu, ws, we) FROM STDIN").format(
                        sql.Identifier("pg_temp", _STAGE))) as cp:
                    for rid, rec, lu, ws, we in rows:
                        text, n = storable_json(rec)
                        if n:
                            escaped_by_day[ws.date()] = escaped_by_day.get(ws.date(), 0) + n
                            escaped_ids.append(rid)
                        cp.write_row((rid, text, lu, ws, we))
                cur.execute(stmt, {"realm": realm_id, "page": page_number})
                upserted_by_day.update({d: int(n) for d, n in cur.fetchall()})
        faultpoints.hit("upsert")  # test seam: a crash here must leave no partial page


def _whole_rows(e: Entity, body: bytes | None, rows: Sequence[_Row]) -> list[_Row]:
    """Rows of keys-only records with their whole records from the body they were read from."""
    try:
        whole = json.loads(body or b"null")["QueryResponse"][e.name]
        by_version = {version_key(r): r for r in whole}
        return [(rid, by_version[version_key(rec)], lu, ws, we) for rid, rec, lu, ws, we in rows]
    except (ValueError, LookupError, TypeError, AttributeError):
        raise WarehouseError(f"{e.name}: the page's body does not hold the records read from it",
                             next_step="report it as a bug; qbo-ingest retry-failed reloads the day") from None


def mark_deleted(
    conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str, stubs: Sequence[Mapping[str, Any]]
) -> int:
    """Apply CDC delete stubs (`{"Id", "status": "Deleted", "MetaData": {"LastUpdatedTime"}}`).

    A loaded row keeps its last payload and gets `deleted_at_utc` = the stub's LastUpdatedTime (now
    when absent), unless the row is newer than the deletion. An id never loaded is inserted with the
    stub as payload. Returns the rows marked or inserted (an already-marked row is not counted).
    """
    e = entity_of(entity)
    if not stubs:
        return 0
    now = datetime.now(UTC)
    latest: dict[str, tuple[datetime, Mapping[str, Any]]] = {}
    for stub in stubs:
        rid = record_id(stub, entity=e.name)
        meta = stub.get("MetaData") or {}
        text = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
        at = parse_qbo_time(str(text)) if text else now
        if rid not in latest or at > latest[rid][0]:
            latest[rid] = (at, stub)
    ids = list(latest)
    ats = [latest[i][0] for i in ids]
    payloads = [json.dumps(latest[i][1]) for i in ids]
    starts = [_naive_utc(day_window(a.astimezone(UTC).date()).start) for a in ats]
    ends = [s + timedelta(days=1) for s in starts]
    stmt = sql.SQL(
        """INSERT INTO {t} AS t (realm_id, id, payload, extract_window_start_utc, extract_window_end_utc,
                       page_number, last_updated_at, deleted_at_utc)
SELECT %(realm)s, s.id, s.payload::jsonb, s.ws, s.we, NULL, s.at, s.at
FROM unnest(%(ids)s::text[], %(payloads)s::text[], %(ats)s::timestamptz[], %(ws)s::timestamp[],
            %(we)s::timestamp[]) AS s(id, payload, at, ws, we)
ON CONFLICT (realm_id, id) DO UPDATE SET deleted_at_utc = EXCLUDED.deleted_at_utc
WHERE t.deleted_at_utc IS NULL AND t.last_updated_at <= EXCLUDED.deleted_at_utc"""
    ).format(t=table(e))
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            stmt,
            {"realm": realm_id, "ids": ids, "payloads": payloads, "ats": ats, "ws": starts, "we": ends},
        )
        return cur.rowcount


# ---------------------------------------------------------------- reading


def _instant(v: date | datetime) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)
    return datetime(v.year, v.month, v.day, tzinfo=UTC)


def count_rows(
    conn: psycopg.Connection[Any],
    entity: EntityLike,
    realm_id: str,
    start: date | datetime,
    end: date | datetime,
    *,
    include_deleted: bool = False,
) -> int:
    """Rows whose LastUpdatedTime is in [start, end) (dates are UTC midnights; naive times are UTC)."""
    e = entity_of(entity)
    q: sql.Composed = sql.SQL(
        "SELECT count(*) FROM {t} WHERE realm_id = %s AND last_updated_at >= %s AND last_updated_at < %s"
    ).format(t=table(e))
    if not include_deleted:
        q += sql.SQL(" AND deleted_at_utc IS NULL")
    with conn.transaction():
        row = conn.execute(q, (realm_id, _instant(start), _instant(end))).fetchone()
    return int(row[0]) if row else 0


def raw_snapshot(
    conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str, *, include_deleted: bool = False
) -> dict[str, datetime]:
    """id -> last_updated_at of what `raw` holds for a realm (deleted rows left out unless asked)."""
    e = entity_of(entity)
    q: sql.Composed = sql.SQL("SELECT id, last_updated_at FROM {t} WHERE realm_id = %s").format(t=table(e))
    if not include_deleted:
        q += sql.SQL(" AND deleted_at_utc IS NULL")
    with conn.transaction():
        return {rid: lu for rid, lu in conn.execute(q, (realm_id,)).fetchall()}


def watermark(conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str) -> datetime | None:
    """The newest LastUpdatedTime loaded for a realm, or None if nothing is."""
    e = entity_of(entity)
    q = sql.SQL("SELECT max(last_updated_at) FROM {t} WHERE realm_id = %s").format(t=table(e))
    with conn.transaction():
        row = conn.execute(q, (realm_id,)).fetchone()
    return row[0] if row else None


def daily_counts(
    conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str | None = None
) -> list[tuple[date, int]]:
    """The spec's manual check: `SELECT DATE(extract_window_start_utc), COUNT(*) ... GROUP BY 1`."""
    e = entity_of(entity)
    q: sql.Composed = sql.SQL(
        "SELECT DATE(extract_window_start_utc) AS fecha_proceso, COUNT(*) AS total_registros FROM {t}"
    ).format(t=table(e))
    params: tuple[Any, ...] = ()
    if realm_id is not None:
        q += sql.SQL(" WHERE realm_id = %s")
        params = (realm_id,)
    q += sql.SQL(" GROUP BY 1 ORDER BY 1")
    with conn.transaction():
        return [(d, int(n)) for d, n in conn.execute(q, params).fetchall()]


