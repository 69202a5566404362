"""Crash and resume: `kill -9` of the backfill process at 20 seeded points (page fetched, inside the
upsert transaction, between a stream's ledger updates), then `backfill --resume`: 20 of 20 end equal
to the ground truth, with a consistent ledger (no `running` row left, succeeded days' counts = raw).

The crash is the product's test seam `QBO_INGEST_CRASH_AT=<point>:<n>` (qbo_ingest/faultpoints.py):
SIGKILL at the n-th hit of the point in the backfill process, i.e. exactly what `kill -9` does.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from rel_support import EMU_NOW, cli_env, compare_with_truth, ledger_problems, span

from qbo_ingest.faultpoints import ENV, POINTS
from qbo_ingest.local import postgres as embedded_db
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

ENTITIES = ["Invoice", "Payment", "Customer"]
FIRST, LAST = "2024-03-01", "2024-05-29"  # 90 days
TRIALS = 20
SEED = 20241
ARGS = ["backfill", *ENTITIES, "--fecha-inicio", FIRST, "--fecha-fin", LAST, "--no-progress"]

# The CLI with a counting hook: prints how often each fault point was hit (for seeding the crash points).
COUNTING_MAIN = (
    "import atexit, json, sys; from qbo_ingest import faultpoints as f; "
    "f.set_hook(lambda name, n: None); "
    "atexit.register(lambda: print('FAULTPOINTS ' + json.dumps(f.counts()), file=sys.stderr)); "
    "from qbo_ingest.apps.cli.main import main; sys.argv[0] = 'qbo-ingest'; main()"
)


@dataclass
class Trial:
    point: str
    n: int
    crash_rc: int = 0
    resume_rc: int = 0
    rows_after_crash: int = 0
    running_after_crash: int = 0
    partial_or_wrong_after_crash: int = 0
    equal: bool = False
    ledger: list[str] | None = None
    runs: dict[str, int] | None = None
    seconds: float = 0.0


def _new_db(server_url: str) -> str:
    return embedded_db.create_database(server_url, "crash")


def _drop_db(server_url: str, dsn: str) -> None:
    embedded_db.drop_database(server_url, dsn)


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_kill_9_at_20_seeded_points_then_resume_reaches_ground_truth(pg_server_url):
    import sys

    emu = Emulator(EmulatorConfig(seed=5, profile="sparse", throttle=False, clock=lambda: EMU_NOW))
    start, end = span(FIRST, LAST)
    first, last = date.fromisoformat(FIRST), date.fromisoformat(LAST)
    t0 = time.monotonic()
    with serve_in_thread(emu) as srv:
        # calibration: one clean run with counting, to know how many hits each point has
        dsn = _new_db(pg_server_url)
        try:
            res = _run([sys.executable, "-c", COUNTING_MAIN, *ARGS], cli_env(emu, srv, dsn))
            assert res.returncode == 0, res.stderr[-3000:]
            line = next(ln for ln in res.stderr.splitlines() if ln.startswith("FAULTPOINTS "))
            counts: dict[str, int] = json.loads(line.split(" ", 1)[1])
            clean = compare_with_truth(emu, dsn, ENTITIES, start, end)
            assert clean.ok, clean
        finally:
            _drop_db(pg_server_url, dsn)
        print(f"\nclean run: {clean.rows} rows; fault point hits {counts}; {time.monotonic() - t0:.1f}s")
        assert set(counts) == set(POINTS), counts

        rng = random.Random(SEED)
        plan = [(POINTS[i % len(POINTS)], 0) for i in range(TRIALS)]
        plan = [(p, rng.randint(1, counts[p])) for p, _ in plan]

        def trial(point: str, n: int) -> Trial:
            tr = Trial(point, n)
            t1 = time.monotonic()
            db = _new_db(pg_server_url)
            try:
                env = cli_env(emu, srv, db)
                crash = _run([sys.executable, "-m", "qbo_ingest.apps.cli.main", *ARGS],
                             {**env, ENV: f"{point}:{n}"})
                tr.crash_rc = crash.returncode
                with psycopg.connect(db) as conn:
                    tr.running_after_crash = conn.execute(
                        "SELECT count(*) FROM qbo_ingest.ledger WHERE status = 'running'").fetchone()[0]  # type: ignore[index]
                after = compare_with_truth(emu, db, ENTITIES, start, end)
                tr.rows_after_crash = after.rows
                # what a crash leaves is a subset of the truth: whole pages only, nothing wrong or doubled
                tr.partial_or_wrong_after_crash = after.extra + after.stale + after.duplicated
                resume = _run([sys.executable, "-m", "qbo_ingest.apps.cli.main", *ARGS, "--resume"], env)
                tr.resume_rc = resume.returncode
                assert resume.returncode == 0, resume.stderr[-2000:]
                tr.equal = compare_with_truth(emu, db, ENTITIES, start, end).ok
                tr.ledger = ledger_problems(db, emu.cfg.realm_id, ENTITIES, first, last)
                with psycopg.connect(db) as conn:
                    tr.runs = dict(conn.execute(
                        "SELECT status, count(*) FROM qbo_ingest.runs GROUP BY 1").fetchall())
            finally:
                _drop_db(pg_server_url, db)
            tr.seconds = time.monotonic() - t1
            return tr

        with ThreadPoolExecutor(max_workers=2) as pool:
            trials = list(pool.map(lambda pn: trial(*pn), plan))
    for tr in trials:
        print(f"  crash at {tr.point}:{tr.n}: rc {tr.crash_rc}, {tr.rows_after_crash} rows and "
              f"{tr.running_after_crash} running ledger days after the crash; resume rc {tr.resume_rc}, "
              f"equal {tr.equal}, ledger problems {len(tr.ledger or [])}, runs {tr.runs} ({tr.seconds:.1f}s)")
    killed = sum(1 for tr in trials if tr.crash_rc == -signal.SIGKILL)
    equal = sum(1 for tr in trials if tr.equal and not tr.ledger)
    print(f"killed {killed}/{TRIALS}, equal to ground truth with a consistent ledger {equal}/{TRIALS}; "
          f"{time.monotonic() - t0:.1f}s")
    assert killed == TRIALS
    assert {tr.point for tr in trials} == set(POINTS)
    assert all(tr.partial_or_wrong_after_crash == 0 for tr in trials)
    assert any(tr.running_after_crash for tr in trials)  # crashes did leave interrupted days behind
    # the killed run is recorded as interrupted (its days were taken over by the resume), none is left running
    assert all(tr.runs == {"interrupted": 1, "succeeded": 1} for tr in trials), [tr.runs for tr in trials]
    assert equal == TRIALS, [(tr.point, tr.n, tr.ledger) for tr in trials if not (tr.equal and not tr.ledger)]
