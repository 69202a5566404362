"""API calls of a backfill, next to the minimum ceil(N/1000) and to one request per day.

Run: `python bench/calls.py [--sparse-days 1096] [--dense-days 60] [--concurrency 4]`.

Two backfills of Invoice through the engine (`qbo_ingest.apps.wiring.engine`, the CLI's path) against the
emulator in a separate process with QBO's throttles on, each into a fresh database:
- sparse: ~20 records/day (profile `sparse`), 3 years (2023-01-01 .. 2025-12-31, 1096 days);
- dense: ~2000 invoices/day (profile `dense`), 60 days by default (3 dense years would be ~2.2M
  invoices, more than this 2-core machine loads in the time a benchmark should take).
Requests are the emulator's own counters (what QBO would meter): data pages, COUNT queries,
token calls, and 429s.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from datetime import date, timedelta

from harness import emulator_process, fresh_database, machine, postgres

from qbo_ingest import jobs
from qbo_ingest.apps import wiring as runtime
from qbo_ingest.catalogue import get


def run_case(label: str, profile: str, start: date, end: date, *, server_url: str, concurrency: int,
             seed: int) -> dict[str, object]:
    days = (end - start).days + 1
    dsn = fresh_database(server_url, f"calls_{profile}")
    with emulator_process(seed=seed, profile=profile, throttle=True) as emu:
        emu.reset_counters()
        t0 = time.monotonic()
        with runtime.engine(emu.settings(dsn), concurrency=concurrency) as eng:
            report = jobs.backfill(eng, [get("Invoice")], start.isoformat(), end.isoformat())
        seconds = time.monotonic() - t0
        c = emu.counters()
    n = report.rows_fetched
    per_day = {o.day: o.rows_fetched for o in report.outcomes}
    day_windows = sum(max(1, math.ceil(k / 1000)) for k in per_day.values())
    return {
        "label": label, "days": days, "rows": n, "ok": report.ok, "seconds": seconds,
        "data": c["query"], "count": c["count"], "token": c["token"], "throttled": c["throttled"],
        "total": c["total"], "minimum": math.ceil(n / 1000), "one_per_day": days, "day_windows": day_windows,
        "mismatches": len(report.source_mismatches),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sparse-days", type=int, default=1096)
    ap.add_argument("--dense-days", type=int, default=60)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    print(f"machine: {machine()}")
    print(f"engine concurrency {args.concurrency}, page size 1000, emulator in a separate process, throttle on")
    s0 = date(2023, 1, 1)
    d0 = date(2025, 1, 1)
    cases = [
        ("sparse Invoice", "sparse", s0, s0 + timedelta(days=args.sparse_days - 1)),
        ("dense Invoice", "dense", d0, d0 + timedelta(days=args.dense_days - 1)),
    ]
    results = []
    with postgres() as server_url:
        for label, profile, start, end in cases:
            print(f"\n{label}: {start} .. {end} ...", flush=True)
            r = run_case(label, profile, start, end, server_url=server_url, concurrency=args.concurrency,
                         seed=args.seed)
            results.append(r)
            print(f"  rows {r['rows']:,} in {r['seconds']:.1f} s, ok={r['ok']}, source mismatches {r['mismatches']}")

    print("\n| case | days | rows N | data requests | COUNT requests | token | total requests | 429s "
          "| minimum ceil(N/1000) | one request per day | per-day windows (sum ceil(n_d/1000)) "
          "| data / minimum | total / one-per-day |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['label']} | {r['days']} | {r['rows']:,} | {r['data']} | {r['count']} | {r['token']} "
              f"| {r['total']} | {r['throttled']} | {r['minimum']} | {r['one_per_day']} | {r['day_windows']} "
              f"| {r['data'] / max(1, r['minimum']):.2f}x "  # type: ignore[operator]
              f"| {r['total'] / max(1, r['one_per_day']):.3f}x |")  # type: ignore[operator]


if __name__ == "__main__":
    main()
