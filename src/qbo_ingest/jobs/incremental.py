"""Incremental sync: from each entity's watermark to now, plus deletes from CDC.

Changes are loaded through the same day windows, upserts and ledger as the backfill: the days from
(watermark - overlap) to today are fetched as one keyset stream. Transactions are hard-deleted in
QBO and vanish from queries; CDC is the only place a deletion shows, so for entities CDC supports the
sync asks CDC for deletions since the last check and marks those rows (`deleted_at_utc`), keeping
their last payload.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import QboIngestError, SyncError
from qbo_ingest.pipeline.engine import Engine, RunReport
from qbo_ingest.records import last_updated

log = logging.getLogger("qbo_ingest.sync")

UTC = timezone.utc
OVERLAP = timedelta(minutes=10)  # records committed late at QBO around the watermark are not missed
CDC_MAX_AGE = timedelta(days=30)
CDC_CAP = 1000

@dataclass
class SyncReport:
    loads: RunReport | None = None
    deleted: dict[str, int] = field(default_factory=dict)
    cdc_requests: int = 0
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # an entity's deletion check that failed (the others ran)

    @property
    def ok(self) -> bool:
        return (self.loads is None or self.loads.ok) and not self.errors


def sync(engine: Engine, entities: Sequence[Entity], *, now: Callable[[], datetime] | None = None,
         overlap: timedelta = OVERLAP, deletes: bool = True) -> SyncReport:
    clock = now or (lambda: datetime.now(UTC))
    started = clock()
    report = SyncReport()
    plan: dict[Entity, list[date]] = {}
    with engine.checked(entities) as conn:
        for e in entities:
            mark = _start_of(conn, engine, e, overlap)
            if mark is None:
                note = (f"{e.name}: nothing loaded for realm {engine.realm_id} (no row in raw, no succeeded day "
                        f"in the ledger): skipped. Load it once with: qbo-ingest backfill {e.name} "
                        f"--fecha-inicio 2024-01-01 --fecha-fin {started.date() - timedelta(days=1)}")
                log.warning(note)
                report.notes.append(note)
                continue
            first = mark.astimezone(UTC).date()
            plan[e] = [first + timedelta(days=i) for i in range((started.date() - first).days + 1)]
            log.info("%s: syncing from %s (%s..%s)", e.name, mark.isoformat(), first, started.date())
    if not plan:
        raise SyncError("nothing to sync: no entity given has been loaded yet; run a backfill first, e.g. "
                        f"qbo-ingest backfill {entities[0].name} --fecha-inicio 2024-01-01 "
                        f"--fecha-fin {started.date() - timedelta(days=1)}")
    report.loads = engine.load_plan(plan, command="sync")
    if deletes:
        _cdc_deletes(engine, [e for e in plan if e.cdc], started, report)
        skipped = [e.name for e in plan if not e.cdc]
        if skipped:
            report.notes.append(f"no CDC at QBO for {', '.join(skipped)}: deletions there need `reconcile`")
    return report


def _start_of(conn: Any, engine: Engine, e: Entity, overlap: timedelta) -> datetime | None:
    """Where an entity's sync starts: its watermark minus the overlap; with nothing in raw, the end of the
    newest day the ledger marks succeeded (a backfill that found no record) minus the overlap."""
    mark = wh.watermark(conn, e, engine.realm_id)
    if mark is not None:
        return mark - overlap
    day = wh.newest_succeeded_day(conn, engine.realm_id, e)
    if day is None:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1) - overlap


def _cdc_deletes(engine: Engine, entities: Sequence[Entity], started: datetime, report: SyncReport) -> None:
    with wh.connect(engine.dsn) as conn:
        for e in entities:
            since = wh.cdc_checked_at(conn, engine.realm_id, e)
            if since is None:
                mark = _start_of(conn, engine, e, OVERLAP)
                # never later than now: a clock-skewed record must not hide deletions made since the load
                since = min(mark, started - OVERLAP) if mark else started - CDC_MAX_AGE
            if since < started - CDC_MAX_AGE + timedelta(minutes=1):
                note = (f"{e.name}: last CDC check {since:%Y-%m-%d} is older than QBO's 30-day CDC limit; deletions "
                        f"before {started - CDC_MAX_AGE:%Y-%m-%d} may be missed. Run `qbo-ingest reconcile` for "
                        f"{e.name} and, on a mismatch, a full re-scan: qbo-ingest sync {e.name} --rescan")
                log.warning(note)
                report.notes.append(note)
                since = started - CDC_MAX_AGE + timedelta(minutes=1)
            try:
                stubs = _deleted_since(engine, e, since, report)
                if stubs is None:  # CDC cannot page past one second: find the deletions by a full id scan
                    report.deleted[e.name] = rescan_deletes(engine, e, now=lambda: started)
                else:
                    report.deleted[e.name] = wh.mark_deleted(conn, e, engine.realm_id, stubs) if stubs else 0
            except QboIngestError as exc:  # this entity's check failed; the next entities are still checked
                msg = f"{e.name}: deletion check failed: {exc}"
                log.error(msg)
                report.errors.append(msg)
                continue
            wh.cdc_save_check(conn, engine.realm_id, e, started)
            if report.deleted[e.name]:
                log.info("%s: %d deletion(s) marked", e.name, report.deleted[e.name])


def _deleted_since(engine: Engine, entity: Entity, since: datetime,
                   report: SyncReport) -> list[dict[str, Any]] | None:
    """Every deleted stub since `since`. A response at the 1000-object cap is continued from the newest
    change it holds (CDC answers oldest first), one entity per request, until an answer is under the cap.
    None when a single second holds 1000 changes or more: CDC has no way past it (no paging), so the
    caller falls back to a full id re-scan."""
    stubs: dict[str, dict[str, Any]] = {}
    cursor = since
    while True:
        objs = engine.client.cdc([entity], cursor).get(entity.name, [])
        report.cdc_requests += 1
        for o in objs:
            if o.get("status") == "Deleted":
                stubs[str(o["Id"])] = o
        if len(objs) < CDC_CAP:
            return list(stubs.values())
        newest = max(last_updated(o, entity=entity.name) for o in objs)
        if newest <= cursor:  # a thousand changes in one second: cannot narrow further
            log.warning("%s: %d or more CDC changes at %s, past QBO's cap for one answer; finding deletions by a "
                        "full id re-scan instead (about ceil(N/1000) requests)", entity.name, CDC_CAP,
                        cursor.isoformat())
            report.notes.append(f"{entity.name}: CDC burst at {cursor.isoformat()} (>= {CDC_CAP} changes in one "
                                "second): deletions found by a full re-scan")
            return None
        log.info("%s: CDC answer hit the %d-object cap; continuing from %s", entity.name, CDC_CAP, newest.isoformat())
        cursor = newest


def rescan_deletes(engine: Engine, entity: Entity, *, now: Callable[[], datetime] | None = None) -> int:
    """Full re-scan: page every id QBO still has for the loaded range and mark the raw rows it lacks
    as deleted. For when CDC's 30-day window has passed (or for entities without CDC). Costs about
    ceil(N/1000) requests; holds only the ids in memory."""
    clock = now or (lambda: datetime.now(UTC))
    at = clock()
    with wh.connect(engine.dsn) as conn:
        loaded = wh.raw_snapshot(conn, entity, engine.realm_id)
    if not loaded:
        return 0
    start = min(loaded.values()).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seen: set[str] = set()
    for page in engine.client.pages(entity, start, at + timedelta(seconds=1), page_size=engine.page_size,
                                    keys_only=True):
        seen.update(str(r["Id"]) for r in page.records)
    gone = [i for i in loaded if i not in seen]
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stubs = [{"Id": i, "status": "Deleted", "MetaData": {"LastUpdatedTime": stamp}} for i in gone]
    with wh.connect(engine.dsn) as conn:
        return wh.mark_deleted(conn, entity, engine.realm_id, stubs) if stubs else 0
