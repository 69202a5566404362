"""Bad input through the real entry point (`python -m qbo_ingest.apps.cli.main`, a subprocess): one clear `error:` line
on stderr, a non-zero exit, no traceback, no secret echoed, nothing written to raw or the ledger.

tests/engine/test_cli.py covers 14 cases in-process; these are the others (dates, ranges, entities, realm
ids, injection strings in every value that reaches a QBO query or SQL, secrets, config, usage errors,
grants, unreachable database, token endpoint and API)."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rel_support import EMU_NOW, cli, cli_env

from qbo_ingest import warehouse as wh
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

SECRET = "bi-client-secret-canary-5b1e"
INJECT = "'; DROP TABLE raw.qb_invoices; --"
INFO_LOG = re.compile(r"^\d\d:\d\d:\d\d INFO ")
B = ["backfill", "Invoice", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-02", "--no-progress"]


def _bf(start: str = "2024-03-01", end: str = "2024-03-02", *extra: str) -> list[str]:
    return ["backfill", "Invoice", "--fecha-inicio", start, "--fecha-fin", end, "--no-progress", *extra]


# (id, argv, env overrides, pattern of the one line)
CASES: list[tuple[str, list[str], dict[str, str], str]] = [
    # dates and ranges
    ("fecha_fin-month-13", _bf("2024-03-01", "2024-13-01"), {}, r"fecha_fin='2024-13-01' is not a date"),
    ("fecha_inicio-empty", _bf("", "2024-03-01"), {}, r"fecha_inicio is missing"),
    ("fecha_inicio-datetime", _bf("2024-03-01T00:00:00", "2024-03-02"), {}, r"fecha_inicio=.* is not a date"),
    ("fecha_inicio-future", _bf("2999-01-01", "2999-01-02"), {}, r"fecha_inicio \(2999-01-01\) is in the future"),
    ("range-too-long", _bf("2000-01-01", "2031-01-02"), {}, r"range of \d+ days is too long"),
    ("fecha_inicio-before-qbo", _bf("1900-01-01", "2024-01-02"), {}, r"is before 2000-01-01"),
    ("fecha_fin-injection", _bf("2024-03-01", "2024-03-02" + INJECT), {}, r"fecha_fin=.* is not a date"),
    ("retry-failed-from", ["retry-failed", "Invoice", "--from", "2024-99-01"], {},
     r"--from='2024-99-01' is not a date"),
    ("status-to-injection", ["status", "Invoice", "--to", "x" + INJECT], {}, r"--to=.* is not a date"),
    ("reconcile-future", ["reconcile", "Invoice", "--from", "2999-01-01", "--to", "2999-01-02"], {},
     r"is in the future"),
    # entity names (they reach the QBO query text and the raw table names)
    ("entity-empty", ["backfill", "", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"], {},
     r"No entity given"),
    ("entity-CompanyInfo", ["backfill", "CompanyInfo", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"],
     {}, r"Unknown entity 'CompanyInfo'"),
    ("entity-list-one-bad", ["backfill", "Invoice,Nope", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"],
     {}, r"Unknown entity 'Nope'"),
    ("sync-entity-injection", ["sync", "Invoice" + INJECT], {}, r"Unknown entity"),
    ("reconcile-entity-injection", ["reconcile", 'Invoice" WHERE 1=1 --', "--from", "2024-03-01", "--to",
                                    "2024-03-01"], {}, r"Unknown entity"),
    ("retry-failed-entity-injection", ["retry-failed", "Invoice) OR (1=1"], {}, r"Unknown entity"),
    # realm ids (they reach the API path and every SQL filter)
    ("realm-injection", B, {"QBO_REALM_ID": "123" + INJECT}, r"QBO_REALM_ID=.* is invalid"),
    ("realm-empty", B, {"QBO_REALM_ID": ""}, r"QBO_REALM_ID is not set"),
    ("realm-letters", B, {"QBO_REALM_ID": "abc"}, r"QBO_REALM_ID='abc' is invalid"),
    ("realm-path", B, {"QBO_REALM_ID": "../../admin"}, r"QBO_REALM_ID=.* is invalid"),
    # secrets
    ("secret-unset", B, {"QBO_CLIENT_SECRET": "<unset>"}, r"QBO_CLIENT_SECRET is not set"),
    ("secret-empty", B, {"QBO_CLIENT_SECRET": ""}, r"QBO_CLIENT_SECRET is not set"),
    ("secret-wrong", B, {"QBO_CLIENT_SECRET": "wrong-secret-canary-77"}, r"invalid_client"),
    ("refresh-token-bogus", B, {"QBO_REFRESH_TOKEN": "bogus-refresh-canary-88"}, r"invalid_grant"),
    ("refresh-token-unset", B, {"QBO_REFRESH_TOKEN": "<unset>"}, r"no QBO refresh token"),
    # configuration
    ("database-url-malformed", B, {"QBO_DATABASE_URL": "not a dsn pw-canary-99"}, r"QBO_DATABASE_URL is invalid"),
    ("token-url-malformed", B, {"QBO_TOKEN_URL": "not a url"}, r"QBO_TOKEN_URL='not a url' is invalid"),
    ("retry-base-malformed", B, {"QBO_RETRY_BASE_SECONDS": "abc"}, r"QBO_RETRY_BASE_SECONDS='abc' is invalid"),
    # usage errors
    ("concurrency-0", [*B, "--concurrency", "0"], {}, r"'--concurrency': 0 is not in the range"),
    ("concurrency-11", [*B, "--concurrency", "11"], {}, r"'--concurrency': 11 is not in the range"),
    ("fecha_fin-missing", ["backfill", "Invoice", "--fecha-inicio", "2024-03-01"], {}, r"Missing option '--fecha-fin'"),
    ("unknown-command", ["backfil", "Invoice"], {}, r"No such command 'backfil'"),
    ("log-level", ["--log-level", "LOUD", "status"], {}, r"--log-level='LOUD' is invalid"),
    ("db-init-role-injection", ["db", "init", "--loader-role", 'x"; DROP SCHEMA raw CASCADE; --'], {},
     r"--loader-role=.* is invalid"),
    # unreachable services
    ("token-endpoint-unreachable", B, {"QBO_TOKEN_URL": "http://127.0.0.1:9/oauth2/v1/tokens/bearer",
                                       "QBO_RETRY_BASE_SECONDS": "0.02"}, r"token endpoint connection failed"),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[Emulator, Any]]:
    emu = Emulator(EmulatorConfig(seed=2, profile="sparse", throttle=False, clock=lambda: EMU_NOW,
                                  client_secret=SECRET))
    with serve_in_thread(emu) as srv:
        yield emu, srv


def _written(dsn: str) -> tuple[int, int]:
    """(rows in every raw table, ledger rows): what a rejected command must leave at zero."""
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'raw'")]
        raw = sum(int(conn.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0])  # type: ignore[index]
                  for t in tables)
        has_ledger = conn.execute("SELECT to_regclass('qbo_ingest.ledger')").fetchone() != (None,)
        ledger = int(conn.execute("SELECT count(*) FROM qbo_ingest.ledger").fetchone()[0]) if has_ledger else 0  # type: ignore[index]
    return raw, ledger


def _one_line(res: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and "RuntimeDirWarning" not in ln
             and "user_runtime_dir" not in ln and not INFO_LOG.match(ln)]  # progress logs are not errors
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize(("args", "over", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(emulator, pg_url, args, over, pattern):
    emu, srv = emulator
    t0 = time.monotonic()
    res = subprocess.run(cli(*args), env=cli_env(emu, srv, pg_url, **over), capture_output=True, text=True,
                         timeout=120)
    took = time.monotonic() - t0
    line = _one_line(res)
    print(f"\n[{took:.1f}s exit {res.returncode}] {line[:160]}")
    assert res.returncode != 0
    assert re.search(pattern, line), line
    out = res.stdout + res.stderr
    assert "Traceback" not in out
    for secret in (SECRET, "canary"):
        assert secret not in out
    assert _written(pg_url) == (0, 0)
    with psycopg.connect(pg_url) as conn:  # the injected role name was not created either
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'x%DROP%'").fetchone() == (0,)


def _dsn_as(pg_url: str, **kw: str) -> str:
    params = conninfo_to_dict(pg_url)
    params.update(kw)
    return make_conninfo(**params)  # type: ignore[arg-type]


def test_database_that_does_not_exist_is_one_line(emulator, pg_url):
    emu, srv = emulator
    dsn = _dsn_as(pg_url, dbname="no_such_db_" + str(int(time.time())))
    res = subprocess.run(cli(*B), env=cli_env(emu, srv, dsn), capture_output=True, text=True, timeout=60)
    line = _one_line(res)
    print(f"\n[exit {res.returncode}] {line}")
    assert res.returncode != 0 and "does not exist" in line


def test_loader_without_insert_on_raw_is_told_what_to_grant(emulator, pg_url):
    emu, srv = emulator
    wh.init_db(pg_url, entities=["Invoice"])
    role = "ro_" + str(int(time.time() * 1000) % 10**9)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA raw, qbo_ingest TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA raw TO "{role}"')
        conn.execute(f'GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA qbo_ingest TO "{role}"')
        conn.execute(f'GRANT TEMPORARY ON DATABASE "{conninfo_to_dict(pg_url)["dbname"]}" TO "{role}"')
    try:
        res = subprocess.run(cli(*B), env=cli_env(emu, srv, _dsn_as(pg_url, user=role)), capture_output=True,
                             text=True, timeout=60)
        line = _one_line(res)
        print(f"\n[exit {res.returncode}] {line}")
        assert res.returncode != 0
        assert f"Database user '{role}' is missing: INSERT/UPDATE on raw.qb_invoices" in line
        assert "GRANT INSERT, UPDATE ON raw.qb_invoices" in line
        assert _written(pg_url) == (0, 0)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_unreachable_api_fails_fast_names_the_days_and_writes_no_rows(emulator, pg_url):
    """Token endpoint fine, API down: QBO_RETRY_BASE_SECONDS (the spec's "increase the wait times in the
    backoff function", here to shrink them) keeps the 6-retry ladder short; the planning COUNTs (the run's
    API preflight) all fail, and the run stops with one error line before any ledger row (issue 13 item 17)."""
    emu, srv = emulator
    t0 = time.monotonic()
    res = subprocess.run(cli(*B), env=cli_env(emu, srv, pg_url, QBO_API_BASE_URL="http://127.0.0.1:9",
                                              QBO_RETRY_BASE_SECONDS="0.01"),
                         capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    last = res.stderr.strip().splitlines()[-1]
    print(f"\n[{took:.1f}s exit {res.returncode}] {last[:160]}")
    assert res.returncode == 2
    assert last.startswith("error: ") and ("connection failed" in last or "circuit breaker open" in last), last
    assert "Traceback" not in res.stdout + res.stderr
    assert took < 20
    raw, ledger = _written(pg_url)
    assert raw == 0 and ledger == 0  # stopped before the first day: nothing to retry, nothing written


def test_mage_generator_rejects_a_future_fecha_inicio_like_the_cli():
    from qbo_ingest.apps.mage.blocks import plan_days
    from qbo_ingest.windows import DateRangeError

    with pytest.raises(DateRangeError, match=r"fecha_inicio \(2999-01-01\) is in the future"):
        plan_days(entity_name="Invoice", fecha_inicio="2999-01-01", fecha_fin="2999-01-02")
