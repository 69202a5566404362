"""The PostgreSQL warehouse: `raw.qb_<plural>` tables, the per-page upsert, deletes, counts, grants.

Every table and schema name comes from the entity catalogue and is quoted with `psycopg.sql.Identifier`.

Transactions: each public function runs inside `with conn.transaction()`. On an idle connection that
is its own transaction, committed before the function returns (so an upserted page is durable at
once). Called inside a transaction the caller opened (`with conn.transaction(): ...`), it becomes a
savepoint and the caller's commit decides.

Timestamps: `ingested_at_utc` and `extract_window_*_utc` are `timestamp` (without time zone) holding UTC
wall-clock time, as the spec says: then the spec's manual check `DATE(extract_window_start_utc)` gives
the UTC day in any session time zone (with `timestamptz` it would shift with the client's TimeZone in
pgAdmin). Instants compared across offsets (`last_updated_at`, `deleted_at_utc`) are `timestamptz`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from qbo_ingest import entities as catalogue
from qbo_ingest import faultpoints
from qbo_ingest.entities import Entity
from qbo_ingest.ledger import (
    LedgerRow,
    RunRow,
    ledger_begin,
    ledger_days,
    ledger_finish,
    ledger_summary,
    run_finish,
    run_start,
    runs_recent,
)
from qbo_ingest.windows import Window, day_window, parse_qbo_time

__all__ = [
    "RAW_SCHEMA",
    "STATE_SCHEMA",
    "GrantError",
    "InitResult",
    "LedgerRow",
    "RunRow",
    "UpsertResult",
    "check_grants",
    "connect",
    "count_rows",
    "daily_counts",
    "ensure_schema",
    "init_db",
    "ledger_begin",
    "ledger_days",
    "ledger_finish",
    "ledger_summary",
    "mark_deleted",
    "raw_snapshot",
    "run_finish",
    "run_start",
    "runs_recent",
    "upsert_page",
    "watermark",
]

log = logging.getLogger(__name__)

UTC = timezone.utc
RAW_SCHEMA = "raw"
STATE_SCHEMA = "qbo_ingest"
STATE_TABLES = ("ledger", "runs", "oauth_tokens")
_STAGE = "qbo_page_stage"

EntityLike = Entity | str


class GrantError(PermissionError):
    """The connected user lacks privileges the load needs; the message says what to GRANT."""

    def __init__(self, user: str, missing: list[str], remediation: list[str]) -> None:
        self.user = user
        self.missing = missing
        self.remediation = remediation
        super().__init__(
            f"Database user {user!r} is missing: {'; '.join(missing)}. "
            f"As an admin run: {' '.join(remediation)} (or `qbo-ingest db init`)."
        )


@dataclass(frozen=True)
class UpsertResult:
    rows_fetched: int
    rows_upserted: int
    by_day: dict[date, tuple[int, int]] = field(default_factory=dict)  # day -> (fetched, upserted)


@dataclass(frozen=True)
class InitResult:
    tables: list[str]
    loader_role: str
    analyst_role: str


# ---------------------------------------------------------------- connection and DDL


def connect(dsn: str) -> psycopg.Connection[Any]:
    """A psycopg 3 connection (URL or conninfo), autocommit off, session time zone UTC."""
    conn = psycopg.connect(dsn, autocommit=False)
    conn.execute("SET TIME ZONE 'UTC'")
    conn.commit()
    return conn


def _entity(e: EntityLike) -> Entity:
    return e if isinstance(e, Entity) else catalogue.get(e)


def _entities(es: Iterable[EntityLike] | None) -> list[Entity]:
    return list(catalogue.CATALOGUE) if es is None else [_entity(e) for e in es]


def _table(e: Entity) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(e.table))


def _sql_text(name: str) -> str:
    return resources.files("qbo_ingest").joinpath("sql").joinpath(name).read_text(encoding="utf-8")


def _oid(conn: psycopg.Connection[Any], schema: str, name: str) -> int | None:
    """The relation's oid from the catalogue (readable without USAGE on the schema), or None."""
    row = conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    return int(row[0]) if row else None


def _exists(conn: psycopg.Connection[Any], schema: str, name: str) -> bool:
    return _oid(conn, schema, name) is not None


