"""Payloads of list entities (Customer, Item, Account, ...). `Active` comes from the skeleton."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qbo_ingest.local.emulator import names
from qbo_ingest.local.emulator.config import ID_STRIDE
from qbo_ingest.local.emulator.rand import ch, ri
from qbo_ingest.local.emulator.records import Rec

if TYPE_CHECKING:
    from qbo_ingest.local.emulator.payloads import Builder

Json = dict[str, Any]
USD = {"value": "USD", "name": "United States Dollar"}


def _index(rid: int) -> int:
    return rid - 1 if rid < ID_STRIDE else rid % 997


def _currency(b: Builder, party: str, rid: int) -> Any:
    cur = b.currency_of(party, rid)
    return USD if cur is None else cur[0]


def _person(b: Builder, rec: Rec, rng: random.Random, display: str) -> Json:
    parts = display.split(" ")
    return {"GivenName": parts[0], "FamilyName": parts[1] if len(parts) > 1 else None,
            "PrimaryPhone": {"FreeFormNumber": f"({ri(rng, 200, 989)}) 555-{ri(rng, 1000, 9999)}"},
            "PrimaryEmailAddr": b.email(display)}


def account(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("Account", rec.id)
    _, atype, sub, cls = names.ACCOUNTS[_index(rec.id) % len(names.ACCOUNTS)]
    bal = round(rng.uniform(-5000, 50000), 2) if cls in ("Asset", "Liability") else 0
    return {"Name": name, "SubAccount": False, "FullyQualifiedName": name, "Active": rec.active,
            "Classification": cls, "AccountType": atype, "AccountSubType": sub,
            "CurrentBalance": bal, "CurrentBalanceWithSubAccounts": bal, "CurrencyRef": USD}


def budget(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("Budget", rec.id)
    year = b.vol.start.year + _index(rec.id) % 5
    detail = []
    for month in range(1, 4):
        acc = b.account_ref(("Advertising", "Rent or Lease", "Utilities")[month - 1])
        if acc:
            detail.append({"BudgetDate": f"{year}-{month:02d}-01", "Amount": round(rng.uniform(100, 5000), 2),
                           "AccountRef": acc})
    return {"Name": name, "StartDate": f"{year}-01-01", "EndDate": f"{year}-12-31",
            "BudgetType": "ProfitAndLoss", "BudgetEntryType": "Monthly", "Active": rec.active,
            "BudgetDetail": detail or None}


def _simple(kind: str, sub_key: str | None = None) -> Callable[[Builder, Rec, random.Random], Json]:
    def build(b: Builder, rec: Rec, rng: random.Random) -> Json:
        name = b.name_of(kind, rec.id)
        out: Json = {"Name": name, "Active": rec.active}
        if sub_key:
            out[sub_key] = False
            out["FullyQualifiedName"] = name
        return out

    return build


def customer(b: Builder, rec: Rec, rng: random.Random) -> Json:
    display = b.name_of("Customer", rec.id)
    bal = round(ch(rng, (0, 0, rng.uniform(10, 5000))), 2)
    out: Json = {"DisplayName": display, "FullyQualifiedName": display, "PrintOnCheckName": display,
                 "CompanyName": display if rng.random() < 0.6 else None, "Active": rec.active, "Job": False,
                 "BillWithParent": False, "Taxable": rng.random() < 0.5, "Balance": bal, "BalanceWithJobs": bal,
                 "CurrencyRef": _currency(b, "Customer", rec.id),
                 "PreferredDeliveryMethod": ch(rng, ("Print", "Email", "None")),
                 "BillAddr": b.address(rng), "CustomerTypeRef": b.ref("CustomerType", rng),
                 "SalesTermRef": b.ref("Term", rng)}
    out.update(_person(b, rec, rng, display))
    return out


def employee(b: Builder, rec: Rec, rng: random.Random) -> Json:
    display = b.name_of("Employee", rec.id)
    out: Json = {"DisplayName": display, "PrintOnCheckName": display, "Active": rec.active,
                 "BillableTime": rng.random() < 0.5, "EmployeeNumber": f"E{rec.id % 100000:05d}",
                 "HiredDate": b.plus_days(b.txn_date(rec), -ri(rng, 0, 2000)),
                 "PrimaryAddr": b.address(rng)}
    out.update(_person(b, rec, rng, display))
    return out


def item(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("Item", rec.id)
    kind = ("Inventory", "Service", "NonInventory")[_index(rec.id) % 3]
    price = round(ch(rng, (rng.uniform(5, 500), float(ri(rng, 10, 400)))), 2)
    out: Json = {"Name": name, "FullyQualifiedName": name, "Description": name, "Active": rec.active,
                 "Taxable": kind != "Service", "UnitPrice": price, "Type": kind,
                 "IncomeAccountRef": b.account_ref("Sales of Product Income" if kind != "Service" else "Services"),
                 "PurchaseCost": round(price * rng.uniform(0.3, 0.7), 2) if kind != "Service" else 0,
                 "TrackQtyOnHand": kind == "Inventory",
                 "Sku": f"SKU-{rec.id % 1_000_000:05d}" if kind != "Service" else None}
    if kind == "Inventory":
        out.update({"QtyOnHand": ri(rng, 0, 200), "InvStartDate": b.txn_date(rec),
                    "AssetAccountRef": b.account_ref("Inventory Asset"),
                    "ExpenseAccountRef": b.account_ref("Cost of Goods Sold")})
    return out


def payment_method(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("PaymentMethod", rec.id)
    card = name in ("Visa", "MasterCard", "American Express", "Discover", "Diners Club")
    return {"Name": name, "Active": rec.active, "Type": "CREDIT_CARD" if card else "NON_CREDIT_CARD"}


def tax_agency(b: Builder, rec: Rec, rng: random.Random) -> Json:
    return {"DisplayName": b.name_of("TaxAgency", rec.id), "TaxTrackedOnSales": True,
            "TaxTrackedOnPurchases": False}


def tax_code(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("TaxCode", rec.id)
    taxable = not name.startswith(("NON", "Exempt", "Zero"))
    rate = b.ref("TaxRate", rng)
    sales = {"TaxRateDetail": [{"TaxRateRef": rate, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0}]
             if taxable and rate else []}
    return {"Name": name, "Description": name, "Active": rec.active, "Hidden": False, "Taxable": taxable,
            "TaxGroup": taxable, "SalesTaxRateList": sales, "PurchaseTaxRateList": {"TaxRateDetail": []}}


def tax_rate(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("TaxRate", rec.id)
    value = round(ch(rng, (0, 2, 4, 6.25, 7.1, 8, 8.5, 9.25)), 2)
    return {"Name": name, "Description": f"Sales Tax ({name})", "Active": rec.active, "RateValue": value,
            "AgencyRef": b.ref("TaxAgency", rng), "SpecialTaxType": "NONE", "DisplayType": "ReadOnly",
            "EffectiveTaxRate": [{"RateValue": value, "EffectiveDate": b.vol.start.isoformat() + "T00:00:00-08:00"}]}


def term(b: Builder, rec: Rec, rng: random.Random) -> Json:
    name = b.name_of("Term", rec.id)
    days = dict(names.TERMS).get(name, 30)
    return {"Name": name, "Active": rec.active, "Type": "STANDARD", "DueDays": days,
            "DiscountDays": 10 if days >= 30 and rng.random() < 0.3 else None}


def vendor(b: Builder, rec: Rec, rng: random.Random) -> Json:
    display = b.name_of("Vendor", rec.id)
    out: Json = {"DisplayName": display, "CompanyName": display, "PrintOnCheckName": display,
                 "Active": rec.active, "Vendor1099": rng.random() < 0.2,
                 "Balance": round(ch(rng, (0, rng.uniform(10, 3000))), 2),
                 "CurrencyRef": _currency(b, "Vendor", rec.id),
                 "BillAddr": b.address(rng), "AcctNum": str(ri(rng, 10000, 99999)),
                 "TermRef": b.ref("Term", rng)}
    out.update(_person(b, rec, rng, b.pools.pick(b.pools.first, rec.id) + " "
                       + b.pools.pick(b.pools.last, rec.id * 3)))
    out["PrimaryEmailAddr"] = b.email(display)
    return out


LIST_BUILDERS: dict[str, Callable[[Builder, Rec, random.Random], Json]] = {
    "Account": account,
    "Budget": budget,
    "Class": _simple("Class", "SubClass"),
    "Customer": customer,
    "CustomerType": _simple("CustomerType"),
    "Department": _simple("Department", "SubDepartment"),
    "Employee": employee,
    "Item": item,
    "PaymentMethod": payment_method,
    "TaxAgency": tax_agency,
    "TaxCode": tax_code,
    "TaxRate": tax_rate,
    "Term": term,
    "Vendor": vendor,
}
