"""The real thing end to end, as an operator runs it: `mage start` with the compose environment (the
loader role made by `qbo-ingest db init`, Mage's login on), triggers fired by Mage's own scheduler."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import yaml

pytestmark = [pytest.mark.mage, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
MAGE_LOGIN = {"MAGE_EMAIL": "admin@admin.com", "MAGE_PASSWORD": "admin"}  # Mage's first-start owner
STALL_SECONDS = 150


def query(db: Path, sql: str, *args: object) -> list[tuple]:
    if not db.is_file():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def wait_run(db: Path, schedule: str, timeout: float = 300) -> tuple[int, str, dict[str, str]]:
    """The first pipeline run of trigger `schedule` once it ended: (run id, status, block run statuses)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = query(db, "SELECT r.id, lower(r.status) FROM pipeline_run r JOIN pipeline_schedule s ON "
                         "s.id = r.pipeline_schedule_id WHERE s.name = ? ORDER BY r.id", schedule)
        if runs and runs[0][1] in ("completed", "failed"):
            blocks = dict(query(db, "SELECT block_uuid, lower(status) FROM block_run WHERE pipeline_run_id = ?",
                                runs[0][0]))
            return runs[0][0], runs[0][1], blocks
        started = query(db, "SELECT count(*) FROM block_run WHERE pipeline_run_id = ? AND started_at IS NOT NULL",
                        runs[0][0]) if runs else [(0,)]
        if runs and not started[0][0] and time.monotonic() > deadline - timeout + STALL_SECONDS:
            # Mage 0.9.80's ProcessQueue can lose a job: a worker pool started right after the job was put
            # on its multiprocessing queue sees the queue empty and exits, and the job never runs. Not this
            # project's code: say so instead of a vague failure (an operator restarts Mage).
            pytest.xfail(f"Mage's local ProcessQueue never started pipeline run {runs[0][0]} of {schedule}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no finished run of {schedule} in time: {runs}, "
                                 f"{query(db, 'SELECT block_uuid, status FROM block_run')[:20]}")
        time.sleep(1)


def raw_invoices(dsn: str) -> dict[str, datetime]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id, last_updated_at FROM raw.qb_invoices").fetchall()
    return {str(i): t.astimezone(timezone.utc) for i, t in rows}


def utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)


def mage_schedule(base: str, entity: str, first: date, last: date, at: str, env: dict[str, str]
                  ) -> subprocess.CompletedProcess[str]:
    """`qbo-ingest mage schedule` as an operator types it (login from MAGE_EMAIL / MAGE_PASSWORD)."""
    cli = Path(sys.executable).with_name("qbo-ingest")
    return subprocess.run([str(cli), "mage", "schedule", entity, "--fecha-inicio", first.isoformat(),
                           "--fecha-fin", last.isoformat(), "--at", at, "--mage-url", base],
                          env=env, capture_output=True, text=True, timeout=120)


def test_once_trigger_fires_runs_each_day_and_ends_inactive(project_copy, qbo_env, loader_env, pg_url,
                                                              mage_server, tmp_path: Path) -> None:
    path = project_copy / "pipelines/qb_invoices_backfill/triggers.yaml"
    text = path.read_text()
    # What an operator does: set the dates and the start time (UTC, already past here), enable it.
    text = text.replace("status: inactive", "status: active")
    text = re.sub(r"start_time: .*", "start_time: 2026-01-01 00:00:00+00:00", text)
    text = text.replace("fecha_inicio: '2025-10-01'", "fecha_inicio: '2025-10-06'")
    text = text.replace("fecha_fin: '2025-10-31'", "fecha_fin: '2025-10-09'")
    path.write_text(text)
    data_dir = tmp_path / "mage_data"
    data_dir.mkdir()
    db = data_dir / "mage.db"
    t0 = time.monotonic()
    with mage_server(project_copy, data_dir, tmp_path, loader_env, login=True):
        run_id, status, blocks = wait_run(db, "qb_invoices_backfill_once")
        seconds = time.monotonic() - t0
        schedules = dict(query(db, "SELECT name, lower(status) FROM pipeline_schedule"))
    print(f"\nscheduler path, 4 days: {seconds:.1f} s from `mage start` to the run's end; "
          f"QBO requests {qbo_env.emu.counters()}")
    assert (run_id, status) == (1, "completed"), blocks
    assert {b for b in blocks if b.startswith("load_day:")} == {
        f"load_day:invoice_backfill_2025-10-0{d}" for d in (6, 7, 8, 9)}
    assert set(blocks.values()) == {"completed"}
    # Mage synced all 32 triggers from their triggers.yaml (30 backfills + the incremental sync + qb_analytics);
    # only the one that fired was active, and the pipeline set it inactive again after the run.
    assert len(schedules) == 32 and "qb_incremental_sync_hourly" in schedules and "qb_analytics_daily" in schedules
    assert set(schedules.values()) == {"inactive"}
    assert yaml.safe_load(path.read_text())["triggers"][0]["status"] == "inactive"
    start = datetime(2025, 10, 6, tzinfo=timezone.utc)
    assert raw_invoices(loader_env["QBO_DATABASE_URL"]) == qbo_env.emu.truth("Invoice", start,
                                                                             start + timedelta(days=4))
    assert qbo_env.emu.counters()["query"] == 1  # the planner's one page for the 4 days; no child fetched


