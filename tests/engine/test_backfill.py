"""The backfill engine against the emulator over HTTP and a real PostgreSQL."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from qbo_ingest import jobs
from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get
from qbo_ingest.windows import DateRangeError, day_window

UTC = timezone.utc


def _span(a: str, b: str) -> tuple[datetime, datetime]:
    return day_window(date.fromisoformat(a)).start, day_window(date.fromisoformat(b)).end


def _raw(pg_url: str, entity: str, realm: str) -> dict[str, datetime]:
    with wh.connect(pg_url) as conn:
        return wh.raw_snapshot(conn, get(entity), realm)


def test_multi_entity_backfill_equals_ground_truth(qbo, pg_url):
    emu, eng, s = qbo(profile="sparse")
    names = ["Invoice", "Customer", "Item", "Payment", "Vendor"]
    report = jobs.backfill(eng, [get(n) for n in names], "2024-03-01", "2024-03-12")
    assert report.ok, report.failed
    start, end = _span("2024-03-01", "2024-03-12")
    for n in names:
        truth = emu.truth(n, start, end)
        assert _raw(pg_url, n, s.realm_id) == truth, n
    invoices = emu.truth("Invoice", start, end)
    assert len(invoices) > 150  # ~20 a day: the comparison is not vacuous
    assert report.rows_fetched == sum(len(emu.truth(n, start, end)) for n in names)
    # one ledger row per entity and day, all succeeded, with counts that add up
    with wh.connect(pg_url) as conn:
        rows = wh.ledger_days(conn, s.realm_id, "Invoice")
    assert [r.day for r in rows] == [date(2024, 3, 1) + timedelta(days=i) for i in range(12)]
    assert all(r.status == "succeeded" for r in rows)
    assert sum(r.rows_fetched for r in rows) == len(invoices)


def test_rows_land_in_the_utc_day_of_their_pacific_timestamp(qbo, pg_url):
    emu, eng, s = qbo(profile="sparse")
    # 2025-03-09 is the US spring-forward day: offsets switch from -08:00 to -07:00
    assert jobs.backfill(eng, [get("Invoice")], "2025-03-08", "2025-03-10").ok
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT id, last_updated_at, extract_window_start_utc, extract_window_end_utc, "
                            "payload->'MetaData'->>'LastUpdatedTime' FROM raw.qb_invoices").fetchall()
    assert rows
    offsets = {r[4][-6:] for r in rows}
    assert offsets == {"-08:00", "-07:00"}
    for _id, lut, ws, we, _text in rows:
        day = lut.astimezone(UTC).date()
        assert ws == datetime(day.year, day.month, day.day)
        assert we - ws == timedelta(days=1)
    for d in ("2025-03-08", "2025-03-09", "2025-03-10"):
        start, end = _span(d, d)
        truth = emu.truth("Invoice", start, end)
        got = {r[0] for r in rows if r[2] == start.replace(tzinfo=None)}
        assert got == set(truth), d


def test_rerun_changes_nothing_but_ingested_at(qbo, pg_url):
    emu, eng, s = qbo(profile="sparse")
    ents = [get("Invoice"), get("Customer")]
    assert jobs.backfill(eng, ents, "2024-05-01", "2024-05-04").ok
    q = ("SELECT id, payload, extract_window_start_utc, extract_window_end_utc, page_number, last_updated_at, "
         "deleted_at_utc, ingested_at_utc FROM raw.qb_invoices ORDER BY id")
    with psycopg.connect(pg_url) as conn:
        before = conn.execute(q).fetchall()
    again = jobs.backfill(eng, ents, "2024-05-01", "2024-05-04")
    assert again.ok
    with psycopg.connect(pg_url) as conn:
        after = conn.execute(q).fetchall()
    assert [r[:-1] for r in before] == [r[:-1] for r in after]
    assert all(b[-1] < a[-1] for b, a in zip(before, after, strict=True))
    assert again.rows_upserted == again.rows_fetched > 0


def test_quality_gate_log_lines(qbo, caplog):
    emu, eng, s = qbo(profile="sparse", profile_overrides={"Invoice": {"2024-06-02": 0, "default": 3}})
    with caplog.at_level(logging.INFO, logger="qbo_ingest"):
        assert jobs.backfill(eng, [get("Invoice")], "2024-06-01", "2024-06-03").ok
    passed = [r for r in caplog.records if "Validation: Integrity Check Passed" in r.getMessage()]
    alerts = [r for r in caplog.records if "Validation: [ALERT]" in r.getMessage()]
    assert sorted(r.getMessage().split()[5] for r in passed) == [
        "2024-06-01..2024-06-03:",  # the source check: COUNT(*) at QBO vs raw for the run of days
        "invoice_backfill_2024-06-01:",
        "invoice_backfill_2024-06-03:",
    ]
    assert len(alerts) == 1 and alerts[0].levelno == logging.WARNING
    assert "invoice_backfill_2024-06-02: 0 records" in alerts[0].getMessage()


def test_failed_day_is_named_then_resume_and_retry_failed_finish(qbo, pg_url, caplog):
    emu, eng, s = qbo(profile="sparse", profile_overrides={"Invoice": 30})
    eng.concurrency = 1
    eng.page_size = 100
    # The first page (100 of 150 records: 2024-07-01..04) loads; then every query fails (503 past the
    # client's 6 retries, for the next page and the run's COUNT alike): the days not passed fail, named.
    emu.faults.add("503", on="query", at_requests=list(range(2, 40)))
    with caplog.at_level(logging.INFO, logger="qbo_ingest"):
        report = jobs.backfill(eng, [get("Invoice")], "2024-07-01", "2024-07-05")
    assert not report.ok
    failed_days = {o.day for o in report.failed}
    assert failed_days and max(failed_days) == date(2024, 7, 5) and date(2024, 7, 1) not in failed_days
    assert any(f"invoice_backfill_{min(failed_days)}" in r.getMessage() for r in caplog.records)
    with wh.connect(pg_url) as conn:
        rows = wh.ledger_days(conn, s.realm_id, "Invoice")
    assert {r.day for r in rows if r.status == "failed"} == failed_days
    assert {r.status for r in rows if r.day not in failed_days} == {"succeeded"}
    emu.faults.clear()
    eng.page_size = 1000
    # resume (after the breaker's cool-down) finishes what failed; nothing else is refetched
    eng.fake_time.advance(60)
    resumed = jobs.backfill(eng, [get("Invoice")], "2024-07-01", "2024-07-05", resume=True)
    assert resumed.ok and {o.day for o in resumed.outcomes} == failed_days
    start, end = _span("2024-07-01", "2024-07-05")
    assert _raw(pg_url, "Invoice", s.realm_id) == emu.truth("Invoice", start, end)
    # a later failure of two days: retry-failed reruns only those two
    with wh.connect(pg_url) as conn:
        wh.ledger_finish(conn, s.realm_id, "Invoice", date(2024, 7, 2), status="failed", rows_fetched=0,
                         rows_upserted=0, pages=0, requests=0, retries=0, error="simulated")
        wh.ledger_finish(conn, s.realm_id, "Invoice", date(2024, 7, 4), status="failed", rows_fetched=0,
                         rows_upserted=0, pages=0, requests=0, retries=0, error="simulated")
    retried = jobs.retry_failed(eng, [get("Invoice")])
    assert retried.ok
    assert sorted(o.day for o in retried.outcomes) == [date(2024, 7, 2), date(2024, 7, 4)]
    with wh.connect(pg_url) as conn:
        assert {r.status for r in wh.ledger_days(conn, s.realm_id, "Invoice")} == {"succeeded"}


def test_resume_skips_succeeded_days_without_requests(qbo):
    emu, eng, s = qbo(profile="sparse")
    assert jobs.backfill(eng, [get("Invoice")], "2024-08-01", "2024-08-03").ok
    before = emu.counters()
    again = jobs.backfill(eng, [get("Invoice")], "2024-08-01", "2024-08-03", resume=True)
    assert again.ok and again.outcomes == []
    after = emu.counters()
    assert after.get("query", 0) == before.get("query", 0)
    assert after.get("count", 0) == before.get("count", 0)


def test_sparse_span_costs_about_ceil_n_over_1000_data_requests(qbo, pg_url):
    emu, eng, s = qbo(profile="sparse")
    eng.source_checks = False
    start, end = _span("2024-01-01", "2024-06-30")
    n = len(emu.truth("Invoice", start, end))
    before = emu.counters()
    report = jobs.backfill(eng, [get("Invoice")], "2024-01-01", "2024-06-30")
    assert report.ok
    after = emu.counters()
    data = after.get("query", 0) - before.get("query", 0)
    minimum = -(-n // 1000)
    assert minimum <= data <= minimum + eng.workers, (n, data)
    assert data < 182 / 10  # one request per day would be 182
    assert _raw(pg_url, "Invoice", s.realm_id) == emu.truth("Invoice", start, end)


@pytest.mark.parametrize(
    ("a", "b", "msg"),
    [
        ("2024-13-01", "2024-12-31", "fecha_inicio='2024-13-01' is not a date"),
        ("2024-02-01", "2024-01-01", "is before fecha_inicio"),
        ("", "2024-01-01", "fecha_inicio is missing"),
    ],
)
def test_bad_dates_raise_before_anything_is_written(qbo, pg_url, a, b, msg):
    emu, eng, s = qbo(profile="sparse")
    with pytest.raises(DateRangeError, match=msg):
        jobs.backfill(eng, [get("Invoice")], a, b)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass('raw.qb_invoices')").fetchone() == (None,)
    assert emu.counters().get("query", 0) == 0


def test_the_realm_is_checked_by_the_first_pages_and_costs_no_request_of_its_own(qbo, pg_url):
    from qbo_ingest.source import client as client_module

    emu, eng, s = qbo(profile="sparse")
    client_module._REALMS_OK.clear()
    before = emu.counters()
    assert jobs.backfill(eng, [get("Invoice"), get("Customer")], "2024-05-01", "2024-05-20").ok
    after = emu.counters()
    # one page per entity, short: the whole answer and its count (no COUNT), and the realm's check
    assert after.get("query", 0) - before.get("query", 0) == 2
    assert after.get("count", 0) - before.get("count", 0) == 0
    assert after.get("companyinfo", 0) == before.get("companyinfo", 0)
    # Lone days: each is a run with its own first page, which checks the realm too.
    assert jobs.backfill(eng, [get("Invoice")], "2024-06-01", "2024-06-05").ok
    client_module._REALMS_OK.clear()
    with wh.connect(pg_url) as conn:
        for d in (date(2024, 6, 2), date(2024, 6, 4)):
            wh.ledger_finish(conn, s.realm_id, "Invoice", d, status="failed", rows_fetched=0,
                             rows_upserted=0, pages=0, requests=0, retries=0, error="simulated")
    before = emu.counters()
    retried = jobs.retry_failed(eng, [get("Invoice")])
    assert retried.ok and len(retried.outcomes) == 2
    after = emu.counters()
    assert after.get("companyinfo", 0) - before.get("companyinfo", 0) == 0
    assert after.get("query", 0) - before.get("query", 0) == 2
