"""The warehouse's statements tie out to QuickBooks' own reports: zero differences on emulator companies
(every emulator company is multi-currency: one party in seven deals in EUR/GBP/CAD...), and an injected error
(a dropped invoice, a duplicated ledger line) shows up as a difference naming its account and month."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date

import pytest

from qbo_ingest import warehouse as wh
from qbo_ingest.apps.analytics import models
from qbo_ingest.jobs.tieout import tieout

from .conftest import DATA_END, DATA_START, Company


def _stored(co: Company) -> dict[str, int]:
    with co.admin() as conn:
        rows = conn.execute("SELECT statement, count(*), count(*) FILTER (WHERE difference <> 0) "
                            "FROM qbo_ingest.tieout GROUP BY 1").fetchall()
    return {s: int(n) for s, n, _ in rows} | {f"{s}:diff": int(d) for s, _, d in rows}


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_the_statements_tie_out_to_qbo_reports(company: Callable[..., Company], seed: int) -> None:
    co = company(seed)
    with co.admin() as conn:  # the company really is multi-currency
        foreign = conn.execute("SELECT count(*) FROM raw.qb_invoices WHERE payload->'CurrencyRef'->>'value' <> 'USD'"
                               ).fetchone()
    assert foreign and foreign[0] > 0
    rep = tieout(co.engine, DATA_START, DATA_END)  # as the loader
    assert rep.ok, rep.differences[:10] or rep.missing
    with co.admin() as conn:  # and pays its credit cards down: the ledger posts those too (card Dr, bank Cr)
        cards = conn.execute("SELECT count(DISTINCT txn_id) FROM analytics.general_ledger "
                             "WHERE txn_type = 'CreditCardPayment' AND basis = 'Accrual'").fetchone()
    assert cards and cards[0] > 0
    stored = _stored(co)
    statements = ("ProfitAndLoss", "BalanceSheet", "TrialBalance", "AgedReceivables", "AgedPayables")
    assert all(stored[s] > 0 for s in statements), stored
    assert all(stored[f"{s}:diff"] == 0 for s in statements), stored
    # the analyst reads the marts (and only the marts and raw)
    import psycopg

    with psycopg.connect(co.analyst_dsn) as conn:
        n = conn.execute("SELECT count(*) FROM analytics.profit_and_loss_monthly").fetchone()
    assert n and n[0] > 0


def test_a_dropped_invoice_and_a_duplicated_ledger_line_are_named(company: Callable[..., Company]) -> None:
    co = company(5)
    with co.admin() as conn:
        # the invoice with the most lines in February, as the emulator serves it
        inv_id, txn_date = conn.execute(
            "SELECT id, (payload->>'TxnDate')::date FROM raw.qb_invoices WHERE payload->>'TxnDate' LIKE '2025-02-%' "
            "ORDER BY jsonb_array_length(payload->'Line') DESC, id LIMIT 1").fetchone()  # type: ignore[misc]
        conn.execute("UPDATE raw.qb_invoices SET deleted_at_utc = now() WHERE id = %s", (inv_id,))
    served = co.emu.record("Invoice", inv_id)
    assert served is not None
    rate = float(served.get("ExchangeRate", 1))
    expected: dict[str, int] = defaultdict(int)  # income account -> credit cents the warehouse now lacks
    for line in served["Line"]:
        if line["DetailType"] == "SalesItemLineDetail":
            item = co.emu.record("Item", line["SalesItemLineDetail"]["ItemRef"]["value"])
            assert item is not None
            expected[item["IncomeAccountRef"]["value"]] += round(float(line["Amount"]) * rate * 100)
    built = co.cli("models", "build", "--select", "general_ledger+")  # as the loader
    assert built.returncode == 0, built.stdout + built.stderr
    month = date(txn_date.year, txn_date.month, 1)
    cli = co.cli("tieout", "--from", "2025-01-01", "--to", "2025-03-31")
    assert cli.returncode == 1, cli.stdout + cli.stderr
    income = next(iter(expected))
    lines = cli.stdout.splitlines()
    assert any(f"({income})" in ln and f"{month:%Y-%m}" in ln and "ProfitAndLoss" in ln for ln in lines), cli.stdout
    rep = tieout(co.engine, DATA_START, DATA_END)
    assert not rep.ok
    pnl = {d.account: d.difference for d in rep.differences
           if d.statement == "ProfitAndLoss" and d.basis == "Accrual" and d.month == month}
    assert pnl == dict(expected)  # debit positive: the warehouse misses these credits
    assert all(d.month >= month for d in rep.differences if d.basis == "Accrual")

    # a duplicated ledger line: one posting of an expense account in January, copied
    with co.admin() as conn:
        conn.execute("UPDATE raw.qb_invoices SET deleted_at_utc = NULL WHERE id = %s", (inv_id,))
    co.build("general_ledger+")
    assert tieout(co.engine, DATA_START, DATA_END).ok
    with co.admin() as conn:
        acct, cents = conn.execute(
            "SELECT account_id, cents FROM analytics.general_ledger WHERE basis = 'Cash' AND month = '2025-01-01' "
            "AND account_type = 'Expense' ORDER BY posting_id LIMIT 1").fetchone()  # type: ignore[misc]
        conn.execute("INSERT INTO analytics.general_ledger SELECT * FROM analytics.general_ledger "
                     "WHERE basis = 'Cash' AND month = '2025-01-01' AND account_id = %s ORDER BY posting_id LIMIT 1",
                     (acct,))
    rep = tieout(co.engine, DATA_START, DATA_END)
    jan = {(d.statement, d.account): d.difference for d in rep.differences if d.month == date(2025, 1, 1)}
    assert jan[("ProfitAndLoss", acct)] == cents and jan[("TrialBalance", acct)] == cents
    assert all(d.basis == "Cash" for d in rep.differences)
    # and dbt's own tests catch it too
    assert not models.run_dbt(co.admin_dsn, ["test", "--select", "general_ledger"]).ok
    assert wh.report_table("ProfitAndLoss") == "qb_report_profit_and_loss"
