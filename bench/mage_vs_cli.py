"""A 365-day backfill through the Mage pipeline `qb_invoices_backfill` next to the same through the CLI.

Run: `python bench/mage_vs_cli.py [--days 365] [--latency-ms 150]` (needs mage-ai in the venv).

One emulator (separate process, profile `sparse`: ~20 invoices/day, QBO's throttles on, 150 ms
latency per request by default) and one embedded PostgreSQL; each side loads the same days of
Invoice into its own fresh database:
- Mage: a database-backed pipeline run executed headless by tests/mage/mage_runner.py (what the
  scheduler does: one dynamic child `load_day:invoice_backfill_<day>` per day, each its own engine
  with one request in flight), in a subprocess;
- CLI: `qbo-ingest backfill Invoice --from .. --to .. --no-progress` in a subprocess (consecutive days
  as keyset streams, 4 in flight).
Printed: wall seconds (process start to exit), requests by kind as the emulator counted them, rows in
raw next to the emulator's truth.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from harness import EmulatorInfo, emulator_process, fresh_database, machine, postgres

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tests" / "mage" / "mage_runner.py"
PROJECT = ROOT / "mage"


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "POSTGRES_", "MAGE_"))}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def raw_rows(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT count(*) FROM raw.qb_invoices WHERE deleted_at_utc IS NULL").fetchone()
    return int(row[0]) if row else 0


def run_mage(emu: EmulatorInfo, dsn: str, start: date, end: date, work: Path) -> dict[str, Any]:
    project = work / "mage"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns("__pycache__", "mage_data", ".variables"))
    out = work / "mage_result.json"
    cmd = [sys.executable, str(RUNNER), "--project", str(project), "--data-dir", str(work / "mage_data"),
           "--pipeline", "qb_invoices_backfill", "--out", str(out),
           "--vars", json.dumps({"fecha_inicio": start.isoformat(), "fecha_fin": end.isoformat()})]
    env = _env(emu.env(dsn, refresh_token=emu.new_refresh_token()))
    (work / "mage_data").mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, cwd=str(work / "mage_data"), capture_output=True, text=True, timeout=7200)
    wall = time.monotonic() - t0
    if proc.returncode != 0 or not out.is_file():
        raise SystemExit(f"mage runner failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    res = json.loads(out.read_text(encoding="utf-8"))
    children = [b for b in res["block_runs"] if b.startswith("load_day:")]
    failed = [b for b, s in res["block_runs"].items() if s != "completed"]
    return {"wall": wall, "executor": float(res["seconds"]), "status": res["status"], "children": len(children),
            "failed": failed}


def run_cli(emu: EmulatorInfo, dsn: str, start: date, end: date) -> dict[str, Any]:
    exe = Path(sys.executable).with_name("qbo-ingest")
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "qbo_ingest.apps.cli.main"]),
           "--log-level", "WARNING", "backfill", "Invoice", "--from", start.isoformat(), "--to", end.isoformat(),
           "--no-progress"]
    env = _env(emu.env(dsn, refresh_token=emu.new_refresh_token()))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"CLI failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return {"wall": wall, "status": "completed"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--start", default="2025-01-01")
    ap.add_argument("--latency-ms", type=int, default=150)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args(argv)
    start = date.fromisoformat(args.start)
    end = start + timedelta(days=args.days - 1)
    print(f"machine: {machine()}")
    print(f"Invoice {start} .. {end} ({args.days} days), emulator profile sparse, latency {args.latency_ms} ms, "
          "throttle on, separate process")
    results: dict[str, dict[str, Any]] = {}
    with postgres() as server_url, emulator_process(seed=args.seed, profile="sparse", throttle=True,
                                                    latency_ms=args.latency_ms) as emu, \
            tempfile.TemporaryDirectory(prefix="qbo-bench-mage-") as tmp:
        truth = emu.truth_count("Invoice", f"{start}T00:00:00Z", f"{end + timedelta(days=1)}T00:00:00Z")
        for name in ("cli", "mage"):
            dsn = fresh_database(server_url, f"bench_{name}")
            emu.reset_counters()
            print(f"\n{name}: running ...", flush=True)
            r = run_cli(emu, dsn, start, end) if name == "cli" else run_mage(emu, dsn, start, end, Path(tmp))
            r.update(counters=emu.counters(), rows=raw_rows(dsn))
            results[name] = r
            extra = f", executor {r['executor']:.1f} s, {r['children']} day block runs" if name == "mage" else ""
            print(f"{name}: {r['status']} in {r['wall']:.1f} s{extra}; rows {r['rows']:,} (truth {truth:,}); "
                  f"requests {r['counters']}", flush=True)
    print(f"\n| path | wall s | rows in raw (truth {truth:,}) | data requests | COUNT | token | 429s "
          "| total requests |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, label in (("mage", "Mage pipeline qb_invoices_backfill"), ("cli", "CLI qbo-ingest backfill")):
        r = results[name]
        c = r["counters"]
        print(f"| {label} | {r['wall']:.1f} | {r['rows']:,} | {c['query']} | {c['count']} | {c['token']} "
              f"| {c['throttled']} | {c['total']} |")
    m, c = results["mage"], results["cli"]
    print(f"\nMage / CLI: wall {m['wall'] / c['wall']:.1f}x, requests "
          f"{m['counters']['total'] / max(1, c['counters']['total']):.1f}x")
    if m["failed"]:
        print(f"Mage block runs not completed: {m['failed'][:10]}")


if __name__ == "__main__":
    main()
