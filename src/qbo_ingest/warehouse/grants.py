"""Privileges a load needs, checked before it starts, with the GRANTs that would fix them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from qbo_ingest.errors import GrantError
from qbo_ingest.warehouse.connection import (
    RAW_SCHEMA,
    STATE_SCHEMA,
    STATE_TABLES,
    EntityLike,
    entities_of,
    oid,
    schema_exists,
)


def check_grants(conn: psycopg.Connection[Any], entities: Iterable[EntityLike] | None = None) -> None:
    """Raise GrantError naming every privilege the current user lacks for loading `entities`.

    Checked: USAGE on schema raw; SELECT/INSERT/UPDATE on each raw table (ON CONFLICT DO UPDATE
    reads the existing row); USAGE on the state schema and SELECT/INSERT/UPDATE on its tables;
    TEMPORARY on the database (the page staging table). A missing table is reported too.
    """
    es = entities_of(entities)
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
            if not schema_exists(conn, schema):
                missing.append(f"schema {schema} (does not exist)")
                fixes.append("qbo-ingest db init;")
                continue
            if not has("SELECT has_schema_privilege(%s, %s, 'USAGE')", schema):
                missing.append(f"USAGE on schema {schema}")
                fixes.append(f"GRANT USAGE ON SCHEMA {s} TO {u};")
            for table in tables:
                qualified = f"{s}.{qi(table)}"
                toid = oid(conn, schema, table)
                if toid is None:
                    missing.append(f"table {schema}.{table} (does not exist)")
                    if "qbo-ingest db init;" not in fixes:
                        fixes.append("qbo-ingest db init;")
                    continue
                lacking = [
                    p for p in privs if not has("SELECT has_table_privilege(%s, %s::oid, %s)", str(toid), p)
                ]
                if lacking:
                    missing.append(f"{'/'.join(lacking)} on {schema}.{table}")
                    fixes.append(f"GRANT {', '.join(lacking)} ON {qualified} TO {u};")
    if missing:
        raise GrantError(user, missing, fixes)
