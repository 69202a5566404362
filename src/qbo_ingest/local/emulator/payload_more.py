"""Payloads of the entities added for issue 14: Attachable, CreditCardPayment, CompanyCurrency (generated
per day like the others), and the fixed company-level sets: Preferences, ExchangeRate, RecurringTransaction.
Shapes follow Intuit's API reference for each entity; fields the emulator fills are a subset."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from qbo_ingest.local.emulator.config import ID_STRIDE
from qbo_ingest.local.emulator.payload_json import USD_RAW
from qbo_ingest.local.emulator.rand import ch, ri
from qbo_ingest.local.emulator.records import Rec
from qbo_ingest.local.emulator.timefmt import pacific

if TYPE_CHECKING:
    from qbo_ingest.local.emulator.payloads import Builder

Json = dict[str, Any]
CURRENCIES = (("EUR", "Euro", 1.08), ("GBP", "British Pound Sterling", 1.27), ("CAD", "Canadian Dollar", 0.73),
              ("MXN", "Mexican Peso", 0.058), ("AUD", "Australian Dollar", 0.66))
_ATTACHED_TO = ("Invoice", "Bill", "Purchase", "Estimate")


def attachable(b: Builder, rec: Rec, rng: random.Random) -> Json:
    kind = ch(rng, _ATTACHED_TO)
    target = b.txn_id(kind, rec.day, rng)
    name = f"{kind.lower()}-{rec.id % ID_STRIDE:04d}.{ch(rng, ('pdf', 'jpg', 'png'))}"
    ctype = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png"}[name.rsplit(".", 1)[1]]
    return {"FileName": name, "ContentType": ctype, "Size": ri(rng, 12_000, 2_400_000), "Category": "Document",
            "FileAccessUri": f"/v3/company/realm/download/{rec.id}",
            "AttachableRef": [{"EntityRef": {"type": kind, "value": target}, "IncludeOnSend": False}]
            if target else None}


def credit_card_payment(b: Builder, rec: Rec, rng: random.Random) -> Json:
    return {"TxnDate": b.txn_date(rec), "Amount": round(rng.uniform(100, 5000), 2), "CurrencyRef": USD_RAW,
            "CreditCardAccountRef": b.account_ref(ch(rng, ("Mastercard", "Visa"))),
            "BankAccountRef": b.account_ref("Checking"), "PrivateNote": "Card payment"}


def company_currency(b: Builder, rec: Rec, rng: random.Random) -> Json:
    code, name, _ = CURRENCIES[(rec.id - 1) % len(CURRENCIES) if rec.id < ID_STRIDE else rec.id % len(CURRENCIES)]
    return {"Code": code, "Name": name, "Active": rec.active}


MORE_BUILDERS = {"Attachable": attachable, "CreditCardPayment": credit_card_payment,
                 "CompanyCurrency": company_currency}


# ---- fixed company-level sets (not generated per day) -----------------------------------------------
def _meta(b: Builder) -> Json:
    start = b.company_info()["MetaData"]
    return {"CreateTime": start["CreateTime"], "LastUpdatedTime": start["LastUpdatedTime"]}


def preferences(b: Builder) -> list[Json]:
    """One object per company (Intuit: `SELECT * FROM Preferences`, `GET /preferences`)."""
    return [{"Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False, "MetaData": _meta(b),
             "AccountingInfoPrefs": {"TrackDepartments": True, "DepartmentTerminology": "Location",
                                     "ClassTrackingPerTxn": False, "CustomerTerminology": "Customers",
                                     "BookCloseDate": None, "FirstMonthOfFiscalYear": "January"},
             "SalesFormsPrefs": {"CustomTxnNumbers": True, "AllowDeposit": True, "AllowDiscount": True,
                                 "DefaultTerms": {"value": "3"}, "ETransactionEnabledStatus": "NotApplicable"},
             "VendorAndPurchasesPrefs": {"TrackingByCustomer": True, "BillableExpenseTracking": True,
                                         "POCustomField": []},
             "CurrencyPrefs": {"MultiCurrencyEnabled": True, "HomeCurrency": {"value": "USD"}},
             "TimeTrackingPrefs": {"UseServices": True, "BillCustomers": True, "WorkWeekStartDate": "Monday"},
             "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": True},
             "ReportPrefs": {"ReportBasis": "Accrual", "CalcAgingReportFromTxnDate": False},
             "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultCustomerMessage",
                                           "Value": "Thank you for your business!"}]}}]


def exchange_rates(b: Builder) -> list[Json]:
    """Rates to the home currency as of the last data day (Intuit: `SELECT * FROM exchangerate WHERE
    sourcecurrencycode = 'EUR'`)."""
    as_of = b.vol.day(b.vol.ndays - 1).isoformat()
    return [{"SourceCurrencyCode": code, "TargetCurrencyCode": "USD", "Rate": rate, "AsOfDate": as_of,
             "SyncToken": "0", "domain": "QBO", "sparse": False, "MetaData": {"LastUpdatedTime": pacific(
                 b.store_end_ts() - 3600)}} for code, _, rate in CURRENCIES]


def recurring_transactions(b: Builder) -> list[Json]:
    """Recurring templates, each wrapped in its transaction type as Intuit's query returns them."""
    out: list[Json] = []
    rng = random.Random(b.seed ^ 0x5EC)
    for i, (kind, interval) in enumerate((("Invoice", "Monthly"), ("Bill", "Monthly"), ("JournalEntry", "Weekly"))):
        body: Json = {"Id": str(i + 1), "SyncToken": "0", "domain": "QBO", "sparse": False, "MetaData": _meta(b),
                      "RecurDataRef": {"value": str(i + 1)},
                      "RecurringInfo": {"Name": f"Recurring {kind} {i + 1}", "RecurType": "Automated",
                                        "Active": True, "ScheduleInfo": {
                                            "IntervalType": interval, "NumInterval": 1,
                                            "StartDate": b.vol.start.isoformat()}},
                      "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                      "TotalAmt": round(rng.uniform(100, 2000), 2)}
        ref = b.ref("Customer" if kind == "Invoice" else "Vendor", rng)
        if ref and kind != "JournalEntry":
            body["CustomerRef" if kind == "Invoice" else "VendorRef"] = ref
        out.append({kind: body})
    return out


STATIC = {"Preferences": preferences, "ExchangeRate": exchange_rates, "RecurringTransaction": recurring_transactions}