def _raw_ddl(e: Entity) -> list[sql.Composed]:
    t = _table(e)
    ident = sql.Identifier
    return [
        sql.SQL(
            """CREATE TABLE IF NOT EXISTS {t} (
    realm_id                 varchar     NOT NULL,
    id                       varchar     NOT NULL,
    payload                  jsonb       NOT NULL,
    ingested_at_utc          timestamp   NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    extract_window_start_utc timestamp   NOT NULL,
    extract_window_end_utc   timestamp   NOT NULL,
    page_number              integer,
    last_updated_at          timestamptz NOT NULL,
    deleted_at_utc           timestamptz,
    PRIMARY KEY (realm_id, id)
)"""
        ).format(t=t),
        sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} (extract_window_start_utc)").format(
            i=ident(f"{e.table}_window_start_idx"), t=t
        ),
        sql.SQL("CREATE INDEX IF NOT EXISTS {i} ON {t} (realm_id, last_updated_at)").format(
            i=ident(f"{e.table}_realm_updated_idx"), t=t
        ),
        sql.SQL("COMMENT ON TABLE {t} IS {c}").format(
            t=t,
            c=sql.Literal(
                f"QuickBooks Online {e.name} records exactly as received (payload), one row per "
                "(realm_id, id); newest MetaData.LastUpdatedTime wins. Loaded by qbo-ingest."
            ),
        ),
    ]


def ensure_schema(conn: psycopg.Connection[Any], entities: Iterable[EntityLike] | None = None) -> list[str]:
    """Create schemas `raw` and `qbo_ingest`, the raw tables and the state tables (ledger, runs and
    the client's token store `qbo_ingest.oauth_tokens`), if missing.

    Objects that already exist are not touched (no DDL is sent for them), so a least-privilege
    loader can call this after `db init` without needing CREATE. Returns the tables it created.
    """
    es = _entities(entities)
    created: list[str] = []
    with conn.transaction():
        absent = _absent(conn, es)
        if not absent:
            return created
        me = conn.execute("SELECT current_user").fetchone()
        try:
            _create_missing(conn, es, created)
        except psycopg.errors.InsufficientPrivilege:
            raise GrantError(
                str(me[0]) if me else "?",
                [f"table {t} (does not exist)" for t in absent],
                ["qbo-ingest db init;"],
            ) from None
    if created:
        log.info("Warehouse: created %d table(s): %s", len(created), ", ".join(created))
    return created


def _create_missing(conn: psycopg.Connection[Any], es: list[Entity], created: list[str]) -> None:
    # Serialise DDL between processes (same lock as the token store): concurrent
    # CREATE ... IF NOT EXISTS can still collide on the catalogue.
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('qbo_ingest.ddl', 0))")
    if not _schema_exists(conn, RAW_SCHEMA):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(RAW_SCHEMA)))
    for e in es:
        if not _exists(conn, RAW_SCHEMA, e.table):
            for stmt in _raw_ddl(e):
                conn.execute(stmt)
            created.append(e.qualified_table)
    absent = [t for t in STATE_TABLES if not _exists(conn, STATE_SCHEMA, t)]
    for t in absent:
        if not _exists(conn, STATE_SCHEMA, t):  # state.sql creates ledger and runs at once
            conn.execute(_state_ddl(t))
    created += [f"{STATE_SCHEMA}.{t}" for t in absent]


def _absent(conn: psycopg.Connection[Any], es: list[Entity]) -> list[str]:
    """Qualified names of the raw and state tables that do not exist yet (one catalogue query)."""
    wanted = [(RAW_SCHEMA, e.table) for e in es] + [(STATE_SCHEMA, t) for t in STATE_TABLES]
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE (n.nspname = %s AND c.relname = ANY(%s)) OR (n.nspname = %s AND c.relname = ANY(%s))",
        (RAW_SCHEMA, [e.table for e in es], STATE_SCHEMA, list(STATE_TABLES)),
    ).fetchall()
    have = {(str(a), str(b)) for a, b in rows}
    return [f"{schema}.{name}" for schema, name in dict.fromkeys(wanted) if (schema, name) not in have]


def _state_ddl(table: str) -> str:
    if table == "oauth_tokens":
        from qbo_ingest.token_store import DDL  # owned by the client; created here by the admin

        return DDL
    return _sql_text("state.sql")


def _schema_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    return row is not None


