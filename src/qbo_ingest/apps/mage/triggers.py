"""Trigger handling for the Mage pipelines: after a successful `@once` run, set its trigger inactive in
Mage's database and in the pipeline's triggers.yaml (spec section 5)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from qbo_ingest.apps.mage.block_logs import one_line_traceback, route_logs

log = logging.getLogger("qbo_ingest.mage")


def deactivate_once_trigger(summary: Any = None, **kwargs: Any) -> dict[str, Any]:
    """After a successful run started by a `@once` trigger, set that trigger inactive (spec section 5).

    The spec makes this a mandatory manual step ("change the trigger to Inactive") to avoid spending
    API quota on an accidental re-run; here the pipeline does it itself, in Mage's database and in the
    pipeline's triggers.yaml (Mage re-syncs the database from that file when the file changes, so an
    `active` left there would come back). Anything else (a manual run, an API trigger) is left alone.
    A failure to deactivate is logged with the manual step and does not fail the loaded run.
    """
    route_logs(kwargs)
    pipeline_uuid = str(kwargs.get("pipeline_uuid") or "")
    run_id = kwargs.get("pipeline_run_id")
    result: dict[str, Any] = {"trigger": kwargs.get("trigger_name"), "deactivated": False, "reason": ""}
    if run_id is None:
        result["reason"] = "not a triggered run (no pipeline_run_id)"
        log.info("Trigger: %s", result["reason"])
        return result
    try:
        from mage_ai.data_preparation.models.triggers import ScheduleInterval, ScheduleStatus
        from mage_ai.orchestration.db.models.schedules import BlockRun, PipelineRun

        run = PipelineRun.query.filter(PipelineRun.id == int(run_id)).one_or_none()
        schedule = run.pipeline_schedule if run is not None else None
        if schedule is None:
            result["reason"] = f"pipeline run {run_id} has no trigger"
            log.info("Trigger: %s", result["reason"])
            return result
        result["trigger"] = schedule.name
        if schedule.schedule_interval != ScheduleInterval.ONCE:
            result["reason"] = f"trigger {schedule.name!r} is {schedule.schedule_interval!r}, not @once"
            log.info("Trigger: %s: left as is", result["reason"])
            return result
        own = str(kwargs.get("block_uuid") or "deactivate_once_trigger")
        unfinished = [b.block_uuid for b in run.block_runs
                      if b.block_uuid != own and b.status != BlockRun.BlockRunStatus.COMPLETED]
        if unfinished:
            result["reason"] = f"{len(unfinished)} block run(s) not completed: {', '.join(unfinished[:5])}"
            log.warning("Trigger %r stays as is: %s", schedule.name, result["reason"])
            return result
        was = str(schedule.status)
        if schedule.status != ScheduleStatus.INACTIVE:
            schedule.update(status=ScheduleStatus.INACTIVE)
        repo_path = kwargs.get("repo_path")
        yaml_changed = False
        if repo_path and pipeline_uuid:
            yaml_changed = set_trigger_inactive_in_yaml(
                Path(str(repo_path)) / "pipelines" / pipeline_uuid / "triggers.yaml", schedule.name)
        result.update(deactivated=True, was=was, triggers_yaml_updated=yaml_changed, reason="")
        log.info("Trigger %r (@once) of %s set to inactive after the successful run %s "
                 "(was %s; triggers.yaml %s): the spec's mandatory step, done by the pipeline. "
                 "A @once trigger that has run never fires again, even when enabled: for the next backfill "
                 "run `qbo-ingest mage schedule %s --fecha-inicio YYYY-MM-DD --fecha-fin YYYY-MM-DD --at "
                 "'YYYY-MM-DD HH:MM UTC'` (a new one-time trigger), or use Run@once with both variables.",
                 schedule.name, pipeline_uuid, run_id, was, "updated" if yaml_changed else "already inactive",
                 _entity_name(pipeline_uuid))
    except Exception as exc:  # the data is loaded: say what to do instead of failing the run
        result["reason"] = f"{type(exc).__name__}: {exc}"
        log.warning("Trigger %r could not be set inactive (%s): set it to Inactive in Mage > Triggers "
                    "by hand (spec section 5)", result["trigger"], result["reason"])
    return result


def retire_once_trigger(kwargs: Any, *, reason: str) -> str | None:
    """Set the `@once` trigger of this run inactive when the run cannot succeed (bad variables): it has a
    run now, so Mage would never fire it again, yet it would show as active. Returns its name, or None
    (no run, not a @once trigger, already inactive, or Mage's database not reachable)."""
    run_id = kwargs.get("pipeline_run_id")
    if run_id is None:
        return None
    try:
        from mage_ai.data_preparation.models.triggers import ScheduleInterval, ScheduleStatus
        from mage_ai.orchestration.db.models.schedules import PipelineRun

        run = PipelineRun.query.filter(PipelineRun.id == int(run_id)).one_or_none()
        schedule = run.pipeline_schedule if run is not None else None
        if schedule is None or schedule.schedule_interval != ScheduleInterval.ONCE:
            return None
        if schedule.status != ScheduleStatus.INACTIVE:
            schedule.update(status=ScheduleStatus.INACTIVE)
        repo_path, pipeline_uuid = kwargs.get("repo_path"), kwargs.get("pipeline_uuid")
        if repo_path and pipeline_uuid:
            set_trigger_inactive_in_yaml(Path(str(repo_path)) / "pipelines" / str(pipeline_uuid) / "triggers.yaml",
                                         schedule.name)
        return str(schedule.name)
    except Exception as exc:  # the run fails anyway; say what is left to do
        log.warning("Trigger of run %s could not be set inactive (%s: %s): set it to Inactive in Mage > "
                    "Triggers by hand (%s)", run_id, type(exc).__name__, exc, reason)
        return None


def _entity_name(pipeline_uuid: str) -> str:
    from qbo_ingest.catalogue import get

    try:
        return get(pipeline_uuid).name
    except Exception:
        return "ENTITY"


__all__ = ["deactivate_once_trigger", "one_line_traceback", "retire_once_trigger", "set_trigger_inactive_in_yaml"]


# ------------------------------------------------------------------------------------------- helpers
def set_trigger_inactive_in_yaml(path: Path, name: str) -> bool:
    """`status: inactive` for trigger `name` in a triggers.yaml, keeping the rest of the file as is.

    The value is replaced in place (its position comes from the YAML node), so comments and layout
    survive. Returns whether the file changed; a file without that trigger is left alone.
    """
    import yaml

    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return False
    triggers = next((v for k, v in root.value if k.value == "triggers"), None)
    if not isinstance(triggers, yaml.SequenceNode):
        return False
    for item in triggers.value:
        if not isinstance(item, yaml.MappingNode):
            continue
        fields = {k.value: v for k, v in item.value}
        if getattr(fields.get("name"), "value", None) != name:
            continue
        status = fields.get("status")
        if status is None:  # Mage's default is inactive
            return False
        if status.value == "inactive":
            return False
        new = text[: status.start_mark.index] + "inactive" + text[status.end_mark.index :]
        path.write_text(new, encoding="utf-8")
        return True
    return False


