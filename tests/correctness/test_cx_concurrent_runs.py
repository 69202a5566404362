"""Item 17 (second run) of issue 13: a run started on days another run is still loading does not mark that
live run `interrupted … killed or crashed`; a run whose process really died is still marked so."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from cx_support import Stack, stack

B = ["backfill", "Invoice", "Payment", "--fecha-inicio", "2025-01-01", "--fecha-fin", "2025-03-31",
     "--concurrency", "1", "--no-progress"]


def _start(st: Stack, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "qbo_ingest", *B], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    with st.admin() as admin:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n = admin.execute("SELECT count(*) FROM qbo_ingest.ledger WHERE status = 'running'").fetchone()
            if n and n[0] > 0:
                return proc
            time.sleep(0.05)
    raise AssertionError("the first run never started")


def _runs(st: Stack) -> list[tuple[str, str]]:
    with st.admin() as admin:
        return [(str(r), str(s)) for r, s in admin.execute(
            "SELECT run_id, status FROM qbo_ingest.runs ORDER BY started_at").fetchall()]


def test_a_live_run_is_not_marked_interrupted_but_a_killed_one_is(pg_url: str) -> None:
    with stack(pg_url, latency_ms=60) as st:
        env = st.env()
        first = _start(st, env)
        second = subprocess.run([sys.executable, "-m", "qbo_ingest", *B], env=env, capture_output=True, text=True,
                                timeout=300)
        assert second.returncode == 0, second.stdout + second.stderr
        assert first.wait(timeout=300) == 0
        runs = _runs(st)
        assert [s for _, s in runs] == ["succeeded", "succeeded"], runs  # the live one was left alone

        third = _start(st, env)
        third.send_signal(signal.SIGKILL)  # kill -9: no cleanup at all
        third.wait(timeout=30)
        fourth = subprocess.run([sys.executable, "-m", "qbo_ingest", *B], env=env, capture_output=True, text=True,
                                timeout=300)
        assert fourth.returncode == 0, fourth.stdout + fourth.stderr
        assert [s for _, s in _runs(st)] == ["succeeded", "succeeded", "interrupted", "succeeded"]
