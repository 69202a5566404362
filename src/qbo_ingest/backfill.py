"""Backfill: plan -> extract -> load -> validate -> ledger, with resume and retry-failed.

A day is the unit of the ledger and of retry. Consecutive pending days are fetched as keyset-paged
streams (see planning.py); a heavy day may be fetched by several streams, each over a time slice of
it. Each page is upserted as soon as it arrives, so memory stays one page per stream. A day is closed
(quality gates + ledger row) once every stream touching it has moved past it or ended: the streams
share a `DayBook` that sums their counts per day and counts the streams still open on it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timezone
from typing import Any

from qbo_ingest import faultpoints
from qbo_ingest import warehouse as wh
from qbo_ingest.entities import Entity
from qbo_ingest.planning import Span, contiguous_runs, split_run
from qbo_ingest.quality import QualityGateError, check_window, source_check
from qbo_ingest.redact import redact
from qbo_ingest.windows import Window, daily_windows, parse_qbo_time

log = logging.getLogger("qbo_ingest.backfill")

MAX_IN_FLIGHT = 10  # QBO: 10 requests per second / in flight per realm


@dataclass
class DayStats:
    rows_fetched: int = 0
    rows_upserted: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    intuit_tid: str | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass
class DayOutcome:
    entity: str
    day: date
    status: str  # succeeded | failed
    rows_fetched: int
    rows_upserted: int
    requests: int
    error: str | None = None


@dataclass
class RunReport:
    run_id: str
    outcomes: list[DayOutcome] = field(default_factory=list)
    requests: int = 0
    source_mismatches: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[DayOutcome]:
        return [o for o in self.outcomes if o.status != "succeeded"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def rows_fetched(self) -> int:
        return sum(o.rows_fetched for o in self.outcomes)

    @property
    def rows_upserted(self) -> int:
        return sum(o.rows_upserted for o in self.outcomes)


ProgressFn = Callable[[DayOutcome], None]


@dataclass
class _DayEntry:
    stats: DayStats = field(default_factory=DayStats)
    open_streams: int = 0
    begun: bool = False
    error: str | None = None


class DayBook:
    """Thread-safe per-(entity, day) state shared by the streams of one run.

    `add` registers a stream on its days before any stream starts; every stream releases each of its
    days exactly once (when its keyset has moved past the day, or when it ends); the release that
    brings a day's open streams to zero returns the day's entry, and that stream closes the day.
    An error recorded by any stream on a day makes the day fail with that error.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._days: dict[tuple[str, date], _DayEntry] = {}

    def add(self, entity: str, days: Sequence[date]) -> None:
        with self._lock:
            for d in days:
                self._days.setdefault((entity, d), _DayEntry()).open_streams += 1

    def claim_begin(self, entity: str, days: Sequence[date]) -> list[date]:
        """The days not yet marked `running` by another stream of this run (each day is begun once)."""
        out: list[date] = []
        with self._lock:
            for d in days:
                entry = self._days[(entity, d)]
                if not entry.begun:
                    entry.begun = True
                    entry.stats.started = time.monotonic()  # the day's `seconds` run from its first stream
                    out.append(d)
        return out

    def add_requests(self, entity: str, d: date, requests: int, retries: int, intuit_tid: str | None) -> None:
        with self._lock:
            st = self._days[(entity, d)].stats
            st.requests += requests
            st.retries += retries
            st.intuit_tid = intuit_tid or st.intuit_tid

    def add_rows(self, entity: str, d: date, fetched: int, upserted: int) -> None:
        with self._lock:
            st = self._days[(entity, d)].stats
            st.rows_fetched += fetched
            st.rows_upserted += upserted
            st.pages += 1

    def fail(self, entity: str, days: Sequence[date], error: str) -> None:
        with self._lock:
            for d in days:
                entry = self._days[(entity, d)]
                entry.error = entry.error or error

    def release(self, entity: str, d: date) -> _DayEntry | None:
        """One stream is done with day `d`; the entry if it was the last one (the caller closes the day)."""
        with self._lock:
            entry = self._days[(entity, d)]
            entry.open_streams -= 1
            if entry.open_streams < 0:  # pragma: no cover - a stream releases each of its days once
                raise RuntimeError(f"{entity} {d}: released more often than streams were added")
            return entry if entry.open_streams == 0 else None


