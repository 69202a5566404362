"""Emulator configuration and the data-volume profiles (records per entity per day)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Union

from qbo_ingest.local.emulator.capabilities import SCHEMA

PROFILES = ("empty", "demo", "sparse", "dense", "burst")
MAX_PER_DAY = 999_999  # Ids are `day_index * ID_STRIDE + n`, so a day holds fewer than ID_STRIDE records
ID_STRIDE = 1_000_000

# Per-day volume override: an int for every day, or a mapping {date | "YYYY-MM-DD" | "default": int}.
DayVolumes = Union[int, Mapping[Union[date, str], int]]


DAY_SECONDS = 86_400
HARD_TTL = 5 * 365 * DAY_SECONDS  # the 5-year maximum of a refresh token (Intuit, 2025)


@dataclass(frozen=True)
class RotationPolicy:
    """When a refresh returns a new refresh token, and how long the old one keeps working.

    `every_n=1`: every refresh rotates. `every_seconds=T`: rotate when the current token is older
    than T seconds. Both None: never rotate. `grace_seconds=0`: the old token dies at once.
    The default is Intuit's: the value changes about once a day and the previous one keeps working
    for a day (the grace period is unconfirmed; clients must always keep the newest token).
    """

    every_n: int | None = None
    every_seconds: float | None = DAY_SECONDS
    grace_seconds: float = DAY_SECONDS

    @classmethod
    def parse(cls, spec: str, grace_seconds: float | None = None) -> RotationPolicy:
        """`intuit` (daily, the default), `every-refresh`, `never`, `every:N` (every N-th refresh) or
        `after:SECONDS` (when the token is older than that); `grace_seconds` overrides the grace."""
        s = spec.strip().lower()
        if s == "intuit":
            pol = cls()
        elif s == "every-refresh":
            pol = cls(every_n=1, every_seconds=None, grace_seconds=0)
        elif s == "never":
            pol = cls(every_n=None, every_seconds=None, grace_seconds=0)
        elif s.startswith("every:") and s[6:].isdigit() and int(s[6:]) > 0:
            pol = cls(every_n=int(s[6:]), every_seconds=None, grace_seconds=0)
        elif s.startswith("after:") and s[6:].replace(".", "", 1).isdigit():
            pol = cls(every_n=None, every_seconds=float(s[6:]), grace_seconds=0)
        else:
            raise ValueError(f"Unknown rotation policy {spec!r}. Valid: intuit, every-refresh, never, "
                             "every:N, after:SECONDS")
        if grace_seconds is not None:
            if grace_seconds < 0:
                raise ValueError("grace_seconds must be >= 0")
            pol = cls(pol.every_n, pol.every_seconds, float(grace_seconds))
        return pol


@dataclass
class EmulatorConfig:
    seed: int = 1
    profile: str = "demo"
    realm_id: str = "9341453000000001"
    client_id: str = "emu-client-id"
    client_secret: str = field(default="emu-client-secret", repr=False)
    access_ttl: int = 3600
    rotation: RotationPolicy = field(default_factory=RotationPolicy)
    refresh_hard_ttl: int = HARD_TTL  # x_refresh_token_hard_expires_in of a new grant
    latency_ms: int = 0
    jitter_ms: int = 0
    throttle: bool = True
    retry_after: int | None = None  # seconds for a Retry-After header on 429s; None: no header
    data_start: date = date(2023, 1, 1)
    data_end: date = date(2026, 11, 27)
    clock: Callable[[], datetime] | None = None  # () -> aware datetime; None: the wall clock
    # {"Invoice": 1001} or {"Invoice": {"2024-01-05": 1001, "default": 0}}; "*" applies to all entities
    profile_overrides: Mapping[str, DayVolumes] | None = None
    per_minute: int = 500
    per_second: int = 10
    batch_per_minute: int = 40  # per realm and app
    batch_per_realm_minute: int = 120  # per realm, all apps (Intuit since 2025-10-31)
    monthly_call_cap: int | None = None  # metered CorePlus calls a month (Builder tier: 500_000); None: off
    update_fraction: float = 0.15  # generated records later edited (LastUpdatedTime moves forward)
    delete_fraction: float = 0.03  # generated transactions later hard-deleted
    max_lag_days: int = 20  # generated edits/deletes happen within this many days of creation
    redirect_uris: tuple[str, ...] = ()  # allowed redirect URIs for /connect/oauth2; empty: any loopback/https
    render_cache: bool = False  # keep each record version's JSON once built (benchmarks; ~1.8 KB a record)

    @classmethod
    def from_options(cls, *, seed: int = 1, profile: str = "demo", rotation: str = "intuit",
                     grace_seconds: float | None = None, access_ttl: int = 3600, latency_ms: int = 0,
                     jitter_ms: int = 0, throttle: bool = True, data_start: str | None = None,
                     data_end: str | None = None, **more: object) -> EmulatorConfig:
        """The configuration from command-line spellings (what `qbo-ingest emulator` passes); ValueError
        with a readable message on a bad value."""
        if access_ttl <= 0 or latency_ms < 0 or jitter_ms < 0:
            raise ValueError("access-token lifetime must be > 0 and latency/jitter >= 0")
        kw: dict[str, object] = dict(more)
        for key, text in (("data_start", data_start), ("data_end", data_end)):
            if text:
                try:
                    kw[key] = date.fromisoformat(text)
                except ValueError:
                    raise ValueError(f"{key} {text!r} is not a date (YYYY-MM-DD)") from None
        return cls(seed=seed, profile=profile, rotation=RotationPolicy.parse(rotation, grace_seconds),
                   access_ttl=access_ttl, latency_ms=latency_ms, jitter_ms=jitter_ms, throttle=throttle,
                   **kw)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        if isinstance(self.profile, str) and self.profile not in PROFILES:
            raise ValueError(f"Unknown profile {self.profile!r}. Valid: {', '.join(PROFILES)}")
        if self.data_end < self.data_start:
            raise ValueError("data_end is before data_start")
        today = datetime.now(timezone.utc).date()
        if self.clock is None and self.data_end >= today:
            # Days are generated whole: a data_end of today would serve records stamped later than now,
            # which QBO never does (and which would hide CDC changes behind a future watermark). Tests
            # with their own clock choose their data range themselves.
            raise ValueError(f"data_end {self.data_end} must be before today ({today} UTC)")
        for name in self.profile_overrides or {}:
            if name != "*" and name not in SCHEMA.generated():
                raise ValueError(f"profile_overrides: unknown entity {name!r}")


def stable_seed(*parts: object) -> int:
    """A process-independent seed (Python's str hash is randomised per process)."""
    h = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big")


# Records created on the first day of data (the company's opening lists) per list entity.
_LIST_SEED_SPARSE = {
    "Account": 40, "Budget": 2, "Class": 8, "Customer": 60, "CustomerType": 5, "Department": 5,
    "Employee": 12, "Item": 40, "PaymentMethod": 6, "TaxAgency": 2, "TaxCode": 6, "TaxRate": 6,
    "Term": 5, "Vendor": 30, "CompanyCurrency": 3,
}
# Generated entities with a few records a day at most, whatever the profile.
_RARE = {"Attachable": 3, "CreditCardPayment": 2}
_CHART = 34  # len(names.ACCOUNTS): the default chart of accounts

# Chance per later day that a list entity gets 1-2 new records.
_LIST_TRICKLE = {"Customer": 0.5, "Item": 0.15, "Vendor": 0.2, "Employee": 0.02, "Account": 0.02}


class Volumes:
    """Deterministic records-per-(entity, day) for a profile plus overrides."""

    def __init__(self, cfg: EmulatorConfig) -> None:
        self.cfg = cfg
        self.start = cfg.data_start
        self.ndays = (cfg.data_end - cfg.data_start).days + 1
        self._overrides: dict[str, DayVolumes] = dict(cfg.profile_overrides or {})
        self._burst: dict[tuple[str, int], int] = {}
        if cfg.profile == "burst":
            rng = random.Random(stable_seed(cfg.seed, "burst"))
            for name in ("Invoice", "Invoice", "Payment", "Bill"):
                self._burst[(name, rng.randrange(self.ndays))] = 100_000
        self._cache: dict[tuple[str, int], int] = {}

    def burst_days(self) -> dict[str, list[date]]:
        """The seeded days holding 100,000 records (profile `burst`)."""
        out: dict[str, list[date]] = {}
        for (name, d) in sorted(self._burst, key=lambda k: (k[0], k[1])):
            out.setdefault(name, []).append(self.day(d))
        return out

    def day(self, index: int) -> date:
        return date.fromordinal(self.start.toordinal() + index)

    def index(self, d: date) -> int:
        return d.toordinal() - self.start.toordinal()

    def count(self, entity: str, index: int) -> int:
        if index < 0 or index >= self.ndays:
            return 0
        key = (entity, index)
        got = self._cache.get(key)
        if got is None:
            got = min(MAX_PER_DAY, max(0, self._count(entity, index)))
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = got
        return got

    def _override(self, entity: str, index: int) -> int | None:
        for key in (entity, "*"):
            if key not in self._overrides:
                continue
            spec = self._overrides[key]
            if isinstance(spec, int):
                return spec
            d = self.day(index)
            for k in (d, d.isoformat()):
                if k in spec:
                    return int(spec[k])
            if "default" in spec:
                return int(spec["default"])
            return 0
        return None

    def _count(self, entity: str, index: int) -> int:
        over = self._override(entity, index)
        if over is not None:
            return over
        profile = self.cfg.profile
        if profile == "empty":
            return 0
        ent = SCHEMA.caps[entity]
        rng = random.Random(stable_seed(self.cfg.seed, "vol", entity, index))
        if ent.kind == "list":
            scale = 0.25 if profile == "demo" else 1.0
            if index == 0:
                n = max(1, round(_LIST_SEED_SPARSE.get(entity, 3) * scale))
                # every company starts with the whole default chart, so each posting has its own account
                return max(n, _CHART) if entity == "Account" else n
            p = _LIST_TRICKLE.get(entity, 0.0) * (0.4 if profile == "demo" else 1.0)
            return rng.randint(1, 2) if rng.random() < p else 0
        if entity in _RARE:
            return rng.randint(0, _RARE[entity])
        if profile == "demo":
            return rng.randint(1, 5)
        if profile == "dense":
            return rng.randint(1900, 2100) if entity == "Invoice" else rng.randint(150, 250)
        if profile == "burst" and (entity, index) in self._burst:
            return self._burst[(entity, index)]
        return rng.randint(15, 25)  # sparse and burst
