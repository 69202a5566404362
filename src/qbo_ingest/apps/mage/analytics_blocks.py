"""The `qb_analytics` pipeline's blocks (issue 18): QBO's reports into raw, `dbt build`, the tie-out. Each
raises on failure, so its block run fails and names the cause. Variables: `fecha_inicio` / `fecha_fin`
(any day of the first / last month; empty: last month and this month)."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta, timezone
from typing import Any

from qbo_ingest.apps.mage.block_logs import route_logs
from qbo_ingest.apps.mage.blocks import load_settings
from qbo_ingest.errors import QboIngestError
from qbo_ingest.windows import parse_day

log = logging.getLogger("qbo_ingest.mage.analytics")


class AnalyticsStepError(QboIngestError):
    """A step of the analytics pipeline failed; the message says which and what to look at."""


def _months(kwargs: dict[str, Any]) -> tuple[date, date]:
    today = datetime.now(timezone.utc).date()
    start = kwargs.get("fecha_inicio") or (today.replace(day=1) - timedelta(days=1)).replace(day=1).isoformat()
    end = kwargs.get("fecha_fin") or today.isoformat()
    return parse_day(start, name="fecha_inicio"), parse_day(end, name="fecha_fin")


def load_reports(**kwargs: Any) -> dict[str, Any]:
    from qbo_ingest.apps import wiring
    from qbo_ingest.jobs.reports import load_reports as job

    route_logs(kwargs)
    lo, hi = _months(kwargs)
    with wiring.engine(load_settings()) as eng:
        rep = job(eng, lo, hi)
    if not rep.ok:
        raise AnalyticsStepError(f"{len(rep.failed)} report(s) failed, first: {rep.failed[0][:3]}: "
                                 f"{rep.failed[0][3]}", next_step="fix the cause, then retry this block")
    return {"loaded": len(rep.loaded), "from": lo.isoformat(), "to": hi.isoformat()}


def models_build(*args: Any, **kwargs: Any) -> dict[str, Any]:
    from qbo_ingest.apps.analytics import models

    route_logs(kwargs)
    s = load_settings()
    res = models.build(s.dsn(), dbt=s.dbt_bin, project=s.dbt_project_dir)
    for line in res.output.splitlines()[-15:]:
        log.info("%s", line)
    if not res.ok:
        raise AnalyticsStepError("dbt build failed (see the lines above)",
                                 next_step="run `qbo-ingest models build` for the whole output")
    return {"seconds": round(res.seconds, 1)}


def tieout(*args: Any, **kwargs: Any) -> dict[str, Any]:
    from qbo_ingest.apps import wiring
    from qbo_ingest.jobs.tieout import tieout as job

    route_logs(kwargs)
    lo, hi = _months(kwargs)
    with wiring.engine(load_settings()) as eng:
        rep = job(eng, lo, hi)
    for d in rep.differences[:20]:
        log.error("Tie-out: %s %s %s %s (%s): warehouse %.2f, QBO %.2f", d.statement, d.basis, f"{d.month:%Y-%m}",
                  d.account_name, d.account, d.warehouse / 100, d.qbo / 100)
    if not rep.ok:
        raise AnalyticsStepError(f"tie-out: {len(rep.differences)} difference(s), {len(rep.missing)} report(s) "
                                 "missing (table qbo_ingest.tieout)", next_step="qbo-ingest tieout --from … --to …")
    return {"compared": rep.compared}
