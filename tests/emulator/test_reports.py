"""The reports are what the records the query API serves add up to. Each check below recomputes a figure
from records fetched over HTTP (query API), with its own arithmetic, and compares it with the report."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from .conftest import Api, Factory

START, END = "2024-01-01", "2024-03-31"
DATA = {"profile": "demo", "seed": 11, "data_start": date(2023, 12, 1), "data_end": date(2024, 4, 10)}
SALES = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt")
ALL = (*SALES, "Payment", "Bill", "BillPayment", "VendorCredit", "Purchase", "Deposit", "JournalEntry", "Transfer",
       "CreditCardPayment")
PNL_TYPES = {"Income": -1, "Other Income": -1, "Cost of Goods Sold": 1, "Expense": 1, "Other Expense": 1}


def c(x: Any, rate: float = 1.0) -> int:
    """Home-currency cents: amounts are in the transaction's currency, `ExchangeRate` converts to USD."""
    return round(float(x) * rate * 100)


def rate(t: dict[str, Any]) -> float:
    return float(t.get("ExchangeRate", 1))


def fetch(api: Api, entity: str, where: str = "") -> list[dict[str, Any]]:
    return api.all_pages(where, entity=entity, order="Id")


def txns(api: Api, lo: str, hi: str) -> dict[str, list[dict[str, Any]]]:
    return {e: fetch(api, e, f"WHERE TxnDate >= '{lo}' AND TxnDate <= '{hi}'") for e in ALL}


def report(api: Api, name: str, **params: str) -> dict[str, Any]:
    r = api.get(f"reports/{name}", minorversion=75, **params)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def data_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r.get("type") == "Data":
            out.append(r)
        out.extend(data_rows(r.get("Rows", {}).get("Row", [])))
    return out


def by_account(rep: dict[str, Any], col: int = -1) -> dict[str, int]:
    return {r["ColData"][0]["id"]: c(r["ColData"][col]["value"] or 0) for r in data_rows(rep["Rows"]["Row"])
            if "id" in r["ColData"][0]}


def summary(rep: dict[str, Any], group: str, col: int = -1) -> int:
    def walk(rows: list[dict[str, Any]]) -> int | None:
        for r in rows:
            if r.get("group") == group:
                return c(r["Summary"]["ColData"][col]["value"])
            got = walk(r.get("Rows", {}).get("Row", []))
            if got is not None:
                return got
        return None

    got = walk(rep["Rows"]["Row"])
    assert got is not None, group
    return got


class Company:
    """What the query API serves about the chart and items."""

    def __init__(self, api: Api) -> None:
        self.types = {a["Id"]: a["AccountType"] for a in fetch(api, "Account", "WHERE Active IN (true, false)")}
        self.income = {i["Id"]: i["IncomeAccountRef"]["value"] for i in
                       fetch(api, "Item", "WHERE Active IN (true, false)") if "IncomeAccountRef" in i}
        self.tax = next(a["Id"] for a in fetch(api, "Account", "WHERE Name = 'Board of Equalization Payable'"))

    def sale_lines(self, t: dict[str, Any]) -> list[tuple[str, int]]:
        """(income account, credit cents) of a sale's lines and tax."""
        out = [(self.income[ln["SalesItemLineDetail"]["ItemRef"]["value"]], c(ln["Amount"], rate(t)))
               for ln in t["Line"] if ln["DetailType"] == "SalesItemLineDetail"]
        tax = c(t.get("TxnTaxDetail", {}).get("TotalTax", 0), rate(t))
        return out + ([(self.tax, tax)] if tax else [])

    @staticmethod
    def expense_lines(t: dict[str, Any]) -> list[tuple[str, int]]:
        return [(ln["AccountBasedExpenseLineDetail"]["AccountRef"]["value"], c(ln["Amount"], rate(t)))
                for ln in t["Line"] if ln["DetailType"] == "AccountBasedExpenseLineDetail"]


