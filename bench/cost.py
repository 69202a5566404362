"""Issue 17 in one command: the sparse case, dense throughput and the metered-call budget, with the
code before (a git ref, default 64bdb02) next to the code of this checkout, in one run.

Run: `python bench/cost.py [--repeat 3] [--before 64bdb02] [--dense-days 300] [--skip-dense]`.

Each measurement runs in its own subprocess (`PYTHONPATH` = the `src/` of `git archive <before>` or of
this checkout) against its own emulator process (latency 150 ms, QBO's throttles on; a fresh one per
run, so no run inherits another's 500/min window) and its own fresh database on one embedded
PostgreSQL, its tables made before the clock (what `db init` does once per deployment). The
emulator's days are generated before the clock starts (admin API, not metered).
Before and after alternate within each repeat; medians are printed.

- sparse: Customer, Item, Vendor, Invoice, Payment, Bill x 365 days (2025, profile `sparse`),
  concurrency 4. Printed: wall s, requests by kind (emulator counters: what QBO would meter), rows
  vs the emulator's truth, ledger rows, and the quality lines (`Validation: Integrity Check Passed`,
  `Validation: [ALERT]`) - which must be the same before and after.
- dense: Invoice, profile `dense` (~2000/day), `--dense-days` days (300: ~580,000 rows, a run of over a
  minute, so QBO's 500/minute binds and not only its 10/second), concurrency 10: rows/s next to QBO's
  quota bound (500 requests/min x 1000 rows = 8,333 rows/s) and the 429s the run caused.

The emulator stands for Intuit's servers, whose CPU is not this machine's: it generates the days and
renders their records' JSON before the clock starts (`render_cache`, `/admin/prerender`), for before and
after alike, so the 2 cores measure our engine and PostgreSQL and not the emulator's page building.
- budget (after only; the feature is new): the plan's estimate next to the requests the backfill
  then really made, a backfill stopped by `max_requests` (days left pending), its `--resume` to
  equality with the emulator's truth, and the calls recorded for this month in the state schema.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SPARSE_ENTITIES = ["Customer", "Item", "Vendor", "Invoice", "Payment", "Bill"]
QUOTA_BOUND = 500 * 1000 / 60
PASSED, ALERT = "Validation: Integrity Check Passed", "Validation: [ALERT]"


# ------------------------------------------------------------------------------------ the child
class _Tags(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.passed = 0
        self.alerts = 0
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if PASSED in msg:
            self.passed += 1
            self.lines.append(msg)
        elif ALERT in msg:
            self.alerts += 1
            self.lines.append(msg)


def child(cfg: dict[str, Any]) -> dict[str, Any]:
    """One backfill with whatever `qbo_ingest` is on PYTHONPATH; returns its figures."""
    import hashlib

    import psycopg

    from qbo_ingest import jobs
    from qbo_ingest.apps import wiring
    from qbo_ingest.catalogue import get
    from qbo_ingest.settings import Settings

    tags = _Tags()
    lg = logging.getLogger("qbo_ingest")
    lg.setLevel(logging.INFO)
    lg.addHandler(tags)
    settings = Settings.load(env=cfg["env"], use_mage_secrets=False)
    ents = [get(n) for n in cfg["entities"]]
    extra = cfg.get("backfill_kw") or {}
    import resource

    from qbo_ingest import warehouse as wh

    with wh.connect(cfg["env"]["QBO_DATABASE_URL"]) as conn:  # what `db init` does once per deployment
        wh.ensure_schema(conn, ents)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    with wiring.engine(settings, concurrency=cfg["concurrency"], **(cfg.get("engine_kw") or {})) as eng:
        report = jobs.backfill(eng, ents, cfg["start"], cfg["end"], **extra)
    seconds = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    engine_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    with psycopg.connect(cfg["env"]["QBO_DATABASE_URL"]) as conn:
        ledger = conn.execute("SELECT entity, day, status, rows_fetched, rows_upserted FROM qbo_ingest.ledger "
                              "ORDER BY entity, day").fetchall()
        raw = {e.name: int(conn.execute(f"SELECT count(*) FROM raw.{e.table}").fetchone()[0])  # type: ignore[index]
               for e in ents}
    digest = hashlib.sha256(repr([tuple(map(str, r)) for r in ledger]).encode()).hexdigest()[:12]
    lines = hashlib.sha256("\n".join(sorted(tags.lines)).encode()).hexdigest()[:12]
    return {"seconds": seconds, "ok": report.ok, "rows": report.rows_fetched, "raw": raw,
            "ledger_rows": len(ledger), "ledger_digest": digest, "passed": tags.passed, "alerts": tags.alerts,
            "lines_digest": lines, "mismatches": len(report.source_mismatches),
            "stopped": getattr(report, "stopped", None), "report_requests": report.requests,
            "engine_cpu": engine_cpu}


# ----------------------------------------------------------------------------------- the parent
def _run_child(src: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(cfg)],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child failed ({src}):\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _one(src: Path, server_url: str, *, profile: str, entities: list[str], start: str, end: str,
         concurrency: int, seed: int, latency_ms: int, **extra: Any) -> dict[str, Any]:
    from harness import busy_cpu, emulator_process, fresh_database, postmaster_pid, tree_cpu

    dsn = fresh_database(server_url, f"cost_{profile}")
    pg_pid = postmaster_pid(dsn)
    with emulator_process(seed=seed, profile=profile, throttle=True, latency_ms=latency_ms,
                          render_cache=True) as emu:
        end_excl = (_day(end) + _td(1)).isoformat()
        truth = {n: emu.truth_count(n, f"{start}T00:00:00Z", f"{end_excl}T00:00:00Z") for n in entities}
        for n in entities:  # the records' JSON too, before the clock: QBO's rendering is not our machine's
            emu.prerender(n, f"{start}T00:00:00Z", f"{end_excl}T00:00:00Z")
        emu.reset_counters()
        cfg = {"env": emu.env(dsn, refresh_token=emu.new_refresh_token()), "entities": entities, "start": start,
               "end": end, "concurrency": concurrency, **extra}
        cpu0 = (emu.cpu_seconds(), tree_cpu(pg_pid), busy_cpu())
        res = _run_child(src, cfg)
        cpu1 = (emu.cpu_seconds(), tree_cpu(pg_pid), busy_cpu())
        res["emulator_cpu"], res["pg_cpu"], res["machine_cpu"] = (b - a for a, b in zip(cpu0, cpu1, strict=True))
        res["counters"] = emu.counters()
        res["truth"] = truth
    res["equal_truth"] = res["raw"] == truth
    return res


def _day(s: str) -> Any:
    from datetime import date

    return date.fromisoformat(s)


def _td(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


def _before_src(ref: str, tmp: str) -> Path:
    dest = Path(tmp) / f"before-{ref}"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _cpu(rs: list[dict[str, Any]]) -> str:
    """Median CPU of our three processes, the machine's busy share that was not ours, and the rows/s
    their CPU would allow on this machine's 2 cores if nothing else ran (the CPU bound)."""
    eng, emu, pg = (_med([r[k] for r in rs]) for k in ("engine_cpu", "emulator_cpu", "pg_cpu"))
    wall = _med([r["seconds"] for r in rs])
    busy = _med([r["machine_cpu"] for r in rs])
    cores = os.cpu_count() or 1
    others = max(0.0, busy - eng - emu - pg)
    bound = cores * _med([r["rows"] for r in rs]) / max(eng + emu + pg, 1e-9)
    return (f"{eng:.1f} / {emu:.1f} / {pg:.1f} | {busy:.1f} CPU s ({others / max(busy, 1e-9):.0%} not ours; "
            f"{cores} cores x {wall:.1f} s run) | {bound:,.0f}")