def init_db(
    admin_dsn: str,
    *,
    loader_role: str = "qbo_loader",
    loader_password: str | None = None,
    analyst_role: str = "qbo_analyst",
    analyst_password: str | None = None,
    entities: Iterable[EntityLike] | None = None,
) -> InitResult:
    """What `qbo-ingest db init` does, as an admin: schemas, tables, then sql/roles.sql. Idempotent.

    Role names and passwords reach roles.sql as transaction-local settings, never spliced into SQL
    text here, and are never logged. A None/empty password leaves an existing password unchanged.
    """
    for label, value in (("loader_role", loader_role), ("analyst_role", analyst_role)):
        if not value or not value.strip():
            raise ValueError(f"{label} must be a non-empty role name")
    conn = connect(admin_dsn)
    try:
        ensure_schema(conn, entities)
        with conn.transaction():
            settings = {
                "qbo.loader_role": loader_role,
                "qbo.loader_password": loader_password or "",
                "qbo.analyst_role": analyst_role,
                "qbo.analyst_password": analyst_password or "",
            }
            for k, v in settings.items():
                conn.execute("SELECT set_config(%s, %s, true)", (k, v))
            conn.execute(_sql_text("roles.sql"))
        tables = [e.qualified_table for e in _entities(entities)]
        log.info(
            "Warehouse initialised: %d raw tables, loader role %s, analyst role %s",
            len(tables), loader_role, analyst_role,
        )
        return InitResult(tables=tables, loader_role=loader_role, analyst_role=analyst_role)
    finally:
        conn.close()


# ---------------------------------------------------------------- loading


def _record_id(entity: Entity, rec: Mapping[str, Any]) -> str:
    rid = rec.get("Id")
    if rid is None or str(rid) == "":
        raise ValueError(f"{entity.name} record without Id: {json.dumps(rec)[:200]}")
    return str(rid)


def _last_updated(entity: Entity, rec: Mapping[str, Any]) -> datetime:
    meta = rec.get("MetaData") or {}
    text = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
    if not text:
        raise ValueError(f"{entity.name} {rec.get('Id')!r} has no MetaData.LastUpdatedTime")
    return parse_qbo_time(str(text))


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


def upsert_page(
    conn: psycopg.Connection[Any],
    entity: EntityLike,
    realm_id: str,
    records: Sequence[Mapping[str, Any]],
    *,
    page_number: int,
    window: Window | None = None,
    body: bytes | None = None,
) -> UpsertResult:
    """Load one page: COPY into a temp table, then INSERT ... ON CONFLICT DO UPDATE where not older.

    `body`, the raw query response the records came from (`qbo.Page.body`), lets PostgreSQL take each
    payload from the response text itself: stored exactly as received, and no JSON re-encoding in
    Python (a quarter of the engine's CPU, bench/README.md). Without it, or if the body does not hold
    exactly these records, the records are encoded and COPied.

    `rows_upserted` counts rows inserted or updated by the statement: a newer or equal
    LastUpdatedTime replaces the row (equal: only metadata and ingested_at_utc change); an older one
    is skipped and not counted. `window=None` attributes each record to the UTC day of its
    LastUpdatedTime; a given window is stamped on every row. Committed on return unless called
    inside the caller's transaction.
    """
    e = _entity(entity)
    if not records:
        return UpsertResult(0, 0, {})
    rows: list[tuple[str, Mapping[str, Any], datetime, datetime, datetime]] = []
    fetched_by_day: dict[date, int] = {}
    for rec in records:
        rid = _record_id(e, rec)
        lu = _last_updated(e, rec)
        w = window or day_window(lu.astimezone(UTC).date())
        ws, we = _naive_utc(w.start), _naive_utc(w.end)
        fetched_by_day[ws.date()] = fetched_by_day.get(ws.date(), 0) + 1
        rows.append((rid, rec, lu, ws, we))

    stmt = sql.SQL(
        """WITH up AS (
    INSERT INTO {t} AS t (realm_id, id, payload, ingested_at_utc, extract_window_start_utc,
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
    RETURNING t.extract_window_start_utc
)
SELECT CAST(extract_window_start_utc AS date), count(*) FROM up GROUP BY 1"""
    ).format(t=_table(e), stage=sql.Identifier("pg_temp", _STAGE))

    with conn.transaction():
        _create_stage(conn)
        with conn.cursor() as cur:
            if body is None or not _stage_from_body(conn, e, body, rows):
                with cur.copy(
                    sql.SQL("COPY {} (id, payload, lu, ws, we) FROM STDIN").format(
                        sql.Identifier("pg_temp", _STAGE)
                    )
                ) as cp:
                    for rid, rec, lu, ws, we in rows:
                        cp.write_row((rid, Jsonb(rec), lu, ws, we))
            cur.execute(stmt, {"realm": realm_id, "page": page_number})
            upserted_by_day = {d: int(n) for d, n in cur.fetchall()}
            faultpoints.hit("upsert")  # test seam: a crash here must leave no partial page
    by_day = {d: (n, upserted_by_day.get(d, 0)) for d, n in sorted(fetched_by_day.items())}
    return UpsertResult(len(records), sum(upserted_by_day.values()), by_day)