def pnl_by_account(co: Company, data: dict[str, list[dict[str, Any]]], cash: bool,
                   linked: dict[str, dict[str, dict[str, Any]]]) -> dict[str, int]:
    """Debit-positive sums on P&L accounts, straight from the served records."""
    net: dict[str, int] = defaultdict(int)
    for e in SALES:
        if cash and e in ("Invoice", "CreditMemo"):
            continue
        for t in data[e]:
            for acct, amt in co.sale_lines(t):
                net[acct] += amt if e in ("CreditMemo", "RefundReceipt") else -amt
    for e in ("Bill", "Purchase", "VendorCredit"):
        if cash and e != "Purchase":
            continue
        for t in data[e]:
            for acct, amt in co.expense_lines(t):
                net[acct] += -amt if e == "VendorCredit" else amt
    for t in data["Deposit"]:
        for ln in t["Line"]:
            net[ln["DepositLineDetail"]["AccountRef"]["value"]] -= c(ln["Amount"])
    for t in data["JournalEntry"]:
        for ln in t["Line"]:
            d = ln["JournalEntryLineDetail"]
            net[d["AccountRef"]["value"]] += c(ln["Amount"]) * (1 if d["PostingType"] == "Debit" else -1)
    if cash:  # a payment recognises its linked document's lines pro rata, up to the document's total
        for e, doc_type, sign in (("Payment", "Invoice", -1), ("BillPayment", "Bill", 1)):
            for t in data[e]:
                ref = next((lt["TxnId"] for ln in t.get("Line", []) for lt in ln["LinkedTxn"]
                            if lt["TxnType"] == doc_type), None)
                doc = linked[doc_type].get(str(ref))
                if doc is None:
                    continue
                parts = co.sale_lines(doc) if doc_type == "Invoice" else co.expense_lines(doc)
                total = sum(a for _, a in parts)
                applied = min(c(t["TotalAmt"], rate(t)), total)
                left = applied
                for i, (acct, a) in enumerate(parts):
                    share = left if i == len(parts) - 1 else applied * a // total
                    left -= share
                    net[acct] += sign * share
    return {a: v for a, v in net.items() if co.types.get(a) in PNL_TYPES and v}




@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_profit_and_loss_is_the_sum_of_the_served_transactions(make_api: Factory, basis: str) -> None:
    api = make_api(**DATA)
    co = Company(api)
    data = txns(api, START, END)
    linked = {"Invoice": {t["Id"]: t for t in fetch(api, "Invoice")}, "Bill": {t["Id"]: t for t in fetch(api, "Bill")}}
    expected = pnl_by_account(co, data, basis == "Cash", linked)
    rep = report(api, "ProfitAndLoss", start_date=START, end_date=END, accounting_method=basis)
    assert rep["Header"]["ReportBasis"] == basis and rep["Header"]["StartPeriod"] == START
    got = {a: v * PNL_TYPES[co.types[a]] for a, v in by_account(rep).items()}  # back to debit-positive
    assert expected and got == expected
    assert summary(rep, "NetIncome") == -sum(expected.values())
    # the monthly columns are the same sums per month, and add up to the total
    monthly = report(api, "ProfitAndLoss", start_date=START, end_date=END, accounting_method=basis,
                     summarize_column_by="Month")
    assert [col["ColTitle"] for col in monthly["Columns"]["Column"]] == ["", "Jan 2024", "Feb 2024", "Mar 2024",
                                                                         "Total"]
    for i, (lo, hi) in enumerate((("2024-01-01", "2024-01-31"), ("2024-02-01", "2024-02-29"),
                                  ("2024-03-01", "2024-03-31")), start=1):
        month = pnl_by_account(co, {e: [t for t in ts if lo <= t["TxnDate"] <= hi] for e, ts in data.items()},
                               basis == "Cash", linked)
        col = {a: v * PNL_TYPES[co.types[a]] for a, v in by_account(monthly, i).items() if v}
        assert col == month
    assert summary(monthly, "NetIncome") == summary(rep, "NetIncome")


