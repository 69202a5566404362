"""Name pools built once per seed with Faker (never per record: Faker is far too slow for that)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from faker import Faker

ACCOUNTS: tuple[tuple[str, str, str, str], ...] = (
    # Name, AccountType, AccountSubType, Classification
    ("Checking", "Bank", "Checking", "Asset"),
    ("Savings", "Bank", "Savings", "Asset"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", "Asset"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds", "Asset"),
    ("Inventory Asset", "Other Current Asset", "Inventory", "Asset"),
    ("Prepaid Expenses", "Other Current Asset", "PrepaidExpenses", "Asset"),
    ("Truck", "Fixed Asset", "Vehicles", "Asset"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable", "Liability"),
    ("Mastercard", "Credit Card", "CreditCard", "Liability"),
    ("Visa", "Credit Card", "CreditCard", "Liability"),
    ("Board of Equalization Payable", "Other Current Liability", "SalesTaxPayable", "Liability"),
    ("Loan Payable", "Other Current Liability", "OtherCurrentLiabilities", "Liability"),
    ("Notes Payable", "Long Term Liability", "NotesPayable", "Liability"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity", "Equity"),
    ("Retained Earnings", "Equity", "RetainedEarnings", "Equity"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome", "Revenue"),
    ("Services", "Income", "ServiceFeeIncome", "Revenue"),
    ("Design income", "Income", "ServiceFeeIncome", "Revenue"),
    ("Discounts given", "Income", "DiscountsRefundsGiven", "Revenue"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs", "Expense"),
    ("Advertising", "Expense", "AdvertisingPromotional", "Expense"),
    ("Automobile", "Expense", "Auto", "Expense"),
    ("Bank Charges", "Expense", "BankCharges", "Expense"),
    ("Insurance", "Expense", "Insurance", "Expense"),
    ("Legal & Professional Fees", "Expense", "LegalProfessionalFees", "Expense"),
    ("Meals and Entertainment", "Expense", "EntertainmentMeals", "Expense"),
    ("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", "Expense"),
    ("Rent or Lease", "Expense", "RentOrLeaseOfBuildings", "Expense"),
    ("Repair & Maintenance", "Expense", "RepairMaintenance", "Expense"),
    ("Utilities", "Expense", "Utilities", "Expense"),
    ("Job Expenses", "Expense", "OtherMiscellaneousServiceCost", "Expense"),
    ("Travel", "Expense", "Travel", "Expense"),
    ("Interest Earned", "Other Income", "InterestEarned", "Revenue"),
    ("Miscellaneous", "Other Expense", "OtherMiscellaneousExpense", "Expense"),
)

PRODUCTS = (
    "Rock Fountain", "Garden Rocks", "Sprinkler Heads", "Sprinkler Pipes", "Pump", "Concrete",
    "Design", "Installation", "Lighting", "Maintenance & Repair", "Pest Control", "Refunds & Allowances",
    "Trimming", "Hours", "Gardening", "Soil", "Fertilizer", "Seeds", "Hedge Trimming", "Consulting",
)
TERMS = (("Due on receipt", 0), ("Net 10", 10), ("Net 15", 15), ("Net 30", 30), ("Net 60", 60), ("Net 90", 90))
PAYMENT_METHODS = ("Cash", "Check", "Visa", "MasterCard", "American Express", "Discover", "Diners Club", "ACH")
DEPARTMENTS = ("North", "South", "East", "West", "Central", "Online", "Warehouse", "Head Office")
CLASSES = ("Landscaping", "Design", "Maintenance", "Retail", "Wholesale", "Installation", "Consulting")
CUSTOMER_TYPES = ("Retail", "Wholesale", "Commercial", "Residential", "Government", "Non-profit")
TAX_AGENCIES = ("Board of Equalization", "Arizona Dept. of Revenue", "County Tax Office")


@dataclass(frozen=True)
class Pools:
    first: tuple[str, ...]
    last: tuple[str, ...]
    companies: tuple[str, ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    states: tuple[str, ...]
    zips: tuple[str, ...]
    phrases: tuple[str, ...]

    def pick(self, pool: tuple[str, ...], n: int) -> str:
        return pool[n % len(pool)]


@lru_cache(maxsize=8)
def pools(seed: int) -> Pools:
    """Faker for names and places (built once per seed); companies are composed from last names
    with Faker's own en_US patterns, which is ~20x faster than `fake.company()`."""
    import random

    fake = Faker("en_US")
    fake.seed_instance(seed)
    size = 250
    last = tuple(fake.last_name() for _ in range(size))
    rng = random.Random(seed)
    suffixes = ("Inc", "LLC", "Ltd", "Group", "PLC", "and Sons")
    companies: list[str] = []
    for i in range(size * 2):
        a, b, c = last[i % size], last[(i * 7 + 3) % size], last[(i * 13 + 5) % size]
        pattern = rng.random()
        if pattern < 0.45:
            companies.append(f"{a} {suffixes[i % len(suffixes)]}")
        elif pattern < 0.75:
            companies.append(f"{a}-{b}")
        else:
            companies.append(f"{a}, {b} and {c}")
    return Pools(
        first=tuple(fake.first_name() for _ in range(size)),
        last=last,
        companies=tuple(dict.fromkeys(companies)),
        streets=tuple(fake.street_address() for _ in range(size)),
        cities=tuple(fake.city() for _ in range(size)),
        states=tuple(fake.state_abbr() for _ in range(size)),
        zips=tuple(fake.zipcode() for _ in range(size)),
        phrases=tuple(fake.catch_phrase() for _ in range(100)),
    )
