"""The Reports API (`/v3/company/{realm}/reports/{name}`) in Intuit's report JSON: `Header`, `Columns`,
`Rows` of `Section`s with `Header`/`Rows`/`Summary` and `ColData` cells (developer.intuit.com
.../workflows/run-reports). Every figure is a sum of `postings.Ledger` lines, so a report is what the
transactions the query API serves add up to. Money cells are strings with two decimals, as Intuit's are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from qbo_ingest.local.emulator.postings import Ledger, Posting

Json = dict[str, Any]
REPORTS = ("ProfitAndLoss", "BalanceSheet", "TrialBalance", "GeneralLedger", "TransactionList",
           "AgedReceivables", "AgedPayables")
PNL = (("Income", "Income", ("Income",), -1), ("COGS", "Cost of Goods Sold", ("Cost of Goods Sold",), 1),
       ("Expenses", "Expenses", ("Expense",), 1), ("OtherIncome", "Other Income", ("Other Income",), -1),
       ("OtherExpenses", "Other Expenses", ("Other Expense",), 1))
PNL_TYPES = frozenset(t for _, _, types, _ in PNL for t in types)
ASSETS = (("CurrentAssets", "Current Assets", (("BankAccounts", "Bank Accounts", ("Bank",)),
                                               ("AR", "Accounts Receivable", ("Accounts Receivable",)),
                                               ("OtherCurrentAssets", "Other Current Assets",
                                                ("Other Current Asset",)))),
          ("FixedAssets", "Fixed Assets", (("", "", ("Fixed Asset",)),)),
          ("OtherAssets", "Other Assets", (("", "", ("Other Asset",)),)))
LIABILITIES = (("CurrentLiabilities", "Current Liabilities",
                (("AP", "Accounts Payable", ("Accounts Payable",)), ("CreditCards", "Credit Cards", ("Credit Card",)),
                 ("OtherCurrentLiabilities", "Other Current Liabilities", ("Other Current Liability",)))),
               ("LongTermLiabilities", "Long-Term Liabilities", (("", "", ("Long Term Liability",)),)))


class ReportError(ValueError):
    """A bad report request (HTTP 400 ValidationFault)."""


def money(c: int) -> str:
    return f"{c / 100:.2f}"


def _cells(*values: str) -> list[Json]:
    return [{"value": v} for v in values]


def _month_ends(start: date, end: date) -> list[tuple[date, date]]:
    out, d = [], start
    while d <= end:
        nxt = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
        out.append((d, min(end, nxt - timedelta(days=1))))
        d = nxt
    return out


def _date(params: Mapping[str, str], key: str, default: date) -> date:
    text = params.get(key)
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(f"Invalid {key} '{text}': use YYYY-MM-DD") from None


class Reports:
    def __init__(self, ledger: Ledger, today: Callable[[], date], currency: str = "USD") -> None:
        self.ledger = ledger
        self.today = today
        self.currency = currency

    # ---- parameters and envelope -------------------------------------------------------------
    def _range(self, params: Mapping[str, str]) -> tuple[date, date]:
        today = self.today()
        macro = (params.get("date_macro") or "").strip().lower()
        first = today.replace(day=1)
        macros = {"today": (today, today), "this month": (first, today), "this month-to-date": (first, today),
                  "last month": ((first - timedelta(days=1)).replace(day=1), first - timedelta(days=1)),
                  "this fiscal year": (date(today.year, 1, 1), date(today.year, 12, 31)),
                  "this fiscal year-to-date": (date(today.year, 1, 1), today),
                  "last fiscal year": (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))}
        if macro and macro not in macros:
            raise ReportError(f"Unsupported date_macro '{params['date_macro']}'")
        lo, hi = macros.get(macro, (date(today.year, 1, 1), today))  # default: this fiscal year-to-date
        start, end = _date(params, "start_date", lo), _date(params, "end_date", hi)
        if end < start:
            raise ReportError("end_date is before start_date")
        return start, end

    @staticmethod
    def _basis(params: Mapping[str, str]) -> str:
        basis = (params.get("accounting_method") or "Accrual").capitalize()
        if basis not in ("Accrual", "Cash"):
            raise ReportError(f"Invalid accounting_method '{params['accounting_method']}': use Accrual or Cash")
        return basis

    def _header(self, name: str, basis: str | None, start: date | None, end: date, by: str, now: str,
                empty: bool) -> Json:
        h: Json = {"Time": now, "ReportName": name}
        if basis:
            h["ReportBasis"] = basis
        if start is not None:
            h["StartPeriod"] = start.isoformat()
        h["EndPeriod"] = end.isoformat()
        h.update({"SummarizeColumnsBy": by, "Currency": self.currency,
                  "Option": [{"Name": "AccountingStandard", "Value": "GAAP"},
                             {"Name": "NoReportData", "Value": "true" if empty else "false"}]})
        return h

    def _acct_cell(self, aid: str) -> Json:
        return {"value": str(self.ledger.account(aid).get("Name", aid)), "id": aid}

    def _type(self, aid: str) -> str:
        return str(self.ledger.account(aid).get("AccountType", ""))

    def run(self, name: str, params: Mapping[str, str], now: str) -> Json:
        if name not in REPORTS:
            raise ReportError(f"Report {name} is not supported by the emulator. Supported: {', '.join(REPORTS)}")
        built: Json = getattr(self, "_" + name)(params, now)
        return built

    # ---- sums ----------------------------------------------------------------------------------
    def _sums(self, basis: str, start: date | None, end: date) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.ledger.postings(basis, start, end):
            out[p.account] = out.get(p.account, 0) + p.amount
        return out

    def _pnl_rows(self, cols: list[dict[str, int]]) -> list[Json]:
        """P&L sections over per-column debit sums (the last column is the total)."""
        rows: list[Json] = []
        totals: dict[str, list[int]] = {}
        for group, title, types, sign in PNL:
            accts = sorted({a for c in cols for a, v in c.items() if v and self._type(a) in types}, key=int)
            tot = [sign * sum(c.get(a, 0) for a in accts) for c in cols]
            totals[group] = tot
            if accts:
                data = [{"ColData": [self._acct_cell(a), *_cells(*(money(sign * c.get(a, 0)) for c in cols))],
                         "type": "Data"} for a in accts]
                rows.append({"Header": {"ColData": _cells(title, *([""] * len(cols)))}, "Rows": {"Row": data},
                             "Summary": {"ColData": _cells(f"Total {title}", *map(money, tot))},
                             "type": "Section", "group": group})
            if group == "COGS":
                gross = [i - c for i, c in zip(totals["Income"], tot, strict=True)]
                totals["GrossProfit"] = gross
                rows.append(self._summary("GrossProfit", "Gross Profit", gross))
            if group == "Expenses":
                noi = [g - e for g, e in zip(totals["GrossProfit"], tot, strict=True)]
                totals["NetOperatingIncome"] = noi
                rows.append(self._summary("NetOperatingIncome", "Net Operating Income", noi))
        noth = [i - e for i, e in zip(totals["OtherIncome"], totals["OtherExpenses"], strict=True)]
        rows.append(self._summary("NetOtherIncome", "Net Other Income", noth))
        rows.append(self._summary("NetIncome", "Net Income",
                                  [a + b for a, b in zip(totals["NetOperatingIncome"], noth, strict=True)]))
        return rows

    @staticmethod
    def _summary(group: str, title: str, values: list[int]) -> Json:
        return {"Summary": {"ColData": _cells(title, *map(money, values))}, "type": "Section", "group": group}

    def _columns(self, first: tuple[str, str], periods: list[tuple[date, date]] | None,
                 total: str = "Total") -> Json:
        cols: list[Json] = [{"ColTitle": first[0], "ColType": first[1], "MetaData": [{"Name": "ColKey",
                                                                                      "Value": "account"}]}]
        for lo, hi in periods or []:
            title = lo.strftime("%b %Y")
            cols.append({"ColTitle": title, "ColType": "Money", "MetaData": [
                {"Name": "StartDate", "Value": lo.isoformat()}, {"Name": "EndDate", "Value": hi.isoformat()},
                {"Name": "ColKey", "Value": title}]})
        cols.append({"ColTitle": total, "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": "total"}]})
        return {"Column": cols}

    def _by(self, params: Mapping[str, str], start: date, end: date) -> tuple[str, list[tuple[date, date]] | None]:
        by = params.get("summarize_column_by") or "Total"
        if by not in ("Total", "Month"):
            raise ReportError(f"summarize_column_by={by} is not supported by the emulator (Total, Month)")
        return by, (_month_ends(start, end) if by == "Month" else None)

    # ---- the reports ---------------------------------------------------------------------------
    def _ProfitAndLoss(self, params: Mapping[str, str], now: str) -> Json:
        start, end = self._range(params)
        basis = self._basis(params)
        by, periods = self._by(params, start, end)
        cols = [self._sums(basis, lo, hi) for lo, hi in periods or []] + [self._sums(basis, start, end)]
        empty = not any(v for v in cols[-1].values())
        return {"Header": self._header("ProfitAndLoss", basis, start, end, by, now, empty),
                "Columns": self._columns(("", "Account"), periods), "Rows": {"Row": self._pnl_rows(cols)}}

    def balances(self, basis: str, as_of: date) -> dict[str, int]:
        """Balance-sheet debit balances as of a day: assets, liabilities and equity accounts, prior fiscal
        years' net income folded into Retained Earnings, and this fiscal year's net income under key ''."""
        fy = date(as_of.year, 1, 1)
        out: dict[str, int] = {}
        net_prior = 0
        net_now = 0
        for p in self.ledger.postings(basis, None, as_of):
            if self._type(p.account) in PNL_TYPES:
                if p.date < fy.isoformat():
                    net_prior += p.amount
                else:
                    net_now += p.amount
            else:
                out[p.account] = out.get(p.account, 0) + p.amount
        re_ref = self.ledger.b.account_ref("Retained Earnings")
        re_id = str(re_ref["value"]) if re_ref and self._type(str(re_ref["value"])) == "Equity" else "RE"
        out[re_id] = out.get(re_id, 0) + net_prior
        out[""] = net_now
        return out

    def _bs_group(self, cols: list[dict[str, int]], group: str, title: str,
                  parts: tuple[tuple[str, str, tuple[str, ...]], ...], sign: int) -> tuple[Json | None, list[int]]:
        rows: list[Json] = []
        for sub, sub_title, types in parts:
            accts = sorted({a for c in cols for a, v in c.items() if v and a not in ("", "RE")
                            and self._type(a) in types}, key=int)
            data = [{"ColData": [self._acct_cell(a), *_cells(*(money(sign * c.get(a, 0)) for c in cols))],
                     "type": "Data"} for a in accts]
            if not data:
                continue
            if sub:
                tot = [sign * sum(c.get(a, 0) for a in accts) for c in cols]
                rows.append({"Header": {"ColData": _cells(sub_title, *([""] * len(cols)))}, "Rows": {"Row": data},
                             "Summary": {"ColData": _cells(f"Total {sub_title}", *map(money, tot))},
                             "type": "Section", "group": sub})
            else:
                rows.extend(data)
        totals = [sum(_row_total(r, i) for r in rows) for i in range(len(cols))]
        if not rows:
            return None, totals
        return ({"Header": {"ColData": _cells(title, *([""] * len(cols)))}, "Rows": {"Row": rows},
                 "Summary": {"ColData": _cells(f"Total {title}", *map(money, totals))},
                 "type": "Section", "group": group}, totals)

    def _BalanceSheet(self, params: Mapping[str, str], now: str) -> Json:
        start, end = self._range(params)
        basis = self._basis(params)
        by, periods = self._by(params, start, end)
        cols = [self.balances(basis, hi) for _, hi in periods or []] + [self.balances(basis, end)]
        asset_rows, asset_tot = self._sections(cols, ASSETS, 1)
        liab_rows, liab_tot = self._sections(cols, LIABILITIES, -1)
        eq_accts = sorted({a for c in cols for a, v in c.items() if v and a not in ("", "RE")
                           and self._type(a) == "Equity"}, key=int)
        eq_data = [{"ColData": [self._acct_cell(a), *_cells(*(money(-c.get(a, 0)) for c in cols))], "type": "Data"}
                   for a in eq_accts]
        if any(c.get("RE") for c in cols):
            eq_data.append({"ColData": _cells("Retained Earnings", *(money(-c.get("RE", 0)) for c in cols)),
                            "type": "Data"})
        eq_data.append({"ColData": _cells("Net Income", *(money(-c[""]) for c in cols)), "type": "Data"})
        eq_tot = [-sum(v for a, v in c.items() if a in ("", "RE") or self._type(a) == "Equity") for c in cols]
        liabilities = {"Header": {"ColData": _cells("Liabilities", *([""] * len(cols)))},
                       "Rows": {"Row": liab_rows},
                       "Summary": {"ColData": _cells("Total Liabilities", *map(money, liab_tot))},
                       "type": "Section", "group": "Liabilities"}
        equity = {"Header": {"ColData": _cells("Equity", *([""] * len(cols)))}, "Rows": {"Row": eq_data},
                  "Summary": {"ColData": _cells("Total Equity", *map(money, eq_tot))}, "type": "Section",
                  "group": "Equity"}
        rows = [{"Header": {"ColData": _cells("ASSETS", *([""] * len(cols)))}, "Rows": {"Row": asset_rows},
                 "Summary": {"ColData": _cells("TOTAL ASSETS", *map(money, asset_tot))}, "type": "Section",
                 "group": "TotalAssets"},
                {"Header": {"ColData": _cells("LIABILITIES AND EQUITY", *([""] * len(cols)))},
                 "Rows": {"Row": [liabilities, equity]},
                 "Summary": {"ColData": _cells("TOTAL LIABILITIES AND EQUITY",
                                               *(money(a + b) for a, b in zip(liab_tot, eq_tot, strict=True)))},
                 "type": "Section", "group": "TotalLiabilitiesAndEquity"}]
        empty = not any(v for v in cols[-1].values())
        return {"Header": self._header("BalanceSheet", basis, start, end, by, now, empty),
                "Columns": self._columns(("", "Account"), periods), "Rows": {"Row": rows}}

    def _sections(self, cols: list[dict[str, int]], spec: Any, sign: int) -> tuple[list[Json], list[int]]:
        rows: list[Json] = []
        totals = [0] * len(cols)
        for group, title, parts in spec:
            sec, tot = self._bs_group(cols, group, title, parts, sign)
            if sec is not None:
                rows.append(sec)
                totals = [a + b for a, b in zip(totals, tot, strict=True)]
        return rows, totals

    def _TrialBalance(self, params: Mapping[str, str], now: str) -> Json:
        start, end = self._range(params)
        basis = self._basis(params)
        bal = self.balances(basis, end)
        net_now = bal.pop("")
        fy = date(end.year, 1, 1)
        for a, v in self._sums(basis, fy, end).items():
            if self._type(a) in PNL_TYPES:
                bal[a] = bal.get(a, 0) + v
        del net_now  # the P&L accounts of this fiscal year stand in for its net income: debits = credits
        rows = []
        debit = credit = 0
        for a in sorted((a for a, v in bal.items() if v), key=lambda a: (a == "RE", int(a) if a.isdigit() else 0)):
            v = bal[a]
            debit += max(v, 0)
            credit += max(-v, 0)
            cell = self._acct_cell(a) if a != "RE" else {"value": "Retained Earnings"}
            rows.append({"ColData": [cell, *_cells(money(v) if v > 0 else "", money(-v) if v < 0 else "")],
                         "type": "Data"})
        cols = self._detail_cols((("", "Account", "account"), ("Debit", "Money", "Debit"),
                                  ("Credit", "Money", "Credit")))
        return {"Header": self._header("TrialBalance", basis, start, end, "Total", now, not rows), "Columns": cols,
                "Rows": {"Row": [*rows, {"Summary": {"ColData": _cells("TOTAL", money(debit), money(credit))},
                                         "type": "Section", "group": "GrandTotal"}]}}

    def _detail_cols(self, spec: tuple[tuple[str, str, str], ...]) -> Json:
        return {"Column": [{"ColTitle": t, "ColType": ct, "MetaData": [{"Name": "ColKey", "Value": k}]}
                           for t, ct, k in spec]}

    def _GeneralLedger(self, params: Mapping[str, str], now: str) -> Json:
        start, end = self._range(params)
        basis = self._basis(params)
        by_acct: dict[str, list[Posting]] = {}
        for p in self.ledger.postings(basis, start, end):
            by_acct.setdefault(p.account, []).append(p)
        sections = []
        for a in sorted(by_acct, key=int):
            ps = sorted(by_acct[a], key=lambda p: (p.date, p.entity, int(p.txn_id)))
            run = 0
            data = []
            for p in ps:
                run += p.amount
                data.append({"ColData": [{"value": p.date}, {"value": p.entity, "id": p.txn_id}, {"value": p.doc},
                                         {"value": p.name}, {"value": money(p.amount)}, {"value": money(run)}],
                             "type": "Data"})
            name = self._acct_cell(a)
            sections.append({"Header": {"ColData": [name, *_cells("", "", "", "", "")]}, "Rows": {"Row": data},
                             "Summary": {"ColData": _cells(f"Total for {name['value']}", "", "", "", money(run), "")},
                             "type": "Section"})
        cols = self._detail_cols((("Date", "Date", "tx_date"), ("Transaction Type", "String", "txn_type"),
                                  ("No.", "String", "doc_num"), ("Name", "String", "name"),
                                  ("Amount", "Money", "subt_nat_amount"), ("Balance", "Money", "rbal_nat_amount")))
        return {"Header": self._header("GeneralLedger", basis, start, end, "Total", now, not sections),
                "Columns": cols, "Rows": {"Row": sections}}

    def _TransactionList(self, params: Mapping[str, str], now: str) -> Json:
        start, end = self._range(params)
        basis = self._basis(params)
        txns: dict[tuple[str, str], list[Posting]] = {}
        for p in self.ledger.postings(basis, start, end):
            txns.setdefault((p.entity, p.txn_id), []).append(p)
        rows = []
        for (entity, tid), ps in sorted(txns.items(), key=lambda kv: (kv[1][0].date, kv[0][0], int(kv[0][1]))):
            main = max(ps, key=lambda p: (p.amount, -int(p.account)))
            rows.append({"ColData": [{"value": ps[0].date}, {"value": entity, "id": tid}, {"value": ps[0].doc},
                                     {"value": ps[0].name}, self._acct_cell(main.account),
                                     {"value": money(sum(p.amount for p in ps if p.amount > 0))}], "type": "Data"})
        cols = self._detail_cols((("Date", "Date", "tx_date"), ("Transaction Type", "String", "txn_type"),
                                  ("No.", "String", "doc_num"), ("Name", "String", "name"),
                                  ("Account", "String", "account_name"), ("Amount", "Money", "subt_nat_amount")))
        return {"Header": self._header("TransactionList", basis, start, end, "Total", now, not rows),
                "Columns": cols, "Rows": {"Row": rows}}

    def _aged(self, entity: str, name: str, params: Mapping[str, str], now: str) -> Json:
        as_of = _date(params, "report_date", _date(params, "end_date", self.today()))
        buckets = ("Current", "1 - 30", "31 - 60", "61 - 90", "91 and over")
        per: dict[str, tuple[str, list[int]]] = {}
        for item in self.ledger.open_items(entity, as_of):
            late = (as_of - date.fromisoformat(item.due)).days
            i = 0 if late <= 0 else 1 if late <= 30 else 2 if late <= 60 else 3 if late <= 90 else 4
            row = per.setdefault(item.party, (item.party_name, [0] * 5))[1]
            row[i] += item.balance
        rows = [{"ColData": [{"value": nm, "id": pid}, *_cells(*map(money, vals), money(sum(vals)))], "type": "Data"}
                for pid, (nm, vals) in sorted(per.items(), key=lambda kv: kv[1][0])]
        tot = [sum(v[1][i] for v in per.values()) for i in range(5)]
        cols = {"Column": [{"ColTitle": "", "ColType": "Customer" if entity == "Invoice" else "Vendor",
                            "MetaData": [{"Name": "ColKey", "Value": "name"}]},
                           *({"ColTitle": b, "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": str(i)}]}
                             for i, b in enumerate(buckets)),
                           {"ColTitle": "Total", "ColType": "Money",
                            "MetaData": [{"Name": "ColKey", "Value": "total"}]}]}
        header = self._header(name, None, None, as_of, "Total", now, not rows)
        header["ReportDate"] = as_of.isoformat()
        return {"Header": header, "Columns": cols,
                "Rows": {"Row": [*rows, {"Summary": {"ColData": _cells("TOTAL", *map(money, tot), money(sum(tot)))},
                                         "type": "Section", "group": "GrandTotal"}]}}

    def _AgedReceivables(self, params: Mapping[str, str], now: str) -> Json:
        return self._aged("Invoice", "AgedReceivables", params, now)

    def _AgedPayables(self, params: Mapping[str, str], now: str) -> Json:
        return self._aged("Bill", "AgedPayables", params, now)


def _row_total(row: Json, i: int) -> int:
    cells = (row.get("Summary") or row)["ColData"]
    return round(float(cells[i + 1]["value"] or 0) * 100)
