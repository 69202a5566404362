"""The real thing end to end: `mage start`'s scheduler fires the @once trigger from triggers.yaml, runs
every day as its own block run (in Mage's worker processes), and the pipeline retires the trigger."""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
import yaml

pytestmark = [pytest.mark.mage, pytest.mark.slow]


def test_once_trigger_fires_runs_each_day_and_ends_inactive(project_copy, qbo_env, pg_url, mage_server,
                                                              tmp_path: Path) -> None:
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

    def query(sql: str) -> list[tuple]:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchall()

    t0 = time.monotonic()
    with mage_server(project_copy, data_dir, tmp_path, qbo_env.env):
        deadline = time.monotonic() + 240
        while True:
            runs = query("SELECT id, lower(status) FROM pipeline_run") if db.is_file() else []
            if runs and runs[0][1] in ("completed", "failed"):
                break
            if time.monotonic() > deadline:
                stuck = query("SELECT block_uuid FROM block_run WHERE lower(status) = 'queued' "
                              "AND started_at IS NULL")
                if stuck:  # Mage's own worker pool, not this project: say so instead of a vague failure
                    pytest.xfail(f"Mage 0.9.80's local ProcessQueue never started queued block run(s) "
                                 f"{[b for (b,) in stuck]} (its worker pool process stalled; seen on a loaded "
                                 "machine)")
                raise AssertionError(f"no finished run in time: {runs}, "
                                     f"{query('SELECT block_uuid, status FROM block_run')}")
            time.sleep(2)
        seconds = time.monotonic() - t0
        blocks = dict(query("SELECT block_uuid, lower(status) FROM block_run"))
        schedules = dict(query("SELECT name, lower(status) FROM pipeline_schedule"))
    print(f"\nscheduler path, 4 days: {seconds:.1f} s from `mage start` to the run's end")
    assert runs == [(1, "completed")], blocks
    assert {b for b in blocks if b.startswith("load_day:")} == {
        f"load_day:invoice_backfill_2025-10-0{d}" for d in (6, 7, 8, 9)}
    assert set(blocks.values()) == {"completed"}
    # Mage synced all 31 triggers from their triggers.yaml (29 backfills + the incremental sync + qb_analytics);
    # only the one that fired was active, and the pipeline set it inactive again after the run.
    assert len(schedules) == 31 and "qb_incremental_sync_hourly" in schedules and "qb_analytics_daily" in schedules
    assert set(schedules.values()) == {"inactive"}
    assert yaml.safe_load(path.read_text())["triggers"][0]["status"] == "inactive"
    with psycopg.connect(pg_url) as conn:
        rows = dict(conn.execute("SELECT id, last_updated_at FROM raw.qb_invoices").fetchall())
    start = datetime(2025, 10, 6, tzinfo=timezone.utc)
    assert {str(k): v for k, v in rows.items()} == qbo_env.emu.truth("Invoice", start, start + timedelta(days=4))