def _stage_from_body(conn: psycopg.Connection[Any], e: Entity, body: bytes,
                     rows: Sequence[tuple[str, Mapping[str, Any], datetime, datetime, datetime]]) -> bool:
    """Stage the page's records from the response text (one jsonb parse in PostgreSQL, elements joined
    to the Python-computed keys by Id). False, with nothing staged, when that does not give exactly
    one element per record (or PostgreSQL refuses the text, e.g. a \\u0000 escape jsonb cannot hold)."""
    stmt = sql.SQL(
        """INSERT INTO {stage} (id, payload, lu, ws, we)
SELECT k.id, el.value, k.lu, k.ws, k.we
FROM unnest(%(ids)s::text[], %(lus)s::timestamptz[], %(ws)s::timestamp[], %(we)s::timestamp[])
     AS k(id, lu, ws, we)
JOIN jsonb_array_elements(CAST(%(body)s AS jsonb) -> 'QueryResponse' -> %(name)s) AS el(value)
  ON el.value ->> 'Id' = k.id"""
    ).format(stage=sql.Identifier("pg_temp", _STAGE))
    try:
        params = {"ids": [r[0] for r in rows], "lus": [r[2] for r in rows], "ws": [r[3] for r in rows],
                  "we": [r[4] for r in rows], "body": body.decode("utf-8"), "name": e.name}
        with conn.transaction(), conn.cursor() as cur:  # a savepoint: a refusal leaves the page loadable
            cur.execute(stmt, params)
            if cur.rowcount == len(rows):
                return True
            cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier("pg_temp", _STAGE)))
    except (psycopg.DataError, UnicodeDecodeError) as exc:
        log.debug("page body not usable for %s (%s): encoding records instead", e.name, type(exc).__name__)
    return False


def mark_deleted(
    conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str, stubs: Sequence[Mapping[str, Any]]
) -> int:
    """Apply CDC delete stubs (`{"Id", "status": "Deleted", "MetaData": {"LastUpdatedTime"}}`).

    A loaded row keeps its last payload and gets `deleted_at_utc` = the stub's LastUpdatedTime (now
    when absent), unless the row is newer than the deletion. An id never loaded is inserted with the
    stub as payload. Returns the rows marked or inserted (an already-marked row is not counted).
    """
    e = _entity(entity)
    if not stubs:
        return 0
    now = datetime.now(UTC)
    latest: dict[str, tuple[datetime, Mapping[str, Any]]] = {}
    for stub in stubs:
        rid = _record_id(e, stub)
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
    ).format(t=_table(e))
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
    e = _entity(entity)
    q: sql.Composed = sql.SQL(
        "SELECT count(*) FROM {t} WHERE realm_id = %s AND last_updated_at >= %s AND last_updated_at < %s"
    ).format(t=_table(e))
    if not include_deleted:
        q += sql.SQL(" AND deleted_at_utc IS NULL")
    with conn.transaction():
        row = conn.execute(q, (realm_id, _instant(start), _instant(end))).fetchone()
    return int(row[0]) if row else 0


def raw_snapshot(
    conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str, *, include_deleted: bool = False
) -> dict[str, datetime]:
    """id -> last_updated_at of what `raw` holds for a realm (deleted rows left out unless asked)."""
    e = _entity(entity)
    q: sql.Composed = sql.SQL("SELECT id, last_updated_at FROM {t} WHERE realm_id = %s").format(t=_table(e))
    if not include_deleted:
        q += sql.SQL(" AND deleted_at_utc IS NULL")
    with conn.transaction():
        return {rid: lu for rid, lu in conn.execute(q, (realm_id,)).fetchall()}


