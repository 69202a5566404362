"""The PostgreSQL warehouse: `connection` (names, connect), `schema` (the only DDL), `raw` (upserts,
deletes, counts), `ledger` (per-day ledger, runs, CDC checks), `meter`
(metered QBO calls per realm and month), `grants` (privilege checks).

Callers use this package's names (`from qbo_ingest import warehouse as wh; wh.upsert_page(...)`).
"""

from qbo_ingest.errors import GrantError
from qbo_ingest.warehouse.connection import RAW_SCHEMA, STATE_SCHEMA, STATE_TABLES, connect
from qbo_ingest.warehouse.grants import check_grants
from qbo_ingest.warehouse.ledger import (
    LedgerRow,
    RunRow,
    cdc_checked_at,
    cdc_save_check,
    ledger_begin,
    ledger_days,
    ledger_finish,
    ledger_finish_many,
    ledger_summary,
    newest_succeeded_day,
    run_alive,
    run_finish,
    run_start,
    runs_recent,
)
from qbo_ingest.warehouse.meter import month_calls, month_of, record_calls
from qbo_ingest.warehouse.raw import (
    UpsertResult,
    count_rows,
    daily_counts,
    mark_deleted,
    raw_snapshot,
    upsert_page,
    watermark,
)
from qbo_ingest.warehouse.reports import (
    TieoutRow,
    query_rows,
    report_failed,
    report_payloads,
    report_table,
    reports_loaded,
    save_report,
    save_tieout,
)
from qbo_ingest.warehouse.schema import InitResult, ensure_reports_schema, ensure_schema, init_db, state_ready

__all__ = [
    "RAW_SCHEMA",
    "STATE_SCHEMA",
    "STATE_TABLES",
    "GrantError",
    "InitResult",
    "LedgerRow",
    "RunRow",
    "TieoutRow",
    "UpsertResult",
    "cdc_checked_at",
    "cdc_save_check",
    "check_grants",
    "connect",
    "count_rows",
    "daily_counts",
    "ensure_reports_schema",
    "ensure_schema",
    "init_db",
    "ledger_begin",
    "ledger_days",
    "ledger_finish",
    "ledger_finish_many",
    "ledger_summary",
    "mark_deleted",
    "month_calls",
    "month_of",
    "newest_succeeded_day",
    "query_rows",
    "raw_snapshot",
    "record_calls",
    "report_failed",
    "report_payloads",
    "report_table",
    "reports_loaded",
    "run_alive",
    "run_finish",
    "run_start",
    "runs_recent",
    "save_report",
    "save_tieout",
    "state_ready",
    "upsert_page",
    "watermark",
]
