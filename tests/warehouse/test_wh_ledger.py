"""The ledger (one row per realm, entity, UTC day) and the runs table."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import psycopg
import pytest

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get

REALM = "9130350000000001"
D1, D2, D3 = date(2025, 10, 14), date(2025, 10, 15), date(2025, 10, 16)


def test_begin_finish_days_lifecycle(conn: psycopg.Connection[Any]) -> None:
    wh.ledger_begin(conn, REALM, "Invoice", [D1, D2, D3], run_id="r1")
    rows = wh.ledger_days(conn, REALM, "Invoice")
    assert [(r.day, r.status, r.attempts, r.run_id) for r in rows] == [
        (D1, "running", 1, "r1"), (D2, "running", 1, "r1"), (D3, "running", 1, "r1")
    ]
    assert all(r.started_at is not None and r.finished_at is None for r in rows)

    wh.ledger_finish(conn, REALM, "Invoice", D1, status="succeeded", rows_fetched=20, rows_upserted=20,
                     pages=1, requests=2, retries=0, seconds=1.25, run_id="r1")
    wh.ledger_finish(conn, REALM, get("Invoice"), D2, status="failed", rows_fetched=0, rows_upserted=0,
                     pages=0, requests=7, retries=6, error="HTTP 503 after 6 retries", intuit_tid="tid-503")
    wh.ledger_finish(conn, REALM, "Invoice", D3, status="succeeded", rows_fetched=0, rows_upserted=0,
                     pages=1, requests=1, retries=0)
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE

    d1, d2, d3 = wh.ledger_days(conn, REALM, "Invoice")
    assert (d1.status, d1.rows_fetched, d1.rows_upserted, d1.pages, d1.requests, d1.seconds) == (
        "succeeded", 20, 20, 1, 2, 1.25
    )
    assert d1.finished_at is not None and d1.error is None
    assert (d2.status, d2.requests, d2.retries, d2.error, d2.intuit_tid, d2.run_id) == (
        "failed", 7, 6, "HTTP 503 after 6 retries", "tid-503", "r1"
    )
    assert d3.seconds is not None and d3.seconds >= 0  # measured from started_at when not given

    assert [r.day for r in wh.ledger_days(conn, REALM, "Invoice", status="failed")] == [D2]
    assert [r.day for r in wh.ledger_days(conn, REALM, "invoice", status="succeeded", start=D2)] == [D3]
    assert [r.day for r in wh.ledger_days(conn, REALM, "Invoice", start=D1, end=D2)] == [D1, D2]

    # retry of the failed day: attempts grow, the error is cleared while it runs
    wh.ledger_begin(conn, REALM, "Invoice", [D2], run_id="r2")
    (again,) = wh.ledger_days(conn, REALM, "Invoice", start=D2, end=D2)
    assert (again.status, again.attempts, again.error, again.requests, again.run_id) == (
        "running", 2, None, 0, "r2"
    )
    wh.ledger_finish(conn, REALM, "Invoice", D2, status="succeeded", rows_fetched=5, rows_upserted=5, pages=1,
                     requests=1, retries=0, run_id="r2")
    assert wh.ledger_days(conn, REALM, "Invoice", status="failed") == []


def test_finish_without_begin_inserts_and_status_is_checked(conn: psycopg.Connection[Any]) -> None:
    wh.ledger_finish(conn, REALM, "Customer", D1, status="succeeded", rows_fetched=1, rows_upserted=1,
                     pages=1, requests=1, retries=0)
    (row,) = wh.ledger_days(conn, REALM, "Customer")
    assert (row.status, row.attempts, row.entity) == ("succeeded", 1, "Customer")
    with pytest.raises(ValueError, match="status must be"):
        wh.ledger_finish(conn, REALM, "Customer", D1, status="done",  # type: ignore[arg-type]
                         rows_fetched=1, rows_upserted=1, pages=1, requests=1, retries=0)


def test_long_errors_are_clipped(conn: psycopg.Connection[Any]) -> None:
    wh.ledger_finish(conn, REALM, "Invoice", D1, status="failed", rows_fetched=0, rows_upserted=0, pages=0,
                     requests=1, retries=0, error="x" * 10_000)
    (row,) = wh.ledger_days(conn, REALM, "Invoice")
    assert row.error is not None and len(row.error) == 2000 and row.error.endswith("…")


def test_summary_across_realms_and_entities(conn: psycopg.Connection[Any]) -> None:
    for realm in ("B", "A"):
        for ent in ("Invoice", "Customer"):
            for i in range(3):
                wh.ledger_finish(conn, realm, ent, D1 + timedelta(days=i), status="succeeded",
                                 rows_fetched=i, rows_upserted=i, pages=1, requests=1, retries=0)
    rows = wh.ledger_summary(conn)
    assert len(rows) == 12
    assert [(r.realm_id, r.entity) for r in rows[:4]] == [("A", "Customer")] * 3 + [("A", "Invoice")]
    assert [r.day for r in rows[:3]] == [D1, D2, D3]
    assert len(wh.ledger_summary(conn, realm_id="A")) == 6
    only = wh.ledger_summary(conn, realm_id="B", entities=["Invoice"], start=D2, end=D3)
    assert [(r.realm_id, r.entity, r.day, r.rows_fetched) for r in only] == [
        ("B", "Invoice", D2, 1), ("B", "Invoice", D3, 2)
    ]
    assert wh.ledger_summary(conn, status="failed") == []


def test_runs_start_and_finish(conn: psycopg.Connection[Any]) -> None:
    rid = wh.run_start(conn, command="backfill", entities=["Invoice", get("Customer")],
                       start=D1, end=D3, realm_id=REALM)
    assert len(rid) == 32
    (run,) = wh.runs_recent(conn)
    assert (run.run_id, run.command, run.entities, run.range_start, run.range_end, run.status) == (
        rid, "backfill", ["Invoice", "Customer"], D1, D3, "running"
    )
    wh.run_finish(conn, rid, status="failed", requests=42, days_succeeded=2, days_failed=1,
                  error="Invoice 2025-10-15 failed")
    (run,) = wh.runs_recent(conn)
    assert (run.status, run.requests, run.days_succeeded, run.days_failed) == ("failed", 42, 2, 1)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    wh.run_start(conn, command="retry-failed", run_id="given")
    assert [r.run_id for r in wh.runs_recent(conn)] == ["given", rid]
    with pytest.raises(LookupError, match="run 'nope' not found"):
        wh.run_finish(conn, "nope", status="failed")


def test_finish_many_closes_days_in_one_transaction_like_finish(conn: psycopg.Connection[Any]) -> None:
    wh.ledger_begin(conn, REALM, "Invoice", [D1, D2, D3], run_id="r1")
    one = {"status": "succeeded", "rows_fetched": 3, "rows_upserted": 3, "pages": 1, "requests": 1, "retries": 0,
           "seconds": 0.5, "run_id": "r1"}
    wh.ledger_finish_many(conn, [
        {"realm_id": REALM, "entity": "Invoice", "day": D1, **one},
        {"realm_id": REALM, "entity": get("Invoice"), "day": D2, **one, "status": "failed", "error": "boom",
         "intuit_tid": "tid-1"},
    ])
    wh.ledger_finish(conn, REALM, "Invoice", D3, **one)  # type: ignore[arg-type]
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    d1, d2, d3 = wh.ledger_days(conn, REALM, "Invoice")
    assert (d1.status, d1.rows_fetched, d1.pages, d1.seconds, d1.run_id) == ("succeeded", 3, 1, 0.5, "r1")
    assert (d2.status, d2.error, d2.intuit_tid) == ("failed", "boom", "tid-1")
    same = ("status", "rows_fetched", "rows_upserted", "pages", "requests", "retries", "seconds", "attempts")
    assert [getattr(d1, k) for k in same] == [getattr(d3, k) for k in same]
    with pytest.raises(ValueError, match="status must be"):  # nothing of a bad batch is written
        wh.ledger_finish_many(conn, [{"realm_id": REALM, "entity": "Invoice", "day": D1, **one},
                                     {"realm_id": REALM, "entity": "Invoice", "day": D2, **one, "status": "done"}])
    assert [r.status for r in wh.ledger_days(conn, REALM, "Invoice")] == ["succeeded", "failed", "succeeded"]
    wh.ledger_finish_many(conn, [])  # nothing to close: no statement
