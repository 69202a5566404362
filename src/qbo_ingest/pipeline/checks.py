"""The source check after a run: QBO's COUNT(*) next to the rows in raw, per contiguous run of days."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import CallLimitReached
from qbo_ingest.pipeline.planning import Span, contiguous_runs
from qbo_ingest.pipeline.quality import source_check
from qbo_ingest.pipeline.report import RunReport
from qbo_ingest.redact import redact

if TYPE_CHECKING:
    from qbo_ingest.pipeline.engine import Engine

log = logging.getLogger("qbo_ingest.backfill")


def source_checks(engine: Engine, plan: dict[Entity, list[date]], report: RunReport,
                  planned: dict[tuple[str, date, date], int | None]) -> list[str]:
    """QBO's COUNT(*) per contiguous run of loaded days next to the rows in raw.

    A run that was counted for planning and loaded whole reuses that count (no request); only when
    it disagrees with raw is QBO counted again, so a record edited or deleted during the load is
    not reported as a loss. Other runs (a failed day split them) are counted now: one request each.
    """
    loaded = {(o.entity, o.day) for o in report.outcomes if o.status == "succeeded"}
    mismatches: list[str] = []
    with wh.connect(engine.dsn) as conn:
        for e, days in plan.items():
            for run in contiguous_runs([d for d in days if (e.name, d) in loaded]):
                w = Span(tuple(run)).window
                raw = wh.count_rows(conn, e, engine.realm_id, w.start, w.end)
                src = planned.get((e.name, run[0], run[-1]))
                if src is None or src != raw:
                    if engine.budget.stopped is not None:
                        log.info("source check for %s %s skipped: the run was stopped", e.name, w.label)
                        continue
                    try:
                        src = int(engine.client.count(e, w.start, w.end))
                    except CallLimitReached as exc:  # the month is spent: no further check is sent
                        if engine.budget.stop(redact(str(exc).split(". Next:")[0])):
                            log.error("Run stopped at once: %s", exc)
                        continue
                    except Exception as exc:
                        log.warning("source check for %s %s skipped: %s", e.name, w.label, redact(str(exc)))
                        continue
                    report.requests += 1
                if not source_check(log.getChild(e.snake), e.name, w.label, src, raw):
                    mismatches.append(f"{e.name} {w.label}: QBO {src} vs raw {raw}")
    return mismatches
