"""QuickBooks' own reports into raw, month by month and on both bases: the reference the tie-out compares
the warehouse's statements with (`qbo-ingest reports`).

One request per (report, month, basis): ProfitAndLoss, BalanceSheet, TrialBalance, GeneralLedger and
TransactionList with `start_date`/`end_date` = the month and `accounting_method`; the aging reports (which have
no basis) once a month as of its last day, stored as Accrual. Each answer replaces the stored one (idempotent)
and writes its row of the report ledger `qbo_ingest.report_loads`; `resume` skips the rows marked succeeded.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol, runtime_checkable

from qbo_ingest import warehouse as wh
from qbo_ingest.errors import QboError, QboIngestError
from qbo_ingest.pipeline.engine import Engine

log = logging.getLogger("qbo_ingest.jobs.reports")

REPORTS = ("ProfitAndLoss", "BalanceSheet", "TrialBalance", "GeneralLedger", "TransactionList",
           "AgedReceivables", "AgedPayables")
AGING = ("AgedReceivables", "AgedPayables")
BASES = ("Accrual", "Cash")


class ReportsError(QboIngestError):
    """A reports load that cannot start (bad names or dates)."""


@runtime_checkable
class ReportSource(Protocol):
    def report(self, name: str, params: dict[str, str]) -> dict[str, Any]: ...


@dataclass
class ReportsReport:
    loaded: list[tuple[str, date, str]] = field(default_factory=list)
    skipped: int = 0
    failed: list[tuple[str, date, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def months(start: date, end: date) -> list[tuple[date, date]]:
    """(first day, last day) of every calendar month touching [start, end]."""
    if end < start:
        raise ReportsError(f"--to {end} is before --from {start}", next_step="swap the two dates")
    out: list[tuple[date, date]] = []
    d = start.replace(day=1)
    while d <= end:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        out.append((d, nxt - timedelta(days=1)))
        d = nxt
    return out


def params_for(name: str, lo: date, hi: date, basis: str) -> dict[str, str]:
    if name in AGING:
        return {"report_date": hi.isoformat()}
    return {"start_date": lo.isoformat(), "end_date": hi.isoformat(), "accounting_method": basis}


def load_reports(engine: Engine, start: date, end: date, *, names: Sequence[str] = REPORTS,
                 resume: bool = False) -> ReportsReport:
    unknown = [n for n in names if n not in REPORTS]
    if unknown:
        raise ReportsError(f"unknown report(s) {', '.join(unknown)}", next_step=f"use any of {', '.join(REPORTS)}")
    client = engine.client
    if not isinstance(client, ReportSource):
        raise ReportsError("this engine's source serves no reports", next_step="use the QBO client (apps.wiring)")
    engine.client.ensure_token()
    engine.client.check_realm()
    rep = ReportsReport()
    with wh.connect(engine.dsn) as conn:
        wh.ensure_reports_schema(conn)
        done = wh.reports_loaded(conn, engine.realm_id) if resume else set()
        for lo, hi in months(start, end):
            for name in names:
                for basis in (("Accrual",) if name in AGING else BASES):
                    if (name, lo, basis) in done:
                        rep.skipped += 1
                        continue
                    params = params_for(name, lo, hi, basis)
                    try:
                        payload = client.report(name, params)
                    except QboError as exc:
                        wh.report_failed(conn, name, realm_id=engine.realm_id, period_start=lo, basis=basis,
                                         requests=1, error=str(exc))
                        rep.failed.append((name, lo, basis, str(exc)))
                        log.error("Report %s %s %s failed: %s", name, lo, basis, exc)
                        continue
                    wh.save_report(conn, name, realm_id=engine.realm_id, period_start=lo, period_end=hi,
                                   basis=basis, params=params, payload=payload, requests=1)
                    rep.loaded.append((name, lo, basis))
    log.info("Reports: %d loaded, %d skipped, %d failed", len(rep.loaded), rep.skipped, len(rep.failed))
    return rep
