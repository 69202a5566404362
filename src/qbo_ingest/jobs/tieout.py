"""The tie-out: the warehouse's statements (the dbt marts) next to QuickBooks' own reports in raw, per
statement (ProfitAndLoss, BalanceSheet, TrialBalance), basis, month and account, in cents; and the A/R and
A/P aging totals per customer / vendor and month (AgedReceivables, AgedPayables: no basis, stored as Accrual).

QBO's figures are read from the report JSON as it prints them and turned debit positive (P&L: income
sections negated; balance sheet: the liabilities-and-equity side negated; trial balance: debit - credit), so
they compare with the marts' debit-positive amounts. Rows without an account Id (Retained Earnings when the
company has no such account, Net Income) are matched by their name. Every compared row is stored in
`qbo_ingest.tieout` (zeros included, so it can be charted); the report lists the differences.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from qbo_ingest import warehouse as wh
from qbo_ingest.jobs.reports import months
from qbo_ingest.pipeline.engine import Engine

MARTS_SCHEMA = "analytics"
STATEMENTS = ("ProfitAndLoss", "BalanceSheet", "TrialBalance", "AgedReceivables", "AgedPayables")
AGING = ("AgedReceivables", "AgedPayables")  # per customer / vendor (the "account" column), stored as Accrual
BASES = ("Accrual", "Cash")
_MARTS = {
    "ProfitAndLoss": "SELECT basis, month, account_id, account_name, round(amount * 100)::bigint "
                     "FROM analytics.profit_and_loss_monthly WHERE realm_id = %s AND month BETWEEN %s AND %s",
    "BalanceSheet": "SELECT basis, month, account_key, account_name, cents "
                    "FROM analytics.balance_sheet_monthly WHERE realm_id = %s AND month BETWEEN %s AND %s",
    "TrialBalance": "SELECT basis, month, account_key, account_name, cents "
                    "FROM analytics.trial_balance_monthly WHERE realm_id = %s AND month BETWEEN %s AND %s",
    **{name: "SELECT 'Accrual', month, party_id, party_name, total_cents FROM analytics.aging_monthly "
             f"WHERE report = '{name}' AND realm_id = %s AND month BETWEEN %s AND %s" for name in AGING},
}
_CREDIT_GROUPS = {"Income", "OtherIncome", "TotalLiabilitiesAndEquity"}


@dataclass(frozen=True)
class Difference:
    statement: str
    basis: str
    month: date
    account: str
    account_name: str
    warehouse: int  # cents, debit positive
    qbo: int

    @property
    def difference(self) -> int:
        return self.warehouse - self.qbo


@dataclass
class TieoutReport:
    compared: int = 0
    differences: list[Difference] = field(default_factory=list)
    missing: list[tuple[str, date, str]] = field(default_factory=list)  # (statement, month, basis) not in raw

    @property
    def ok(self) -> bool:
        return not self.differences and not self.missing


def _cents(text: Any) -> int:
    return int(Decimal(str(text or "0")) * 100)


def _data_rows(rows: list[dict[str, Any]], top: str | None = None) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(top-level section group, row) of every Data row, at any depth."""
    for r in rows:
        g = top if top is not None else r.get("group")
        if r.get("type") == "Data":
            yield g, r
        yield from _data_rows((r.get("Rows") or {}).get("Row") or [], g)


def qbo_figures(statement: str, payload: dict[str, Any]) -> dict[str, tuple[str, int]]:
    """{account Id or row name: (name, debit-positive cents)} of one report answer (its last column)."""
    out: dict[str, tuple[str, int]] = {}
    for group, row in _data_rows((payload.get("Rows") or {}).get("Row") or []):
        cells = row.get("ColData") or []
        if not cells or (statement in AGING and not cells[0].get("id")):
            continue
        name = str(cells[0].get("value", ""))
        key = str(cells[0].get("id") or name)
        if statement == "TrialBalance":
            value = _cents(cells[1].get("value")) - _cents(cells[2].get("value"))
        else:
            value = _cents(cells[-1].get("value"))
            if group in _CREDIT_GROUPS:
                value = -value
        prev = out.get(key, (name, 0))[1]
        out[key] = (name, prev + value)
    return out


def tieout(engine: Engine, start: date, end: date) -> TieoutReport:
    spans = months(start, end)
    lo, hi = spans[0][0], spans[-1][0]
    rep = TieoutReport()
    stored: list[wh.TieoutRow] = []
    with wh.connect(engine.dsn) as conn:
        wh.ensure_reports_schema(conn)
        for statement in STATEMENTS:
            qbo: dict[tuple[str, date], dict[str, tuple[str, int]]] = {}
            for month, basis, payload in wh.report_payloads(conn, statement, engine.realm_id, lo, hi):
                qbo[(basis, month)] = qbo_figures(statement, payload)
            ours: dict[tuple[str, date], dict[str, tuple[str, int]]] = {}
            for basis, month, key, name, cents in wh.query_rows(conn, _MARTS[statement], (engine.realm_id, lo, hi)):
                ours.setdefault((str(basis), month), {})[str(key)] = (str(name or key), int(cents))
            for m, _ in spans:
                for basis in (("Accrual",) if statement in AGING else BASES):
                    theirs = qbo.get((basis, m))
                    if theirs is None:
                        rep.missing.append((statement, m, basis))
                        continue
                    mine = ours.get((basis, m), {})
                    for key in sorted(set(theirs) | set(mine)):
                        name = (mine.get(key) or theirs[key])[0]
                        w, q = mine.get(key, (name, 0))[1], theirs.get(key, (name, 0))[1]
                        rep.compared += 1
                        stored.append((statement, basis, m, key, name, w, q))
                        if w != q:
                            rep.differences.append(Difference(statement, basis, m, key, name, w, q))
        wh.save_tieout(conn, engine.realm_id, lo, hi, stored)
    return rep
