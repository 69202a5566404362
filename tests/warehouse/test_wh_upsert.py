"""upsert_page: COPY -> temp -> INSERT ... ON CONFLICT; newer wins; per-UTC-day attribution; deletes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest

from qbo_ingest import warehouse as wh
from qbo_ingest.windows import Window, day_window

UTC = timezone.utc
REALM = "9130350000000001"


def _row(conn: psycopg.Connection[Any], rid: str, realm: str = REALM) -> dict[str, Any]:
    cur = conn.execute(
        "SELECT id, payload, ingested_at_utc, extract_window_start_utc, extract_window_end_utc, page_number, "
        "last_updated_at, deleted_at_utc, realm_id FROM raw.qb_invoices WHERE realm_id = %s AND id = %s",
        (realm, rid),
    )
    row = cur.fetchone()
    assert row is not None, f"no row {rid}"
    conn.rollback()
    names = [c.name for c in cur.description or []]
    return dict(zip(names, row, strict=True))


def test_page_is_loaded_with_payload_round_trip_and_metadata(conn: psycopg.Connection[Any], rec: Any) -> None:
    r = rec(130, "2014-09-19T13:16:17-07:00", DocNumber="1037", TotalAmt=362.07,
            Line=[{"Id": "1", "Amount": 275.0, "SalesItemLineDetail": {"ItemRef": {"value": "5"}}}],
            Deposit=0, sparse=False, Memo=None)
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
    res = wh.upsert_page(conn, "Invoice", REALM, [r, rec(131, "2014-09-19T20:00:00-07:00")], page_number=3)
    assert res == wh.UpsertResult(2, 2, {date(2014, 9, 19): (1, 1), date(2014, 9, 20): (1, 1)})
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # committed

    row = _row(conn, "130")
    assert row["payload"] == r  # JSONB round trip: numbers, nested lists, false and null kept
    assert row["page_number"] == 3
    assert row["realm_id"] == REALM
    assert row["last_updated_at"] == datetime(2014, 9, 19, 20, 16, 17, tzinfo=UTC)
    assert row["extract_window_start_utc"] == datetime(2014, 9, 19)
    assert row["extract_window_end_utc"] == datetime(2014, 9, 20)
    assert row["deleted_at_utc"] is None
    assert before <= row["ingested_at_utc"] <= datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=5)
    # 20:00 Pacific daylight time is 03:00Z the next day
    assert _row(conn, "131")["extract_window_start_utc"] == datetime(2014, 9, 20)


def test_dst_boundary_record_belongs_to_next_utc_day(conn: psycopg.Connection[Any], rec: Any) -> None:
    # 2025-03-09 is the US spring-forward day: 23:30-07:00 is 06:30Z on the 10th.
    records = [
        rec(1, "2025-03-09T23:30:00-07:00"),
        rec(2, "2025-03-09T01:30:00-08:00"),  # before the switch, PST: 09:30Z on the 9th
        rec(3, "2025-03-08T16:00:00-08:00"),  # 00:00Z on the 9th: start of the window is inclusive
        rec(4, "2025-03-09T16:59:59-07:00"),  # 23:59:59Z on the 9th
        rec(5, "2025-11-02T01:30:00-08:00"),  # fall back, second 01:30: 09:30Z on 2 Nov
    ]
    res = wh.upsert_page(conn, "Invoice", REALM, records, page_number=1)
    assert res.by_day == {date(2025, 3, 9): (3, 3), date(2025, 3, 10): (1, 1), date(2025, 11, 2): (1, 1)}
    assert _row(conn, "1")["extract_window_start_utc"] == datetime(2025, 3, 10)
    assert _row(conn, "1")["extract_window_end_utc"] == datetime(2025, 3, 11)
    assert wh.count_rows(conn, "Invoice", REALM, date(2025, 3, 9), date(2025, 3, 10)) == 3
    assert wh.count_rows(conn, "Invoice", REALM, date(2025, 3, 10), date(2025, 3, 11)) == 1
    assert wh.daily_counts(conn, "Invoice") == [
        (date(2025, 3, 9), 3), (date(2025, 3, 10), 1), (date(2025, 11, 2), 1)
    ]


def test_a_given_window_is_stamped_on_every_row(conn: psycopg.Connection[Any], rec: Any) -> None:
    w = day_window(date(2025, 3, 1))
    span = Window(w.start, w.start + timedelta(days=3))
    res = wh.upsert_page(conn, "Invoice", REALM, [rec(1, "2025-03-02T10:00:00-08:00")], page_number=2,
                         window=span)
    assert res.by_day == {date(2025, 3, 1): (1, 1)}
    row = _row(conn, "1")
    assert (row["extract_window_start_utc"], row["extract_window_end_utc"]) == (
        datetime(2025, 3, 1), datetime(2025, 3, 4)
    )


def test_newer_wins_older_never_overwrites_equal_refreshes_only_ingested_at(
    conn: psycopg.Connection[Any], rec: Any
) -> None:
    v2 = rec(7, "2025-05-02T10:00:00-07:00", TotalAmt=200, SyncToken="2")
    assert wh.upsert_page(conn, "Invoice", REALM, [v2], page_number=1).rows_upserted == 1
    first = _row(conn, "7")

    older = rec(7, "2025-05-01T10:00:00-07:00", TotalAmt=100, SyncToken="1")
    res = wh.upsert_page(conn, "Invoice", REALM, [older], page_number=9)
    assert (res.rows_fetched, res.rows_upserted) == (1, 0)
    assert res.by_day == {date(2025, 5, 1): (1, 0)}
    assert _row(conn, "7") == first  # untouched, ingested_at included

    res = wh.upsert_page(conn, "Invoice", REALM, [v2], page_number=1)  # a rerun of the same page
    assert (res.rows_fetched, res.rows_upserted) == (1, 1)  # counted, so the quality gate passes
    again = _row(conn, "7")
    assert again["ingested_at_utc"] > first["ingested_at_utc"]
    assert {k: v for k, v in again.items() if k != "ingested_at_utc"} == {
        k: v for k, v in first.items() if k != "ingested_at_utc"
    }

    newer = rec(7, "2025-05-03T10:00:00-07:00", TotalAmt=300, SyncToken="3")
    assert wh.upsert_page(conn, "Invoice", REALM, [newer], page_number=4).rows_upserted == 1
    row = _row(conn, "7")
    assert row["payload"]["TotalAmt"] == 300
    assert row["page_number"] == 4
    assert row["extract_window_start_utc"] == datetime(2025, 5, 3)
    assert wh.watermark(conn, "Invoice", REALM) == datetime(2025, 5, 3, 17, tzinfo=UTC)


def test_rows_upserted_counts_mixed_page_and_duplicates_in_one_page(
    conn: psycopg.Connection[Any], rec: Any
) -> None:
    wh.upsert_page(conn, "Invoice", REALM, [rec(i, "2025-06-10T12:00:00-07:00") for i in range(1, 6)],
                   page_number=1)
    page = [
        rec(1, "2025-06-10T12:00:00-07:00"),  # equal: counted
        rec(2, "2025-06-11T12:00:00-07:00"),  # newer: counted
        rec(3, "2025-06-09T12:00:00-07:00"),  # older: skipped
        rec(10, "2025-06-10T13:00:00-07:00"),  # new: counted
        rec(11, "2025-06-10T13:00:00-07:00"),  # same id twice on a page: the newest one is kept
        rec(11, "2025-06-10T14:00:00-07:00", Memo="later"),
    ]
    res = wh.upsert_page(conn, "Invoice", REALM, page, page_number=2)
    assert (res.rows_fetched, res.rows_upserted) == (6, 4)
    assert res.by_day == {date(2025, 6, 9): (1, 0), date(2025, 6, 10): (4, 3), date(2025, 6, 11): (1, 1)}
    assert _row(conn, "11")["payload"]["Memo"] == "later"
    assert len(wh.raw_snapshot(conn, "Invoice", REALM)) == 7


def test_realms_are_separate(conn: psycopg.Connection[Any], rec: Any) -> None:
    r = rec(1, "2025-01-01T10:00:00-08:00")
    wh.upsert_page(conn, "Invoice", "111", [r], page_number=1)
    wh.upsert_page(conn, "Invoice", "222", [r], page_number=1)
    assert wh.raw_snapshot(conn, "Invoice", "111") == {"1": datetime(2025, 1, 1, 18, tzinfo=UTC)}
    assert wh.count_rows(conn, "Invoice", "222", date(2025, 1, 1), date(2025, 1, 2)) == 1
    assert wh.daily_counts(conn, "Invoice") == [(date(2025, 1, 1), 2)]
    assert wh.daily_counts(conn, "Invoice", "111") == [(date(2025, 1, 1), 1)]
    assert wh.watermark(conn, "Invoice", "333") is None


def test_copy_handles_unicode_quotes_backslashes_and_control_characters(
    conn: psycopg.Connection[Any], rec: Any
) -> None:
    nasty = {
        "DisplayName": "Bill's \"Windsurf\" Shop \\ Ñandú 東京 🏄",
        "Notes": "tab\there\nnewline\r\nCRLF \\N not null \\. end-of-copy marker",
        "Path": "C:\\Users\\qbo\\x.csv",
        "Json": '{"a": "b"}',
        "Empty": "",
        "Sql": "'); DROP TABLE raw.qb_customers; --",
    }
    r = rec("c1", "2025-02-01T08:00:00-08:00", **nasty)
    res = wh.upsert_page(conn, "Customer", REALM, [r], page_number=1)
    assert res.rows_upserted == 1
    row = conn.execute("SELECT payload, payload->>'DisplayName' FROM raw.qb_customers").fetchone()
    conn.rollback()
    assert row is not None
    assert row[0] == r
    assert row[1] == nasty["DisplayName"]


def test_ten_thousand_rows_in_pages_of_one_thousand(conn: psycopg.Connection[Any], rec: Any) -> None:
    base = datetime(2024, 7, 1, tzinfo=UTC)
    total = 0
    for page in range(10):  # one page in memory at a time, as the backfill feeds it
        records = [
            rec(page * 1000 + i, (base + timedelta(seconds=17 * (page * 1000 + i))).isoformat(),
                TotalAmt=i, Line=[{"Amount": i}])
            for i in range(1000)
        ]
        res = wh.upsert_page(conn, "Invoice", REALM, records, page_number=page + 1)
        assert (res.rows_fetched, res.rows_upserted) == (1000, 1000)
        total += res.rows_upserted
    assert total == 10_000
    snap = wh.raw_snapshot(conn, "Invoice", REALM)
    assert len(snap) == 10_000
    assert snap["9999"] == base + timedelta(seconds=17 * 9999)
    days = wh.daily_counts(conn, "Invoice", REALM)
    assert sum(n for _, n in days) == 10_000
    assert [d for d, _ in days] == [date(2024, 7, 1), date(2024, 7, 2)]
    assert days[0][1] == 86400 // 17 + 1


def test_caller_transaction_is_respected(conn: psycopg.Connection[Any], rec: Any) -> None:
    with pytest.raises(RuntimeError), conn.transaction():
        wh.upsert_page(conn, "Invoice", REALM, [rec(1, "2025-01-01T10:00:00-08:00")], page_number=1)
        wh.upsert_page(conn, "Invoice", REALM, [rec(2, "2025-01-01T10:00:00-08:00")], page_number=2)
        raise RuntimeError("caller aborts")
    assert wh.raw_snapshot(conn, "Invoice", REALM) == {}
    with conn.transaction():
        wh.upsert_page(conn, "Invoice", REALM, [rec(1, "2025-01-01T10:00:00-08:00")], page_number=1)
        wh.upsert_page(conn, "Invoice", REALM, [rec(2, "2025-01-01T10:00:00-08:00")], page_number=2)
    assert set(wh.raw_snapshot(conn, "Invoice", REALM)) == {"1", "2"}


def test_bad_records_are_rejected_before_anything_is_written(conn: psycopg.Connection[Any], rec: Any) -> None:
    with pytest.raises(ValueError, match=r"Invoice .2. has no MetaData\.LastUpdatedTime"):
        wh.upsert_page(conn, "Invoice", REALM, [rec(1, "2025-01-01T10:00:00-08:00"), {"Id": "2"}],
                       page_number=1)
    with pytest.raises(ValueError, match="Invoice record without Id"):
        wh.upsert_page(conn, "Invoice", REALM, [{"MetaData": {"LastUpdatedTime": "2025-01-01T10:00:00Z"}}],
                       page_number=1)
    assert wh.raw_snapshot(conn, "Invoice", REALM) == {}
    assert wh.upsert_page(conn, "Invoice", REALM, [], page_number=1) == wh.UpsertResult(0, 0, {})


def test_mark_deleted_keeps_payload_and_inserts_unknown_stubs(conn: psycopg.Connection[Any], rec: Any) -> None:
    loaded = rec(1, "2025-04-01T10:00:00-07:00", TotalAmt=50)
    wh.upsert_page(conn, "Invoice", REALM, [loaded, rec(2, "2025-04-01T10:00:00-07:00")], page_number=1)
    stubs = [
        {"Id": "1", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2025-04-05T09:00:00-07:00"}},
        {"Id": "99", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2025-04-05T20:00:00-07:00"}},
    ]
    assert wh.mark_deleted(conn, "Invoice", REALM, stubs) == 2
    assert wh.mark_deleted(conn, "Invoice", REALM, stubs) == 0  # idempotent

    one = _row(conn, "1")
    assert one["payload"] == loaded
    assert one["deleted_at_utc"] == datetime(2025, 4, 5, 16, tzinfo=UTC)
    assert one["last_updated_at"] == datetime(2025, 4, 1, 17, tzinfo=UTC)
    stub = _row(conn, "99")
    assert stub["payload"] == stubs[1]
    assert stub["deleted_at_utc"] == datetime(2025, 4, 6, 3, tzinfo=UTC)
    assert stub["extract_window_start_utc"] == datetime(2025, 4, 6)
    assert stub["page_number"] is None

    assert set(wh.raw_snapshot(conn, "Invoice", REALM)) == {"2"}
    assert set(wh.raw_snapshot(conn, "Invoice", REALM, include_deleted=True)) == {"1", "2", "99"}
    assert wh.count_rows(conn, "Invoice", REALM, date(2025, 4, 1), date(2025, 4, 2)) == 1
    assert wh.count_rows(conn, "Invoice", REALM, date(2025, 4, 1), date(2025, 4, 2), include_deleted=True) == 2

    # A rerun of the old day does not resurrect the deleted row...
    wh.upsert_page(conn, "Invoice", REALM, [loaded], page_number=1)
    assert _row(conn, "1")["deleted_at_utc"] is not None
    # ...but a version newer than the deletion (a list entity re-activated) does.
    wh.upsert_page(conn, "Invoice", REALM, [rec(1, "2025-04-07T10:00:00-07:00")], page_number=1)
    assert _row(conn, "1")["deleted_at_utc"] is None


def test_an_old_stub_does_not_mark_a_newer_row(conn: psycopg.Connection[Any], rec: Any) -> None:
    wh.upsert_page(conn, "Invoice", REALM, [rec(5, "2025-04-10T10:00:00-07:00")], page_number=1)
    stub = {"Id": "5", "status": "Deleted", "MetaData": {"LastUpdatedTime": "2025-04-01T10:00:00-07:00"}}
    assert wh.mark_deleted(conn, "Invoice", REALM, [stub]) == 0
    assert _row(conn, "5")["deleted_at_utc"] is None
