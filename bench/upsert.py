"""The engine's upsert path next to a bare COPY + INSERT ... ON CONFLICT of the same rows, one run.

Run: `python bench/upsert.py [--rows 50000] [--rounds 3]`.

The rows are real emulator invoices (fetched once, page by page, before any timing: the dicts the
engine gets from the client). Each variant loads all of them into `raw.qb_invoices` of its own fresh
database on the same embedded PostgreSQL, twice: into the empty table (insert) and again (every row
conflicts: update). Timed from the Python dicts to the commit, so JSON serialisation is included.

- engine: `warehouse.upsert_page(conn, "Invoice", realm, page, page_number=n)` per 1000-row page
  (temp stage table, COPY, INSERT ... ON CONFLICT DO UPDATE ... WHERE not older, RETURNING per day).
- engine with the response body: the same with `body=page.body` (what the engine passes since the
  throughput fix): PostgreSQL takes the payloads from the response text, Python encodes no JSON.
- bare, per page: per 1000 rows `json.dumps` -> COPY (id, payload jsonb) into a temp table ->
  INSERT ... ON CONFLICT DO UPDATE with LastUpdatedTime and the day window computed in SQL.
- bare, one batch: the same with all rows in one COPY and one INSERT (what page size costs).
Each variant runs `--rounds` times (fresh databases each round); best and median rounds are reported,
with the loading process's own CPU per 1000 rows (less sensitive to other load on the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
from harness import fresh_database, machine, postgres

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get
from qbo_ingest.source.client import Page

DAY = "2025-03-01"
REALM = "9341453000000001"
Records = Sequence[Mapping[str, Any]]

BARE_INSERT = """INSERT INTO raw.qb_invoices AS t (realm_id, id, payload, extract_window_start_utc,
        extract_window_end_utc, page_number, last_updated_at)
SELECT %(realm)s, s.id, s.payload,
       date_trunc('day', s.lu AT TIME ZONE 'UTC'), date_trunc('day', s.lu AT TIME ZONE 'UTC') + interval '1 day',
       %(page)s, s.lu