@pytest.mark.parametrize("basis", ["Accrual", "Cash"])
def test_balance_sheet_and_trial_balance_balance(make_api: Factory, basis: str) -> None:
    api = make_api(**DATA)
    bs = report(api, "BalanceSheet", start_date=START, end_date=END, accounting_method=basis)
    assert summary(bs, "TotalAssets") == summary(bs, "TotalLiabilitiesAndEquity") != 0
    tb = report(api, "TrialBalance", start_date=START, end_date=END, accounting_method=basis)
    total = tb["Rows"]["Row"][-1]["Summary"]["ColData"]
    assert total[0]["value"] == "TOTAL" and total[1]["value"] == total[2]["value"] != "0.00"


def test_the_company_is_multi_currency(make_api: Factory) -> None:
    """Some customers and vendors deal in a CompanyCurrency; their transactions carry CurrencyRef, ExchangeRate
    and HomeTotalAmt, and the reports (in USD) convert them."""
    api = make_api(**DATA)
    codes = {r["Code"] for r in fetch(api, "CompanyCurrency", "WHERE Active IN (true, false)")}
    data = txns(api, START, END)
    foreign = [t for e in ("Invoice", "Bill", "Payment") for t in data[e] if t["CurrencyRef"]["value"] != "USD"]
    assert codes and foreign and {t["CurrencyRef"]["value"] for t in foreign} <= codes
    assert all(t["HomeTotalAmt"] == round(t["TotalAmt"] * t["ExchangeRate"], 2) for t in foreign)
    customers = {r["Id"]: r["CurrencyRef"]["value"] for r in fetch(api, "Customer", "WHERE Active IN (true, false)")}
    assert all(customers[t["CustomerRef"]["value"]] == t["CurrencyRef"]["value"] for t in data["Invoice"])


def test_receivables_tie_to_the_served_invoices_and_payments(make_api: Factory) -> None:
    """Accrual A/R at the end = every served invoice (lines + tax) - credit memos - payments up to then."""
    api = make_api(**DATA)
    co = Company(api)
    data = txns(api, "2000-01-01", END)
    ar = (sum(a for t in data["Invoice"] for _, a in co.sale_lines(t))
          - sum(a for t in data["CreditMemo"] for _, a in co.sale_lines(t))
          - sum(c(t["TotalAmt"], rate(t)) for t in data["Payment"]))
    bs = report(api, "BalanceSheet", start_date=START, end_date=END)
    ar_id = next(a for a, t in co.types.items() if t == "Accounts Receivable")
    assert by_account(bs)[ar_id] == ar
    gl = report(api, "GeneralLedger", start_date="2000-01-01", end_date=END)
    section = next(s for s in gl["Rows"]["Row"] if s["Header"]["ColData"][0]["id"] == ar_id)
    assert c(section["Summary"]["ColData"][4]["value"]) == ar
    assert len(section["Rows"]["Row"]) == len(data["Invoice"]) + len(data["CreditMemo"]) + len(data["Payment"])


def test_aging_is_the_served_open_balances(make_api: Factory) -> None:
    api = make_api(**DATA)
    for entity, name in (("Invoice", "AgedReceivables"), ("Bill", "AgedPayables")):
        open_docs = fetch(api, entity, f"WHERE TxnDate <= '{END}' AND Balance > '0'")
        rep = report(api, name, report_date=END)
        total = rep["Rows"]["Row"][-1]["Summary"]["ColData"]
        assert c(total[-1]["value"]) == sum(c(t["Balance"], rate(t)) for t in open_docs) > 0
        assert rep["Header"]["ReportDate"] == END


def test_transaction_list_lists_each_posting_transaction_once(make_api: Factory) -> None:
    api = make_api(**DATA)
    data = txns(api, START, END)
    rep = report(api, "TransactionList", start_date=START, end_date=END)
    listed = [(r["ColData"][1]["value"], r["ColData"][1]["id"]) for r in rep["Rows"]["Row"]]
    assert sorted(listed) == sorted((e, t["Id"]) for e, ts in data.items() for t in ts)
