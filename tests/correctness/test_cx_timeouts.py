"""Item 9 of issue 13: no silent hang. A raw table locked by another session fails the day with a message
naming the table (lock_timeout, 30 s unless the DBA set one); an API response that trickles its body is
cut at a whole-response deadline and retried."""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from datetime import datetime, timezone

import psycopg
import pytest
from cx_support import stack

from qbo_ingest import warehouse as wh
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

UTC = timezone.utc


def test_a_locked_raw_table_fails_the_day_with_a_message_not_a_hang(pg_url: str) -> None:
    with stack(pg_url) as st:
        with st.admin() as admin:
            admin.execute(f'ALTER ROLE "{st.loader}" SET lock_timeout = \'1s\'')  # the DBA's choice wins ...
        with psycopg.connect(pg_url) as blocker:
            blocker.execute("LOCK TABLE raw.qb_invoices IN ACCESS EXCLUSIVE MODE")  # held: transaction open
            t0 = time.monotonic()
            out = st.cli("backfill", "Invoice", "--fecha-inicio", "2025-03-10", "--fecha-fin", "2025-03-10",
                         "--no-progress", timeout=120)
            took = time.monotonic() - t0
            blocker.rollback()
        assert out.returncode == 1, out.stdout + out.stderr
        assert took < 60, took
        with st.admin() as admin:
            err = admin.execute("SELECT error FROM qbo_ingest.ledger WHERE entity = 'Invoice'").fetchone()
        assert err is not None and "raw.qb_invoices is locked by another session" in str(err[0])


def test_warehouse_sessions_get_lock_and_statement_timeouts_unless_set(pg_url: str) -> None:
    with wh.connect(pg_url) as conn:  # ... and without one, 30 s
        got = conn.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").fetchone()
    assert got == ("30s", "15min")


def test_a_trickling_response_is_cut_at_the_whole_response_deadline_and_retried(
        pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    from qbo_ingest.source.auth.token_store import PostgresTokenStore
    from qbo_ingest.source.client import QboClient
    from qbo_ingest.source.throttle import NoLimit
    from support import FakeTime, settings_for

    emu = Emulator(EmulatorConfig(seed=5, profile="sparse", clock=lambda: datetime(2025, 6, 30, tzinfo=UTC)))
    with ExitStack() as es:
        srv = es.enter_context(serve_in_thread(emu))
        with wh.connect(pg_url) as conn:
            wh.ensure_schema(conn, ["Invoice"])
        t = FakeTime()  # backoff waits are instant; the response deadline is real time
        client = es.enter_context(QboClient(settings_for(emu, srv, pg_url), token_store=PostgresTokenStore(pg_url),
                                            limiter=NoLimit(), sleep=t.sleep, timeout=1.0))  # per read: 1 s
        emu.faults.add("trickle", on="query", count=1, seconds=8.0)
        start, end = datetime(2025, 3, 10, tzinfo=UTC), datetime(2025, 3, 11, tzinfo=UTC)
        t0 = time.monotonic()
        with caplog.at_level(logging.WARNING):
            pages = list(client.pages("Invoice", start, end))
        took = time.monotonic() - t0
    assert {r["Id"] for p in pages for r in p.records} == set(emu.truth("Invoice", start, end))
    assert took < 6, took  # cut at 2 s (twice the read timeout), not after the 8 s body
    assert "API retry: timeout" in caplog.text
