"""Run one Mage pipeline headless through a DATABASE-BACKED pipeline run, in its own process.

`mage run` and `Pipeline.execute_sync()` skip dynamic blocks; a PipelineRun executed by Mage's
PipelineExecutor does what the scheduler does (MAGE.md). Mage keeps global state (repo path, its
database session, env vars), so the tests call this script in a subprocess:

    python tests/mage/mage_runner.py --project DIR --data-dir TMP --pipeline qb_invoices_backfill \
        --vars '{"fecha_inicio": "2025-10-01", "fecha_fin": "2025-10-30"}' --once-trigger --out result.json
    python tests/mage/mage_runner.py ... --retry-incomplete RUN_ID --out result2.json

`--once-trigger` takes the pipeline's `@once` trigger from triggers.yaml and enables it the way the UI
does (database row active, triggers.yaml rewritten by Mage with `status: active`); `--retry-incomplete`
does what the UI's "Retry incomplete blocks" does (non-completed block runs back to initial, run to
running) and executes the run again. `--fast-sleep` turns the QBO client's backoff sleeps and Mage's
block-retry sleep into recorded no-ops (the delays asked for are reported).
The result (block run statuses, trigger state, sleeps, seconds) is written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--vars", default="{}", help="run variables (JSON)")
    ap.add_argument("--once-trigger", action="store_true")
    ap.add_argument("--retry-incomplete", type=int, default=None, metavar="RUN_ID")
    ap.add_argument("--fast-sleep", action="store_true")
    ap.add_argument("--secrets", default="{}", help="Mage secrets to create first (JSON name -> value)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)

    data_dir = Path(args.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    # Before any mage_ai.orchestration import: Mage's own database and variables go to the temp dir.
    os.environ["MAGE_DATABASE_CONNECTION_URL"] = f"sqlite:///{data_dir / 'mage.db'}"
    os.environ["MAGE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("ENV", "prod")

    sleeps: dict[str, list[float]] = {"qbo_client": [], "mage_block_retry": []}
    if args.fast_sleep:
        _fast_sleep(sleeps)

    from mage_ai.settings.repo import set_repo_path

    set_repo_path(args.project)
    from mage_ai.data_preparation.executors.pipeline_executor import PipelineExecutor
    from mage_ai.data_preparation.models.pipeline import Pipeline
    from mage_ai.data_preparation.models.triggers import (
        ScheduleStatus,
        ScheduleType,
        Trigger,
        add_or_update_trigger_for_pipeline_and_persist,
        get_triggers_by_pipeline,
    )
    from mage_ai.orchestration.db import db_connection
    from mage_ai.orchestration.db.database_manager import database_manager
    from mage_ai.orchestration.db.models.schedules import BlockRun, PipelineRun, PipelineSchedule

    database_manager.run_migrations()
    db_connection.start_session()
    for name, value in json.loads(args.secrets).items():
        from mage_ai.data_preparation.shared.secrets import create_secret

        create_secret(name, value)

    pipeline = Pipeline.get(args.pipeline, repo_path=args.project)
    t0 = time.monotonic()
    error = None
    if args.retry_incomplete is None:
        variables = json.loads(args.vars)
        if args.once_trigger:
            trig = next(t for t in get_triggers_by_pipeline(pipeline.uuid)
                        if t.schedule_interval == "@once")
            # What the scheduler does with triggers.yaml (sync), then what "Enable trigger" does.
            PipelineSchedule.create_or_update_batch([trig])
            schedule = PipelineSchedule.query.filter(PipelineSchedule.name == trig.name,
                                                     PipelineSchedule.pipeline_uuid == pipeline.uuid).one()
            schedule.update(status=ScheduleStatus.ACTIVE)
            enabled = Trigger.load(config={**trig.to_dict(), "status": "active"})
            add_or_update_trigger_for_pipeline_and_persist(enabled, pipeline.uuid, update_only_if_exists=True)
            if variables:
                schedule.update(variables={**(schedule.variables or {}), **variables})
        else:
            schedule = PipelineSchedule.create(name="manual", pipeline_uuid=pipeline.uuid,
                                               schedule_type=ScheduleType.API, variables=variables)
        run = PipelineRun.create(pipeline_uuid=pipeline.uuid, pipeline_schedule_id=schedule.id,
                                 execution_date=datetime.now(timezone.utc).replace(tzinfo=None))
    else:
        run = PipelineRun.query.get(args.retry_incomplete)
        # The UI's "Retry incomplete blocks" (PipelineRunResource.update, pipeline_run_action=retry_blocks).
        incomplete = [b for b in run.block_runs if b.status != BlockRun.BlockRunStatus.COMPLETED]
        BlockRun.batch_update_status([b.id for b in incomplete], BlockRun.BlockRunStatus.INITIAL)
    run.update(status=PipelineRun.PipelineRunStatus.RUNNING)
    try:
        PipelineExecutor(pipeline, execution_partition=run.execution_partition).execute(
            pipeline_run_id=run.id, global_vars=run.get_variables())
    except Exception:  # a failed block may surface here; the statuses below tell the story
        error = traceback.format_exc(limit=3)
    seconds = time.monotonic() - t0

    run = PipelineRun.query.get(run.id)
    db_connection.session.refresh(run)
    block_runs = sorted(run.block_runs, key=lambda b: b.id)
    statuses = {b.block_uuid: str(b.status.value if hasattr(b.status, "value") else b.status) for b in block_runs}
    final = "completed" if all(s == "completed" for s in statuses.values()) else "failed"
    run.update(status=PipelineRun.PipelineRunStatus.COMPLETED if final == "completed"
               else PipelineRun.PipelineRunStatus.FAILED)
    schedule = PipelineSchedule.query.get(run.pipeline_schedule_id)
    db_connection.session.refresh(schedule)
    logs = _block_logs(pipeline, run, block_runs)
    result: dict[str, Any] = {
        "pipeline_run_id": run.id,
        "status": final,
        "block_runs": statuses,
        "trigger": {"name": schedule.name, "status": str(getattr(schedule.status, "value", schedule.status)),
                    "interval": schedule.schedule_interval},
        "seconds": round(seconds, 3),
        "sleeps": sleeps,
        "error": error,
        "logs": logs,
    }
    Path(args.out).write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    return 0


def _fast_sleep(sleeps: dict[str, list[float]]) -> None:
    """Record instead of sleeping: the QBO client's backoff and Mage's block retry."""
    import types

    import mage_ai.shared.retry as mage_retry

    from qbo_ingest.source import client as qbo
    from qbo_ingest.source.auth import oauth

    def client_sleep(seconds: float) -> None:
        sleeps["qbo_client"].append(float(seconds))

    def mage_sleep(seconds: float) -> None:
        sleeps["mage_block_retry"].append(float(seconds))

    for fn in (qbo.QboClient.__init__, oauth.OAuthSession.__init__):
        kw = dict(fn.__kwdefaults__ or {})
        if "sleep" in kw:
            kw["sleep"] = client_sleep
            fn.__kwdefaults__ = kw
    mage_retry.time = types.SimpleNamespace(sleep=mage_sleep)  # type: ignore[attr-defined]


def _block_logs(pipeline: Any, run: Any, block_runs: list[Any]) -> dict[str, str]:
    """Each block run's log text, as the UI shows it."""
    out: dict[str, str] = {}
    for b in block_runs:
        try:
            text = b.logs.get("content") if isinstance(b.logs, dict) else None
        except Exception:
            text = None
        out[b.block_uuid] = text or ""
    return out


if __name__ == "__main__":
    sys.exit(main())