FROM (SELECT id, payload, (payload -> 'MetaData' ->> 'LastUpdatedTime')::timestamptz AS lu FROM bare_stage) AS s
ON CONFLICT (realm_id, id) DO UPDATE SET payload = EXCLUDED.payload, ingested_at_utc = EXCLUDED.ingested_at_utc,
    extract_window_start_utc = EXCLUDED.extract_window_start_utc,
    extract_window_end_utc = EXCLUDED.extract_window_end_utc, page_number = EXCLUDED.page_number,
    last_updated_at = EXCLUDED.last_updated_at"""


def fetch_pages(n_rows: int) -> list[Page]:
    """`n_rows` invoices of one emulator day as the client delivers them (pages of <= 1000 dicts)."""
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
    from qbo_ingest.settings import Settings
    from qbo_ingest.source.auth.token_store import MemoryTokenStore
    from qbo_ingest.source.client import QboClient
    from qbo_ingest.source.throttle import NoLimit

    emu = Emulator(EmulatorConfig(seed=2, profile="empty", throttle=False, update_fraction=0.0,
                                  delete_fraction=0.0, profile_overrides={"Invoice": {DAY: n_rows, "default": 0}}))
    with serve_in_thread(emu) as srv:
        settings = Settings.load(env={
            "QBO_CLIENT_ID": emu.cfg.client_id, "QBO_CLIENT_SECRET": emu.cfg.client_secret,
            "QBO_REFRESH_TOKEN": emu.issue_refresh_token(), "QBO_REALM_ID": emu.cfg.realm_id,
            "QBO_ENTORNO": "sandbox", "QBO_API_BASE_URL": srv.base_url, "QBO_TOKEN_URL": srv.token_url,
            "QBO_DATABASE_URL": "postgresql://unused@127.0.0.1/unused",
        }, use_mage_secrets=False)
        start = datetime.fromisoformat(f"{DAY}T00:00:00+00:00")
        end = start + timedelta(days=1)
        with QboClient(settings, MemoryTokenStore(), limiter=NoLimit()) as client:
            return list(client.pages("Invoice", start, end))


def engine_load(conn: psycopg.Connection[Any], pages: list[Page]) -> int:
    n = 0
    for i, page in enumerate(pages, 1):
        n += wh.upsert_page(conn, "Invoice", REALM, page.records, page_number=i).rows_upserted
    return n


def engine_load_body(conn: psycopg.Connection[Any], pages: list[Page]) -> int:
    n = 0
    for i, page in enumerate(pages, 1):
        n += wh.upsert_page(conn, "Invoice", REALM, page.records, page_number=i, body=page.body).rows_upserted
    return n


def _bare(conn: psycopg.Connection[Any], batches: list[Records]) -> int:
    n = 0
    for i, batch in enumerate(batches, 1):
        with conn.transaction():
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS bare_stage (id text, payload jsonb) ON COMMIT DELETE ROWS")
            with conn.cursor() as cur:
                with cur.copy("COPY bare_stage (id, payload) FROM STDIN") as cp:
                    for rec in batch:
                        cp.write_row((rec["Id"], json.dumps(rec)))
                cur.execute(BARE_INSERT, {"realm": REALM, "page": i})
                n += cur.rowcount
    return n


def bare_per_page(conn: psycopg.Connection[Any], pages: list[Page]) -> int:
    return _bare(conn, [p.records for p in pages])


def bare_one_batch(conn: psycopg.Connection[Any], pages: list[Page]) -> int:
    return _bare(conn, [[r for p in pages for r in p.records]])


VARIANTS: dict[str, Callable[[psycopg.Connection[Any], list[Page]], int]] = {
    "engine upsert_page (per 1000)": engine_load,
    "engine upsert_page with the response body (per 1000)": engine_load_body,
    "bare COPY + INSERT ON CONFLICT (per 1000)": bare_per_page,
    "bare COPY + INSERT ON CONFLICT (one batch)": bare_one_batch,
}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"machine: {machine()}")
    t0 = time.monotonic()
    pages = fetch_pages(args.rows)
    rows = sum(len(p.records) for p in pages)
    print(f"{rows:,} emulator invoices in {len(pages)} pages fetched in {time.monotonic() - t0:.1f} s (not timed)")
    best: dict[tuple[str, str], float] = {}
    allr: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}  # client CPU ms per 1000 rows
    with postgres() as server_url:
        for rnd in range(args.rounds):
            for name, fn in VARIANTS.items():
                dsn = fresh_database(server_url, "upsert")
                with wh.connect(dsn) as conn:
                    wh.ensure_schema(conn, [get("Invoice")])
                    for phase in ("insert", "update"):
                        t, c = time.perf_counter(), time.process_time()
                        n = fn(conn, pages)
                        dt = time.perf_counter() - t
                        cpu.setdefault((name, phase), []).append((time.process_time() - c) / rows * 1e6)
                        if n != rows:
                            raise SystemExit(f"{name} {phase}: {n} rows written, expected {rows}")
                        allr.setdefault((name, phase), []).append(rows / dt)
                        best[(name, phase)] = max(best.get((name, phase), 0.0), rows / dt)
                print(f"round {rnd + 1}: {name}: insert {allr[(name, 'insert')][-1]:,.0f} rows/s, "
                      f"update {allr[(name, 'update')][-1]:,.0f} rows/s", flush=True)
    print(f"\nbest of {args.rounds} rounds ({rows:,} rows, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC):")
    print("| variant | insert rows/s | update rows/s | median insert | median update "
          "| client CPU ms/1000 rows (insert, update; median) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in VARIANTS:
        med_i, med_u = statistics.median(allr[(name, "insert")]), statistics.median(allr[(name, "update")])
        print(f"| {name} | {best[(name, 'insert')]:,.0f} | {best[(name, 'update')]:,.0f} "
              f"| {med_i:,.0f} | {med_u:,.0f} | {statistics.median(cpu[(name, 'insert')]):.0f}, "
              f"{statistics.median(cpu[(name, 'update')]):.0f} |")
    eng = next(iter(VARIANTS))
    for other in list(VARIANTS)[1:]:
        print(f"ratio {other} / engine: insert {best[(other, 'insert')] / best[(eng, 'insert')]:.2f}x, "
              f"update {best[(other, 'update')] / best[(eng, 'update')]:.2f}x")


if __name__ == "__main__":
    main()