@dataclass
class Engine:
    """Everything a run needs: the QBO client (shared by threads), the database, the realm."""

    client: object  # qbo_ingest.qbo.QboClient (duck-typed: pages, count)
    dsn: str = field(repr=False)  # holds the database password
    realm_id: str
    page_size: int = 1000
    concurrency: int = 4
    source_checks: bool = True
    on_day: ProgressFn | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ---------------------------------------------------------------- public entry points
    def backfill(self, entities: Sequence[Entity], fecha_inicio: object, fecha_fin: object, *,
                 resume: bool = False, run_id: str | None = None) -> RunReport:
        windows = daily_windows(fecha_inicio, fecha_fin)
        days = [w.day for w in windows]
        self._preflight()
        plan: dict[Entity, list[date]] = {}
        with self._checked(entities) as conn:
            for e in entities:
                pending = days
                if resume:
                    done = {r.day for r in wh.ledger_days(conn, self.realm_id, e.name, status="succeeded",
                                                          start=days[0], end=days[-1])}
                    pending = [d for d in days if d not in done]
                    if done:
                        log.info("%s: resume skips %d succeeded day(s), %d to do", e.name, len(done), len(pending))
                plan[e] = pending
        return self.load_plan(plan, run_id=run_id, command="backfill")

    def retry_failed(self, entities: Sequence[Entity], *, start: object = None, end: object = None,
                     run_id: str | None = None) -> RunReport:
        """Rerun every day whose ledger status is not `succeeded` (failed, or left running by a crash)."""
        from qbo_ingest.windows import parse_day

        s = parse_day(start, name="--from") if start else None
        t = parse_day(end, name="--to") if end else None
        self._preflight()
        plan: dict[Entity, list[date]] = {}
        with self._checked(entities) as conn:
            for e in entities:
                rows = wh.ledger_days(conn, self.realm_id, e.name, start=s, end=t)
                todo = sorted({r.day for r in rows if r.status != "succeeded"})
                if todo:
                    plan[e] = todo
        return self.load_plan(plan, run_id=run_id, command="retry-failed")

    def run_days(self, entity: Entity, days: Sequence[date], *, run_id: str | None = None) -> list[DayOutcome]:
        """Load exactly these consecutive days as one stream (what one Mage child does for its day)."""
        with self._checked([entity]):
            pass
        outcomes: list[DayOutcome] = []
        for run in contiguous_runs(list(days)):
            span = Span(tuple(run))
            book = DayBook()
            book.add(entity.name, span.days)
            outs, _ = self._stream(entity, span, run_id or uuid.uuid4().hex[:12], book)
            outcomes.extend(outs)
        return outcomes

    @contextmanager
    def _checked(self, entities: Sequence[Entity]) -> Iterator[Any]:
        """A connection after the tables exist and the grants to load `entities` are checked."""
        with wh.connect(self.dsn) as conn:
            wh.ensure_schema(conn, list(entities))
            wh.check_grants(conn, list(entities))
            yield conn

    def _preflight(self) -> None:
        """Credentials first: an AuthError (invalid_client, invalid_grant, no refresh token) stops the run
        here as one error, before any table or ledger row is written."""
        ensure = getattr(self.client, "ensure_token", None)
        if ensure is not None:
            ensure()

    # ---------------------------------------------------------------- execution
    def load_plan(self, plan: dict[Entity, list[date]], *, command: str, run_id: str | None = None) -> RunReport:
        """Load the given days of each entity: consecutive days become keyset streams, run in parallel."""
        report = RunReport(run_id=run_id or uuid.uuid4().hex[:12])
        t0 = time.monotonic()
        jobs: list[tuple[Entity, Span]] = []
        book = DayBook()
        for e, days in plan.items():
            runs = contiguous_runs(days)
            for run in runs:
                # A single day is counted only when it is the entity's whole plan (a backfill of one
                # day, which may be heavy); a single day inside a larger plan is fetched as one stream.
                counted = len(run) > 1 or len(runs) == 1
                count = self._planning_count(e, Span(tuple(run))) if counted else None
                report.requests += 1 if counted else 0
                for span in split_run(run, count=count, page_size=self.page_size, max_streams=self.workers):
                    jobs.append((e, span))
                    book.add(e.name, span.days)
        with wh.connect(self.dsn) as conn:
            wh.run_start(conn, run_id=report.run_id, command=command,
                         entities=[e.name for e in plan], realm_id=self.realm_id)
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="qbo") as pool:
                futures = [pool.submit(self._stream, e, span, report.run_id, book) for e, span in jobs]
                for fut in as_completed(futures):
                    outcomes, requests = fut.result()
                    report.outcomes.extend(outcomes)
                    report.requests += requests
            if self.source_checks:
                report.source_mismatches = self._source_checks(plan, report)
        finally:
            report.seconds = time.monotonic() - t0
            with wh.connect(self.dsn) as conn:
                wh.run_finish(conn, run_id=report.run_id, status="succeeded" if report.ok else "failed",
                              requests=report.requests)
        report.outcomes.sort(key=lambda o: (o.entity, o.day))
        return report

    @property
    def workers(self) -> int:
        return max(1, min(self.concurrency, MAX_IN_FLIGHT))

    def _planning_count(self, entity: Entity, span: Span) -> int | None:
        """COUNT(*) over a run of days to decide how many streams it gets; a failure only means one stream
        (the stream itself will then fail or succeed, and name its days)."""
        try:
            return self._count(entity, span.window)
        except Exception as exc:
            log.warning("%s %s: planning count failed (%s); fetching as one stream", entity.name, span.label,
                        redact(str(exc)).splitlines()[0])
            return None

    def _count(self, entity: Entity, window: Window) -> int:
        return int(self.client.count(entity, window.start, window.end))  # type: ignore[attr-defined]

    def _stream(self, entity: Entity, span: Span, run_id: str, book: DayBook) -> tuple[list[DayOutcome], int]:
        """Fetch one span (whole days or a time slice) page by page; release each day once the stream
        has passed it, and close the days it is the last open stream on."""
        name = entity.name
        mine = list(span.days)  # this stream's days not yet released, in order
        outcomes: list[DayOutcome] = []
        requests = 0
        lg = log.getChild(entity.snake)

        def release_until(conn: object, limit: date | None, *, error: str | None = None) -> None:
            while mine and (limit is None or mine[0] < limit):
                d = mine.pop(0)
                entry = book.release(name, d)
                if entry is not None:
                    outcomes.append(self._close_day(conn, entity, d, entry.stats, run_id, entry.error, lg))

        try:
            with wh.connect(self.dsn) as conn:
                wh.ledger_begin(conn, self.realm_id, name, book.claim_begin(name, span.days), run_id=run_id)
                faultpoints.hit("ledger_begin")
                try:
                    window = span.window
                    for page in self.client.pages(entity, window.start, window.end,  # type: ignore[attr-defined]
                                                  page_size=self.page_size):
                        requests += page.requests
                        records = page.records
                        first_day = _day_of(records[0]) if records else (mine[0] if mine else span.days[-1])
                        tgt = first_day if first_day in span.days else span.days[-1]
                        book.add_requests(name, tgt, page.requests, page.retries, page.intuit_tid)
                        if not records:
                            continue
                        faultpoints.hit("fetch")
                        res = wh.upsert_page(conn, entity, self.realm_id, records, page_number=page.number,
                                             body=getattr(page, "body", None))
                        for d, (fetched, upserted) in res.by_day.items():
                            if d not in span.days:  # outside the span: cannot happen with a bounded query
                                lg.warning("record outside %s attributed to %s", span.label, d)
                                continue
                            book.add_rows(name, d, fetched, upserted)
                        release_until(conn, _day_of(records[-1]))
                    release_until(conn, None)
                except Exception as exc:  # the stream failed: its unreleased days fail, named
                    msg = redact(f"{type(exc).__name__}: {exc}")
                    first = mine[0] if mine else span.days[-1]
                    lg.error("%s failed at %s (span %s): %s", name, entity.block_name(first.isoformat()),
                             span.label, msg)
                    book.fail(name, mine, msg)
                    release_until(conn, None)
        except Exception as exc:
            # No connection, or the ledger or a day's close failed: the days this stream still holds
            # fail (another stream closing one of them records the error); the error propagates.
            if mine:
                book.fail(name, mine, redact(f"{type(exc).__name__}: {exc}"))
                for d in mine:
                    book.release(name, d)
                mine.clear()
            raise
        return outcomes, requests

    def _close_day(self, conn: object, entity: Entity, d: date, st: DayStats, run_id: str,
                   error: str | None, lg: logging.Logger) -> DayOutcome:
        label = entity.block_name(d.isoformat())
        status = "succeeded"
        if error is None:
            try:
                check_window(lg, entity.name, label, st.rows_fetched, st.rows_upserted)
            except QualityGateError as exc:
                status, error = "failed", str(exc)
        else:
            status = "failed"
        faultpoints.hit("ledger_finish")
        wh.ledger_finish(conn, self.realm_id, entity.name, d, status=status,  # type: ignore[arg-type]
                         rows_fetched=st.rows_fetched, rows_upserted=st.rows_upserted, pages=st.pages,
                         requests=st.requests, retries=st.retries, error=error, intuit_tid=st.intuit_tid,
                         seconds=round(time.monotonic() - st.started, 3), run_id=run_id)
        out = DayOutcome(entity.name, d, status, st.rows_fetched, st.rows_upserted, st.requests, error)
        if self.on_day is not None:
            with self._lock:
                self.on_day(out)
        return out

    def _source_checks(self, plan: dict[Entity, list[date]], report: RunReport) -> list[str]:
        """COUNT(*) at QBO per contiguous run next to the rows in raw: one request per run, not per day."""
        failed = {(o.entity, o.day) for o in report.failed}
        mismatches: list[str] = []
        with wh.connect(self.dsn) as conn:
            for e, days in plan.items():
                for run in contiguous_runs([d for d in days if (e.name, d) not in failed]):
                    w = Span(tuple(run)).window
                    try:
                        src = self._count(e, w)
                    except Exception as exc:
                        log.warning("source check for %s %s skipped: %s", e.name, w.label, redact(str(exc)))
                        continue
                    report.requests += 1
                    raw = wh.count_rows(conn, e, self.realm_id, w.start, w.end)
                    if not source_check(log.getChild(e.snake), e.name, w.label, src, raw):
                        mismatches.append(f"{e.name} {w.label}: QBO {src} vs raw {raw}")
        return mismatches


def _day_of(record: dict) -> date:
    """The UTC day of a record's LastUpdatedTime (a record without one fails its page in the warehouse too)."""
    return parse_qbo_time(record["MetaData"]["LastUpdatedTime"]).astimezone(timezone.utc).date()

