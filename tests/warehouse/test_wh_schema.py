"""DDL: every catalogue entity gets its raw table with the spec's columns; running it twice is a no-op."""

from __future__ import annotations

from typing import Any

import psycopg

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import CATALOGUE


def _columns(conn: psycopg.Connection[Any], schema: str, table: str) -> dict[str, tuple[str, str]]:
    rows = conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, table),
    ).fetchall()
    return {name: (dtype, nullable) for name, dtype, nullable in rows}


def test_ensure_schema_creates_every_catalogue_table_and_is_idempotent(pg_url: str) -> None:
    with wh.connect(pg_url) as conn:
        created = wh.ensure_schema(conn)
        assert {f"raw.qb_{e.plural}" for e in CATALOGUE} <= set(created)
        assert {"qbo_ingest.ledger", "qbo_ingest.runs", "qbo_ingest.oauth_tokens"} <= set(created)
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'"
            ).fetchall()
        }
        conn.rollback()  # close the implicit transaction this test's own query opened
        assert tables == {e.table for e in CATALOGUE}
        assert "qb_invoices" in tables and "qb_journal_entries" in tables

        assert wh.ensure_schema(conn) == []  # second run: nothing to create, no DDL sent
        assert wh.ensure_schema(conn, ["Invoice"]) == []
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_raw_table_has_the_spec_columns_key_and_window_index(pg_url: str) -> None:
    with wh.connect(pg_url) as conn:
        wh.ensure_schema(conn, ["Invoice"])
        cols = _columns(conn, "raw", "qb_invoices")
        assert cols == {
            "id": ("character varying", "NO"),
            "payload": ("jsonb", "NO"),
            "ingested_at_utc": ("timestamp without time zone", "NO"),
            "extract_window_start_utc": ("timestamp without time zone", "NO"),
            "extract_window_end_utc": ("timestamp without time zone", "NO"),
            "page_number": ("integer", "YES"),
            "realm_id": ("character varying", "NO"),
            "last_updated_at": ("timestamp with time zone", "NO"),
            "deleted_at_utc": ("timestamp with time zone", "YES"),
        }
        pk = conn.execute(
            "SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum)) "
            "FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = 'raw.qb_invoices'::regclass AND i.indisprimary"
        ).fetchone()
        assert pk is not None and pk[0] == ["realm_id", "id"]
        idx = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = 'raw' AND tablename = 'qb_invoices'"
        ).fetchall()
        assert any("(extract_window_start_utc)" in r[0] for r in idx)


def test_spec_manual_sql_gives_utc_days_in_any_session_time_zone(conn: psycopg.Connection[Any], rec: Any) -> None:
    # 23:30 Pacific on 9 March is 06:30Z on 10 March: the UTC day is the 10th, whatever the client's zone.
    wh.upsert_page(conn, "Invoice", "1", [rec(1, "2025-03-09T23:30:00-07:00")], page_number=1)
    conn.execute("SET TIME ZONE 'America/Los_Angeles'")
    rows = conn.execute(
        "SELECT DATE(extract_window_start_utc) AS fecha_proceso, COUNT(*) AS total_registros "
        "FROM raw.qb_invoices GROUP BY 1 ORDER BY 1"
    ).fetchall()
    conn.rollback()
    assert [(d.isoformat(), n) for d, n in rows] == [("2025-03-10", 1)]
