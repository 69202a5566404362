"""Realistic QBO JSON objects built on demand from (seed, entity, Id) and the record skeleton.

Only fields with values are present, numbers are numbers, Ids are strings and MetaData times are
Pacific with the right DST offset, as the real API writes them.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any

from qbo_ingest.local.emulator import names
from qbo_ingest.local.emulator.config import ID_STRIDE, Volumes, stable_seed
from qbo_ingest.local.emulator.payload_json import CustomFields, Raw, RawRef, _dumps, _raw_ref
from qbo_ingest.local.emulator.payload_lists import LIST_BUILDERS
from qbo_ingest.local.emulator.payload_more import CURRENCIES, MORE_BUILDERS, STATIC
from qbo_ingest.local.emulator.payload_txns import TXN_BUILDERS
from qbo_ingest.local.emulator.records import Rec
from qbo_ingest.local.emulator.timefmt import pacific, pacific_date

Json = dict[str, Any]
TEMPLATES = 1024  # line-array variants per family, built once per seed


USD = {"value": "USD", "name": "United States Dollar"}

_SIMPLE_NAMES: dict[str, tuple[str, ...]] = {
    "Class": names.CLASSES,
    "Department": names.DEPARTMENTS,
    "CustomerType": names.CUSTOMER_TYPES,
    "PaymentMethod": names.PAYMENT_METHODS,
    "TaxAgency": names.TAX_AGENCIES,
    "Term": tuple(t[0] for t in names.TERMS),
    "TaxCode": ("TAX", "NON", "CA Sales Tax", "Out of state", "Exempt", "Zero-rated"),
    "TaxRate": ("California", "San Francisco County", "Tucson City", "AZ State tax", "Mission District",
                "No tax"),
    "Item": names.PRODUCTS,
    "Account": tuple(a[0] for a in names.ACCOUNTS),
}


class Builder:
    """Builds payloads. Everything derives from the seed, so two emulators with one seed agree."""

    def __init__(self, seed: int, volumes: Volumes, *, render_cache: bool = False) -> None:
        self.seed = seed
        # Each record version's JSON kept once built (EmulatorConfig.render_cache): ~1.8 KB a record.
        self.rendered: dict[tuple[Any, ...], str] | None = {} if render_cache else None
        self.vol = volumes
        self.pools = names.pools(seed)
        self._ent_seed: dict[str, int] = {}
        self._name_cache: dict[tuple[str, int], str] = {}
        self._refs: dict[str, list[Json]] = {}
        self._accounts: dict[str, Json | None] = {}
        self._templates: dict[str, list[tuple[Raw, float]]] = {}
        self._ref_raws: dict[str, list[RawRef]] = {}
        self._account_raws: dict[str, Raw | None] = {}
        self._addresses: list[Raw] = []
        self._emails: dict[str, Raw] = {}
        self._currencies: dict[int, tuple[Raw, float]] = {}
        self._custom: list[CustomFields] = []
        self._custom_enhanced: list[Raw] = []
        # (entity, Id) -> fields that replace the generated ones (admin `patch`: e.g. a NUL in a name)
        self.patches: dict[tuple[str, int], Json] = {}
        self._builders: dict[str, Callable[[Builder, Rec, random.Random], Json]] = {
            **LIST_BUILDERS, **TXN_BUILDERS, **MORE_BUILDERS
        }

    # ---- per-record randomness -------------------------------------------------------------
    def rng(self, entity: str, rid: int) -> random.Random:
        base = self._ent_seed.get(entity)
        if base is None:
            base = self._ent_seed[entity] = stable_seed(self.seed, "payload", entity)
        return random.Random(base ^ (rid * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF))

    # ---- names and references --------------------------------------------------------------
    def name_of(self, entity: str, rid: int) -> str:
        key = (entity, rid)
        got = self._name_cache.get(key)
        if got is None:
            got = self._name(entity, rid)
            if len(self._name_cache) > 50_000:
                self._name_cache.clear()
            self._name_cache[key] = got
        return got

    def _name(self, entity: str, rid: int) -> str:
        p = self.pools
        n = rid - 1 if rid < ID_STRIDE else rid % 997
        suffix = "" if rid < ID_STRIDE else f" {rid // ID_STRIDE}-{rid % ID_STRIDE}"
        if entity == "Customer":
            base = p.pick(p.companies, n) if n % 3 else f"{p.pick(p.first, n)} {p.pick(p.last, n * 7)}"
            return base + ("" if n < len(p.companies) else f" #{n}") + suffix
        if entity == "Vendor":
            return p.pick(p.companies, len(p.companies) - 1 - n) + (" Supply" if n % 2 else "") + suffix
        if entity == "Employee":
            return f"{p.pick(p.first, n * 3 + 1)} {p.pick(p.last, n * 5 + 2)}" + suffix
        if entity == "Budget":
            return f"Budget {self.vol.start.year + n % 5}" + suffix
        pool = _SIMPLE_NAMES.get(entity)
        if pool is not None:
            label = pool[n % len(pool)]
            return label + ("" if n < len(pool) else f" {n // len(pool) + 1}") + suffix
        return f"{entity} {rid}"

    def opening(self, entity: str) -> int:
        """How many records of a list entity exist from day one (Ids 1..n): the pool refs use."""
        return self.vol.count(entity, 0)

    def ref(self, entity: str, rng: random.Random) -> Json | None:
        refs = self._refs.get(entity)
        if refs is None:
            n = self.opening(entity)
            refs = self._refs[entity] = [{"value": str(i), "name": self.name_of(entity, i)} for i in range(1, n + 1)]
        if not refs:
            return None
        return dict(refs[int(rng.random() * len(refs))])

    def ref_raw(self, entity: str, rng: random.Random) -> RawRef | None:
        """Like `ref`, pre-serialized (only as a top-level field value)."""
        raws = self._ref_raws.get(entity)
        if raws is None:
            n = self.opening(entity)
            raws = self._ref_raws[entity] = [_raw_ref(i, self.name_of(entity, i)) for i in range(1, n + 1)]
        return raws[int(rng.random() * len(raws))] if raws else None

    def account_raw(self, account_name: str) -> Raw | None:
        if account_name not in self._account_raws:
            ref = self.account_ref(account_name)
            self._account_raws[account_name] = Raw(_dumps(ref)) if ref is not None else None
        return self._account_raws[account_name]

    def address_raw(self, rng: random.Random) -> Raw:
        if not self._addresses:
            arng = random.Random(stable_seed(self.seed, "addresses"))
            self._addresses = [Raw(_dumps(self.address(arng))) for _ in range(512)]
        return self._addresses[int(rng.random() * len(self._addresses))]

    def email_raw(self, display: str) -> Raw:
        got = self._emails.get(display)
        if got is None:
            if len(self._emails) > 20_000:
                self._emails.clear()
            got = self._emails[display] = Raw(_dumps(self.email(display)))
        return got

    def currency_of(self, party: str, rid: int) -> tuple[Raw, float] | None:
        """A customer's or vendor's foreign currency (CurrencyRef, rate to USD), None for the home currency.
        One in seven parties deals in one of the company's CompanyCurrency codes; rates are constant."""
        ncur = min(self.opening("CompanyCurrency"), len(CURRENCIES))
        if ncur <= 0 or rid % 7 != (3 if party == "Customer" else 5):
            return None
        i = (rid // 7) % ncur
        got = self._currencies.get(i)
        if got is None:
            code, name, rate = CURRENCIES[i]
            got = self._currencies[i] = (Raw(_dumps({"value": code, "name": name})), rate)
        return got

    def custom_fields_raw(self, rng: random.Random) -> CustomFields:
        """The record's custom fields: the 3 legacy string fields the API returns by default."""
        if not self._custom:
            self._custom_pools()
        return self._custom[int(rng.random() * len(self._custom))]

    def _custom_pools(self) -> None:
        # Built aside and published whole: request threads may call this at once, and a half-built list
        # would give a record other custom fields than it gets later.
        custom: list[CustomFields] = []
        enhanced: list[Raw] = []
        crng = random.Random(stable_seed(self.seed, "custom-fields"))
        for i in range(256):
            legacy = [{"DefinitionId": str(n + 1), "Name": name, "Type": "StringType", "StringValue": value}
                      for n, (name, value) in enumerate((("Crew #", str(100 + int(crng.random() * 900))),
                                                         ("Sales Rep", self.pools.pick(self.pools.first, i)),
                                                         ("PO Number", f"PO-{int(crng.random() * 99999):05d}")))]
            extra = [{"DefinitionId": "1000000004", "Name": "Project Code", "Type": "NumberType",
                      "NumberValue": int(crng.random() * 9000) + 1000},
                     {"DefinitionId": "1000000005", "Name": "Approved On", "Type": "DateType",
                      "DateValue": f"{self.vol.start.year}-{1 + i % 12:02d}-{1 + i % 28:02d}"}]
            raw = CustomFields(_dumps(legacy))
            raw.idx = i
            custom.append(raw)
            enhanced.append(Raw(_dumps(legacy + extra)))
        self._custom_enhanced, self._custom = enhanced, custom

    def account_ref(self, account_name: str) -> Json | None:
        """The opening account with this name (or a stand-in when the chart is small)."""
        if account_name not in self._accounts:
            self._accounts[account_name] = self._account_ref(account_name)
        got = self._accounts[account_name]
        return dict(got) if got is not None else None

    def _account_ref(self, account_name: str) -> Json | None:
        n = self.opening("Account")
        if n <= 0:
            return None
        idx = next((i for i, a in enumerate(names.ACCOUNTS) if a[0] == account_name), 0)
        rid = idx + 1 if idx < n else idx % n + 1
        return {"value": str(rid), "name": self.name_of("Account", rid)}

    def txn_id(self, entity: str, day: int, rng: random.Random) -> str | None:
        """An Id of a transaction created on `day` (for LinkedTxn), if that day has any."""
        n = self.vol.count(entity, day)
        if n <= 0:
            return None
        return str(day * ID_STRIDE + 1 + int(rng.random() * n))

    def address(self, rng: random.Random) -> Json:
        p = self.pools
        i = int(rng.random() * len(p.streets))
        return {"Id": str(1 + int(rng.random() * 500)), "Line1": p.streets[i], "City": p.cities[i],
                "CountrySubDivisionCode": p.states[i], "PostalCode": p.zips[i]}

    def email(self, display: str) -> Json:
        local = "".join(ch for ch in display.lower() if ch.isalnum())[:20] or "info"
        return {"Address": f"{local}@example.com"}

    def template(self, key: str, maker: Callable[[Builder, random.Random], tuple[list[Json], float]],
                 rng: random.Random) -> tuple[Raw, float]:
        """One of TEMPLATES seeded line arrays (pre-serialized) and its total."""
        pool = self._templates.get(key)
        if pool is None:
            trng = random.Random(stable_seed(self.seed, "template", key))
            pool = []
            for _ in range(TEMPLATES):
                lines, total = maker(self, trng)
                pool.append((Raw(json.dumps(lines, separators=(",", ":"))), total))
            self._templates[key] = pool
        return pool[int(rng.random() * len(pool))]

    # ---- the object ------------------------------------------------------------------------
    def header(self, rec: Rec) -> Json:
        meta = f'{{"CreateTime":"{pacific(rec.ct)}","LastUpdatedTime":"{pacific(rec.lut)}"}}'
        return {"Id": str(rec.id), "SyncToken": str(rec.sync), "domain": "QBO", "sparse": False,
                "MetaData": Raw(meta)}

    def _obj(self, entity: str, rec: Rec, enhanced: bool = False) -> Json:
        """Header plus fields; values may be None (dropped) or `Raw` (pre-serialized). `enhanced`: every
        custom field (`include=enhancedAllCustomFields`), not only the legacy three."""
        obj = self.header(rec)
        obj.update(self._builders[entity](self, rec, self.rng(entity, rec.id)))
        if enhanced:
            cf = obj.get("CustomField")
            if isinstance(cf, CustomFields):
                obj["CustomField"] = self._custom_enhanced[cf.idx]
        patch = self.patches.get((entity, rec.id))
        if patch:
            obj.update(patch)
        return obj

    def build(self, entity: str, rec: Rec, enhanced: bool = False) -> Json:
        """The record as a JSON-ready dict (a fresh object each call)."""
        out: Json = {}
        for k, v in self._obj(entity, rec, enhanced).items():
            if v is not None:
                out[k] = json.loads(v) if isinstance(v, Raw) else v
        return out

    def build_json(self, entity: str, rec: Rec, enhanced: bool = False) -> str:
        """The record serialized: same content as `build`, several times faster (and once per version with
        the render cache; a patched record is always built afresh)."""
        cache = self.rendered
        if cache is None or (entity, rec.id) in self.patches:
            return self._render(entity, rec, enhanced)
        key = (entity, rec.id, rec.ct, rec.lut, rec.sync, rec.active, enhanced)
        text = cache.get(key)
        if text is None:
            text = cache[key] = self._render(entity, rec, enhanced)
        return text

    def _render(self, entity: str, rec: Rec, enhanced: bool) -> str:
        plain: Json = {}
        tail = ""
        for k, v in self._obj(entity, rec, enhanced).items():
            if v is None:
                continue
            t = v.__class__
            if t is Raw or t is RawRef or t is CustomFields:
                tail += ',"' + k + '":' + v
            else:
                plain[k] = v
        return _dumps(plain)[:-1] + tail + "}"

    def page_json(self, entity: str, recs: Iterable[Rec], enhanced: bool = False) -> str:
        return "[" + ",".join([self.build_json(entity, r, enhanced) for r in recs]) + "]"

    def txn_date(self, rec: Rec) -> str:
        return pacific_date(rec.ct)

    def plus_days(self, iso: str, days: int) -> str:
        return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()

    def store_end_ts(self) -> float:
        return _epoch(self.vol.day(self.vol.ndays - 1)) + 86400

    def static(self, entity: str) -> list[Json]:
        """The fixed set of a non-generated entity (CompanyInfo, Preferences, ExchangeRate, ...)."""
        if entity == "CompanyInfo":
            return [self.company_info()]
        return STATIC[entity](self)

    def company_info(self) -> Json:
        p = self.pools
        start_ts = max(0.0, _epoch(self.vol.start))
        # Country as ISO 3166 alpha-3 and no Lat/Long in the company's addresses (Intuit, 2025)
        addr = {"Id": "1", "Line1": p.streets[0], "City": p.cities[0], "Country": "USA",
                "CountrySubDivisionCode": p.states[0], "PostalCode": p.zips[0]}
        name = p.companies[1] if len(p.companies) > 1 else "Sandbox Company"
        return {
            "CompanyName": name, "LegalName": name + " LLC", "CompanyAddr": addr, "LegalAddr": addr,
            "CustomerCommunicationAddr": addr, "PrimaryPhone": {"FreeFormNumber": "(650) 555-0100"},
            "CompanyStartDate": self.vol.start.isoformat(), "FiscalYearStartMonth": "January",
            "Country": "US", "Email": self.email(name), "WebAddr": {"URI": "https://example.com"},
            "SupportedLanguages": "en", "DefaultTimeZone": "America/Los_Angeles",
            "NameValue": [{"Name": "NeoEnabled", "Value": "true"}, {"Name": "IndustryType", "Value": "Landscaping"},
                          {"Name": "SubscriptionStatus", "Value": "PAID"},
                          {"Name": "OfferingSku", "Value": "QuickBooks Online Plus"}],
            "domain": "QBO", "sparse": False, "Id": "1", "SyncToken": "3",
            "MetaData": {"CreateTime": pacific(start_ts), "LastUpdatedTime": pacific(start_ts + 86400)},
        }


def _epoch(d: date) -> float:
    from qbo_ingest.local.emulator.timefmt import day_epoch

    return day_epoch(d)
