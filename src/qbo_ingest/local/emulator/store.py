"""The emulated company's records: generated lazily per (entity, day), plus an overlay of mutations.

Nothing is generated up front. A day's skeletons (Id, times, SyncToken, Active, delete time) come
from a RNG seeded by (seed, entity, day) and are cached in a bounded LRU; payloads are built only
for the rows of the page being served. Explicit mutations (update/delete) live in a small overlay
that wins over the generated record with the same Id.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from qbo_ingest.local.emulator.capabilities import SCHEMA
from qbo_ingest.local.emulator.config import ID_STRIDE, EmulatorConfig, Volumes, stable_seed
from qbo_ingest.local.emulator.payloads import Builder
from qbo_ingest.local.emulator.predicates import (
    REC_FIELDS,
    bounds,
    ids_wanted,
    payload_pred,
    prefix_ok,
    rec_pred,
    sort_key,
)
from qbo_ingest.local.emulator.query import Query
from qbo_ingest.local.emulator.records import Rec
from qbo_ingest.local.emulator.timefmt import day_epoch

DAY = 86400.0
_MAX_CACHED_RECS = 1_200_000


class _DayData:
    __slots__ = ("moved", "recs")

    def __init__(self, recs: list[Rec], moved: list[Rec]) -> None:
        self.recs = recs  # in creation order: recs[i].id == day * ID_STRIDE + i + 1
        self.moved = moved  # records whose last change falls on a later day


class Store:
    def __init__(self, cfg: EmulatorConfig, volumes: Volumes, builder: Builder,
                 now: Callable[[], float]) -> None:
        self.cfg = cfg
        self.vol = volumes
        self.builder = builder
        self.now = now
        self.lock = threading.RLock()
        self.start_ts = day_epoch(cfg.data_start)
        self.end_ts = day_epoch(cfg.data_end) + DAY
        self.max_lag = cfg.max_lag_days * DAY
        self.version = 0
        self.over: dict[str, dict[int, Rec]] = {}
        self._days: OrderedDict[tuple[str, int], _DayData] = OrderedDict()
        self._weight = 0
        self._results: OrderedDict[tuple[Any, ...], list[Rec]] = OrderedDict()

    # ---- generation ------------------------------------------------------------------------
    def _generate(self, entity: str, d: int) -> _DayData:
        n = self.vol.count(entity, d)
        if n <= 0:
            return _DayData([], [])
        rng = random.Random(stable_seed(self.cfg.seed, "day", entity, d))
        base = self.start_ts + d * DAY
        next_day = base + DAY
        rnd = rng.random
        offsets = sorted([int(rnd() * 86400) for _ in range(n)])
        is_txn = SCHEMA.caps[entity].kind != "list"  # transactions and attachments are hard-deleted
        p_upd, p_del = self.cfg.update_fraction, self.cfg.delete_fraction if is_txn else 0.0
        lag = max(120, int(self.max_lag))
        end = self.end_ts
        first_id = d * ID_STRIDE + 1
        recs: list[Rec] = []
        moved: list[Rec] = []
        for i, off in enumerate(offsets):
            ct = base + off
            lut = ct
            sync = 0
            if rnd() < p_upd:
                t = ct + 60 + int(rnd() * (lag - 60))
                if t < end:
                    lut, sync = t, 1 + int(t) % 3
            deleted = None
            active = True
            if is_txn:
                if rnd() < p_del:
                    t = lut + 60 + int(rnd() * (lag - 60))
                    if t < end:
                        deleted = t
            elif d > 0 or i >= 3:  # the first few opening records stay active
                active = rnd() >= 0.1
            r = Rec(first_id + i, d, ct, lut, sync, active, deleted)
            recs.append(r)
            if r.changed >= next_day:
                moved.append(r)
        return _DayData(recs, moved)

    def day_data(self, entity: str, d: int) -> _DayData:
        key = (entity, d)
        with self.lock:
            got = self._days.get(key)
            if got is not None:
                self._days.move_to_end(key)
                return got
        data = self._generate(entity, d)
        with self.lock:
            if key not in self._days:
                self._days[key] = data
                self._weight += len(data.recs) + 1
                while self._weight > _MAX_CACHED_RECS and len(self._days) > 1:
                    _, old = self._days.popitem(last=False)
                    self._weight -= len(old.recs) + 1
        return data

    def get(self, entity: str, rid: int) -> Rec | None:
        """The current record with this Id (deleted ones included), or None."""
        with self.lock:
            o = self.over.get(entity, {}).get(rid)
        if o is not None:
            return o
        d, seq = divmod(rid, ID_STRIDE)
        data = self.day_data(entity, d)
        return data.recs[seq - 1] if 1 <= seq <= len(data.recs) else None

    # ---- mutations -------------------------------------------------------------------------
    def put(self, entity: str, rec: Rec) -> None:
        with self.lock:
            self.over.setdefault(entity, {})[rec.id] = rec
            self.version += 1
            self._results.clear()

    # ---- scanning --------------------------------------------------------------------------
    def _day_of(self, ts: float) -> int:
        return int((ts - self.start_ts) // DAY)

    def candidates(self, entity: str, lo: float | None, hi: float | None, *, by_change: bool,
                   ct_lo: float | None = None, ct_hi: float | None = None) -> Iterator[Rec]:
        """Records that may have their last update (or change, for CDC) in [lo, hi]; a superset."""
        nd = self.vol.ndays
        first_full, last_full, first_moved = 0, nd - 1, 0
        if lo is not None or hi is not None:
            first_full = max(0, self._day_of(lo)) if lo is not None else 0
            last_full = min(nd - 1, self._day_of(hi)) if hi is not None else nd - 1
            # edits land at most max_lag after creation; deletes at most max_lag after the last edit
            lag = (2 if by_change else 1) * self.max_lag
            first_moved = max(0, first_full - int(lag // DAY) - 2)
        elif ct_lo is not None or ct_hi is not None:
            first_full = max(0, self._day_of(ct_lo)) if ct_lo is not None else 0
            last_full = min(nd - 1, self._day_of(ct_hi)) if ct_hi is not None else nd - 1
            first_moved = first_full
        with self.lock:
            over = dict(self.over.get(entity, {}))
        for d in range(first_moved, min(first_full, last_full + 1)):
            for r in self.day_data(entity, d).moved:
                if r.id not in over:
                    yield r
        for d in range(first_full, last_full + 1):
            recs = self.day_data(entity, d).recs
            if over:
                yield from (r for r in recs if r.id not in over)
            else:
                yield from recs
        yield from over.values()

    # ---- queries ---------------------------------------------------------------------------
    def select(self, q: Query, *, need: int | None = None) -> list[Rec]:
        """Matching live records in the query's order (cached per filter and data version).

        `need`: only the first `need` records in order are wanted (one page); for a query in ascending
        LastUpdatedTime order the scan then stops at the first day that settles them, and a prefix of
        the result comes back. (Scanning a whole 30-day span for each of its 60 keyset pages made a dense
        300-day backfill cost the emulator more CPU than the engine.)"""
        if need is not None and prefix_ok(q):
            return self._select_prefix(q, need)
        key = (q.filter_key(), self.version)
        with self.lock:
            got = self._results.get(key)
            if got is not None:
                self._results.move_to_end(key)
                return got
        result = self._select(q)
        with self.lock:
            if key[1] == self.version:
                self._results[key] = result
                while len(self._results) > 24:
                    self._results.popitem(last=False)
        return result

    def _select(self, q: Query) -> list[Rec]:
        lo, hi = bounds(q.conditions, "MetaData.LastUpdatedTime")
        ct_lo, ct_hi = bounds(q.conditions, "MetaData.CreateTime")
        rec_preds = [rec_pred(c) for c in q.conditions if c.field in REC_FIELDS]
        payload_conds = [c for c in q.conditions if c.field not in REC_FIELDS]
        active_default = SCHEMA.caps[q.entity].active_only_by_default and not q.has_condition("Active")
        ids = ids_wanted(q.conditions)
        if ids is not None:  # the Id encodes its creation day: no scan needed
            cands: Iterable[Rec] = [r for r in (self.get(q.entity, i) for i in sorted(ids)) if r is not None]
        else:
            cands = self.candidates(q.entity, lo, hi, by_change=False, ct_lo=ct_lo, ct_hi=ct_hi)
        out = [
            r for r in cands
            if r.deleted is None and (r.active or not active_default) and all(p(r) for p in rec_preds)
        ]
        payloads: dict[int, dict[str, Any]] = {}
        needs_payload = payload_conds or (q.order_field is not None and q.order_field not in REC_FIELDS)
        if needs_payload:
            payloads = {r.id: self.builder.build(q.entity, r) for r in out}
        if payload_conds:
            preds = [payload_pred(c) for c in payload_conds]
            out = [r for r in out if all(p(payloads[r.id]) for p in preds)]
        out.sort(key=sort_key(q.order_field, payloads), reverse=q.descending)
        return out

    def _select_prefix(self, q: Query, need: int) -> list[Rec]:
        """The first `need` matches in (LastUpdatedTime, Id) order. A record created on a later day
        than those scanned has LastUpdatedTime >= that day's start (edits only move it forward), so once
        `need` matches lie before the next day's start, no unscanned record can come before them."""
        lo, hi = bounds(q.conditions, "MetaData.LastUpdatedTime")
        preds = [rec_pred(c) for c in q.conditions]
        active_default = SCHEMA.caps[q.entity].active_only_by_default and not q.has_condition("Active")

        def keep(r: Rec) -> bool:
            return r.deleted is None and (r.active or not active_default) and all(p(r) for p in preds)

        nd = self.vol.ndays
        first_full = max(0, self._day_of(lo)) if lo is not None else 0
        last_full = min(nd - 1, self._day_of(hi)) if hi is not None else nd - 1
        first_moved = max(0, first_full - int(self.max_lag // DAY) - 2)
        with self.lock:
            over = dict(self.over.get(q.entity, {}))
        out = [r for r in over.values() if keep(r)]
        for d in range(first_moved, min(first_full, last_full + 1)):
            out.extend(r for r in self.day_data(q.entity, d).moved if r.id not in over and keep(r))
        for d in range(first_full, last_full + 1):
            out.extend(r for r in self.day_data(q.entity, d).recs if r.id not in over and keep(r))
            bound = self.start_ts + (d + 1) * DAY
            if sum(1 for r in out if r.lut < bound) >= need:
                break
        out.sort(key=sort_key(q.order_field, {}))
        return out[:need]  # beyond `need`, a later day's record could still come first

    def changes(self, entity: str, since: float, until: float) -> list[Rec]:
        """CDC: live and deleted records whose last change is in [since, until]."""
        return [r for r in self.candidates(entity, since, until, by_change=True)
                if since <= r.changed <= until]

    def all_deleted(self, entity: str, lo: float | None = None, hi: float | None = None) -> list[Rec]:
        return [r for r in self.candidates(entity, lo, hi, by_change=True)
                if r.deleted is not None and (lo is None or r.deleted >= lo) and (hi is None or r.deleted < hi)]

    def payloads(self, entity: str, recs: Iterable[Rec]) -> list[dict[str, Any]]:
        b = self.builder.build
        return [b(entity, r) for r in recs]

    def page_json(self, entity: str, recs: Iterable[Rec]) -> str:
        return self.builder.page_json(entity, recs)


def epoch_to_utc(ts: float) -> datetime:
    from qbo_ingest.local.emulator.timefmt import UTC

    return datetime.fromtimestamp(ts, UTC)
