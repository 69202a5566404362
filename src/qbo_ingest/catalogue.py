"""The entity catalogue: one declaration per QBO entity feeds the CLI, Mage, docs and tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from qbo_ingest.errors import UnknownEntityError

__all__ = ["BY_NAME", "CATALOGUE", "Entity", "UnknownEntityError", "get", "resolve"]

Kind = Literal["transaction", "list"]


@dataclass(frozen=True)
class Entity:
    """A QBO entity queryable by `MetaData.LastUpdatedTime`."""

    name: str  # QBO name, case-sensitive in queries: "Invoice"
    plural: str  # snake plural used for the table: "invoices"
    kind: Kind
    # List entities return only active rows unless the query asks `Active IN (true, false)`.
    needs_active_filter: bool = False
    cdc: bool = True
    replication_key: str = "MetaData.LastUpdatedTime"
    # The key QBO wraps records in when it differs from the name (QueryResponse / read responses).
    response_key: str | None = None

    @property
    def table(self) -> str:
        """Unqualified raw table name, e.g. `qb_invoices`."""
        return f"qb_{self.plural}"

    @property
    def qualified_table(self) -> str:
        return f"raw.{self.table}"

    @property
    def snake(self) -> str:
        """Singular snake name used in Mage block names: `invoice`, `bill_payment`."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.name).lower()

    @property
    def pipeline(self) -> str:
        """Mage pipeline uuid, the spec's `qb_<entity>_backfill`: `qb_invoices_backfill`."""
        return f"{self.table}_backfill"

    def block_name(self, day: str) -> str:
        """Name of one day's work, as the spec's runbook greps it: `invoice_backfill_2025-10-15`."""
        return f"{self.snake}_backfill_{day}"


def _t(name: str, plural: str, *, cdc: bool = True) -> Entity:
    return Entity(name, plural, "transaction", cdc=cdc)


def _l(name: str, plural: str, *, active: bool = True, cdc: bool = True) -> Entity:
    return Entity(name, plural, "list", needs_active_filter=active, cdc=cdc)


CATALOGUE: tuple[Entity, ...] = (
    _l("Account", "accounts"),
    _t("Bill", "bills"),
    _t("BillPayment", "bill_payments"),
    _l("Budget", "budgets"),
    _l("Class", "classes"),
    # Pay down a credit card (Dr the card liability, Cr the bank). Intuit's API reference
    # (developer.intuit.com .../all-entities/creditcardpayment) documents query (`select * from
    # CreditCardPayment`, MetaData.LastUpdatedTime is a header field every entity filters on) and read at
    # /creditcardpayment/{id}; the JSON wrapper of its records is `CreditCardPaymentTxn` (response_key).
    # CDC: not assumed (unconfirmed: Intuit's change-data-capture page names exceptions we could not check
    # for it; the emulator serves it without CDC). Without CDC its deletions show through `reconcile` and
    # `sync --rescan`, like TimeActivity's: slower, never wrong.
    Entity("CreditCardPayment", "credit_card_payments", "transaction", cdc=False,
           response_key="CreditCardPaymentTxn"),
    _t("CreditMemo", "credit_memos"),
    _l("Customer", "customers"),
    _l("CustomerType", "customer_types", active=False),
    _l("Department", "departments"),
    _t("Deposit", "deposits"),
    _l("Employee", "employees"),
    _t("Estimate", "estimates"),
    _t("Invoice", "invoices"),
    _l("Item", "items"),
    _t("JournalEntry", "journal_entries"),
    _t("Payment", "payments"),
    _l("PaymentMethod", "payment_methods"),
    _t("Purchase", "purchases"),
    _t("PurchaseOrder", "purchase_orders"),
    _t("RefundReceipt", "refund_receipts"),
    _t("SalesReceipt", "sales_receipts"),
    _l("TaxAgency", "tax_agencies", active=False, cdc=False),
    _l("TaxCode", "tax_codes", cdc=False),
    _l("TaxRate", "tax_rates", cdc=False),
    _l("Term", "terms"),
    _t("TimeActivity", "time_activities", cdc=False),
    _t("Transfer", "transfers"),
    _l("Vendor", "vendors"),
    _t("VendorCredit", "vendor_credits"),
)

BY_NAME: dict[str, Entity] = {e.name: e for e in CATALOGUE}


def get(name: str) -> Entity:
    """Look an entity up by QBO name (`Invoice`), table (`qb_invoices`) or snake name (`invoice`)."""
    if name in BY_NAME:
        return BY_NAME[name]
    for e in CATALOGUE:
        if name in (e.table, e.plural, e.snake, e.pipeline):
            return e
    lowered = {e.name.lower(): e for e in CATALOGUE}
    if name.lower() in lowered:
        return lowered[name.lower()]
    valid = ", ".join(e.name for e in CATALOGUE)
    raise UnknownEntityError(f"Unknown entity {name!r}. Valid: {valid}")


def resolve(names: list[str] | tuple[str, ...] | None) -> list[Entity]:
    """Entities for a user's list; empty or `all` means the whole catalogue."""
    if not names or list(names) == ["all"]:
        return list(CATALOGUE)
    out: list[Entity] = []
    for part in names:
        for n in part.split(","):
            n = n.strip()
            if n:
                e = get(n)
                if e not in out:
                    out.append(e)
    if not out:
        raise UnknownEntityError("No entity given. Valid: " + ", ".join(e.name for e in CATALOGUE))
    return out
