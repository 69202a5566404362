"""Item 8 of issue 13: Ctrl-C (SIGINT) stops a backfill within about one request, queued streams never
start, a second Ctrl-C does not leave a mess, the run is recorded `interrupted`, and retry-failed plus
--resume finish the range exactly. Through the CLI as the loader."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

from cx_support import stack

UTC = timezone.utc
# more entities than streams read at once (10), so some are still queued when Ctrl-C comes
ENTS = ["Invoice", "Payment", "Bill", "Customer", "Vendor", "Item", "Estimate", "SalesReceipt", "CreditMemo",
        "Purchase", "Deposit", "JournalEntry"]
B = ["backfill", *ENTS, "--fecha-inicio", "2025-01-01", "--fecha-fin", "2025-04-30", "--concurrency", "2",
     "--no-progress"]


def test_ctrl_c_twice_stops_promptly_and_leaves_an_honest_ledger(pg_url: str) -> None:
    with stack(pg_url, latency_ms=150) as st:
        env = st.env()
        proc = subprocess.Popen([sys.executable, "-m", "qbo_ingest", *B], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        with st.admin() as admin:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # wait until the load is under way
                n = admin.execute("SELECT count(*) FROM qbo_ingest.ledger WHERE status = 'succeeded'").fetchone()
                if n and n[0] >= 3:
                    break
                time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        time.sleep(0.1)
        proc.send_signal(signal.SIGINT)  # the impatient second Ctrl-C
        out, err = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t0
        assert proc.returncode == 130, out + err
        assert stopped_in < 10, stopped_in
        assert "Traceback" not in err and err.strip().endswith("interrupted"), err
        with st.admin() as admin:
            run = admin.execute("SELECT status FROM qbo_ingest.runs").fetchall()
            ledger = admin.execute("SELECT status, error, count(*) FROM qbo_ingest.ledger GROUP BY 1, 2").fetchall()
            started = admin.execute("SELECT count(DISTINCT entity) FROM qbo_ingest.ledger").fetchone()
        assert run == [("interrupted",)]
        statuses = {s for s, _, _ in ledger}
        assert "running" not in statuses
        assert all(e is None or e.startswith("Interrupted: interrupted (Ctrl-C)") for s, e, _ in ledger), ledger
        assert started is not None and started[0] < len(ENTS)  # queued streams never started

        out2 = subprocess.run([sys.executable, "-m", "qbo_ingest", "retry-failed", *ENTS], env=env,
                              capture_output=True, text=True, timeout=300)
        assert out2.returncode == 0, out2.stdout + out2.stderr
        out3 = subprocess.run([sys.executable, "-m", "qbo_ingest", *B, "--resume"], env=env, capture_output=True,
                              text=True, timeout=600)
        assert out3.returncode == 0, out3.stdout + out3.stderr
        start = datetime(2025, 1, 1, tzinfo=UTC)
        end = datetime(2025, 5, 1, tzinfo=UTC)
        with st.admin() as admin:
            for name, table in (("Invoice", "qb_invoices"), ("Item", "qb_items")):
                ids = {r[0] for r in admin.execute(f"SELECT id FROM raw.{table}").fetchall()}
                assert ids == set(st.emu.truth(name, start, end)), name
            bad = admin.execute("SELECT count(*) FROM qbo_ingest.ledger WHERE status <> 'succeeded'").fetchone()
        assert bad == (0,)
        print(f"\nstopped {stopped_in:.1f} s after the first Ctrl-C")