def test_second_backfill_with_mage_schedule_and_a_trigger_saved_in_the_ui(
        project_copy, qbo_env, loader_env, mage_server, subprocess_env, tmp_path: Path) -> None:
    from qbo_ingest.apps.mage import api

    cli_env = subprocess_env(MAGE_LOGIN)

    data_dir = tmp_path / "mage_data"
    data_dir.mkdir()
    db = data_dir / "mage.db"
    dsn = loader_env["QBO_DATABASE_URL"]
    first = (date(2025, 9, 1), date(2025, 9, 3))
    second = (date(2025, 9, 10), date(2025, 9, 12))
    with mage_server(project_copy, data_dir, tmp_path, loader_env, login=True) as base:
        # A time in the past fires at the scheduler's next tick; the spec's example time is the form.
        out = mage_schedule(base, "Invoice", *first, "2026-01-01 04:07 UTC", cli_env)
        assert out.returncode == 0, out.stdout + out.stderr
        name1 = "qb_invoices_backfill_2025-09-01_2025-09-03_at_20260101T0407Z"
        assert f"Trigger '{name1}'" in out.stdout and "Retry incomplete blocks" in out.stdout
        _, status, blocks = wait_run(db, name1)
        assert status == "completed", blocks
        # The second backfill: a used @once trigger never fires again, so the command makes a new one.
        out = mage_schedule(base, "Invoice", *second, "2026-01-01 04:08 UTC", cli_env)
        assert out.returncode == 0, out.stdout + out.stderr
        name2 = "qb_invoices_backfill_2025-09-10_2025-09-12_at_20260101T0408Z"
        _, status, blocks = wait_run(db, name2)
        assert status == "completed", blocks
        assert {b for b in blocks if b.startswith("load_day:")} == {
            f"load_day:invoice_backfill_2025-09-{d}" for d in (10, 11, 12)}
        # Scheduling the same one again is refused with what to do.
        again = mage_schedule(base, "Invoice", *second, "2026-01-01 04:08 UTC", cli_env)
        assert again.returncode == 2 and "exists already" in again.stderr and "Next: pick another --at" in again.stderr
        # A bad range never reaches Mage.
        bad = mage_schedule(base, "Invoice", date(2025, 9, 5), date(2025, 9, 1), "2026-01-01 04:09 UTC", cli_env)
        assert bad.returncode == 2 and "is before fecha_inicio" in bad.stderr
        time.sleep(3)  # the block's status update has landed
        schedules = dict(query(db, "SELECT name, lower(status) FROM pipeline_schedule"))
        assert schedules[name1] == schedules[name2] == "inactive"  # retired after success

        # The operator saves the generated trigger in the UI with new dates (PUT, as the trigger page does):
        # Mage rewrites triggers.yaml (comments gone, a token, the operator's values) ...
        with api.MageApi(base, email=MAGE_LOGIN["MAGE_EMAIL"], password=MAGE_LOGIN["MAGE_PASSWORD"]) as client:
            (trig,) = [t for t in client.triggers("qb_invoices_backfill") if t.name == "qb_invoices_backfill_once"]
            client.update_trigger(trig.id, {"name": trig.name, "schedule_type": "time",
                                            "schedule_interval": "@once", "start_time": "2026-05-01 04:07:00",
                                            "status": "inactive",
                                            "variables": {"fecha_fin": "2025-12-31", "fecha_inicio": "2025-12-01"}})
    path = project_copy / "pipelines/qb_invoices_backfill/triggers.yaml"
    saved = path.read_text()
    assert "# Generated" not in saved and "token" in saved and "2025-12-01" in saved
    # ... and the generator's check still passes: the file means what the generator wrote.
    gen = str(ROOT / "scripts/gen_mage.py")
    check = subprocess.run([sys.executable, gen, "--check", "--target", str(project_copy)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    exact = subprocess.run([sys.executable, gen, "--check", "--exact", "--target", str(project_copy)],
                           capture_output=True, text=True, timeout=120)
    assert exact.returncode == 1 and "pipelines/qb_invoices_backfill/triggers.yaml" in exact.stdout

    truth = {**qbo_env.emu.truth("Invoice", utc(first[0]), utc(first[1] + timedelta(days=1))),
             **qbo_env.emu.truth("Invoice", utc(second[0]), utc(second[1] + timedelta(days=1)))}
    assert raw_invoices(dsn) == truth
