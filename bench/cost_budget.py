"""The budget part of bench/cost.py (run by it with this checkout's src on PYTHONPATH).

Run: `python bench/cost_budget.py SERVER_URL LATENCY_MS` (SERVER_URL: a PostgreSQL server URL).

Sparse 6 entities x 365 days (2025), concurrency 4, the emulator in a separate process (throttle on):
1. `plan` (jobs.estimate) next to the requests the backfill then sends (emulator counters);
2. a backfill with `max_requests` = about half of that: what it sent, loaded and left pending; then
   `--resume` without a limit, compared with the emulator's truth (rows per entity, ledger);
3. the month's book (qbo_ingest.api_calls) next to the emulator's counters.
"""

from __future__ import annotations

import logging
import sys

import psycopg
from harness import emulator_process, fresh_database

from qbo_ingest import jobs
from qbo_ingest import warehouse as wh
from qbo_ingest.apps import wiring
from qbo_ingest.catalogue import get

ENTITIES = ["Customer", "Item", "Vendor", "Invoice", "Payment", "Bill"]
START, END = "2025-01-01", "2025-12-31"


def _metered(c: dict[str, int]) -> int:
    """What QBO meters: queries, COUNTs, CDC, and each item of a batch request (the runs' COUNTs)."""
    return c.get("query", 0) + _counts(c) + c.get("cdc", 0)


def _counts(c: dict[str, int]) -> int:
    """COUNTs sent alone or as items of a batch request."""
    return c.get("count", 0) + c.get("batch_items", 0)


def _raw(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {n: int(conn.execute(f"SELECT count(*) FROM raw.{get(n).table}").fetchone()[0])  # type: ignore[index]
                for n in ENTITIES}


def _ledger(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {str(s): int(n) for s, n in conn.execute(
            "SELECT status, count(*) FROM qbo_ingest.ledger GROUP BY 1").fetchall()}


def main() -> None:
    server_url, latency = sys.argv[1], int(sys.argv[2])
    logging.basicConfig(level=logging.ERROR)
    ents = [get(n) for n in ENTITIES]
    out: list[str] = []
    with emulator_process(seed=5, profile="sparse", throttle=True, latency_ms=latency) as emu:
        truth = {n: emu.truth_count(n, f"{START}T00:00:00Z", "2026-01-01T00:00:00Z") for n in ENTITIES}
        # 1. the estimate, then the backfill it estimates
        dsn = fresh_database(server_url, "budget_plan")
        emu.reset_counters()
        with wiring.engine(emu.settings(dsn), concurrency=4) as eng:
            est = jobs.estimate(eng, ents, START, END)
        c_plan = emu.counters()
        with wiring.engine(emu.settings(dsn), concurrency=4) as eng:
            rep = jobs.backfill(eng, ents, START, END)
        c_run = emu.counters()
        ran = _metered(c_run) - _metered(c_plan)
        out.append("| step | metered calls | data | COUNT (alone or in a batch) | token | result |")
        out.append("|---|---:|---:|---:|---:|---|")
        out.append(f"| `plan` (the estimate itself) | {_metered(c_plan)} | {c_plan.get('query', 0)} "
                   f"| {_counts(c_plan)} | {c_plan.get('token', 0)} | estimates {est.requests} metered "
                   f"requests ({sum(x.data_requests for x in est.lines)} data + "
                   f"{sum(x.count_requests for x in est.lines)} COUNT) |")
        out.append(f"| backfill after it | {ran} | {c_run['query'] - c_plan.get('query', 0)} "
                   f"| {_counts(c_run) - _counts(c_plan)} | {c_run['token'] - c_plan.get('token', 0)} "
                   f"| ok={rep.ok}; estimate / real = {est.requests}/{ran} |")
        with psycopg.connect(dsn) as conn:
            book = wh.month_calls(conn)
        out.append(f"| book (qbo_ingest.api_calls, this month) | {sum(v for k, v in book.items() if k != 'token')} "
                   f"| {book.get('query', 0)} | {book.get('count', 0) + book.get('batch', 0)} | {book.get('token', 0)} "
                   f"| emulator counted {_metered(c_run)} metered |")

        # 2. stopped by max_requests, then resumed
        limit = max(8, ran // 2)
        dsn = fresh_database(server_url, "budget_stop")
        emu.reset_counters()
        with wiring.engine(emu.settings(dsn), concurrency=4, max_requests=limit) as eng:
            stopped = jobs.backfill(eng, ents, START, END)
        c_stop = emu.counters()
        raw_stop, led_stop = _raw(dsn), _ledger(dsn)
        out.append(f"| backfill max_requests={limit} | {_metered(c_stop)} | {c_stop['query']} | {_counts(c_stop)} "
                   f"| {c_stop['token']} | stopped: {stopped.stopped}; {sum(raw_stop.values()):,} of "
                   f"{sum(truth.values()):,} rows; ledger {led_stop}; {stopped.pending} day(s) pending |")
        with wiring.engine(emu.settings(dsn), concurrency=4) as eng:
            resumed = jobs.backfill(eng, ents, START, END, resume=True)
        c_res = emu.counters()
        raw_res, led_res = _raw(dsn), _ledger(dsn)
        out.append(f"| `--resume` | {_metered(c_res) - _metered(c_stop)} | {c_res['query'] - c_stop['query']} "
                   f"| {_counts(c_res) - _counts(c_stop)} | {c_res['token'] - c_stop['token']} "
                   f"| ok={resumed.ok}; rows = truth: {raw_res == truth}; ledger {led_res} |")
        stop_and_resume = _metered(c_res)
    out.append("")
    out.append(f"stopped + resumed: {stop_and_resume} metered requests vs {ran} for one uninterrupted backfill "
               f"(+{stop_and_resume - ran}: the resumed runs are counted again); the stopped run sent "
               f"{_metered(c_stop)} <= {limit}: {_metered(c_stop) <= limit}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
