"""qb_invoices_backfill through real Mage pipeline runs (DB-backed, as the scheduler runs them) against
the emulator over HTTP and a real PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import yaml

from qbo_ingest import warehouse as wh

pytestmark = [pytest.mark.mage, pytest.mark.slow]

START, END = date(2025, 10, 1), date(2025, 10, 30)  # 30 days
TRIGGER = "qb_invoices_backfill_once"


def days_between(a: date, b: date) -> list[date]:
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]


def child(d: date) -> str:
    return f"load_day:invoice_backfill_{d.isoformat()}"


def utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def raw_invoices(pg_url: str) -> dict[str, datetime]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT id, last_updated_at FROM raw.qb_invoices").fetchall()
    return {str(i): t.astimezone(timezone.utc) for i, t in rows}


def yaml_trigger(project: Path) -> dict:
    data = yaml.safe_load((project / "pipelines/qb_invoices_backfill/triggers.yaml").read_text())
    return next(t for t in data["triggers"] if t["name"] == TRIGGER)


def test_30_days_every_block_run_completes_and_raw_equals_truth(project_copy, qbo_env, pg_url, mage_run,
                                                                 tmp_path: Path) -> None:
    res = mage_run(project_copy, tmp_path / "mage_data", env=qbo_env.env, once_trigger=True,
                   variables={"fecha_inicio": START.isoformat(), "fecha_fin": END.isoformat()})
    print(f"\n30-day Mage run of qb_invoices_backfill: {res['seconds']:.2f} s in the executor "
          f"({len(res['block_runs'])} block runs), {res['wall_seconds']:.1f} s with Mage's start-up, "
          f"QBO requests: {qbo_env.emu.counters()}")
    assert res["status"] == "completed", res["error"] or res["stderr"][-3000:]
    # `load_day` itself is the controller block run Mage adds for the dynamic children.
    expected = {"plan_days", "load_day", "summarize", "deactivate_once_trigger"}
    expected |= {child(d) for d in days_between(START, END)}
    assert set(res["block_runs"]) == expected
    assert set(res["block_runs"].values()) == {"completed"}

    truth = qbo_env.emu.truth("Invoice", utc(START), utc(END + timedelta(days=1)))
    assert len(truth) > 30, "the sparse profile has invoices every day"
    assert raw_invoices(pg_url) == truth

    # Each day's quality gate is in that day's block run log; the summary adds them up.
    day15 = res["logs"][child(date(2025, 10, 15))]
    assert "Validation: Integrity Check Passed Invoice invoice_backfill_2025-10-15" in day15
    assert f"rows_fetched={len(truth)} rows_upserted={len(truth)}" in res["logs"]["summarize"]

    # The @once trigger was enabled for the run; the pipeline set it inactive again, in Mage's database
    # and in triggers.yaml (which Mage had rewritten with `status: active` when it was enabled).
    assert res["trigger"] == {"name": TRIGGER, "status": "inactive", "interval": "@once"}
    assert yaml_trigger(project_copy)["status"] == "inactive"
    assert f"Trigger '{TRIGGER}' (@once) of qb_invoices_backfill set to inactive" in \
        res["logs"]["deactivate_once_trigger"]


def test_a_day_failed_by_faults_is_named_and_retry_incomplete_blocks_completes_it(
        project_copy, qbo_env, pg_url, mage_run, tmp_path: Path) -> None:
    first, last = date(2025, 10, 1), date(2025, 10, 5)
    emu = qbo_env.emu
    # Days 1-4 were loaded by an earlier run; this run resumes, so its planner fetches only day 5, and
    # every query fails with a 500: the client retries 6 times, the day fails in the ledger.
    done = mage_run(project_copy, tmp_path / "earlier", env=qbo_env.env,
                    variables={"fecha_inicio": first.isoformat(), "fecha_fin": (last - timedelta(days=1)).isoformat()})
    assert done["status"] == "completed"
    emu.reset_counters()
    emu.faults.add("500", on="query", at_requests=list(range(1, 400)))
    data_dir = tmp_path / "mage_data"
    res = mage_run(project_copy, data_dir, env=qbo_env.env, once_trigger=True,
                   variables={"fecha_inicio": first.isoformat(), "fecha_fin": last.isoformat()})
    failed = child(last)
    assert res["status"] == "failed"
    assert [b for b, s in res["block_runs"].items() if s == "failed"] == [failed]
    assert all(res["block_runs"][child(d)] == "completed" for d in days_between(first, last - timedelta(days=1)))
    assert res["block_runs"]["summarize"] in ("initial", "upstream_failed")
    log = res["logs"][failed]
    queries = emu.counters()["query"]
    assert f"invoice_backfill_2025-10-05 failed (requests={queries}, retries=" in log
    assert "Retry incomplete blocks" in log
    # The planner's client backed off 2, 4, 8, 16, 32 s until its circuit breaker opened (5 failures in a
    # row, ~62 s); the child failed at once on the planner's failure instead of spending that again, and
    # Mage has no block retry: the failure shows in about a minute and a half.
    assert res["sleeps"]["qbo_client"][:5] == [2.0, 4.0, 8.0, 16.0, 32.0]
    assert sum(res["sleeps"]["qbo_client"]) <= 126
    assert res["sleeps"]["mage_block_retry"] == []
    assert 5 <= queries <= 7
    with wh.connect(pg_url) as conn:
        rows = {r.day: r for r in wh.ledger_days(conn, emu.cfg.realm_id, "Invoice")}
    assert {d: r.status for d, r in rows.items()} == {
        **{d: "succeeded" for d in days_between(first, last - timedelta(days=1))}, last: "failed"}
    # The failed day's row carries what it cost and what to quote to Intuit support.
    assert rows[last].requests == queries and rows[last].retries >= 4
    assert rows[last].intuit_tid and f"intuit_tid={rows[last].intuit_tid}" in log
    assert res["trigger"]["status"] == "active"

    # The operator fixes the cause and presses "Retry incomplete blocks": only day 5 runs, and fetches.
    emu.faults.clear()
    emu.reset_counters()
    again = mage_run(project_copy, data_dir, env=qbo_env.env, retry_incomplete=res["pipeline_run_id"])
    assert again["pipeline_run_id"] == res["pipeline_run_id"]
    assert again["status"] == "completed", again["error"] or again["stderr"][-3000:]
    assert set(again["block_runs"].values()) == {"completed"}
    assert emu.counters()["query"] == 1  # that day's one page, nothing else
    assert "fetched by this block" in again["logs"][failed]
    assert raw_invoices(pg_url) == emu.truth("Invoice", utc(first), utc(last + timedelta(days=1)))
    with wh.connect(pg_url) as conn:
        assert {r.status for r in wh.ledger_days(conn, emu.cfg.realm_id, "Invoice")} == {"succeeded"}
    assert again["trigger"]["status"] == "inactive"
    assert yaml_trigger(project_copy)["status"] == "inactive"


def test_same_30_days_through_the_cli_for_comparison(qbo_env, pg_url, subprocess_env, tmp_path: Path) -> None:
    """Not Mage: `qbo-ingest backfill` over the same range, timed next to the Mage run above."""
    cli = Path(sys.executable).with_name("qbo-ingest")
    if not cli.is_file():
        pytest.skip("the qbo-ingest console script is not installed in this environment")
    t0 = time.monotonic()
    proc = subprocess.run([str(cli), "backfill", "Invoice", "--fecha-inicio", START.isoformat(),
                           "--fecha-fin", END.isoformat(), "--no-progress"], env=subprocess_env(qbo_env.env),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"\n30-day CLI backfill of Invoice: {seconds:.1f} s (process start-up included), "
          f"QBO requests: {qbo_env.emu.counters()}")
    assert raw_invoices(pg_url) == qbo_env.emu.truth("Invoice", utc(START), utc(END + timedelta(days=1)))


@pytest.mark.parametrize(("variables", "message"), [
    ({"fecha_inicio": "", "fecha_fin": "2025-10-05"},  # an empty value field of the trigger
     "fecha_inicio is missing: give it as YYYY-MM-DD, e.g. fecha_inicio=2025-10-01"),
    ({"fecha_inicio": "01/10/2025", "fecha_fin": "2025-10-05"},
     "fecha_inicio='01/10/2025' is not a date in ISO 8601 format YYYY-MM-DD (e.g. 2025-10-01)"),
])
def test_bad_or_missing_dates_fail_the_generator_with_one_clear_line(
        project_copy, qbo_env, pg_url, mage_run, tmp_path: Path, variables: dict, message: str) -> None:
    # fired by the pipeline's one-time trigger, as an operator's Run@once is: a failed plan must not leave
    # that trigger active (issue 15 item 6), and the block log holds the line, not a traceback
    res = mage_run(project_copy, tmp_path / "mage_data", env=qbo_env.env, variables=variables, once_trigger=True)
    assert res["trigger"]["interval"] == "@once" and res["trigger"]["status"] == "inactive", res["trigger"]
    assert "Traceback" not in res["logs"]["plan_days"]
    assert res["block_runs"]["plan_days"] == "failed"
    assert {s for b, s in res["block_runs"].items() if b != "plan_days"} <= {"upstream_failed", "initial"}
    assert not any(b.startswith("load_day:") for b in res["block_runs"])
    assert message in res["logs"]["plan_days"]
    assert qbo_env.emu.counters().get("query", 0) == 0  # nothing was asked of QBO


def test_settings_come_from_mage_secrets_before_the_environment(project_copy, qbo_env, pg_url, mage_run,
                                                                tmp_path: Path) -> None:
    env = dict(qbo_env.env)
    secrets = {name: env.pop(name) for name in ("QBO_CLIENT_SECRET", "QBO_REFRESH_TOKEN")}
    env["QBO_CLIENT_SECRET"] = "wrong-secret-from-env"  # the Mage secret must win
    day = date(2025, 10, 2)
    res = mage_run(project_copy, tmp_path / "mage_data", env=env, secrets=secrets,
                   variables={"fecha_inicio": day.isoformat(), "fecha_fin": day.isoformat()})
    assert res["status"] == "completed", res["error"] or res["stderr"][-3000:]
    assert raw_invoices(pg_url) == qbo_env.emu.truth("Invoice", utc(day), utc(day + timedelta(days=1)))
    everything = res["stdout"] + res["stderr"] + "".join(res["logs"].values())
    for value in secrets.values():
        assert value not in everything
