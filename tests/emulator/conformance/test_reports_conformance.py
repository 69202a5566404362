"""The Reports API's JSON shape as Intuit's run-reports page shows it for the profit and loss report."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ..conftest import Factory
from . import sources as S

DATA = {"profile": "demo", "seed": 5, "data_start": date(2024, 1, 1), "data_end": date(2024, 2, 29)}
PARAMS = {"start_date": "2024-01-01", "end_date": "2024-02-29", "minorversion": "75"}


def _cells_ok(row: dict[str, Any], width: int) -> None:
    for part in ("Header", "Summary"):
        if part in row:
            assert len(row[part]["ColData"]) == width and all("value" in c for c in row[part]["ColData"])
    if row.get("type") == "Data":
        assert len(row["ColData"]) == width
    for sub in row.get("Rows", {}).get("Row", []):
        _cells_ok(sub, width)


@S.cites(S.RUN_REPORTS)
@pytest.mark.parametrize("name", ["ProfitAndLoss", "BalanceSheet", "TrialBalance", "GeneralLedger",
                                  "TransactionList", "AgedReceivables", "AgedPayables"])
def test_report_envelope(make_api: Factory, name: str) -> None:
    """RUN_REPORTS: a report is `Header` (ReportName, period, basis, currency, options), `Columns.Column`
    (ColTitle, ColType) and `Rows.Row`; money cells are strings."""
    api = make_api(**DATA)
    r = api.get(f"reports/{name}", **PARAMS)
    assert r.status_code == 200, r.text
    rep = r.json()
    assert set(rep) == {"Header", "Columns", "Rows"}
    h = rep["Header"]
    assert h["ReportName"] == name and h["Currency"] == "USD" and h["EndPeriod"]
    assert {"Name": "NoReportData", "Value": "false"} in h["Option"]
    cols = rep["Columns"]["Column"]
    assert all({"ColTitle", "ColType"} <= set(col) for col in cols)
    _cells_ok({"Rows": rep["Rows"]}, len(cols))


@S.cites(S.RUN_REPORTS)
def test_profit_and_loss_sections(make_api: Factory) -> None:
    """RUN_REPORTS: sub-sections per income and expense group, a row per account with data (accounts with no
    data are excluded), each section's total in its Summary, the last line the net income."""
    api = make_api(**DATA)
    rep = api.get("reports/ProfitAndLoss", **PARAMS).json()
    rows = rep["Rows"]["Row"]
    assert all(r["type"] == "Section" for r in rows)
    assert rows[-1]["group"] == "NetIncome" and rows[-1]["Summary"]["ColData"][0]["value"] == "Net Income"
    income = next(r for r in rows if r.get("group") == "Income")
    assert income["Header"]["ColData"][0]["value"] == "Income"
    accounts = income["Rows"]["Row"]
    assert accounts and all(a["type"] == "Data" and a["ColData"][0]["id"] and a["ColData"][1]["value"] != "0.00"
                            for a in accounts)
    total = sum(float(a["ColData"][1]["value"]) for a in accounts)
    assert income["Summary"]["ColData"] == [{"value": "Total Income"}, {"value": f"{total:.2f}"}]


@S.cites(S.RUN_REPORTS)
def test_bad_report_requests_are_validation_faults(make_api: Factory) -> None:
    api = make_api(**DATA)
    for params in ({"start_date": "2024-13-01"}, {"accounting_method": "Magic"},
                   {"start_date": "2024-02-01", "end_date": "2024-01-01"}):
        r = api.get("reports/ProfitAndLoss", **params)
        assert r.status_code == 400 and r.json()["Fault"]["type"] == "ValidationFault"
    assert api.get("reports/NoSuchReport").status_code == 400
