"""What the emulated QuickBooks Online supports: its own capability table, independent of the client's
catalogue (tests/emulator/test_capabilities.py checks that the two agree, so a wrong catalogue entry
is a visible failure instead of something the emulator silently copies).

Per entity: its kind, whether CDC serves it, whether a plain query returns active records only, and
the properties a query may name (exact spelling; queries match them case-insensitively, as QBO does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["transaction", "list", "other"]

HEADER = ("Id", "SyncToken", "MetaData", "MetaData.CreateTime", "MetaData.LastUpdatedTime", "domain", "sparse")
# Nested paths a query may name under a property of that shape (unconfirmed beyond the documented
# `MetaData.*` and `<Ref>.value`: QBO's own list of filterable properties is per entity in its API Explorer).
REF_PARTS = ("value", "name")
ADDR_PARTS = ("Id", "Line1", "Line2", "City", "Country", "CountrySubDivisionCode", "PostalCode")

_SALES = ("DocNumber TxnDate CurrencyRef CustomerRef Line TxnTaxDetail TotalAmt ApplyTaxAfterDiscount PrintStatus "
          "EmailStatus BillAddr ShipAddr CustomerMemo BillEmail PrivateNote ClassRef DepartmentRef CustomField "
          "ExchangeRate HomeTotalAmt")
_PURCHASE = "TxnDate CurrencyRef Line TotalAmt DocNumber PrivateNote APAccountRef VendorRef ExchangeRate HomeTotalAmt"
_PERSON = ("DisplayName GivenName FamilyName MiddleName Title Suffix PrintOnCheckName PrimaryPhone Mobile Fax "
           "PrimaryEmailAddr Active CompanyName")


@dataclass(frozen=True)
class Capability:
    name: str  # exact QBO entity name (case-sensitive in queries)
    kind: Kind
    cdc: bool
    active_only_by_default: bool  # a plain SELECT returns Active = true rows only
    properties: frozenset[str]  # every name a query may use (top level and nested paths)
    generated: bool = True  # records are generated per day (False: a fixed set, e.g. Preferences)
    wrapper: str | None = None  # the JSON key records come under when it is not the name

    @property
    def key(self) -> str:
        """The key of its records in a QueryResponse or a read response."""
        return self.wrapper or self.name

    @property
    def path(self) -> str:
        """The read-by-Id path segment: `invoice` in /v3/company/{realm}/invoice/{id}."""
        return self.name.lower()


def _cap(name: str, kind: Kind, props: str, *, cdc: bool = True, active: bool | None = None,
         generated: bool = True, wrapper: str | None = None) -> Capability:
    extra = props.split()
    if active is None:
        active = kind == "list" and "Active" in extra
    return Capability(name, kind, cdc, active, frozenset([*HEADER, *extra]), generated, wrapper)


_TABLE: tuple[Capability, ...] = (
    _cap("Account", "list", "Name SubAccount ParentRef FullyQualifiedName Active Classification AccountType "
         "AccountSubType AcctNum Description CurrentBalance CurrentBalanceWithSubAccounts CurrencyRef"),
    _cap("Attachable", "other", "FileName FileAccessUri TempDownloadUri Size ContentType Category Note "
         "AttachableRef", cdc=False),
    _cap("Bill", "transaction", _PURCHASE + " DueDate SalesTermRef Balance"),
    _cap("BillPayment", "transaction", _PURCHASE + " PayType CheckPayment CreditCardPayment"),
    _cap("Budget", "list", "Name StartDate EndDate BudgetType BudgetEntryType Active BudgetDetail"),
    _cap("Class", "list", "Name SubClass ParentRef FullyQualifiedName Active"),
    _cap("CompanyCurrency", "list", "Code Name Active", cdc=False),
    _cap("CompanyInfo", "other", "CompanyName LegalName CompanyAddr LegalAddr CustomerCommunicationAddr "
         "PrimaryPhone CompanyStartDate FiscalYearStartMonth Country Email WebAddr SupportedLanguages "
         "DefaultTimeZone NameValue", cdc=False, generated=False),
    # Queried as CreditCardPayment, its records come wrapped as `CreditCardPaymentTxn` (Intuit's read sample
    # response; the query response's key is assumed the same, unconfirmed).
    _cap("CreditCardPayment", "transaction", "TxnDate Amount CreditCardAccountRef BankAccountRef PrivateNote "
         "CurrencyRef", cdc=False, wrapper="CreditCardPaymentTxn"),
    _cap("CreditMemo", "transaction", _SALES + " RemainingCredit Balance"),
    _cap("Customer", "list", _PERSON + " FullyQualifiedName Job ParentRef BillWithParent Taxable Balance "
         "BalanceWithJobs CurrencyRef PreferredDeliveryMethod BillAddr ShipAddr CustomerTypeRef SalesTermRef "
         "Notes"),
    _cap("CustomerType", "list", "Name Active", active=False),
    _cap("Department", "list", "Name SubDepartment ParentRef FullyQualifiedName Active"),
    _cap("Deposit", "transaction", "TxnDate CurrencyRef DepositToAccountRef Line TotalAmt PrivateNote"),
    _cap("Employee", "list", _PERSON + " EmployeeNumber HiredDate ReleasedDate BillableTime PrimaryAddr"),
    _cap("Estimate", "transaction", _SALES + " ExpirationDate TxnStatus"),
    _cap("ExchangeRate", "other", "SourceCurrencyCode TargetCurrencyCode Rate AsOfDate", cdc=False,
         generated=False),
    _cap("Invoice", "transaction", _SALES + " DueDate SalesTermRef Balance Deposit AllowOnlineCreditCardPayment "
         "AllowOnlineACHPayment HomeBalance"),
    _cap("Item", "list", "Name Sku Description Active FullyQualifiedName SubItem ParentRef Type Taxable UnitPrice "
         "PurchaseCost TrackQtyOnHand QtyOnHand InvStartDate IncomeAccountRef ExpenseAccountRef AssetAccountRef"),
    _cap("JournalEntry", "transaction", "TxnDate CurrencyRef Adjustment Line TotalAmt DocNumber PrivateNote"),
    _cap("Payment", "transaction", "TxnDate CurrencyRef CustomerRef DepositToAccountRef TotalAmt UnappliedAmt "
         "ProcessPayment Line PaymentMethodRef PaymentRefNum PrivateNote ARAccountRef ExchangeRate HomeTotalAmt"),
    _cap("PaymentMethod", "list", "Name Type Active"),
    _cap("Preferences", "other", "AccountingInfoPrefs SalesFormsPrefs VendorAndPurchasesPrefs CurrencyPrefs "
         "TimeTrackingPrefs TaxPrefs ReportPrefs OtherPrefs", cdc=False, generated=False),
    _cap("Purchase", "transaction", "TxnDate CurrencyRef PaymentType AccountRef EntityRef Line TotalAmt Credit "
         "DocNumber PrivateNote ExchangeRate HomeTotalAmt"),
    _cap("PurchaseOrder", "transaction", _PURCHASE + " POStatus EmailStatus ShipAddr"),
    _cap("RecurringTransaction", "other", "RecurType Name Active RecurDataRef RecurringInfo", cdc=False,
         generated=False),
    _cap("RefundReceipt", "transaction", _SALES + " Balance PaymentMethodRef DepositToAccountRef"),
    _cap("SalesReceipt", "transaction", _SALES + " Balance PaymentMethodRef DepositToAccountRef"),
    _cap("TaxAgency", "list", "DisplayName TaxTrackedOnPurchases TaxTrackedOnSales", cdc=False),
    _cap("TaxCode", "list", "Name Description Active Hidden Taxable TaxGroup SalesTaxRateList "
         "PurchaseTaxRateList", cdc=False),
    _cap("TaxRate", "list", "Name Description Active RateValue AgencyRef SpecialTaxType DisplayType "
         "EffectiveTaxRate", cdc=False),
    _cap("Term", "list", "Name Active Type DueDays DiscountDays"),
    _cap("TimeActivity", "transaction", "TxnDate NameOf EmployeeRef VendorRef CustomerRef ItemRef BillableStatus "
         "Taxable HourlyRate Hours Minutes Description", cdc=False),
    _cap("Transfer", "transaction", "TxnDate CurrencyRef FromAccountRef ToAccountRef Amount PrivateNote"),
    _cap("Vendor", "list", _PERSON + " Vendor1099 Balance CurrencyRef BillAddr AcctNum TermRef"),
    _cap("VendorCredit", "transaction", _PURCHASE + " Balance"),
)


class Schema:
    """The capability table with the lookups queries need (hashable by identity, so parsed queries can be
    cached per schema)."""

    def __init__(self, caps: Iterable[Capability]) -> None:
        self.caps: dict[str, Capability] = {c.name: c for c in caps}
        self._by_path = {c.path: c for c in self.caps.values()}
        self._props: dict[str, dict[str, str]] = {
            c.name: {p.lower(): p for p in c.properties} for c in self.caps.values()
        }

    def __contains__(self, name: object) -> bool:
        return name in self.caps

    def __iter__(self) -> Iterator[str]:
        return iter(self.caps)

    def get(self, name: str) -> Capability | None:
        return self.caps.get(name)

    def by_path(self, segment: str) -> Capability | None:
        """The entity of a read-by-Id path segment (`invoice`, `journalentry`)."""
        return self._by_path.get(segment.lower())

    def lookup(self, name: str) -> Capability:
        """An entity by exact name, else case-insensitively (for the emulator's own Python API)."""
        got = self.caps.get(name) or self._by_path.get(name.lower())
        if got is None:
            raise KeyError(f"The emulator has no entity {name!r}. Valid: {', '.join(self.caps)}")
        return got

    def generated(self, kind: Kind | None = None) -> list[str]:
        return [c.name for c in self.caps.values() if c.generated and (kind is None or c.kind == kind)]

    def property(self, entity: str, name: str) -> str | None:
        """The exact spelling of a query property (case-insensitive match), or None when the entity has no
        such property. Nested paths: `MetaData.*`, `<X>Ref.value|name`, `<X>Addr.<part>`."""
        props = self._props[entity]
        key = name.lower()
        got = props.get(key)
        if got is not None:
            return got
        head, _, tail = name.partition(".")
        top = props.get(head.lower())
        if top is None or not tail or "." in tail:
            return None
        for parts, suffix in ((REF_PARTS, "Ref"), (ADDR_PARTS, "Addr")):
            if top.endswith(suffix):
                part = next((p for p in parts if p.lower() == tail.lower()), None)
                return f"{top}.{part}" if part else None
        return None


SCHEMA = Schema(_TABLE)
