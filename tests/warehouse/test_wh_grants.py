"""Least privilege: init_db's roles get exactly the intended grants; check_grants names what is missing."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import CATALOGUE

REALM = "9130350000000001"
LOADER_PW = "loader-Pa55-'quoted'-\\-secret"
ANALYST_PW = "analyst-Pa55-secret"


def _as(url: str, user: str) -> str:
    params = conninfo_to_dict(url)
    params["user"] = user
    params.pop("password", None)
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture
def roles(pg_url: str) -> Iterator[tuple[str, str, str]]:
    """Unique role names (roles are cluster-wide, databases are per test); dropped afterwards."""
    suffix = uuid.uuid4().hex[:8]
    names = (f"qbo_loader_{suffix}", f"qbo_analyst_{suffix}", f"qbo_bare_{suffix}")
    yield names
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for name in names:
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                admin.execute(f'DROP OWNED BY "{name}"')
                admin.execute(f'DROP ROLE "{name}"')


def _denied(conn: psycopg.Connection[Any], statement: str) -> bool:
    try:
        conn.execute(statement)
    except errors.InsufficientPrivilege:
        conn.rollback()
        return True
    conn.rollback()
    return False


def test_check_grants_passes_for_the_owner_and_names_a_missing_table(conn: psycopg.Connection[Any]) -> None:
    wh.check_grants(conn, ["Invoice", "Customer"])  # the owner of everything ensure_schema made: no error
    # The same owner, asked about an entity whose table was never created: that table, and only it.
    with pytest.raises(wh.GrantError) as info:
        wh.check_grants(conn, ["Invoice", "Bill", "Customer"])
    assert info.value.missing == ["table raw.qb_bills (does not exist)"]
    assert "qbo-ingest db init;" in str(info.value)


def test_check_grants_names_every_missing_privilege_with_remediation(
    pg_url: str, conn: psycopg.Connection[Any], roles: tuple[str, str, str]
) -> None:
    bare = roles[2]
    conn.execute(f'CREATE ROLE "{bare}" LOGIN')
    conn.commit()
    with psycopg.connect(_as(pg_url, bare)) as c, pytest.raises(wh.GrantError) as info:
        wh.check_grants(c, ["Invoice"])
    err = info.value
    assert err.user == bare
    assert err.missing == [
        "USAGE on schema raw",
        "SELECT/INSERT/UPDATE on raw.qb_invoices",
        "USAGE on schema qbo_ingest",
        "SELECT/INSERT/UPDATE on qbo_ingest.ledger",
        "SELECT/INSERT/UPDATE on qbo_ingest.runs",
        "SELECT/INSERT/UPDATE on qbo_ingest.oauth_tokens",
        "SELECT/INSERT/UPDATE on qbo_ingest.cdc_state",
        "SELECT/INSERT/UPDATE on qbo_ingest.api_calls",
    ]
    text = str(err)
    assert f"Database user '{bare}' is missing: USAGE on schema raw; " in text
    assert f"GRANT USAGE ON SCHEMA raw TO {bare};" in text
    assert f"GRANT SELECT, INSERT, UPDATE ON raw.qb_invoices TO {bare};" in text
    assert "qbo-ingest db init" in text

    # Partly granted: only what is still missing is named (SET ROLE on the admin session).
    conn.execute(f'GRANT USAGE ON SCHEMA raw, qbo_ingest TO "{bare}"')
    conn.execute(f'GRANT SELECT, INSERT ON raw.qb_invoices TO "{bare}"')
    conn.execute(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA qbo_ingest TO "{bare}"')
    conn.execute(f'REVOKE TEMPORARY ON DATABASE {conn.info.dbname} FROM PUBLIC')
    conn.commit()
    conn.execute(f'SET ROLE "{bare}"')
    with pytest.raises(wh.GrantError) as info:
        wh.check_grants(conn, ["Invoice", "Bill"])
    conn.execute("RESET ROLE")
    conn.commit()
    assert info.value.missing == [
        f"TEMPORARY on database {conn.info.dbname}",
        "UPDATE on raw.qb_invoices",
        "table raw.qb_bills (does not exist)",
    ]
    assert info.value.remediation == [
        f'GRANT TEMPORARY ON DATABASE {conn.info.dbname} TO {bare};',
        f"GRANT UPDATE ON raw.qb_invoices TO {bare};",
        "qbo-ingest db init;",
    ]


def test_init_db_roles_have_exactly_the_intended_grants(
    pg_url: str, roles: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    loader, analyst, _ = roles
    caplog.set_level(logging.DEBUG)
    for _ in range(2):  # idempotent
        res = wh.init_db(pg_url, loader_role=loader, loader_password=LOADER_PW,
                         analyst_role=analyst, analyst_password=ANALYST_PW)
    assert res.tables == [e.qualified_table for e in CATALOGUE]
    assert LOADER_PW not in caplog.text and ANALYST_PW not in caplog.text
    # password unchanged when not given again
    wh.init_db(pg_url, loader_role=loader, analyst_role=analyst)

    with psycopg.connect(pg_url) as admin:
        attrs = admin.execute(
            "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolpassword LIKE 'SCRAM-SHA-256$%%' "
            "FROM pg_authid WHERE rolname = ANY(%s) ORDER BY rolname",
            ([loader, analyst],),
        ).fetchall()
        assert sorted(attrs) == sorted([(n, True, False, False, False, True) for n in (loader, analyst)])
        setting = admin.execute("SELECT current_setting('qbo.loader_password', true)").fetchone()
        assert setting is not None and setting[0] in (None, "")  # transaction-local, gone after commit
        # objects the admin creates later: a table elsewhere and new tables in raw / the state schema
        admin.execute("CREATE SCHEMA finance")
        admin.execute("CREATE TABLE finance.salaries (amount int)")
        admin.execute("CREATE TABLE public.notes (t text)")
        admin.execute("CREATE TABLE raw.qb_future (id int)")
        admin.execute("CREATE TABLE qbo_ingest.new_state (id int)")

    with wh.connect(_as(pg_url, loader)) as c:
        assert wh.ensure_schema(c) == []  # no DDL needed, none attempted
        wh.check_grants(c, list(CATALOGUE))
        rec = {"Id": "1", "MetaData": {"LastUpdatedTime": "2025-10-15T09:00:00-07:00"}}
        assert wh.upsert_page(c, "Invoice", REALM, [rec], page_number=1).rows_upserted == 1
        assert wh.upsert_page(c, "Invoice", REALM, [rec], page_number=1).rows_upserted == 1  # update path
        assert wh.mark_deleted(c, "Invoice", REALM, [{"Id": "2", "status": "Deleted"}]) == 1
        wh.ledger_begin(c, REALM, "Invoice", [date(2025, 10, 15)], run_id="r")
        wh.ledger_finish(c, REALM, "Invoice", date(2025, 10, 15), status="succeeded", rows_fetched=1, rows_upserted=1,
                         pages=1, requests=1, retries=0)
        wh.run_finish(c, wh.run_start(c, command="backfill"), status="succeeded")
        c.execute("INSERT INTO qbo_ingest.oauth_tokens (realm_id, client_id) VALUES ('r', 'c')")
        c.execute("INSERT INTO raw.qb_future VALUES (1)")  # default privileges reached the new tables
        c.execute("INSERT INTO qbo_ingest.new_state VALUES (1)")
        c.commit()
        assert _denied(c, "DROP TABLE raw.qb_invoices")
        assert _denied(c, "TRUNCATE raw.qb_invoices")
        assert _denied(c, "DELETE FROM raw.qb_invoices")
        assert _denied(c, "ALTER TABLE raw.qb_invoices ADD COLUMN x int")
        assert _denied(c, "CREATE TABLE raw.qb_mine (id int)")
        assert _denied(c, "CREATE SCHEMA loader_own")
        assert _denied(c, "DROP SCHEMA raw CASCADE")
        assert _denied(c, "SELECT * FROM finance.salaries")
        assert _denied(c, "SELECT * FROM public.notes")
        assert _denied(c, "CREATE TABLE qbo_ingest.mine (id int)")

    with psycopg.connect(_as(pg_url, analyst)) as c:
        row = c.execute("SELECT count(*) FROM raw.qb_invoices").fetchone()
        assert row is not None and row[0] == 2
        c.execute("SELECT * FROM raw.qb_future")
        c.rollback()
        assert _denied(c, "INSERT INTO raw.qb_invoices (realm_id, id, payload, extract_window_start_utc, "
                          "extract_window_end_utc, last_updated_at) VALUES ('x', 'y', '{}', now(), now(), now())")
        assert _denied(c, "UPDATE raw.qb_invoices SET page_number = 0")
        assert _denied(c, "DELETE FROM raw.qb_invoices")
        assert _denied(c, "CREATE TABLE raw.qb_mine (id int)")
        assert _denied(c, "SELECT * FROM qbo_ingest.oauth_tokens")  # the token store stays secret
        assert _denied(c, "SELECT * FROM qbo_ingest.ledger")
        assert _denied(c, "SELECT * FROM finance.salaries")


def test_loader_cannot_create_a_missing_table_and_is_told_to_run_db_init(
    pg_url: str, roles: tuple[str, str, str]
) -> None:
    loader, analyst, _ = roles
    wh.init_db(pg_url, loader_role=loader, analyst_role=analyst, entities=["Invoice"])
    with wh.connect(_as(pg_url, loader)) as c:
        assert wh.ensure_schema(c, ["Invoice"]) == []
        with c.transaction():  # inside a caller's transaction only the savepoint is rolled back
            with pytest.raises(wh.GrantError) as info:
                wh.ensure_schema(c, ["Invoice", "Bill", "Customer"])
            assert c.execute("SELECT 1").fetchone() == (1,)
        assert info.value.user == loader
        assert info.value.missing == ["table raw.qb_bills (does not exist)",
                                      "table raw.qb_customers (does not exist)"]
        assert "qbo-ingest db init" in str(info.value)
        with pytest.raises(wh.GrantError):
            wh.check_grants(c, ["Bill"])


def test_init_db_rejects_bad_role_names(pg_url: str) -> None:
    from qbo_ingest.errors import ConfigError

    with pytest.raises(ConfigError, match="--loader-role must be a non-empty role name"):
        wh.init_db(pg_url, loader_role=" ")
    with pytest.raises(ConfigError, match="--loader-role and --analyst-role are both 'same_role_x': they must differ"):
        wh.init_db(pg_url, loader_role="same_role_x", analyst_role="same_role_x")
