"""The one posting function behind every report: each served transaction -> debit/credit lines per account,
on the accrual and the cash basis. Reports only sum these lines, so they are what the records the query
API serves add up to.

Amounts are integer cents of the home currency (USD), debit positive: a foreign-currency transaction's
amounts are converted line by line with its `ExchangeRate`, `round(amount * rate * 100)`. Rules (accrual):
- Invoice: Dr A/R (sum of credits); Cr each sales line's item income account (`Services` without an item),
  Cr sales tax (`TxnTaxDetail.TotalTax`) to `Board of Equalization Payable`. SalesReceipt: the same with
  Dr `DepositToAccountRef`. CreditMemo / RefundReceipt: the reverse (Cr A/R / Cr `DepositToAccountRef`).
- Payment: Dr `DepositToAccountRef`, Cr A/R. BillPayment: Dr `APAccountRef`, Cr `CheckPayment.BankAccountRef`.
- Bill / Purchase: Dr each expense line's `AccountRef`, Cr `APAccountRef` / `AccountRef`. VendorCredit: reverse.
- Deposit: Dr `DepositToAccountRef`, Cr each line's `DepositLineDetail.AccountRef`. JournalEntry: its lines.
  Transfer: Dr `ToAccountRef`, Cr `FromAccountRef`. CreditCardPayment: Dr card account, Cr bank account.
- Estimate, PurchaseOrder, TimeActivity: no postings.
Cash basis: Invoice, CreditMemo, Bill, VendorCredit post nothing; a Payment credits its linked invoice's
income and tax accounts pro rata (up to the invoice's total; the rest, and an unlinked payment, to A/R); a
BillPayment debits its linked bill's expense accounts the same way (the rest to A/P). Everything else as on
the accrual basis. A transaction with a line whose account is missing (a chart too small) is skipped.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from qbo_ingest.local.emulator.payload_json import Raw
from qbo_ingest.local.emulator.payloads import Builder
from qbo_ingest.local.emulator.records import Rec
from qbo_ingest.local.emulator.store import Store

Json = dict[str, Any]
POSTING_ENTITIES = ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt", "Payment", "Bill", "BillPayment",
                    "VendorCredit", "Purchase", "Deposit", "JournalEntry", "Transfer", "CreditCardPayment")
# The payload keys the posting function reads (the rest of a record is never materialised).
_NEEDED = frozenset({"Id", "TxnDate", "ExchangeRate", "DocNumber", "Line", "TxnTaxDetail", "TotalAmt", "Amount",
                     "Balance", "DueDate", "Credit", "CustomerRef", "VendorRef", "EntityRef", "DepositToAccountRef",
                     "APAccountRef", "AccountRef", "CheckPayment", "FromAccountRef", "ToAccountRef",
                     "CreditCardAccountRef", "BankAccountRef"})
AR, AP, TAX, DEFAULT_INCOME = "Accounts Receivable (A/R)", "Accounts Payable (A/P)", \
    "Board of Equalization Payable", "Services"


def cents(x: Any, rate: float = 1.0) -> int:
    """Home-currency cents of an amount in a transaction's currency (`ExchangeRate` to USD)."""
    return round(float(x) * rate * 100)


def _rate(obj: Json) -> float:
    return float(obj.get("ExchangeRate", 1) or 1)


@dataclass(frozen=True)
class Posting:
    date: str  # TxnDate
    account: str  # Account Id
    amount: int  # cents, debit positive
    entity: str
    txn_id: str
    doc: str
    name: str


@dataclass(frozen=True)
class OpenItem:
    """An invoice or bill with its served open balance (for the aging reports)."""

    entity: str
    txn_id: str
    date: str
    due: str
    party: str  # customer/vendor Id
    party_name: str
    balance: int


def _ref(obj: Any, key: str) -> str | None:
    v = obj.get(key) if isinstance(obj, dict) else None
    return str(v["value"]) if isinstance(v, dict) and v.get("value") else None


