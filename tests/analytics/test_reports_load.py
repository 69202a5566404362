"""`qbo-ingest reports`: QBO's reports month by month on both bases into raw, as the loader, idempotent."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from qbo_ingest.jobs.reports import REPORTS, ReportsError, load_reports, params_for

from .conftest import DATA_END, DATA_START, Company


def test_reports_are_loaded_per_month_and_basis_idempotently(company: Callable[..., Company]) -> None:
    co = company(7, build=False)  # the fixture loaded the reports once, as the loader
    with co.admin() as conn:
        counts = {t: conn.execute(f"SELECT count(*), count(DISTINCT (period_start, basis)) FROM raw.qb_report_{t}"
                                  ).fetchone() for t in ("profit_and_loss", "balance_sheet", "trial_balance",
                                                         "general_ledger", "transaction_list", "aged_receivables",
                                                         "aged_payables")}
        ledger = conn.execute("SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) "
                              "FROM qbo_ingest.report_loads").fetchone()
        feb = conn.execute("SELECT params, payload FROM raw.qb_report_profit_and_loss "
                           "WHERE period_start = '2025-02-01' AND basis = 'Cash'").fetchone()
    assert counts["profit_and_loss"] == (6, 6) and counts["aged_payables"] == (3, 3)
    assert ledger == (36, 36)
    assert feb is not None
    params, payload = feb
    assert params == params_for("ProfitAndLoss", DATA_START.replace(month=2), DATA_START.replace(month=2, day=28),
                                "Cash")
    # what is stored is QBO's answer for that month and basis
    got = co.engine.client.report("ProfitAndLoss", params)  # type: ignore[attr-defined]
    assert payload["Rows"] == got["Rows"] and payload["Header"]["ReportBasis"] == "Cash"
    assert payload["Header"]["StartPeriod"] == "2025-02-01" and payload["Header"]["EndPeriod"] == "2025-02-28"
    # a second run replaces, never duplicates; --resume skips everything already loaded
    again = load_reports(co.engine, DATA_START, DATA_END, names=("ProfitAndLoss",))
    assert len(again.loaded) == 6
    resumed = load_reports(co.engine, DATA_START, DATA_END, resume=True)
    assert resumed.loaded == [] and resumed.skipped == 36
    with co.admin() as conn:
        assert conn.execute("SELECT count(*) FROM raw.qb_report_profit_and_loss").fetchone() == (6,)
    # the analyst reads the raw reports; the loader cannot create tables
    with psycopg.connect(co.analyst_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM raw.qb_report_balance_sheet").fetchone() == (6,)
    # the command, as a scheduled job runs it (the loader)
    cli = co.cli("reports", "--from", "2025-03-01", "--to", "2025-03-31", "--report", "TrialBalance")
    assert cli.returncode == 0 and "reports: 2 loaded, 0 skipped (--resume), 0 failed" in cli.stdout, cli.stderr
    bad = co.cli("reports", "--from", "2025-03-01", "--to", "2025-01-31")
    errors = [ln for ln in bad.stderr.splitlines() if ln.startswith("error:")]
    assert bad.returncode == 2 and len(errors) == 1, bad.stderr
    assert "before --from" in errors[0] and "Next:" in errors[0], errors
    with pytest.raises(ReportsError, match="Next: use any of"):
        load_reports(co.engine, DATA_START, DATA_END, names=("Nope",))
    assert set(REPORTS) >= {"ProfitAndLoss", "AgedReceivables"}
