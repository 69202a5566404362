"""Payloads of transactions (Invoice, Bill, Payment, ...), referencing existing list records."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qbo_ingest.local.emulator.payload_json import USD_RAW, Raw, RawRef
from qbo_ingest.local.emulator.rand import ch, ri
from qbo_ingest.local.emulator.records import Rec

if TYPE_CHECKING:
    from qbo_ingest.local.emulator.payloads import Builder

Json = dict[str, Any]
USD = {"value": "USD", "name": "United States Dollar"}
_MEMO = Raw('{"value":"Thank you for your business!"}')


def fx(b: Builder, out: Json, party: str, key: str | None = None) -> Json:
    """Multi-currency: a transaction with a foreign-currency customer/vendor carries that CurrencyRef, its
    ExchangeRate to USD and HomeTotalAmt (amounts stay in the transaction's currency)."""
    ref = out.get(key or f"{party}Ref")
    rid = ref.rid if isinstance(ref, RawRef) else int(ref["value"]) if isinstance(ref, dict) else 0
    cur = b.currency_of(party, rid) if rid else None
    if cur is not None:
        out["CurrencyRef"], out["ExchangeRate"] = cur
        total = out.get("TotalAmt")
        if total is not None:
            out["HomeTotalAmt"] = round(total * cur[1], 2)
    return out


def _sales_lines(b: Builder, rng: random.Random) -> tuple[list[Json], float]:
    lines: list[Json] = []
    total = 0.0
    for i in range(ri(rng, 1, 4)):
        item = b.ref("Item", rng)
        qty = ri(rng, 1, 10)
        price = float(ri(rng, 5, 400))
        amount = round(qty * price, 2)
        total += amount
        detail: Json = {"UnitPrice": price, "Qty": qty, "TaxCodeRef": {"value": ch(rng, ("TAX", "NON"))}}
        if item:
            detail["ItemRef"] = item
        lines.append({"Id": str(i + 1), "LineNum": i + 1, "Description": item["name"] if item else "Services",
                      "Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail})
    total = round(total, 2)
    lines.append({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    return lines, total


def _sales_common(b: Builder, rec: Rec, rng: random.Random) -> tuple[Json, float]:
    lines, subtotal = b.template("sales", _sales_lines, rng)
    tax = round(subtotal * 0.08, 2) if rng.random() < 0.6 else 0.0
    total = round(subtotal + tax, 2)
    customer = b.ref_raw("Customer", rng)
    out: Json = {
        "DocNumber": str(1000 + rec.id % 1_000_000 + 10_000 * (rec.id // 1_000_000)),
        "TxnDate": b.txn_date(rec), "CurrencyRef": USD_RAW, "CustomerRef": customer, "Line": lines,
        "TxnTaxDetail": Raw(f'{{"TxnTaxCodeRef":{{"value":"2"}},"TotalTax":{tax}}}' if tax else '{"TotalTax":0}'),
        "TotalAmt": total, "ApplyTaxAfterDiscount": False, "PrintStatus": ch(rng, ("NeedToPrint", "NotSet")),
        "EmailStatus": ch(rng, ("NotSet", "EmailSent", "NeedToSend")),
        "BillAddr": b.address_raw(rng), "CustomerMemo": _MEMO if rng.random() < 0.3 else None,
        "BillEmail": b.email_raw(b.name_of("Customer", customer.rid)) if customer else None,
        "CustomField": b.custom_fields_raw(rng),
    }
    return fx(b, out, "Customer"), total


def invoice(b: Builder, rec: Rec, rng: random.Random) -> Json:
    out, total = _sales_common(b, rec, rng)
    paid = rng.random() < 0.4
    out.update({"DueDate": b.plus_days(out["TxnDate"], 30), "SalesTermRef": b.ref_raw("Term", rng),
                "Balance": 0 if paid else total, "Deposit": 0, "AllowOnlineCreditCardPayment": False,
                "AllowOnlineACHPayment": False})
    if "ExchangeRate" in out:
        out["HomeBalance"] = round(out["Balance"] * out["ExchangeRate"], 2)
    return out


def estimate(b: Builder, rec: Rec, rng: random.Random) -> Json:
    out, _ = _sales_common(b, rec, rng)
    out.update({"ExpirationDate": b.plus_days(out["TxnDate"], 30),
                "TxnStatus": ch(rng, ("Pending", "Accepted", "Closed", "Rejected"))})
    return out


def sales_receipt(b: Builder, rec: Rec, rng: random.Random) -> Json:
    out, _ = _sales_common(b, rec, rng)
    out.update({"Balance": 0, "PaymentMethodRef": b.ref("PaymentMethod", rng),
                "DepositToAccountRef": b.account_ref("Undeposited Funds")})
    return out


def credit_memo(b: Builder, rec: Rec, rng: random.Random) -> Json:
    out, total = _sales_common(b, rec, rng)
    out.update({"RemainingCredit": total if rng.random() < 0.5 else 0, "Balance": total})
    return out


def refund_receipt(b: Builder, rec: Rec, rng: random.Random) -> Json:
    out, _ = _sales_common(b, rec, rng)
    out.update({"Balance": 0, "PaymentMethodRef": b.ref("PaymentMethod", rng),
                "DepositToAccountRef": b.account_ref("Checking")})
    return out


def payment(b: Builder, rec: Rec, rng: random.Random) -> Json:
    amount = round(rng.uniform(20, 3000), 2)
    inv = b.txn_id("Invoice", rec.day, rng) or b.txn_id("Invoice", max(0, rec.day - 1), rng)
    lines = [{"Amount": amount, "LinkedTxn": [{"TxnId": inv, "TxnType": "Invoice"}]}] if inv else []
    return fx(b, {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "CustomerRef": b.ref("Customer", rng),
            "DepositToAccountRef": b.account_ref("Undeposited Funds"), "TotalAmt": amount,
            "UnappliedAmt": 0 if lines else amount, "ProcessPayment": False, "Line": lines or None,
            "PaymentMethodRef": b.ref("PaymentMethod", rng), "PaymentRefNum": str(ri(rng, 1000, 99999))}, "Customer")


def _expense_lines(b: Builder, rng: random.Random) -> tuple[list[Json], float]:
    lines: list[Json] = []
    total = 0.0
    for i in range(ri(rng, 1, 3)):
        amount = round(rng.uniform(10, 2000), 2)
        total += amount
        acc = b.account_ref(ch(rng, ("Advertising", "Office Expenses", "Utilities", "Rent or Lease",
                                        "Repair & Maintenance", "Job Expenses")))
        detail: Json = {"BillableStatus": "NotBillable", "TaxCodeRef": {"value": "NON"}}
        if acc:
            detail["AccountRef"] = acc
        lines.append({"Id": str(i + 1), "LineNum": i + 1, "Amount": amount,
                      "DetailType": "AccountBasedExpenseLineDetail", "AccountBasedExpenseLineDetail": detail})
    return lines, round(total, 2)


def bill(b: Builder, rec: Rec, rng: random.Random) -> Json:
    lines, total = b.template("expense", _expense_lines, rng)
    txn_date = b.txn_date(rec)
    return fx(b, {"TxnDate": txn_date, "DueDate": b.plus_days(txn_date, 30), "CurrencyRef": USD,
            "VendorRef": b.ref("Vendor", rng), "APAccountRef": b.account_ref("Accounts Payable (A/P)"),
            "SalesTermRef": b.ref("Term", rng), "Line": lines, "TotalAmt": total,
            "Balance": total if rng.random() < 0.5 else 0, "DocNumber": str(ri(rng, 100, 99999))}, "Vendor")


def bill_payment(b: Builder, rec: Rec, rng: random.Random) -> Json:
    amount = round(rng.uniform(20, 3000), 2)
    linked = b.txn_id("Bill", rec.day, rng)
    return fx(b, {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "VendorRef": b.ref("Vendor", rng),
            "PayType": "Check", "TotalAmt": amount, "DocNumber": str(ri(rng, 1, 9999)),
            "CheckPayment": {"BankAccountRef": b.account_ref("Checking"), "PrintStatus": "NotSet"},
            "APAccountRef": b.account_ref("Accounts Payable (A/P)"),
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": linked, "TxnType": "Bill"}]}] if linked else None},
              "Vendor")


def vendor_credit(b: Builder, rec: Rec, rng: random.Random) -> Json:
    lines, total = b.template("expense", _expense_lines, rng)
    return fx(b, {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "VendorRef": b.ref("Vendor", rng),
            "APAccountRef": b.account_ref("Accounts Payable (A/P)"), "Line": lines, "TotalAmt": total,
            "Balance": total}, "Vendor")


def purchase(b: Builder, rec: Rec, rng: random.Random) -> Json:
    lines, total = b.template("expense", _expense_lines, rng)
    kind = ch(rng, ("Cash", "Check", "CreditCard"))
    account = b.account_ref("Mastercard" if kind == "CreditCard" else "Checking")
    vendor = b.ref("Vendor", rng)
    return fx(b, {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "PaymentType": kind, "AccountRef": account,
            "EntityRef": dict(vendor, type="Vendor") if vendor else None, "Line": lines, "TotalAmt": total,
            "Credit": False if kind == "CreditCard" else None,
            "DocNumber": str(ri(rng, 1, 9999)) if kind == "Check" else None}, "Vendor", "EntityRef")


def _po_lines(b: Builder, rng: random.Random) -> tuple[list[Json], float]:
    lines: list[Json] = []
    total = 0.0
    for i in range(ri(rng, 1, 3)):
        qty = ri(rng, 1, 50)
        cost = float(ri(rng, 2, 150))
        amount = round(qty * cost, 2)
        total += amount
        detail: Json = {"Qty": qty, "UnitPrice": cost, "BillableStatus": "NotBillable",
                        "TaxCodeRef": {"value": "NON"}}
        item = b.ref("Item", rng)
        if item:
            detail["ItemRef"] = item
        lines.append({"Id": str(i + 1), "LineNum": i + 1, "Amount": amount,
                      "DetailType": "ItemBasedExpenseLineDetail", "ItemBasedExpenseLineDetail": detail})
    return lines, round(total, 2)


def purchase_order(b: Builder, rec: Rec, rng: random.Random) -> Json:
    lines, total = b.template("po", _po_lines, rng)
    return fx(b, {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "VendorRef": b.ref("Vendor", rng),
            "APAccountRef": b.account_ref("Accounts Payable (A/P)"), "Line": lines,
            "TotalAmt": total, "POStatus": ch(rng, ("Open", "Closed")),
            "EmailStatus": "NotSet", "DocNumber": str(ri(rng, 1000, 99999)), "ShipAddr": b.address(rng),
            "CustomField": b.custom_fields_raw(rng)}, "Vendor")


def _deposit_lines(b: Builder, rng: random.Random) -> tuple[list[Json], float]:
    lines: list[Json] = []
    total = 0.0
    for i in range(ri(rng, 1, 3)):
        amount = round(rng.uniform(50, 5000), 2)
        total += amount
        lines.append({"Id": str(i + 1), "LineNum": i + 1, "Amount": amount, "DetailType": "DepositLineDetail",
                      "DepositLineDetail": {"AccountRef": b.account_ref(ch(rng, ("Services", "Design income",
                                                                                    "Interest Earned")))}})
    return lines, round(total, 2)


def deposit(b: Builder, rec: Rec, rng: random.Random) -> Json:
    lines, total = b.template("deposit", _deposit_lines, rng)
    return {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "DepositToAccountRef": b.account_ref("Checking"),
            "Line": lines, "TotalAmt": total}


def _je_lines(b: Builder, rng: random.Random) -> tuple[list[Json], float]:
    amount = round(rng.uniform(10, 10000), 2)
    debit, credit = rng.sample(("Checking", "Savings", "Office Expenses", "Loan Payable", "Retained Earnings",
                                "Prepaid Expenses"), 2)
    lines = [
        {"Id": "0", "Description": "Adjustment", "Amount": amount, "DetailType": "JournalEntryLineDetail",
         "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": b.account_ref(debit)}},
        {"Id": "1", "Description": "Adjustment", "Amount": amount, "DetailType": "JournalEntryLineDetail",
         "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": b.account_ref(credit)}},
    ]
    return lines, amount


def journal_entry(b: Builder, rec: Rec, rng: random.Random) -> Json:
    lines, amount = b.template("journal", _je_lines, rng)
    return {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "Adjustment": False, "Line": lines,
            "TotalAmt": amount, "DocNumber": f"JE{rec.id % 1_000_000}"}


def time_activity(b: Builder, rec: Rec, rng: random.Random) -> Json:
    hours = ri(rng, 0, 8)
    rate = float(ch(rng, (40, 55, 75, 90, 120)))
    return {"TxnDate": b.txn_date(rec), "NameOf": "Employee", "EmployeeRef": b.ref("Employee", rng),
            "CustomerRef": b.ref("Customer", rng), "ItemRef": b.ref("Item", rng),
            "BillableStatus": ch(rng, ("Billable", "NotBillable", "HasBeenBilled")), "Taxable": False,
            "HourlyRate": rate, "Hours": hours, "Minutes": ch(rng, (0, 15, 30, 45)),
            "Description": ch(rng, b.pools.phrases)}


def transfer(b: Builder, rec: Rec, rng: random.Random) -> Json:
    src, dst = rng.sample(("Checking", "Savings", "Mastercard"), 2)
    return {"TxnDate": b.txn_date(rec), "CurrencyRef": USD, "FromAccountRef": b.account_ref(src),
            "ToAccountRef": b.account_ref(dst), "Amount": round(rng.uniform(100, 20000), 2)}


TXN_BUILDERS: dict[str, Callable[[Builder, Rec, random.Random], Json]] = {
    "Bill": bill,
    "BillPayment": bill_payment,
    "CreditMemo": credit_memo,
    "Deposit": deposit,
    "Estimate": estimate,
    "Invoice": invoice,
    "JournalEntry": journal_entry,
    "Payment": payment,
    "Purchase": purchase,
    "PurchaseOrder": purchase_order,
    "RefundReceipt": refund_receipt,
    "SalesReceipt": sales_receipt,
    "TimeActivity": time_activity,
    "Transfer": transfer,
    "VendorCredit": vendor_credit,
}