def watermark(conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str) -> datetime | None:
    """The newest LastUpdatedTime loaded for a realm, or None if nothing is."""
    e = _entity(entity)
    q = sql.SQL("SELECT max(last_updated_at) FROM {t} WHERE realm_id = %s").format(t=_table(e))
    with conn.transaction():
        row = conn.execute(q, (realm_id,)).fetchone()
    return row[0] if row else None


def daily_counts(
    conn: psycopg.Connection[Any], entity: EntityLike, realm_id: str | None = None
) -> list[tuple[date, int]]:
    """The spec's manual check: `SELECT DATE(extract_window_start_utc), COUNT(*) ... GROUP BY 1`."""
    e = _entity(entity)
    q: sql.Composed = sql.SQL(
        "SELECT DATE(extract_window_start_utc) AS fecha_proceso, COUNT(*) AS total_registros FROM {t}"
    ).format(t=_table(e))
    params: tuple[Any, ...] = ()
    if realm_id is not None:
        q += sql.SQL(" WHERE realm_id = %s")
        params = (realm_id,)
    q += sql.SQL(" GROUP BY 1 ORDER BY 1")
    with conn.transaction():
        return [(d, int(n)) for d, n in conn.execute(q, params).fetchall()]


# ---------------------------------------------------------------- grants


def check_grants(conn: psycopg.Connection[Any], entities: Iterable[EntityLike] | None = None) -> None:
    """Raise GrantError naming every privilege the current user lacks for loading `entities`.

    Checked: USAGE on schema raw; SELECT/INSERT/UPDATE on each raw table (ON CONFLICT DO UPDATE
    reads the existing row); USAGE on the state schema and SELECT/INSERT/UPDATE on its tables;
    TEMPORARY on the database (the page staging table). A missing table is reported too.
    """
    es = _entities(entities)
    missing: list[str] = []
    fixes: list[str] = []
    with conn.transaction():
        row = conn.execute("SELECT current_user, current_database()").fetchone()
        assert row is not None
        user, dbname = str(row[0]), str(row[1])

        def qi(name: str) -> str:  # quoted only when needed, so the advice reads like hand-written SQL
            r = conn.execute("SELECT quote_ident(%s)", (name,)).fetchone()
            return str(r[0]) if r else name

        u, db = qi(user), qi(dbname)

        def has(q: str, *args: str) -> bool:
            r = conn.execute(q, (user, *args)).fetchone()
            return bool(r and r[0])

        if not has("SELECT has_database_privilege(%s, %s, 'TEMPORARY')", dbname):
            missing.append(f"TEMPORARY on database {dbname}")
            fixes.append(f"GRANT TEMPORARY ON DATABASE {db} TO {u};")
        for schema, tables, privs in (
            (RAW_SCHEMA, [e.table for e in es], ("SELECT", "INSERT", "UPDATE")),
            (STATE_SCHEMA, list(STATE_TABLES), ("SELECT", "INSERT", "UPDATE")),
        ):
            s = qi(schema)
            if not _schema_exists(conn, schema):
                missing.append(f"schema {schema} (does not exist)")
                fixes.append("qbo-ingest db init;")
                continue
            if not has("SELECT has_schema_privilege(%s, %s, 'USAGE')", schema):
                missing.append(f"USAGE on schema {schema}")
                fixes.append(f"GRANT USAGE ON SCHEMA {s} TO {u};")
            for table in tables:
                qualified = f"{s}.{qi(table)}"
                oid = _oid(conn, schema, table)
                if oid is None:
                    missing.append(f"table {schema}.{table} (does not exist)")
                    if "qbo-ingest db init;" not in fixes:
                        fixes.append("qbo-ingest db init;")
                    continue
                lacking = [
                    p for p in privs if not has("SELECT has_table_privilege(%s, %s::oid, %s)", str(oid), p)
                ]
                if lacking:
                    missing.append(f"{'/'.join(lacking)} on {schema}.{table}")
                    fixes.append(f"GRANT {', '.join(lacking)} ON {qualified} TO {u};")
    if missing:
        raise GrantError(user, missing, fixes)
