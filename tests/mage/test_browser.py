"""A real browser on the real Mage server: `mage start` on the project, headless Chromium opens the
pipelines list and a run page. Screenshots are kept under artifacts/ (git-ignored)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from qbo_ingest.catalogue import CATALOGUE

pytestmark = [pytest.mark.mage, pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1400,1000"]


def chromium(url: str, *, profile: Path, screenshot: Path | None = None) -> str:
    """The DOM after the client-side app rendered (virtual time lets its requests finish)."""
    args = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000"]
    if screenshot is not None:
        proc = subprocess.run([*args, f"--screenshot={screenshot}", url], capture_output=True, text=True,
                              timeout=120)
        assert screenshot.is_file(), proc.stderr[-2000:]
        return ""
    proc = subprocess.run([*args, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_pipelines_list_and_a_run_page_in_chromium(project_copy, qbo_env, mage_run, mage_server,
                                                    tmp_path: Path) -> None:
    if not CHROMIUM.is_file():
        pytest.skip("headless Chromium not found at /usr/bin/chromium: apt-get install -y chromium")
    data_dir = tmp_path / "mage_data"
    # A real run in the Mage database the server will use, so the run page has block runs to show.
    # (Done before the server starts: its scheduler would otherwise pick up the running run too.)
    res = mage_run(project_copy, data_dir, env=qbo_env.env, once_trigger=True,
                   variables={"fecha_inicio": "2025-10-01", "fecha_fin": "2025-10-03"})
    assert res["status"] == "completed"
    ARTIFACTS.mkdir(exist_ok=True)
    with mage_server(project_copy, data_dir, tmp_path) as base, \
            tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        # every pipeline on one page (the list pages by 30; `_limit` is its own query parameter)
        dom = chromium(f"{base}/pipelines?_limit=100", profile=Path(profile))
        missing = [e.pipeline for e in CATALOGUE if e.pipeline not in dom]
        assert missing == [], f"pipelines not listed in the UI: {missing}"
        chromium(f"{base}/pipelines", profile=Path(profile), screenshot=ARTIFACTS / "mage_pipelines.png")

        run_url = f"{base}/pipelines/qb_invoices_backfill/runs/{res['pipeline_run_id']}"
        dom = chromium(run_url, profile=Path(profile))
        for day in ("2025-10-01", "2025-10-02", "2025-10-03"):
            assert f"invoice_backfill_{day}" in dom, f"block run of {day} not on the run page"
        chromium(run_url, profile=Path(profile), screenshot=ARTIFACTS / "mage_run.png")
    assert (ARTIFACTS / "mage_pipelines.png").stat().st_size > 10_000
    assert (ARTIFACTS / "mage_run.png").stat().st_size > 10_000


def test_a_failed_day_is_retried_with_retry_incomplete_blocks_in_chromium(
        project_copy, qbo_env, loader_env, mage_server, subprocess_env, tmp_path: Path) -> None:
    """The runbook's step 2 in a real browser: one day of a triggered run fails, the operator fixes the
    cause and presses "Retry incomplete blocks" on the run page; only that day runs again, and fetches."""
    import sqlite3
    import time
    from datetime import date, datetime, timedelta, timezone

    import psycopg
    from cdp import chromium as cdp_chromium

    from qbo_ingest import warehouse as wh
    from qbo_ingest.apps.mage import api
    from qbo_ingest.catalogue import get

    if not CHROMIUM.is_file():
        pytest.skip("headless Chromium not found at /usr/bin/chromium: apt-get install -y chromium")
    emu, dsn = qbo_env.emu, loader_env["QBO_DATABASE_URL"]
    first, last = date(2025, 10, 1), date(2025, 10, 5)
    # Days 1-4 were loaded before (the CLI, as the loader); the run resumes, so only day 5 is fetched, and
    # QBO answers 500 to every query: day 5 fails.
    cli = Path(sys.executable).with_name("qbo-ingest")
    pre = subprocess.run([str(cli), "backfill", "Invoice", "--fecha-inicio", first.isoformat(), "--fecha-fin",
                          (last - timedelta(days=1)).isoformat(), "--no-progress"], env=subprocess_env(loader_env),
                         capture_output=True, text=True, timeout=300)
    assert pre.returncode == 0, pre.stderr[-2000:]
    emu.faults.add("500", on="query", at_requests=list(range(1, 1000)))
    emu.reset_counters()
    data_dir = tmp_path / "mage_data"
    data_dir.mkdir()
    db = data_dir / "mage.db"

    def run_state() -> tuple[str, dict[str, tuple[str, str | None]]]:
        with sqlite3.connect(db) as conn:
            (status,) = conn.execute("SELECT lower(status) FROM pipeline_run WHERE id = 1").fetchone()
            blocks = {b: (s.lower(), c) for b, s, c in conn.execute(
                "SELECT block_uuid, status, completed_at FROM block_run WHERE pipeline_run_id = 1")}
        return status, blocks

    def wait_for(statuses: tuple[str, ...], timeout: float = 300) -> tuple[str, dict[str, tuple[str, str | None]]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                state = run_state()
                if state[0] in statuses:
                    return state
            except (sqlite3.Error, TypeError):
                pass
            time.sleep(1)
        raise AssertionError(f"run never reached {statuses}")

    ARTIFACTS.mkdir(exist_ok=True)
    with mage_server(project_copy, data_dir, tmp_path, loader_env, login=True) as base, \
            tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        with api.MageApi(base, email="admin@admin.com", password="admin") as client:
            api.schedule_backfill(client, get("Invoice"), first.isoformat(), last.isoformat(),
                                  datetime.now(timezone.utc))
            token = client._http.cookies.get("oauth_token")
        t0 = time.monotonic()
        status, blocks = wait_for(("failed",))
        failed_after = time.monotonic() - t0
        failed = "load_day:invoice_backfill_2025-10-05"
        assert [b for b, (s, _) in blocks.items() if s == "failed"] == [failed]
        before = {b: c for b, (s, c) in blocks.items() if s == "completed"}
        assert failed_after < 180, f"the failure took {failed_after:.0f} s to show"
        with psycopg.connect(dsn) as conn:
            requests, tid = conn.execute("SELECT requests, intuit_tid FROM qbo_ingest.ledger WHERE day = %s",
                                         (last,)).fetchone()
        assert requests == emu.counters()["query"] and tid

        emu.faults.clear()  # the operator fixed the cause
        emu.reset_counters()
        with cdp_chromium(CHROMIUM, Path(profile)) as page:
            page.call("Network.setCookie", name="oauth_token", value=str(token), url=base)
            page.call("Page.navigate", url=f"{base}/pipelines/qb_invoices_backfill/runs/1")
            page.wait_for("document.body && document.body.innerText.includes('invoice_backfill_2025-10-05')")
            page.wait_for("[...document.querySelectorAll('button')].some("
                          "b => b.innerText.trim() === 'Retry incomplete blocks')")
            page.screenshot(ARTIFACTS / "mage_failed_day.png")
            assert page.click_button("Retry incomplete blocks")
            status, blocks = wait_for(("completed",))
            page.call("Page.reload")
            page.wait_for("document.body && document.body.innerText.includes('invoice_backfill_2025-10-05')")
            page.screenshot(ARTIFACTS / "mage_retried.png")
    assert {s for s, _ in blocks.values()} == {"completed"}
    # Exactly the failed day ran again (and the blocks below it): the other days' block runs are untouched.
    assert all(blocks[b][1] == c for b, c in before.items())
    assert emu.counters()["query"] == 1  # that day's one page
    start = datetime(first.year, first.month, first.day, tzinfo=timezone.utc)
    with psycopg.connect(dsn) as conn:
        raw = {str(i): t.astimezone(timezone.utc) for i, t in conn.execute(
            "SELECT id, last_updated_at FROM raw.qb_invoices").fetchall()}
    assert raw == emu.truth("Invoice", start, start + timedelta(days=5))
    with wh.connect(dsn) as conn:
        assert {r.status for r in wh.ledger_days(conn, emu.cfg.realm_id, "Invoice")} == {"succeeded"}
    print(f"\nfailed day visible {failed_after:.0f} s after the trigger; retried from the UI")