class Ledger:
    """Postings of the live transactions, cached per (entity, creation day) and data version."""

    def __init__(self, store: Store, builder: Builder) -> None:
        self.store = store
        self.b = builder
        self._lock = threading.Lock()
        self._version = -1
        self._days: dict[tuple[str, int], tuple[list[Posting], list[Posting], list[OpenItem]]] = {}
        self._items: dict[str, str | None] = {}
        self._accounts: dict[str, Json] = {}
        self._lines: dict[int, tuple[Raw, Any]] = {}  # parsed line templates by identity (they live in the pool)

    # ---- lookups -----------------------------------------------------------------------------
    def _fixed(self, name: str) -> str | None:
        ref = self.b.account_ref(name)
        return str(ref["value"]) if ref else None

    def account(self, aid: str) -> Json:
        """The served Account record (Name, AccountType, Classification) of an Id."""
        got = self._accounts.get(aid)
        if got is None:
            rec = self.store.get("Account", int(aid))
            got = self.b.build("Account", rec) if rec is not None else {"Id": aid, "Name": f"Account {aid}",
                                                                         "AccountType": "Expense"}
            self._accounts[aid] = got
        return got

    def _income_of(self, item: str | None) -> str | None:
        if item is None:
            return self._fixed(DEFAULT_INCOME)
        if item not in self._items:
            rec = self.store.get("Item", int(item))
            obj = self.b.build("Item", rec) if rec is not None else {}
            self._items[item] = _ref(obj, "IncomeAccountRef") or self._fixed(DEFAULT_INCOME)
        return self._items[item]

    def _payload(self, entity: str, tid: str | None) -> Json | None:
        if tid is None or not tid.isdigit():
            return None
        rec = self.store.get(entity, int(tid))
        return None if rec is None or rec.deleted is not None else self.fields(entity, rec)

    def fields(self, entity: str, rec: Rec) -> Json:
        """The record's payload as `Builder.build` gives it, limited to the keys postings read (several times
        cheaper: pooled line arrays are parsed once)."""
        out: Json = {}
        for k, v in self.b._obj(entity, rec).items():
            if v is None or k not in _NEEDED:
                continue
            if isinstance(v, Raw):
                if k == "Line":
                    got = self._lines.get(id(v))
                    if got is None or got[0] is not v:
                        got = self._lines[id(v)] = (v, json.loads(v))
                    v = got[1]
                else:
                    v = json.loads(v)
            out[k] = v
        return out

    # ---- the posting function --------------------------------------------------------------------
    def _sales_credits(self, obj: Json) -> list[tuple[str | None, int]]:
        out: list[tuple[str | None, int]] = []
        rate = _rate(obj)
        for line in obj.get("Line") or []:
            if line.get("DetailType") == "SalesItemLineDetail":
                out.append((self._income_of(_ref(line["SalesItemLineDetail"], "ItemRef")),
                            -cents(line["Amount"], rate)))
        tax = cents((obj.get("TxnTaxDetail") or {}).get("TotalTax", 0), rate)
        if tax:
            out.append((self._fixed(TAX), -tax))
        return out

    def _expense_debits(self, obj: Json) -> list[tuple[str | None, int]]:
        out: list[tuple[str | None, int]] = []
        rate = _rate(obj)
        for line in obj.get("Line") or []:
            kind = line.get("DetailType")
            if kind in ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail"):
                out.append((_ref(line[kind], "AccountRef"), cents(line["Amount"], rate)))
        return out

    def lines(self, entity: str, obj: Json, basis: str) -> list[tuple[str | None, int]]:
        """Debit/credit lines (account Id, cents) of one transaction on one basis; they sum to zero."""
        cash = basis == "Cash"
        if entity in ("Invoice", "SalesReceipt", "CreditMemo", "RefundReceipt"):
            if cash and entity in ("Invoice", "CreditMemo"):
                return []
            credits = self._sales_credits(obj)
            total = -sum(a for _, a in credits)
            target = self._fixed(AR) if entity in ("Invoice", "CreditMemo") else _ref(obj, "DepositToAccountRef")
            out = [(target, total), *credits]
            return [(acc, -amt) for acc, amt in out] if entity in ("CreditMemo", "RefundReceipt") else out
        if entity in ("Bill", "Purchase", "VendorCredit"):
            if cash and entity in ("Bill", "VendorCredit"):
                return []
            debits = self._expense_debits(obj)
            source = _ref(obj, "APAccountRef") if entity != "Purchase" else _ref(obj, "AccountRef")
            out = [*debits, (source, -sum(a for _, a in debits))]
            reverse = entity == "VendorCredit" or (entity == "Purchase" and obj.get("Credit") is True)
            return [(acc, -amt) for acc, amt in out] if reverse else out
        if entity == "Payment":
            amount = cents(obj.get("TotalAmt", 0), _rate(obj))
            rest = [(self._fixed(AR), -amount)]
            if cash:
                rest = self._allocate(obj, "Invoice", amount, self._fixed(AR), credit=True)
            return [(_ref(obj, "DepositToAccountRef"), amount), *rest]
        if entity == "BillPayment":
            amount = cents(obj.get("TotalAmt", 0), _rate(obj))
            ap = _ref(obj, "APAccountRef")
            first = [(ap, amount)] if not cash else self._allocate(obj, "Bill", amount, ap, credit=False)
            return [*first, (_ref(obj.get("CheckPayment") or {}, "BankAccountRef"), -amount)]
        if entity == "Deposit":
            credits = [(_ref(line.get("DepositLineDetail") or {}, "AccountRef"), -cents(line["Amount"]))
                       for line in obj.get("Line") or [] if line.get("DetailType") == "DepositLineDetail"]
            return [(_ref(obj, "DepositToAccountRef"), -sum(a for _, a in credits)), *credits]
        if entity == "JournalEntry":
            out = []
            for line in obj.get("Line") or []:
                d = line.get("JournalEntryLineDetail") or {}
                sign = 1 if d.get("PostingType") == "Debit" else -1
                out.append((_ref(d, "AccountRef"), sign * cents(line["Amount"])))
            return out
        if entity == "Transfer":
            amt = cents(obj.get("Amount", 0))
            return [(_ref(obj, "ToAccountRef"), amt), (_ref(obj, "FromAccountRef"), -amt)]
        if entity == "CreditCardPayment":
            amt = cents(obj.get("Amount", 0))
            return [(_ref(obj, "CreditCardAccountRef"), amt), (_ref(obj, "BankAccountRef"), -amt)]
        return []

    def _allocate(self, obj: Json, linked_type: str, amount: int, fallback: str | None,
                  *, credit: bool) -> list[tuple[str | None, int]]:
        """Cash basis: spread a payment over its linked document's income (or expense) lines, pro rata, up to
        the document's total; the rest goes to A/R (A/P). Signs: credits for a Payment, debits for a BillPayment."""
        sign = -1 if credit else 1
        linked = None
        for line in obj.get("Line") or []:
            for lt in line.get("LinkedTxn") or []:
                if lt.get("TxnType") == linked_type:
                    linked = self._payload(linked_type, str(lt.get("TxnId")))
                    break
        if linked is None:
            return [(fallback, sign * amount)]
        parts = [(acc, abs(a)) for acc, a in (self._sales_credits(linked) if credit else self._expense_debits(linked))]
        total = sum(a for _, a in parts)
        if total <= 0:
            return [(fallback, sign * amount)]
        applied = min(amount, total)
        out: list[tuple[str | None, int]] = []
        left = applied
        for i, (acc, a) in enumerate(parts):
            share = left if i == len(parts) - 1 else applied * a // total
            left -= share
            out.append((acc, sign * share))
        if amount > applied:
            out.append((fallback, sign * (amount - applied)))
        return out

    # ---- per day, cached ---------------------------------------------------------------------------
    def _day(self, entity: str, d: int) -> tuple[list[Posting], list[Posting], list[OpenItem]]:
        with self._lock:
            if self._version != self.store.version:
                self._days.clear()
                self._accounts.clear()
                self._version = self.store.version
            got = self._days.get((entity, d))
        if got is not None:
            return got
        accrual: list[Posting] = []
        cash: list[Posting] = []
        items: list[OpenItem] = []
        for base in self.store.day_data(entity, d).recs:
            rec = self.store.get(entity, base.id)
            if rec is None or rec.deleted is not None:
                continue
            self._post(entity, rec, accrual, cash, items)
        got = (accrual, cash, items)
        with self._lock:
            if len(self._days) > 50_000:
                self._days.clear()
            self._days[(entity, d)] = got
        return got

    def _post(self, entity: str, rec: Rec, accrual: list[Posting], cash: list[Posting],
              items: list[OpenItem]) -> None:
        obj = self.fields(entity, rec)
        party = obj.get("CustomerRef") or obj.get("VendorRef") or (obj.get("EntityRef") or {})
        name = str(party.get("name", "")) if isinstance(party, dict) else ""
        for basis, out in (("Accrual", accrual), ("Cash", cash)):
            lines = self.lines(entity, obj, basis)
            if any(acc is None for acc, _ in lines):
                return  # a chart without the account: the transaction is left out of every report
            merged: dict[str, int] = {}
            for acc, amt in lines:
                merged[str(acc)] = merged.get(str(acc), 0) + amt
            out.extend(Posting(obj["TxnDate"], acc, amt, entity, obj["Id"], str(obj.get("DocNumber", "")), name)
                       for acc, amt in merged.items() if amt)
        if entity in ("Invoice", "Bill") and cents(obj.get("Balance", 0), _rate(obj)) > 0:
            items.append(OpenItem(entity, obj["Id"], obj["TxnDate"], str(obj.get("DueDate", obj["TxnDate"])),
                                  _ref(obj, "CustomerRef" if entity == "Invoice" else "VendorRef") or "",
                                  name, cents(obj["Balance"], _rate(obj))))

    def _days_for(self, start: date | None, end: date) -> Iterator[int]:
        """Creation days whose records may carry a TxnDate within [start, end] (TxnDate is the Pacific date
        of creation, so one day of margin on each side)."""
        vol = self.store.vol
        lo = 0 if start is None else max(0, vol.index(start) - 1)
        hi = min(vol.ndays - 1, vol.index(end) + 1)
        return iter(range(lo, hi + 1))

    def postings(self, basis: str, start: date | None, end: date) -> list[Posting]:
        """Every posting with start <= TxnDate <= end (start None: from the beginning)."""
        lo, hi = (start.isoformat() if start else ""), end.isoformat()
        out: list[Posting] = []
        for entity in POSTING_ENTITIES:
            for d in self._days_for(start, end):
                acc, cash, _ = self._day(entity, d)
                out.extend(p for p in (cash if basis == "Cash" else acc) if lo <= p.date <= hi)
        return out

    def open_items(self, entity: str, as_of: date) -> list[OpenItem]:
        hi = as_of.isoformat()
        return [i for d in self._days_for(None, as_of) for i in self._day(entity, d)[2] if i.date <= hi]

