"""The only place DDL lives: schemas `raw` and `qbo_ingest`, the raw tables, the state tables
(`sql/state.sql`: ledger, runs, the token store, CDC checks) and the roles (`sql/roles.sql`).

`qbo-ingest db init` runs it as an admin. The jobs call `ensure_schema`, which sends no DDL when every
object exists, so a least-privilege loader can run after `db init` without CREATE.

Timestamps: `ingested_at_utc` and `extract_window_*_utc` are `timestamp` (without time zone) holding UTC
wall-clock time, as the spec says: then the spec's manual check `DATE(extract_window_start_utc)` gives
the UTC day in any session time zone. Instants compared across offsets (`last_updated_at`,
`deleted_at_utc`) are `timestamptz`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import ConfigError, GrantError, WarehouseError
from qbo_ingest.warehouse.connection import (
    RAW_SCHEMA,
    STATE_COLUMNS,
    STATE_SCHEMA,
    STATE_TABLES,
    EntityLike,
    connect,
    entities_of,
    exists,
    schema_exists,
    table,
)

log = logging.getLogger("qbo_ingest.warehouse")


@dataclass(frozen=True)
class InitResult:
    tables: list[str]
    loader_role: str
    analyst_role: str


def _sql_text(name: str) -> str:
    return resources.files("qbo_ingest.warehouse").joinpath("sql").joinpath(name).read_text(encoding="utf-8")


def _raw_ddl(e: Entity) -> list[sql.Composed]:
    t = table(e)
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
    es = entities_of(entities)
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
    if not schema_exists(conn, RAW_SCHEMA):
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(RAW_SCHEMA)))
    for e in es:
        if not exists(conn, RAW_SCHEMA, e.table):
            for stmt in _raw_ddl(e):
                conn.execute(stmt)
            created.append(e.qualified_table)
    absent = [t for t in STATE_TABLES if not exists(conn, STATE_SCHEMA, t)]
    if absent or _absent_columns(conn):  # state.sql creates every missing state object at once (IF NOT EXISTS)
        conn.execute(_sql_text("state.sql"))
    created += [f"{STATE_SCHEMA}.{t}" for t in absent]


def _absent_columns(conn: psycopg.Connection[Any]) -> list[str]:
    have = {(str(t), str(c)) for t, c in conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
        (STATE_SCHEMA,)).fetchall()}
    tables = {t for t, _ in have}
    return [f"{STATE_SCHEMA}.{t}.{c}" for t, c in STATE_COLUMNS if t in tables and (t, c) not in have]


def state_ready(conn: psycopg.Connection[Any]) -> bool:
    """The state tables exist (the token store among them): `db init` or a first run has been. Leaves no
    transaction open (a later `ensure_schema` commits its DDL for the other connections to see)."""
    with conn.transaction():
        return not _absent(conn, [])


def _absent(conn: psycopg.Connection[Any], es: list[Entity]) -> list[str]:
    """Qualified names of the raw and state tables that do not exist yet (one catalogue query)."""
    wanted = [(RAW_SCHEMA, e.table) for e in es] + [(STATE_SCHEMA, t) for t in STATE_TABLES]
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE (n.nspname = %s AND c.relname = ANY(%s)) OR (n.nspname = %s AND c.relname = ANY(%s))",
        (RAW_SCHEMA, [e.table for e in es], STATE_SCHEMA, list(STATE_TABLES)),
    ).fetchall()
    have = {(str(a), str(b)) for a, b in rows}
    missing = [f"{schema}.{name}" for schema, name in dict.fromkeys(wanted) if (schema, name) not in have]
    return missing + _absent_columns(conn)


RESERVED_ROLES = frozenset({"public", "none", "current_user", "current_role", "session_user", "user", "all"})
_UNSAFE_ATTRS = ("rolsuper", "rolcreatedb", "rolcreaterole", "rolreplication", "rolbypassrls")


def _check_roles(conn: psycopg.Connection[Any], loader: str, analyst: str) -> None:
    """One clear error before anything changes: two different names, neither reserved nor the admin, and an
    existing role only when it already is what db init makes (LOGIN, no SUPERUSER/CREATEDB/CREATEROLE/
    REPLICATION/BYPASSRLS): db init never changes the attributes of a role it did not make."""
    for option, name in (("--loader-role", loader), ("--analyst-role", analyst)):
        if not name or not name.strip():
            raise ConfigError(f"{option} must be a non-empty role name", next_step="e.g. --loader-role qbo_loader")
        if name.lower() in RESERVED_ROLES or name.lower().startswith("pg_"):
            raise ConfigError(f"{option}={name!r} is a reserved PostgreSQL role name",
                              next_step="choose another name, e.g. qbo_loader")
    if loader == analyst:
        raise ConfigError(f"--loader-role and --analyst-role are both {loader!r}: they must differ",
                          next_step="e.g. --loader-role qbo_loader --analyst-role qbo_analyst")
    row = conn.execute("SELECT current_user").fetchone()
    admin = str(row[0]) if row else ""
    for option, name in (("--loader-role", loader), ("--analyst-role", analyst)):
        if name == admin:
            raise ConfigError(f"{option}={name!r} is the admin running db init",
                              next_step="run db init as an admin and give the loader/analyst other names")
        attrs = conn.execute(f"SELECT rolcanlogin, {', '.join(_UNSAFE_ATTRS)} FROM pg_roles WHERE rolname = %s",
                             (name,)).fetchone()
        if attrs is None:
            continue
        unsafe = [a[3:].upper() for a, v in zip(_UNSAFE_ATTRS, attrs[1:], strict=True) if v]
        if unsafe or not attrs[0]:
            what = ", ".join(unsafe + ([] if attrs[0] else ["NOLOGIN"]))
            raise ConfigError(f"{option}={name!r} is an existing role with {what}; db init does not change the "
                              "attributes of a role it did not make",
                              next_step="choose a new role name (db init creates it), or change that role yourself")
    conn.rollback()


def _verifier(conn: psycopg.Connection[Any], role: str, password: str | None) -> str:
    """The SCRAM-SHA-256 verifier of a password, computed here (libpq's PQencryptPasswordConn, as psql's
    \\password does): the server, its log and any error text only ever see the verifier."""
    if not password:
        return ""
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


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

    Role names and password verifiers reach roles.sql as transaction-local settings, never spliced into
    SQL text here; passwords are hashed client-side and never sent, logged or put in an error. A
    None/empty password leaves an existing password unchanged. A database error is one line without
    its SQL context.
    """
    conn = connect(admin_dsn)
    try:
        _check_roles(conn, loader_role, analyst_role)
        ensure_schema(conn, entities)
        ensure_reports_schema(conn)
        with conn.transaction():
            settings = {
                "qbo.loader_role": loader_role,
                "qbo.loader_password": _verifier(conn, loader_role, loader_password),
                "qbo.analyst_role": analyst_role,
                "qbo.analyst_password": _verifier(conn, analyst_role, analyst_password),
            }
            for k, v in settings.items():
                conn.execute("SELECT set_config(%s, %s, true)", (k, v))
            conn.execute(_sql_text("roles.sql"))
        tables = [e.qualified_table for e in entities_of(entities)]
        log.info(
            "Warehouse initialised: %d raw tables, loader role %s, analyst role %s",
            len(tables), loader_role, analyst_role,
        )
        return InitResult(tables=tables, loader_role=loader_role, analyst_role=analyst_role)
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.errors.InsufficientPrivilege):
            raise WarehouseError(f"db init: {exc.diag.message_primary}",
                                 next_step="run db init as a database admin (CREATEROLE and owner of the "
                                 "database)") from None
        raise WarehouseError(f"db init failed ({exc.sqlstate}): {exc.diag.message_primary}") from None
    finally:
        conn.close()


REPORT_TABLES = ("profit_and_loss", "balance_sheet", "trial_balance", "general_ledger", "transaction_list",
                 "aged_receivables", "aged_payables")


def ensure_reports_schema(conn: psycopg.Connection[Any]) -> None:
    """The report tables `raw.qb_report_<name>`, `qbo_ingest.report_loads` and `qbo_ingest.tieout`
    (sql/reports.sql), if any is missing; no DDL when all exist (so the loader can call it after db init)."""
    with conn.transaction():
        have = sum(exists(conn, RAW_SCHEMA, f"qb_report_{t}") for t in REPORT_TABLES)
        if have == len(REPORT_TABLES) and exists(conn, STATE_SCHEMA, "report_loads") \
                and exists(conn, STATE_SCHEMA, "tieout"):
            return
        me = conn.execute("SELECT current_user").fetchone()
        try:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('qbo_ingest.ddl', 0))")
            conn.execute(_sql_text("reports.sql"))
        except psycopg.errors.InsufficientPrivilege:
            raise GrantError(str(me[0]) if me else "?", ["the report tables (sql/reports.sql: do not exist)"],
                             ["qbo-ingest db init;"]) from None
