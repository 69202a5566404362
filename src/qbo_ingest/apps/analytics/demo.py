"""`qbo-ingest demo-analytics`: the analytics layer end to end, on the embedded PostgreSQL (database
`qbo_analytics_demo`, next to the demo's) and a small emulator company (3 months, multi-currency): backfill
of the entities the statements need, QBO's reports, `dbt build`, the tie-out, and the P&L query to try."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import psycopg

from qbo_ingest import warehouse as wh
from qbo_ingest.apps.cli import analytics, commands, output
from qbo_ingest.catalogue import resolve
from qbo_ingest.local import postgres as embedded_db
from qbo_ingest.settings import Settings

ENTITIES = ["Account", "Item", "Customer", "Vendor", "Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt",
            "Payment", "Bill", "BillPayment", "VendorCredit", "Purchase", "Deposit", "JournalEntry", "Transfer",
            "CreditCardPayment"]
DATA_START, DATA_END = date(2025, 1, 1), date(2025, 3, 31)
LOAD_FROM, LOAD_TO = "2024-12-29", "2025-05-15"  # creation days and the edits up to 20 days later
DATABASE = "qbo_analytics_demo"
PNL_QUERY = ("SELECT month, basis, section, account_name, report_amount FROM analytics.profit_and_loss_monthly "
             "WHERE basis = 'Accrual' ORDER BY month, section, account_name")


def run(*, data_dir: str | None = None, seed: int = 1, per_day: int = 5) -> bool:
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

    console = output.console
    pgdata = Path(data_dir) if data_dir else embedded_db.default_data_dir()
    console.print(f"Starting embedded PostgreSQL in {pgdata} ...")
    server = embedded_db.start(pgdata, cleanup="stop")
    admin = embedded_db.url_of(server)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")  # a fresh company each run (it is generated anew)
        conn.execute(f"CREATE DATABASE {DATABASE}")
    url = embedded_db.url_of(server, DATABASE)
    wh.init_db(url)
    overrides: dict[str, object] = {e: per_day for e in ENTITIES[4:-1]}  # card payments at the emulator's rate
    emu = Emulator(EmulatorConfig(seed=seed, profile="sparse", data_start=DATA_START, data_end=DATA_END,
                                  profile_overrides=overrides))  # type: ignore[arg-type]
    with serve_in_thread(emu) as srv:
        where_dbt = {k: v for k, v in os.environ.items() if k in ("QBO_DBT_BIN", "QBO_DBT_PROJECT_DIR")}
        settings = Settings.load(env={**srv.client_env(url), **where_dbt}, use_mage_secrets=False)
        console.print(f"Backfilling {len(ENTITIES)} entities {LOAD_FROM}..{LOAD_TO} ...")
        loaded = commands.backfill(resolve(ENTITIES), LOAD_FROM, LOAD_TO, settings=settings, show_progress=False)
        ok = loaded.ok and analytics.reports(str(DATA_START), str(DATA_END), settings=settings)
        ok = ok and analytics.models_build(settings=settings)
        ok = ok and analytics.tieout(str(DATA_START), str(DATA_END), settings=settings)
    console.print(f"\nThe data stays in {pgdata} (database {DATABASE}); with its server running, try:")
    console.print(f"  psql '{url}' -c \"{PNL_QUERY}\"")
    console.print(f"  psql '{url}' -c \"SELECT statement, basis, month, count(*), sum(abs(difference)) "
                  "FROM qbo_ingest.tieout GROUP BY 1, 2, 3 ORDER BY 1, 2, 3\"")
    return ok