def _metered(c: dict[str, int]) -> int:
    """The calls QBO meters (the token endpoint's apart): queries, COUNTs, batch items."""
    return c["query"] + c["count"] + c["batch_items"]


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--before", default="64bdb02", help="git ref of the code before (default 64bdb02)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dense-days", type=int, default=300)
    ap.add_argument("--skip-sparse", action="store_true")
    ap.add_argument("--skip-dense", action="store_true")
    ap.add_argument("--only", choices=("before", "after"), help="measure one side only")
    ap.add_argument("--skip-budget", action="store_true")
    ap.add_argument("--latency-ms", type=int, default=150)
    args = ap.parse_args(argv)
    if args.child:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s", stream=sys.stderr)
        print(json.dumps(child(json.loads(args.child)), default=str))
        return

    sys.path.insert(0, str(HERE))
    from harness import machine, postgres

    after_src = ROOT / "src"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True,
                           text=True, check=True).stdout.strip()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"before = {args.before} (git archive), after = {head}{' + uncommitted src changes' if dirty else ''}; "
          f"emulator latency {args.latency_ms} ms, throttle on, separate process; {args.repeat} repeat(s), "
          "before and after alternating")
    sparse_kw = {"profile": "sparse", "entities": SPARSE_ENTITIES, "start": "2025-01-01", "end": "2025-12-31",
                 "concurrency": 4, "seed": 5, "latency_ms": args.latency_ms}
    dense_end = (_day("2025-01-01") + _td(args.dense_days - 1)).isoformat()
    dense_kw = {"profile": "dense", "entities": ["Invoice"], "start": "2025-01-01", "end": dense_end,
                "concurrency": 10, "seed": 7, "latency_ms": args.latency_ms}
    results: dict[str, dict[str, list[dict[str, Any]]]] = {"sparse": {"before": [], "after": []},
                                                          "dense": {"before": [], "after": []}}
    with tempfile.TemporaryDirectory(prefix="qbo-cost-") as tmp, postgres() as server_url:
        before_src = _before_src(args.before, tmp)
        sides = {"before": before_src, "after": after_src}
        if args.only:
            sides = {args.only: sides[args.only]}
        for i in range(args.repeat):
            for side, src in (sides if not args.skip_sparse else {}).items():
                r = _one(src, server_url, **sparse_kw)
                results["sparse"][side].append(r)
                c = r["counters"]
                print(f"  sparse {side} #{i + 1}: {r['seconds']:.2f} s, {c['total']} requests "
                      f"({c['query']} data, {c['count']} COUNT, {c['batch']} batch of {c['batch_items']} COUNT, "
                      f"{c['token']} token, {c['throttled']} 429), {_metered(c)} metered, "
                      f"rows {r['rows']:,} equal truth {r['equal_truth']}", flush=True)
            if args.skip_dense:
                continue
            for side, src in sides.items():
                r = _one(src, server_url, **dense_kw)
                results["dense"][side].append(r)
                c = r["counters"]
                print(f"  dense {side} #{i + 1}: {r['rows'] / r['seconds']:,.0f} rows/s "
                      f"({r['rows']:,} rows in {r['seconds']:.1f} s), {c['total']} requests, {c['throttled']} 429, "
                      f"equal truth {r['equal_truth']}", flush=True)
        budget = None if args.skip_budget else _budget(after_src, server_url, args.latency_ms)

    print("\n## sparse: 6 entities x 365 days, concurrency 4 (medians)\n")
    print("| code | wall s (runs) | requests total | data | COUNT | batch (COUNT items) | token | metered calls "
          "| 429 | rows = truth | ledger rows | quality lines (passed / alert) | ledger + lines same as before |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|")
    ref = results["sparse"]["before"][0] if results["sparse"]["before"] else None
    ref = ref or (results["sparse"]["after"][0] if results["sparse"]["after"] else None)
    for side in ("before", "after"):
        rs = results["sparse"][side]
        if not rs:
            continue
        secs = [r["seconds"] for r in rs]
        c = [r["counters"] for r in rs]
        same = all(r["ledger_digest"] == ref["ledger_digest"] and r["lines_digest"] == ref["lines_digest"]
                   for r in rs) if ref else None
        print(f"| {side} | {_med(secs):.2f} ({', '.join(f'{s:.2f}' for s in secs)}) "
              f"| {_med([x['total'] for x in c]):.0f} | {_med([x['query'] for x in c]):.0f} "
              f"| {_med([x['count'] for x in c]):.0f} "
              f"| {_med([x['batch'] for x in c]):.0f} ({_med([x['batch_items'] for x in c]):.0f}) "
              f"| {_med([x['token'] for x in c]):.0f} | {_med([_metered(x) for x in c]):.0f} "
              f"| {sum(x['throttled'] for x in c)} | {all(r['equal_truth'] for r in rs)} ({rs[0]['rows']:,}) "
              f"| {rs[0]['ledger_rows']} | {rs[0]['passed']} / {rs[0]['alerts']} | {same} |")
    for side in ("before", "after"):
        if results["sparse"][side]:
            print(f"sparse {side} CPU s engine / emulator / PostgreSQL | machine busy | rows/s our CPU allows "
                  f"on 2 idle cores: {_cpu(results['sparse'][side])}")
    sb, sa = results["sparse"]["before"], results["sparse"]["after"]
    if sb and sa:
        wb, wa = _med([r["seconds"] for r in sb]), _med([r["seconds"] for r in sa])
        print(f"\nsparse after/before: wall {wa / wb:.2f}x ({wb:.2f} -> {wa:.2f} s; goal <= 3 s: "
              f"{'met' if wa <= 3 else 'NOT met'}), requests "
              f"{_med([r['counters']['total'] for r in sb]):.0f} -> {_med([r['counters']['total'] for r in sa]):.0f} "
              f"(goal <= 34: {'met' if _med([r['counters']['total'] for r in sa]) <= 34 else 'NOT met'})")

    if not args.skip_dense:
        print(f"\n## dense: Invoice x {args.dense_days} days, concurrency 10 (medians)\n")
        print("| code | rows/s (runs) | / quota bound 8,333 | requests | COUNT | 429 (emulator) | rows = truth "
              "| CPU s engine / emulator / PostgreSQL | machine busy (others' share) "
              "| rows/s our CPU allows on 2 idle cores |")
        print("|---|---:|---:|---:|---:|---:|---|---|---|---:|")
        for side in ("before", "after"):
            rs = results["dense"][side]
            if not rs:
                continue
            rates = [r["rows"] / r["seconds"] for r in rs]
            print(f"| {side} | {_med(rates):,.0f} ({', '.join(f'{x:,.0f}' for x in rates)}) "
                  f"| {_med(rates) / QUOTA_BOUND:.3f}x | {_med([r['counters']['total'] for r in rs]):.0f} "
                  f"| {_med([r['counters']['count'] for r in rs]):.0f} | {sum(r['counters']['throttled'] for r in rs)} "
                  f"| {all(r['equal_truth'] for r in rs)} | {_cpu(rs)} |")
        ra = _med([r["rows"] / r["seconds"] for r in results["dense"]["after"]]) / QUOTA_BOUND
        if results["dense"]["after"]:
            print(f"\ndense after: {ra:.3f}x of the quota bound (goal >= 0.95: {'met' if ra >= 0.95 else 'NOT met'})")

    if budget:
        print("\n## budget (after only)\n")
        for line in budget:
            print(line)


def _budget(src: Path, server_url: str, latency_ms: int) -> list[str]:
    """plan estimate vs real; a run stopped by max_requests; its resume to equality."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, str(HERE / "cost_budget.py"), server_url, str(latency_ms)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return [f"budget case failed:\n{out.stderr[-3000:]}"]
    return out.stdout.strip().splitlines()


if __name__ == "__main__":
    main()
