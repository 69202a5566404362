"""`qbo-ingest demo`: the first run. An embedded PostgreSQL (under the user's data directory), the
local QBO emulator on 127.0.0.1, a multi-entity backfill, the status table and the connection URL.
No Docker, no Intuit account, no network."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from qbo_ingest import warehouse as wh
from qbo_ingest.apps.cli import commands, output
from qbo_ingest.catalogue import resolve
from qbo_ingest.local import postgres as embedded_db
from qbo_ingest.settings import Settings
from qbo_ingest.source.auth.token_store import PostgresTokenStore

DEMO_ENTITIES = ["Customer", "Item", "Vendor", "Invoice", "Payment", "Bill"]
DEMO_DATA_END = date(2026, 11, 27)


def run(*, fecha_inicio: str | None = None, fecha_fin: str | None = None, data_dir: str | None = None,
        entities: list[str] | None = None, seed: int = 1) -> bool:
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

    end = fecha_fin or DEMO_DATA_END.isoformat()
    start = fecha_inicio or (date.fromisoformat(end) - timedelta(days=29)).isoformat()
    ents = resolve(entities or DEMO_ENTITIES)
    pgdata = Path(data_dir) if data_dir else embedded_db.default_data_dir()
    console = output.console
    console.print(f"Starting embedded PostgreSQL in {pgdata} ...")
    server = embedded_db.start(pgdata, cleanup=None)  # stays up after the demo, as it says below
    url = embedded_db.url_of(server)
    emu = Emulator(EmulatorConfig(seed=seed, profile="demo", data_end=DEMO_DATA_END))
    with serve_in_thread(emu) as srv:
        console.print(f"QBO emulator on {srv.base_url} (realm {emu.cfg.realm_id})")
        env = srv.client_env(url)
        settings = Settings.load(env=env, use_mage_secrets=False)
        # A fresh emulator knows nothing of a refresh token stored by an earlier demo run.
        _forget_demo_tokens(url, emu.cfg.realm_id)
        console.print(f"Backfilling {', '.join(e.name for e in ents)} from {start} to {end} (UTC days) ...")
        report = commands.backfill(ents, start, end, settings=settings, concurrency=4)
    output.print_report(report)
    commands.status(ents, settings=settings)
    console.print("\nThe warehouse stays up for you to query:")
    console.print(f"  psql '{url}' -c 'SELECT DATE(extract_window_start_utc), COUNT(*) "
                  "FROM raw.qb_invoices GROUP BY 1 ORDER BY 1'", soft_wrap=True)
    console.print(f"  connection URL: {url}", soft_wrap=True)
    console.print(f"  stop it with: {embedded_db.stop_command(pgdata)}", soft_wrap=True)
    return report.ok


def _forget_demo_tokens(url: str, realm_id: str) -> None:
    with wh.connect(url) as conn:
        wh.ensure_schema(conn)  # the demo is the embedded server's admin
    PostgresTokenStore(url).forget(realm_id)
