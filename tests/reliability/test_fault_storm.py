"""Fault storm: a backfill through a seeded schedule of 1,000+ injected faults of every kind ends with raw
equal to the ground truth (0 lost, 0 duplicated), directly or after resumes that name the failing days."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import date

import psycopg
import pytest
from rel_support import EMU_NOW, compare_with_truth, fast_engine, ledger_problems, span

from qbo_ingest import jobs
from qbo_ingest.catalogue import get
from qbo_ingest.errors import CircuitOpenError, RetriesExhausted
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
from qbo_ingest.local.emulator.faults import KINDS

ENTITIES = ["Invoice", "Payment", "Customer"]
FIRST, LAST = "2024-01-01", "2024-02-24"
# per-request probability of each kind (checked in this order); together about 0.45 of all queries fail
STORM = {"429": 0.09, "500": 0.07, "502": 0.06, "503": 0.06, "reset": 0.06, "truncated": 0.06,
         "fault200": 0.05, "revoke_access": 0.03, "slow": 0.006, "trickle": 0.006}
MAX_RESUMES = 40  # each resume redoes only the failed days; the storm (and the breaker) stay on


@pytest.mark.slow
def test_fault_storm_ends_equal_to_ground_truth(pg_url):
    emu = Emulator(EmulatorConfig(seed=23, profile="sparse", throttle=False, clock=lambda: EMU_NOW))
    for i, (kind, p) in enumerate(STORM.items()):
        emu.faults.add(kind, on="query", probability=p, seed=1000 + i, seconds=0.6)
        emu.faults.add(kind, on="count", probability=p / 2, seed=2000 + i, seconds=0.6)
    ents = [get(n) for n in ENTITIES]
    t0 = time.monotonic()
    with ExitStack() as stack:
        srv = stack.enter_context(serve_in_thread(emu))
        # page size 2: ~1,300 page requests, so the storm's schedule holds well over 1,000 faults
        eng = fast_engine(emu, srv, pg_url, stack=stack, timeout=0.25, page_size=2, concurrency=4)
        report = jobs.backfill(eng, ents, FIRST, LAST)
        runs = [report]
        failing = [f"{o.entity} {o.day}" for o in report.failed]
        print(f"\nfirst run: {len(report.outcomes)} days, {len(report.failed)} failed, "
              f"{report.requests} requests")
        for o in report.failed[:5]:
            assert o.error, o  # a failing day is named with its reason
            print(f"  failed {o.entity} {o.day}: {o.error[:120]}")
        ok, resumes, stopped = report.ok, 0, 0
        while not ok and resumes < MAX_RESUMES:
            # the operator follows the message: wait for the breaker's cool-down, then resume
            eng.fake_time.advance(31)  # type: ignore[attr-defined]
            resumes += 1
            try:
                again = jobs.backfill(eng, ents, FIRST, LAST, resume=True)
            except (CircuitOpenError, RetriesExhausted) as exc:
                # not one planning COUNT answered: the run stopped before writing anything (its message says
                # to wait and rerun, which the loop does)
                stopped += 1
                print(f"resume {resumes}: stopped before any day ({type(exc).__name__})")
                continue
            runs.append(again)
            ok = again.ok
            print(f"resume {resumes}: {len(again.outcomes)} days redone, {len(again.failed)} failed")
        faults = emu.counters()["faults"]
        fired = {f["kind"]: 0 for f in emu.faults.list()}
        for f in emu.faults.list():
            fired[f["kind"]] += f["fired"]
        stats = eng.client.stats  # type: ignore[attr-defined]
    start, end = span(FIRST, LAST)
    eq = compare_with_truth(emu, pg_url, ENTITIES, start, end)
    print(f"faults injected: {faults} {fired}; client requests {stats.requests}, retries {stats.retries}, "
          f"token refreshes {stats.token_refreshes}; resumes {resumes} ({stopped} stopped before any day); "
          f"first-run failing days {len(failing)}; rows {eq.rows} (truth {eq.truth}) lost {eq.lost} "
          f"duplicated {eq.duplicated} extra {eq.extra} stale {eq.stale}; {time.monotonic() - t0:.1f}s")
    assert faults >= 1000
    assert all(fired[k] > 0 for k in KINDS), fired
    assert ok, [f"{o.entity} {o.day}: {o.error}" for o in runs[-1].failed]
    assert eq.ok, eq
    assert eq.truth > 1500
    first, last = date.fromisoformat(FIRST), date.fromisoformat(LAST)
    assert ledger_problems(pg_url, emu.cfg.realm_id, ENTITIES, first, last) == []
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM qbo_ingest.ledger WHERE status <> 'succeeded'").fetchone() == (0,)
