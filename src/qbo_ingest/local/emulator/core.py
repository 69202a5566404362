"""`Emulator`: one emulated QBO company with its OAuth server, throttle, faults and counters."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import date, datetime
from typing import Any

from qbo_ingest.local.emulator.capabilities import SCHEMA
from qbo_ingest.local.emulator.config import EmulatorConfig, Volumes, stable_seed
from qbo_ingest.local.emulator.faults import Faults
from qbo_ingest.local.emulator.meter import Meter
from qbo_ingest.local.emulator.oauth import OAuthServer
from qbo_ingest.local.emulator.payloads import Builder
from qbo_ingest.local.emulator.postings import Ledger
from qbo_ingest.local.emulator.query import Query, parse
from qbo_ingest.local.emulator.records import Rec
from qbo_ingest.local.emulator.reports import Reports
from qbo_ingest.local.emulator.store import Store, epoch_to_utc
from qbo_ingest.local.emulator.throttle import Throttle
from qbo_ingest.local.emulator.timefmt import PACIFIC, UTC, as_epoch

COUNTER_KINDS = ("query", "count", "cdc", "batch", "batch_items", "companyinfo", "read", "token", "authorize", "revoke",
                 "report", "throttled", "metered_blocked", "faults", "total")
QUERYABLE = SCHEMA  # what a query may name: entities and their properties


class Emulator:
    """A local QuickBooks Online company. Thread-safe; serve it with `serve_in_thread`."""

    def __init__(self, cfg: EmulatorConfig | None = None) -> None:
        self.cfg = cfg or EmulatorConfig()
        self.volumes = Volumes(self.cfg)
        self.builder = Builder(self.cfg.seed, self.volumes, render_cache=self.cfg.render_cache)
        self.store = Store(self.cfg, self.volumes, self.builder, self.now_ts)
        self.ledger = Ledger(self.store, self.builder)  # the one posting function behind every report
        self.reports = Reports(self.ledger, lambda: self.now().astimezone(PACIFIC).date())
        self.oauth = OAuthServer(self.cfg, self.now_ts)
        self.throttle = Throttle(self.now_ts, per_minute=self.cfg.per_minute, per_second=self.cfg.per_second,
                                 batch_per_minute=self.cfg.batch_per_minute,
                                 batch_per_realm_minute=self.cfg.batch_per_realm_minute)
        self.meter = Meter(self.cfg.monthly_call_cap, self.now_ts)
        self.faults = Faults()
        self._lock = threading.Lock()
        self._counters: Counter[str] = Counter()
        self._pending_mutations: dict[str, list[tuple[int, int, datetime | None]]] = {}
        self._mut_rng = random.Random(stable_seed(self.cfg.seed, "mutate"))
        self.mutations: list[tuple[str, str, datetime]] = []  # (entity, Id, new LastUpdatedTime)

    def __repr__(self) -> str:
        return f"Emulator(realm_id={self.cfg.realm_id!r}, profile={self.cfg.profile!r}, seed={self.cfg.seed})"

    # ---- time ------------------------------------------------------------------------------
    def now(self) -> datetime:
        if self.cfg.clock is not None:
            t = self.cfg.clock()
            if t.tzinfo is None:
                raise ValueError("EmulatorConfig.clock must return an aware datetime")
            return t
        return datetime.now(UTC)

    def now_ts(self) -> float:
        return self.now().timestamp()

    # ---- counters --------------------------------------------------------------------------
    def count_request(self, kind: str) -> dict[str, int]:
        """Count one request; returns its 1-based number for its kind and overall (`any`)."""
        with self._lock:
            self._counters[kind] += 1
            self._counters["total"] += 1
            return {kind: self._counters[kind], "any": self._counters["total"]}

    def bump(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self._counters[kind] += n

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {k: self._counters.get(k, 0) for k in COUNTER_KINDS}

    def reset_counters(self) -> None:
        with self._lock:
            self._counters.clear()
        self.throttle.reset()

    # ---- OAuth -----------------------------------------------------------------------------
    def issue_refresh_token(self) -> str:
        """A valid refresh token, as a user would copy it from the OAuth playground."""
        return self.oauth.issue_refresh_token()

    def revoke_all_access_tokens(self) -> None:
        self.oauth.revoke_all_access_tokens()

    # ---- ground truth ----------------------------------------------------------------------
    def parse(self, statement: str) -> Query:
        return parse(statement, QUERYABLE)

    def truth(self, entity: str, start: datetime | date, end: datetime | date) -> dict[str, datetime]:
        """{Id: LastUpdatedTime} of live records with start <= LUT < end (lists: active and inactive)."""
        name = SCHEMA.lookup(entity).name
        lo, hi = as_epoch(start), as_epoch(end)
        recs = self.store.candidates(name, lo, hi, by_change=False)
        return {str(r.id): epoch_to_utc(r.lut) for r in recs if r.deleted is None and lo <= r.lut < hi}

    def prerender(self, entity: str, start: datetime | date, end: datetime | date) -> int:
        """Build the JSON of every record version with start <= LastUpdatedTime < end now, so serving them
        later costs no rendering (needs `render_cache`; a benchmark calls it before its clock starts, as the
        emulator stands for Intuit's servers). Returns the records rendered."""
        if self.builder.rendered is None:
            raise ValueError("prerender needs EmulatorConfig(render_cache=True)")
        name = SCHEMA.lookup(entity).name
        lo, hi = as_epoch(start), as_epoch(end)
        recs = [r for r in self.store.candidates(name, lo, hi, by_change=False) if lo <= r.lut < hi]
        for r in recs:
            self.builder.build_json(name, r)
        return len(recs)

    def deleted(self, entity: str, start: datetime | date | None = None,
                end: datetime | date | None = None) -> dict[str, datetime]:
        """{Id: deleted_at} of hard-deleted transactions (optionally deleted in [start, end))."""
        name = SCHEMA.lookup(entity).name
        lo = as_epoch(start) if start is not None else None
        hi = as_epoch(end) if end is not None else None
        return {str(r.id): epoch_to_utc(r.deleted) for r in self.store.all_deleted(name, lo, hi)
                if r.deleted is not None}

    def record(self, entity: str, rid: str | int) -> dict[str, Any] | None:
        """The current payload of one live record (None when missing or deleted)."""
        name = SCHEMA.lookup(entity).name
        r = self.store.get(name, int(rid))
        return None if r is None or r.deleted is not None else self.builder.build(name, r)

    def burst_days(self) -> dict[str, list[date]]:
        return self.volumes.burst_days()

    # ---- mutations -------------------------------------------------------------------------
    def _live(self, entity: str, rid: str | int) -> tuple[str, Rec]:
        name = SCHEMA.lookup(entity).name
        r = self.store.get(name, int(rid))
        if r is None or r.deleted is not None:
            raise KeyError(f"{name} {rid} does not exist (or was deleted)")
        return name, r

    def _at(self, at: datetime | None, floor: float) -> float:
        ts = as_epoch(at) if at is not None else self.now_ts()
        return float(max(int(ts), int(floor)))

    def update_record(self, entity: str, rid: str | int, at: datetime | None = None) -> datetime:
        """Edit a record: LastUpdatedTime moves to `at` (default: now), SyncToken goes up by one."""
        name, r = self._live(entity, rid)
        new = r.replace(lut=self._at(at, r.ct), sync=r.sync + 1)
        self.store.put(name, new)
        return epoch_to_utc(new.lut)

    def delete_record(self, entity: str, rid: str | int, at: datetime | None = None) -> datetime:
        """Hard-delete a transaction (gone from queries, a stub in CDC). A list record is made
        inactive instead, which is what QBO does when a user deletes one."""
        name, r = self._live(entity, rid)
        ts = self._at(at, r.lut)
        if SCHEMA.caps[name].kind == "list":
            self.store.put(name, r.replace(lut=ts, sync=r.sync + 1, active=False))
        else:
            self.store.put(name, r.replace(deleted=ts))
        return epoch_to_utc(ts)

    def patch_record(self, entity: str, rid: str | int, fields: dict[str, Any]) -> None:
        """Serve these fields in the record's payload from now on (the record's times do not change):
        e.g. `{"DisplayName": "a\\u0000b"}` for text QBO may hold but jsonb cannot."""
        name, r = self._live(entity, rid)
        self.builder.patches[(name, r.id)] = {**self.builder.patches.get((name, r.id), {}), **fields}
        with self.store.lock:
            self.store.version += 1  # cached query results hold payloads

    def mutate_between_pages(self, entity: str, n: int, *, at: datetime | None = None, after: int = 1) -> None:
        """After the `after`-th next page request of `entity`, edit `n` records of that query's result
        set: their LastUpdatedTime moves to `at` (default: now)."""
        name = SCHEMA.lookup(entity).name
        with self._lock:
            self._pending_mutations.setdefault(name, []).append((max(1, int(after)), int(n), at))

    def mutations_pending(self, entity: str) -> bool:
        """Edits scheduled to happen after a coming page of `entity` (admin `edit-after-pages`)."""
        with self._lock:
            return bool(self._pending_mutations.get(entity))

    def after_page(self, entity: str, result: list[Rec]) -> None:
        """Called by the app once a page of `entity` has been built."""
        due: list[tuple[int, datetime | None]] = []
        with self._lock:
            left: list[tuple[int, int, datetime | None]] = []
            for countdown, n, at in self._pending_mutations.pop(entity, []):
                if countdown <= 1:
                    due.append((n, at))
                else:
                    left.append((countdown - 1, n, at))
            if left:
                self._pending_mutations[entity] = left
            picks = [(self._mut_rng.sample(result, min(n, len(result))), at) for n, at in due]
        for recs, at in picks:
            for r in recs:
                when = self.update_record(entity, r.id, at)
                self.mutations.append((entity, str(r.id), when))
