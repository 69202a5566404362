"""Connections to the warehouse and the names every part of it shares.

Transactions: each public function of the warehouse runs inside `with conn.transaction()`. On an idle
connection that is its own transaction, committed before the function returns (so an upserted page
is durable at once). Called inside a transaction the caller opened, it becomes a savepoint and the
caller's commit decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql

from qbo_ingest import catalogue
from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import WarehouseError
from qbo_ingest.redact import redact

RAW_SCHEMA = "raw"
STATE_SCHEMA = "qbo_ingest"
LOCK_TIMEOUT = "30s"  # waiting longer for a lock means another session holds it: say so
STATEMENT_TIMEOUT = "15min"  # far above any page upsert or count (bench/README.md)
STATE_TABLES = ("ledger", "runs", "oauth_tokens", "cdc_state", "api_calls")
# Columns added to a state table after its first release (state.sql adds them; db init applies it).
STATE_COLUMNS = (("ledger", "chars_escaped"),)

EntityLike = Entity | str


def connect(dsn: str) -> psycopg.Connection[Any]:
    """A psycopg 3 connection (URL or conninfo), autocommit off, session time zone UTC."""
    try:
        conn = psycopg.connect(dsn, autocommit=False)
    except psycopg.OperationalError as exc:  # the text may quote the host, never the password (redacted)
        first = redact(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseError(f"cannot connect to the warehouse: {first}") from None
    conn.execute("SET TIME ZONE 'UTC'")
    # Never wait forever on another session's lock or on one statement: a default when the role, the
    # database or PGOPTIONS set none (a DBA's own setting wins).
    for name, value in (("lock_timeout", LOCK_TIMEOUT), ("statement_timeout", STATEMENT_TIMEOUT)):
        row = conn.execute("SELECT current_setting(%s)", (name,)).fetchone()
        if row is not None and str(row[0]) == "0":
            conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    conn.commit()
    return conn


def entity_of(e: EntityLike) -> Entity:
    return e if isinstance(e, Entity) else catalogue.get(e)


def entities_of(es: Iterable[EntityLike] | None) -> list[Entity]:
    return list(catalogue.CATALOGUE) if es is None else [entity_of(e) for e in es]


def table(e: Entity) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(RAW_SCHEMA), sql.Identifier(e.table))


def oid(conn: psycopg.Connection[Any], schema: str, name: str) -> int | None:
    """The relation's oid from the catalogue (readable without USAGE on the schema), or None."""
    row = conn.execute(
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    ).fetchone()
    return int(row[0]) if row else None


def exists(conn: psycopg.Connection[Any], schema: str, name: str) -> bool:
    return oid(conn, schema, name) is not None


def schema_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone()
    return row is not None


