"""upsert_page(body=...): payloads taken from the raw response text by PostgreSQL (no Python re-encode),
identical rows to the encoded path, numbers kept as received, and a fallback when the body does not fit."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from qbo_ingest import warehouse as wh
from qbo_ingest.errors import WarehouseError

REALM = "9130350000000001"
COLS = ("id, payload, extract_window_start_utc, extract_window_end_utc, page_number, last_updated_at, "
        "deleted_at_utc")


def _rows(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    rows = conn.execute(f"SELECT {COLS} FROM raw.qb_invoices ORDER BY id").fetchall()
    conn.rollback()
    return rows


def _body(records: list[dict[str, Any]], text: str | None = None) -> bytes:
    return (text or json.dumps({"QueryResponse": {"Invoice": records, "startPosition": 1,
                                                  "maxResults": len(records)}})).encode()


def test_body_path_gives_the_same_rows_as_the_encoded_path(conn: psycopg.Connection[Any], rec: Any,
                                                           pg_url: str) -> None:
    recs = [rec(i, f"2025-03-0{1 + i % 2}T23:30:00-08:00", TotalAmt=10.5 * i, Memo="café") for i in range(1, 8)]
    res_body = wh.upsert_page(conn, "Invoice", REALM, recs, page_number=1, body=_body(recs))
    with_body = _rows(conn)
    conn.execute("TRUNCATE raw.qb_invoices")
    conn.commit()
    res_plain = wh.upsert_page(conn, "Invoice", REALM, recs, page_number=1)
    assert res_body == res_plain
    assert with_body == _rows(conn)
    assert len(with_body) == 7


def test_numbers_are_stored_as_received_from_the_body(conn: psycopg.Connection[Any], rec: Any) -> None:
    r = rec(1, "2025-03-01T10:00:00-08:00", TotalAmt=100.5)
    text = json.dumps({"QueryResponse": {"Invoice": [r]}}).replace('"TotalAmt": 100.5', '"TotalAmt": 100.50')
    wh.upsert_page(conn, "Invoice", REALM, [r], page_number=1, body=text.encode())
    got = conn.execute("SELECT payload->>'TotalAmt' FROM raw.qb_invoices").fetchone()
    assert got == ("100.50",)


def test_a_body_that_does_not_hold_exactly_the_records_falls_back_to_encoding(conn: psycopg.Connection[Any],
                                                                              rec: Any) -> None:
    recs = [rec(i, "2025-03-01T10:00:00-08:00") for i in range(1, 4)]
    # The body lacks record 3 (e.g. a page the pager trimmed differently): all three are still loaded.
    res = wh.upsert_page(conn, "Invoice", REALM, recs, page_number=1, body=_body(recs[:2]))
    assert res.rows_upserted == 3
    assert [r[0] for r in _rows(conn)] == ["1", "2", "3"]
    # Text jsonb refuses (\u0000) and text that is not JSON: the page still loads, from the records.
    nul = [rec(4, "2025-03-01T11:00:00-08:00", Memo="a\u0000b")]
    assert wh.upsert_page(conn, "Invoice", REALM, [rec(5, "2025-03-01T11:00:00-08:00")], page_number=2,
                          body=b"{not json").rows_upserted == 1
    res_nul = wh.upsert_page(conn, "Invoice", REALM, [rec(4, "2025-03-01T11:00:00-08:00")], page_number=3,
                             body=_body(nul))
    assert res_nul.rows_upserted == 1
    assert [r[0] for r in _rows(conn)] == ["1", "2", "3", "4", "5"]
    assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def _keys(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"Id": r["Id"], "MetaData": {"LastUpdatedTime": r["MetaData"]["LastUpdatedTime"]}} for r in records]


def test_keys_only_records_store_the_whole_payloads_from_the_body(conn: psycopg.Connection[Any], rec: Any) -> None:
    recs = [rec(i, "2025-03-01T10:00:00-08:00", TotalAmt=i * 2.5, Memo=f"m{i}") for i in range(1, 5)]
    res = wh.upsert_page(conn, "Invoice", REALM, _keys(recs), page_number=1, body=_body(recs), keys_only=True)
    assert res.rows_upserted == 4
    assert [r[1] for r in _rows(conn)] == recs  # the whole records, not the keys the engine read


def test_keys_only_records_whose_body_jsonb_refuses_are_stored_whole_and_escaped(conn: psycopg.Connection[Any],
                                                                                  rec: Any) -> None:
    # PostgreSQL refuses the body (\u0000): the fallback takes the whole records from the body in Python,
    # escapes the NUL, and stores them - never the keys-only stand-ins.
    recs = [rec(1, "2025-03-01T10:00:00-08:00", Memo="a\u0000b"), rec(2, "2025-03-01T10:00:01-08:00", Memo="ok")]
    res = wh.upsert_page(conn, "Invoice", REALM, _keys(recs), page_number=1, body=_body(recs), keys_only=True)
    assert res.rows_upserted == 2 and sum(res.escaped_by_day.values()) == 1
    payloads = [r[1] for r in _rows(conn)]
    assert payloads[0]["Memo"] == "a\\u0000b" and payloads[1] == recs[1]


def test_keys_only_records_absent_from_their_body_fail_the_page_and_store_nothing(conn: psycopg.Connection[Any],
                                                                                   rec: Any) -> None:
    recs = [rec(i, "2025-03-01T10:00:00-08:00") for i in range(1, 4)]
    with pytest.raises(WarehouseError, match="does not hold the records"):
        wh.upsert_page(conn, "Invoice", REALM, _keys(recs), page_number=1, body=_body(recs[:2]), keys_only=True)
    assert _rows(conn) == []
