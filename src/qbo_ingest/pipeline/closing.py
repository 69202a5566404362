"""Closing a day: its quality gates (the spec's log lines), then one ledger transaction for the days a
page released; a day that has not ended (UTC) is loaded but left open."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from qbo_ingest import faultpoints
from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity
from qbo_ingest.pipeline.daybook import DayStats
from qbo_ingest.pipeline.quality import QualityGateError, check_window
from qbo_ingest.pipeline.report import DayOutcome
from qbo_ingest.warehouse.ledger import Status

Told = Callable[[list[DayOutcome]], None]  # hands the outcomes to the run's progress callback


def leave_open(entity: Entity, d: date, st: DayStats, lg: logging.Logger, told: Told) -> DayOutcome:
    lg.info("%s %s has not ended (UTC): %d record(s) so far loaded; the day is not closed in the ledger "
            "(a sync or backfill after it ends closes it)", entity.name, d, st.rows_fetched)
    out = DayOutcome(entity.name, d, "open", st.rows_fetched, st.rows_upserted, st.requests, None)
    told([out])
    return out


def close_days(conn: Any, realm_id: str, entity: Entity, closing: Sequence[tuple[date, Any]], run_id: str,
               lg: logging.Logger, told: Told) -> list[DayOutcome]:
    """Quality gates of each released day (its log line), then ONE ledger transaction for them all."""
    rows: list[dict[str, Any]] = []
    outs: list[DayOutcome] = []
    for d, entry in closing:
        st, error = entry.stats, entry.error
        label = entity.block_name(d.isoformat())
        status: Status = "succeeded"
        if error is None:
            try:
                check_window(lg, entity.name, label, st.rows_fetched, st.rows_upserted)
            except QualityGateError as exc:
                status, error = "failed", str(exc)
        else:
            status = "failed"
        faultpoints.hit("ledger_finish")
        rows.append({"realm_id": realm_id, "entity": entity.name, "day": d, "status": status,
                     "rows_fetched": st.rows_fetched, "rows_upserted": st.rows_upserted, "pages": st.pages,
                     "requests": st.requests, "retries": st.retries, "error": error,
                     "intuit_tid": st.intuit_tid, "chars_escaped": st.chars_escaped,
                     "seconds": round(time.monotonic() - st.started, 3), "run_id": run_id})
        outs.append(DayOutcome(entity.name, d, status, st.rows_fetched, st.rows_upserted, st.requests, error))
    wh.ledger_finish_many(conn, rows)
    told(outs)
    return outs
