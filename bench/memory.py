"""Peak RSS of the loading process for a day of 1,000 invoices, of 10,000 and of 100,000.

Run: `python bench/memory.py [--sizes 1000,10000,100000]`.

One emulator (separate process, profile `empty` with those day volumes) and one embedded PostgreSQL
serve every case; each day is loaded by the engine (`qbo_ingest.apps.wiring.engine`, the CLI's path) in a
FRESH Python subprocess, which reports its own peak RSS (`resource.getrusage(RUSAGE_SELF).ru_maxrss`)
next to its RSS after imports and set-up. The engine upserts each 1000-record page as it arrives,
so the peak should not grow with the day (ids seen by the keyset pager are the only per-day state).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from harness import emulator_process, fresh_database, machine, postgres

from qbo_ingest import jobs

FIRST_DAY = date(2025, 3, 1)
GAP_DAYS = 40  # generated edits move records up to 20 days later: keep the measured days apart


def child(day: str) -> None:
    """Load one day with the engine; print a JSON line with RSS figures (KiB)."""
    import psutil

    from qbo_ingest.apps import wiring as runtime
    from qbo_ingest.catalogue import get
    from qbo_ingest.settings import Settings

    logging.basicConfig(level=logging.WARNING)
    settings = Settings.load(env=dict(os.environ), use_mage_secrets=False)
    base_kib = psutil.Process().memory_info().rss // 1024
    t0 = time.monotonic()
    with runtime.engine(settings, concurrency=4) as eng:
        report = jobs.backfill(eng, [get("Invoice")], day, day)
    seconds = time.monotonic() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"rows": report.rows_fetched, "ok": report.ok, "base_kib": base_kib,
                      "peak_kib": peak_kib, "seconds": seconds}))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    days = {FIRST_DAY + timedelta(days=GAP_DAYS * i): n for i, n in enumerate(sizes)}
    overrides = {"Invoice": {**{d.isoformat(): n for d, n in days.items()}, "default": 0}}
    print(f"machine: {machine()}")
    results = []
    with postgres() as server_url, emulator_process(seed=3, profile="empty", throttle=False,
                                                    profile_overrides=overrides) as emu:
        for d, n in days.items():
            live = emu.truth_count("Invoice", f"{d}T00:00:00Z", f"{d + timedelta(days=1)}T00:00:00Z")
            dsn = fresh_database(server_url, "memory")
            env = {k: v for k, v in os.environ.items() if not k.startswith("QBO_")}
            env.update(emu.env(dsn, refresh_token=emu.new_refresh_token()))
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", d.isoformat()],
                                  env=env, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise SystemExit(f"child failed for {d}:\n{proc.stderr[-3000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r.update(day=d.isoformat(), generated=n, live=live)
            results.append(r)
            print(f"day {d}: {r['rows']:,} rows loaded (ok={r['ok']}) in {r['seconds']:.1f} s; "
                  f"RSS after set-up {r['base_kib'] / 1024:.0f} MiB, peak {r['peak_kib'] / 1024:.0f} MiB", flush=True)
    print("\n| day size (generated) | rows loaded | RSS after imports/set-up | peak RSS | peak - set-up | seconds |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['generated']:,} | {r['rows']:,} | {r['base_kib'] / 1024:.0f} MiB | {r['peak_kib'] / 1024:.0f} MiB "
              f"| {(r['peak_kib'] - r['base_kib']) / 1024:.0f} MiB | {r['seconds']:.1f} |")
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(f"\npeak RSS ratio {b['generated']:,}-record day / {a['generated']:,}-record day: "
              f"{b['peak_kib'] / a['peak_kib']:.2f}x for {b['rows'] / max(1, a['rows']):.0f}x the rows")


if __name__ == "__main__":
    main()
