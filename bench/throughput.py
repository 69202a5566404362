"""Throughput of a dense backfill against the emulator with 150 ms latency and QBO's throttles on.

Run: `python bench/throughput.py [--days 120] [--concurrency 10] [--latency-ms 150] [--reencode]`.
`--reencode` loads as the engine did before the response-body fix (payloads re-encoded by Python).

The emulator (profile `dense`, ~2000 invoices/day) runs in a separate process with `latency_ms=150`
and its throttle on (500 requests/minute and 10/second per realm -> 429). Its days are generated
before the clock starts (through the admin API, which QBO's meter does not see), so the run measures
serving, transfer, parsing and loading, not the emulator's data generator. The engine runs with the
real `QboClient` and its client-side limiter (500/min, 10/s).

Printed: rows/s next to QBO's bound (500 requests/min x 1000 rows = 8,333 rows/s) and the latency
bound for 10 requests in flight (10 / 0.15 s x 1000 rows = 66,667 rows/s), the 429s the run caused,
and where the CPU went (engine process, emulator process, PostgreSQL).
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import date, timedelta
from typing import Any

from harness import CpuMeter, emulator_process, fresh_database, machine, postgres

from qbo_ingest import jobs
from qbo_ingest.apps import wiring as runtime
from qbo_ingest.catalogue import get
from qbo_ingest.source.throttle import shared_limiter


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument("--start", default="2025-01-01")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--limiter-margin-ms", type=int, default=None,
                    help="give the client's shared limiter this window margin (default: the library's)")
    ap.add_argument("--reencode", action="store_true",
                    help="load as the engine did before the body fix: payloads re-encoded in Python")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    if args.reencode:
        from qbo_ingest.pipeline import engine as backfill

        plain = backfill.wh.upsert_page

        def without_body(*a: Any, body: bytes | None = None, **kw: Any) -> Any:
            return plain(*a, **kw)

        backfill.wh.upsert_page = without_body  # type: ignore[assignment]
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.days - 1)
    print(f"machine: {machine()}")
    print(f"dense Invoice {start} .. {end} ({args.days} days), engine concurrency {args.concurrency}, "
          f"emulator latency {args.latency_ms} ms, throttle on (500/min, 10/s), emulator in a separate process"
          f"{'; payloads re-encoded in Python (--reencode)' if args.reencode else ''}"
          f"{f'; limiter margin {args.limiter_margin_ms} ms' if args.limiter_margin_ms is not None else ''}")
    with postgres() as server_url:
        dsn = fresh_database(server_url, "throughput")
        with emulator_process(seed=args.seed, profile="dense", throttle=True, latency_ms=args.latency_ms) as emu:
            t0 = time.monotonic()
            live = emu.truth_count("Invoice", f"{start}T00:00:00Z", f"{end + timedelta(days=1)}T00:00:00Z")
            print(f"emulator generated the span first: {live:,} live invoices in {time.monotonic() - t0:.1f} s "
                  "(not timed)")
            emu.reset_counters()
            if args.limiter_margin_ms is not None:
                from qbo_ingest.source import throttle

                throttle._shared[emu.realm_id] = throttle.RateLimiter(margin_ms=args.limiter_margin_ms)
            meter = CpuMeter(emulator_pid=emu.pid, pg_dsn=dsn)
            meter.start()
            t0 = time.monotonic()
            with runtime.engine(emu.settings(dsn), concurrency=args.concurrency) as eng:
                report = jobs.backfill(eng, [get("Invoice")], start.isoformat(), end.isoformat())
                stats = eng.client.stats  # type: ignore[attr-defined]
            seconds = time.monotonic() - t0
            used = meter.stop()
            engine_cpu, emu_cpu, pg_cpu = used["engine"], used["emulator"], used["postgres"]
            c = emu.counters()
            limiter = shared_limiter(emu.realm_id)
    rows = report.rows_fetched
    rate = rows / seconds
    req_rate = c["total"] / seconds * 60
    bound_quota = 500 * 1000 / 60
    bound_latency = 10 / (args.latency_ms / 1000) * 1000
    print(f"\nrun ok={report.ok}; rows {rows:,} (emulator truth {live:,}); {seconds:.1f} s")
    print(f"requests: {c['query']} data + {c['count']} COUNT + {c['token']} token = {c['total']} "
          f"({req_rate:.0f}/min); client retries {stats.retries}; limiter waited {limiter.waited_s:.1f} s in total")
    print(f"429s caused by the run: emulator throttled {c['throttled']}, client saw {stats.throttled_429}")
    print(meter.line())
    print("\n| measure | rows/s | vs measured |")
    print("|---|---:|---:|")
    print(f"| measured | {rate:,.0f} | 1.00x |")
    print(f"| QBO quota bound (500 req/min x 1000 rows) | {bound_quota:,.0f} | {bound_quota / rate:.2f}x |")
    print(f"| latency bound (10 in flight / {args.latency_ms} ms x 1000 rows) | {bound_latency:,.0f} "
          f"| {bound_latency / rate:.2f}x |")
    print(f"| engine CPU bound (rows / engine CPU s) | {rows / max(engine_cpu, 1e-9):,.0f} | "
          f"{rows / max(engine_cpu, 1e-9) / rate:.2f}x |")
    print(f"| emulator CPU bound (rows / emulator CPU s) | {rows / max(emu_cpu, 1e-9):,.0f} | "
          f"{rows / max(emu_cpu, 1e-9) / rate:.2f}x |")
    print(f"| PostgreSQL CPU bound (rows / PostgreSQL CPU s) | {rows / max(pg_cpu, 1e-9):,.0f} | "
          f"{rows / max(pg_cpu, 1e-9) / rate:.2f}x |")
    two_core = 2 * rows / max(engine_cpu + emu_cpu + pg_cpu, 1e-9)
    print(f"| all three on 2 idle cores (2 x rows / their CPU s) | {two_core:,.0f} | {two_core / rate:.2f}x |")


if __name__ == "__main__":
    main()
