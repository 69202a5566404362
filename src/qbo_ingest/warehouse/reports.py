"""QuickBooks' own reports in `raw.qb_report_<name>` (one row per realm, month and basis, replaced on a
re-load), the report ledger `qbo_ingest.report_loads`, and the tie-out table `qbo_ingest.tieout`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from qbo_ingest.warehouse.connection import RAW_SCHEMA, STATE_SCHEMA


def report_table(name: str) -> str:
    """`ProfitAndLoss` -> `qb_report_profit_and_loss`."""
    return "qb_report_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def save_report(conn: psycopg.Connection[Any], name: str, *, realm_id: str, period_start: date, period_end: date,
                basis: str, params: dict[str, str], payload: dict[str, Any], requests: int) -> None:
    """Store one report answer (replacing the same realm/month/basis) and its ledger row, in one transaction."""
    t = sql.Identifier(RAW_SCHEMA, report_table(name))
    with conn.transaction():
        conn.execute(
            sql.SQL("INSERT INTO {} (realm_id, period_start, period_end, basis, report_name, params, payload) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (realm_id, period_start, basis) DO UPDATE SET "
                    "period_end = EXCLUDED.period_end, report_name = EXCLUDED.report_name, params = EXCLUDED.params, "
                    "payload = EXCLUDED.payload, ingested_at_utc = EXCLUDED.ingested_at_utc").format(t),
            (realm_id, period_start, period_end, basis, name, Jsonb(params), Jsonb(payload)))
        _ledger(conn, realm_id, name, period_start, basis, "succeeded", requests, None)


def report_failed(conn: psycopg.Connection[Any], name: str, *, realm_id: str, period_start: date, basis: str,
                  requests: int, error: str) -> None:
    with conn.transaction():
        _ledger(conn, realm_id, name, period_start, basis, "failed", requests, error)


def _ledger(conn: psycopg.Connection[Any], realm_id: str, name: str, period_start: date, basis: str, status: str,
            requests: int, error: str | None) -> None:
    conn.execute(
        sql.SQL("INSERT INTO {} (realm_id, report, period_start, basis, status, requests, error) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (realm_id, report, period_start, basis) DO UPDATE "
                "SET status = EXCLUDED.status, requests = EXCLUDED.requests, error = EXCLUDED.error, "
                "finished_at = now()").format(sql.Identifier(STATE_SCHEMA, "report_loads")),
        (realm_id, name, period_start, basis, status, requests, error))


def reports_loaded(conn: psycopg.Connection[Any], realm_id: str) -> set[tuple[str, date, str]]:
    """(report, month, basis) the ledger marks succeeded."""
    rows = conn.execute(
        sql.SQL("SELECT report, period_start, basis FROM {} WHERE realm_id = %s AND status = 'succeeded'").format(
            sql.Identifier(STATE_SCHEMA, "report_loads")), (realm_id,)).fetchall()
    return {(str(r), d, str(b)) for r, d, b in rows}


def report_payloads(conn: psycopg.Connection[Any], name: str, realm_id: str, start: date,
                    end: date) -> list[tuple[date, str, dict[str, Any]]]:
    """(month, basis, payload) of one report for the months starting within [start, end]."""
    rows = conn.execute(
        sql.SQL("SELECT period_start, basis, payload FROM {} WHERE realm_id = %s AND period_start BETWEEN %s AND %s "
                "ORDER BY period_start, basis").format(sql.Identifier(RAW_SCHEMA, report_table(name))),
        (realm_id, start, end)).fetchall()
    return [(d, str(b), p) for d, b, p in rows]


def query_rows(conn: psycopg.Connection[Any], statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Rows of a read-only query the caller composed from fixed text (the marts the tie-out reads)."""
    return [tuple(r) for r in conn.execute(statement, params).fetchall()]


TieoutRow = tuple[str, str, date, str, str, int, int]  # statement, basis, month, account, name, warehouse, qbo (cents)


def save_tieout(conn: psycopg.Connection[Any], realm_id: str, start: date, end: date,
                rows: Iterable[TieoutRow]) -> None:
    """Replace the tie-out of [start, end]'s months with these rows (amounts in cents)."""
    t = sql.Identifier(STATE_SCHEMA, "tieout")
    with conn.transaction():
        conn.execute(sql.SQL("DELETE FROM {} WHERE realm_id = %s AND month BETWEEN %s AND %s").format(t),
                     (realm_id, start, end))
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("INSERT INTO {} (realm_id, statement, basis, month, account, account_name, warehouse, qbo, "
                        "difference) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)").format(t),
                [(realm_id, s, b, m, a, n, Decimal(w) / 100, Decimal(q) / 100, Decimal(w - q) / 100)
                 for s, b, m, a, n, w, q in rows])
