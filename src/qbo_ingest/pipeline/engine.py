"""The engine: load a plan of days per entity as keyset-paged streams, upsert every page at once,
close each day (quality gates + ledger row) as soon as every stream touching it has passed it.

A day is the unit of the ledger and of retry. Consecutive pending days are fetched as streams (see
planning.py); a heavy day may be fetched by several streams, each over a time slice of it. Each page
is upserted as soon as it arrives, so memory stays one page per stream. The jobs (`qbo_ingest.jobs`)
decide which days to load; the engine loads them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from qbo_ingest import faultpoints
from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity, get
from qbo_ingest.errors import BudgetStop, CallLimitReached
from qbo_ingest.pipeline import closing as closing_
from qbo_ingest.pipeline.budget import CallBudget
from qbo_ingest.pipeline.checks import source_checks
from qbo_ingest.pipeline.daybook import DayBook
from qbo_ingest.pipeline.handover import Handover
from qbo_ingest.pipeline.planning import Span, contiguous_runs
from qbo_ingest.pipeline.preflight import MAX_IN_FLIGHT, Job, counted_jobs, first_pages
from qbo_ingest.pipeline.report import DayOutcome, ProgressFn, RunReport
from qbo_ingest.pipeline.runstate import Head, RunState
from qbo_ingest.pipeline.source import Pages, Source
from qbo_ingest.records import Page, placed_time
from qbo_ingest.redact import redact
from qbo_ingest.warehouse.ledger import RunStatus
from qbo_ingest.warehouse.meter import metered
from qbo_ingest.windows import Window, day_window

log = logging.getLogger("qbo_ingest.backfill")



class Interrupted(Exception):
    """A stream stopped by Ctrl-C (SIGINT) before it finished its days."""

    def __str__(self) -> str:
        return "interrupted (Ctrl-C) before this day was finished; rerun it: qbo-ingest retry-failed"


def _day(rec: dict[str, Any], floor: datetime | None) -> date:
    return placed_time(rec, floor).astimezone(timezone.utc).date()


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)

__all__ = ["MAX_IN_FLIGHT", "DayBook", "DayOutcome", "Engine", "RunReport"]


@dataclass
class Engine:
    """Everything a run needs: the QBO client (shared by threads), the database, the realm."""

    client: Source
    dsn: str = field(repr=False)  # holds the database password
    realm_id: str
    page_size: int = 1000
    concurrency: int = 4
    source_checks: bool = True
    on_day: ProgressFn | None = None
    clock: Callable[[], datetime] = field(default=_utcnow, repr=False)  # aware UTC now
    budget: CallBudget = field(default_factory=CallBudget)  # the client's meter feeds it (apps/wiring.py)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Set on Ctrl-C: every stream stops before its next request, no queued stream starts.
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    # `concurrency` places for the database work of the streams: a stream waiting for its next page
    # holds none, so up to MAX_IN_FLIGHT streams read while `concurrency` of them write.
    _writing: threading.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._writing = threading.Semaphore(self.workers)

    # ---------------------------------------------------------------- preflight
    @contextmanager
    def checked(self, entities: Sequence[Entity]) -> Iterator[Any]:
        """A connection after the tables exist and the grants to load `entities` are checked; then the
        credentials: an AuthError (invalid_client, invalid_grant, no refresh token) stops the run here
        as one error, before any ledger row is written."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="qbo-token") as pool, wh.connect(self.dsn) as conn:
            # the token's round trip beside the database's checks, once its store exists (after `db init`)
            token = pool.submit(self.client.ensure_token) if wh.state_ready(conn) else None
            try:
                wh.ensure_schema(conn, list(entities))
                wh.check_grants(conn, list(entities))
            finally:
                if token is not None:
                    wait([token])  # a database error comes first; the token request is never left running
            if token is None:
                self.client.ensure_token()
            else:
                token.result()
            self.budget.used_before = metered(wh.month_calls(conn))  # the app's month so far, every realm
            self.book_calls(conn)
            yield conn

    def book_calls(self, conn: Any | None = None) -> None:
        """Write the requests counted since the last call into the month's book (qbo_ingest.api_calls)."""
        calls = self.budget.drain()
        if not calls:
            return
        if conn is not None:
            wh.record_calls(conn, self.realm_id, calls)
            return
        with wh.connect(self.dsn) as c:
            wh.record_calls(c, self.realm_id, calls)

    # ---------------------------------------------------------------- execution
    def load_plan(self, plan: dict[Entity, list[date]], *, command: str, run_id: str | None = None) -> RunReport:
        """Load the given days of each entity: each run of consecutive days starts as one keyset stream
        (a dense one hands parts of its window to further streams, see runstate.py), in parallel."""
        report = RunReport(run_id=run_id or uuid.uuid4().hex[:12])
        t0 = time.monotonic()
        state = RunState(report.run_id)
        spans = [(e, Span(tuple(run))) for e, days in plan.items() for run in contiguous_runs(days)]
        if not spans:  # no first page or COUNT goes out to find a wrong QBO_REALM_ID
            self.client.check_realm()
        if self.budget.limited:  # the cost of each stream known before it starts (preflight.py)
            self.budget.require(2 * len(spans), f"the plan ({len(spans)} COUNT(s), a request per run)")
            jobs = counted_jobs(self, spans, state.counted)
        else:
            jobs = first_pages(self, spans)
        try:
            for job in jobs:
                state.book.add(job.entity.name, job.span.days)
            with wh.connect(self.dsn) as conn:
                wh.run_start(conn, run_id=report.run_id, command=command,
                             entities=[e.name for e in plan], realm_id=self.realm_id)
            self._stop.clear()
            with wh.run_alive(self.dsn, report.run_id):  # released at the end, or by the server if we die
                self._run_jobs(plan, jobs, state, report, t0)
        finally:
            state.close()
            for job in jobs:  # the pages read ahead of a stream that never ran
                if job.head is not None:
                    job.head.close()
        report.outcomes.sort(key=lambda o: (o.entity, o.day))
        return report

    def _run_jobs(self, plan: dict[Entity, list[date]], jobs: list[Job],
                  state: RunState, report: RunReport, t0: float) -> None:
        interrupted = False
        pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="qbo")
        state.attach(lambda e, span, n, head: pool.submit(self.stream, e, span, report.run_id, state.book,
                                                          estimate=n, head=head),
                     lambda e, span: self._pages(e, span.window), self._counts,
                     owed=sum(1 for j in jobs if j.plans_itself and j.head is not None and j.head.full(self.page_size)))
        try:
            for j in jobs:
                state.futures.append(pool.submit(self.stream, j.entity, j.span, report.run_id, state.book,
                                                 estimate=j.estimate, head=j.head,
                                                 state=state if j.plans_itself else None))
            try:
                done: set[Any] = set()
                while left := [f for f in state.all_futures() if f not in done]:  # spawned streams join
                    finished, _ = wait(left, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        done.add(fut)
                        self._collect(fut.result(), report)
            except KeyboardInterrupt:
                interrupted = True
                self._stop_streams(state.all_futures(), report)
                raise
            report.stopped = self.budget.stopped
            if report.stopped is not None:
                report.outcomes.extend(self._close_unfinished(state.book, report))
                report.pending = sum(len(ds) for ds in plan.values()) - len(report.outcomes)
                if not self.budget.announced:
                    self.budget.announced = True
                    log.warning("Run stopped before the budget was spent: %s; %d day(s) not loaded stay "
                                "pending. Next: the same command with --resume", report.stopped, report.pending)
            state.wait_counts()
            if self.source_checks:
                report.source_mismatches = source_checks(self, plan, report, state.counted)
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
            self.book_calls()
            report.seconds = time.monotonic() - t0
            status: RunStatus = "interrupted" if interrupted else "succeeded" if report.ok else "failed"
            with wh.connect(self.dsn) as conn:
                wh.run_finish(conn, run_id=report.run_id, status=status,
                              requests=report.requests,
                              days_succeeded=len(report.outcomes) - len(report.failed) - len(report.open_days),
                              days_failed=len(report.failed),
                              error=f"stopped: {report.stopped}" if report.stopped else None)

    @staticmethod
    def _collect(result: tuple[list[DayOutcome], int], report: RunReport) -> None:
        outcomes, requests = result
        report.outcomes.extend(outcomes)
        report.requests += requests

    def _stop_streams(self, futures: Sequence[Any], report: RunReport) -> None:
        """Ctrl-C: no queued stream starts; running ones stop before their next request and record their
        unfinished days as failed (interrupted). A further Ctrl-C while they stop does not cut that short:
        a day must never be left claiming a state it is not in."""
        self._stop.set()
        for f in futures:
            f.cancel()
        running = [f for f in futures if not f.cancelled()]
        log.warning("interrupted: stopping %d stream(s) after their request in flight (at most one timeout)",
                    sum(1 for f in running if not f.done()))
        for f in running:
            while True:
                try:
                    self._collect(f.result(), report)
                    break
                except KeyboardInterrupt:
                    log.warning("still stopping: waiting for the requests in flight")
                except Exception:  # the stream's own failure is already in its days' ledger rows
                    break

    @property
    def workers(self) -> int:
        return max(1, min(self.concurrency, MAX_IN_FLIGHT))

    def _pages(self, entity: Entity, window: Window) -> Pages:
        return self.client.pages(entity, window.start, window.end, page_size=self.page_size, keys_only=True)

    def count(self, entity: Entity, window: Window) -> int:
        return int(self.client.count(entity, window.start, window.end))

    def _counts(self, asked: list[tuple[Entity, Span]]) -> list[int | Exception]:
        """COUNT(*) of each run: a lone one as a query, several as one batch request."""
        if len(asked) == 1:
            return [self.count(asked[0][0], asked[0][1].window)]
        return list(self.client.counts([(e, sp.window.start, sp.window.end) for e, sp in asked]))

    def stream(self, entity: Entity, span: Span, run_id: str, book: DayBook, *, estimate: int = 1,
               head: Head | None = None, state: RunState | None = None) -> tuple[list[DayOutcome], int]:
        """Fetch one span (whole days or a time slice) page by page; release each day once the stream
        has passed it, and close the days it is the last open stream on.

        The stream starts only when its `estimate` of requests fits the budget; otherwise it touches
        nothing (its days stay pending for --resume). `head`: its first page, fetched already. `state`:
        the span is a whole run of a `load_plan`, which it counts and splits from its first page."""
        if not self.budget.reserve(estimate):
            return [], 0
        used = 0
        try:
            outcomes, used = self._stream(entity, span, run_id, book, head, state)
            return outcomes, used
        finally:
            self.budget.release(estimate, used)

    def _stream(self, entity: Entity, span: Span, run_id: str, book: DayBook, head: Head | None,
                state: RunState | None) -> tuple[list[DayOutcome], int]:
        name = entity.name
        mine = list(span.days)  # this stream's days not yet released, in order
        outcomes: list[DayOutcome] = []
        requests = 0
        fetched = 0
        lg = log.getChild(entity.snake)
        split = None if state is None else Handover(entity, span, state, self.page_size, self.workers, mine)

        # A day that has not ended when the stream starts is loaded but never closed: QBO may still add
        # records to it, so it must not become `succeeded` (which --resume and retry-failed skip).
        started = self.clock()
        unended = {d for d in span.days if day_window(d).end > started}

        def release(conn: Any, days: Sequence[date]) -> None:
            closing: list[tuple[date, Any]] = []
            for d in days:
                mine.remove(d)
                entry = book.release(name, d)
                if entry is None:
                    continue
                if d in unended and entry.error is None:
                    outcomes.append(closing_.leave_open(entity, d, entry.stats, lg, self._told))
                else:
                    closing.append((d, entry))
            outcomes.extend(self._close_days(conn, entity, closing, run_id, lg))

        def release_until(conn: Any, limit: date | None) -> None:
            release(conn, [d for d in mine if limit is None or d < limit])

        # the next page is asked for now, beside the ledger rows (the first is here when fetched ahead)
        reading = (head or Head(self._pages(entity, span.window))).read(now=not self._stop.is_set())
        pages = reading.pages
        self._writing.acquire()
        try:
            with wh.connect(self.dsn) as conn:
                begin = [d for d in book.claim_begin(name, span.days) if d not in unended]
                wh.ledger_begin(conn, self.realm_id, name, begin, run_id=run_id)
                faultpoints.hit("ledger_begin")
                try:
                    if self._stop.is_set():
                        raise Interrupted()
                    read = iter(reading)
                    while (page := self._next(read)) is not None:  # the next page comes while this one is upserted
                        requests += page.requests
                        records = page.records if split is None else split.keep(page.records, pages, page.floor)
                        first_day = (_day(records[0], page.floor) if records else
                                     (mine[0] if mine else span.days[-1]))
                        tgt = first_day if first_day in span.days else span.days[-1]
                        book.add_requests(name, tgt, page.requests, page.retries, page.intuit_tid)
                        handed: list[date] = []
                        if split is not None and page.number == 1:  # planned before the upsert: sooner out
                            handed = split.first_page(records, pages, len(records))
                        if records:
                            faultpoints.hit("fetch")
                            res = wh.upsert_page(conn, entity, self.realm_id, records, page_number=page.number,
                                                 body=page.body, floor=page.floor, keys_only=page.keys_only)
                            fetched += len(records)
                            for d, (n_fetched, upserted) in res.by_day.items():
                                if d not in span.days:  # outside the span: cannot happen with a bounded query
                                    lg.warning("record outside %s attributed to %s", span.label, d)
                                    continue
                                book.add_rows(name, d, n_fetched, upserted, res.escaped_by_day.get(d, 0))
                        if handed:
                            release(conn, handed)
                        if records:
                            release_until(conn, _day(records[-1], page.floor))
                        if self._stop.is_set():
                            raise Interrupted()
                    release_until(conn, None)
                except (BudgetStop, CallLimitReached) as exc:  # the run stops: one line for the run
                    reason = redact(str(exc).split(". Next:")[0])
                    if self.budget.stop(reason) and isinstance(exc, CallLimitReached):
                        self.budget.announced = True
                        log.error("Run stopped at once: %s", exc)
                    book.fail(name, mine, f"not loaded: the run was stopped ({self.budget.stopped})")
                    release_until(conn, None)
                except Exception as exc:  # the stream failed: its unreleased days fail, named
                    # whatever broke once Ctrl-C was pressed (a closed client included), it was the Ctrl-C
                    err: Exception = Interrupted() if self._stop.is_set() else exc
                    msg = redact(f"{type(err).__name__}: {err}")
                    first = mine[0] if mine else span.days[-1]
                    lg.error("%s failed at %s (span %s): %s", name, entity.block_name(first.isoformat()),
                             span.label, msg)
                    book.fail(name, mine, msg)
                    release_until(conn, None)
                self.book_calls(conn)
        except Exception as exc:
            # No connection, or the ledger or a day's close failed: the days this stream still holds
            # fail (another stream closing one of them records the error); the error propagates.
            if mine:
                book.fail(name, mine, redact(f"{type(exc).__name__}: {exc}"))
                for d in mine:
                    book.release(name, d)
                mine.clear()
            raise
        finally:
            self._writing.release()
            reading.close()
        return outcomes, requests + (split.counts_sent if split is not None else 0)

    def _next(self, read: Iterator[Page]) -> Page | None:
        """The stream's next page (None: no more), waited for without holding a writer's place."""
        self._writing.release()
        try:
            return next(read, None)
        finally:
            self._writing.acquire()

    def _close_unfinished(self, book: DayBook, report: RunReport) -> list[DayOutcome]:
        """After a stop: days a stream began but a skipped stream never finished fail, named (the
        days no stream began have no ledger row: they are pending)."""
        left = book.unfinished()
        if not left:
            return []
        outs: list[DayOutcome] = []
        with wh.connect(self.dsn) as conn:
            for name, d, entry in left:
                entry.error = entry.error or f"not loaded: the run was stopped ({report.stopped})"
                e = get(name)
                outs += self._close_days(conn, e, [(d, entry)], report.run_id, log.getChild(e.snake))
        return outs

    def _told(self, outs: list[DayOutcome]) -> None:
        if self.on_day is not None:
            with self._lock:
                for out in outs:
                    self.on_day(out)

    def _close_days(self, conn: Any, entity: Entity, closing: Sequence[tuple[date, Any]], run_id: str,
                    lg: logging.Logger) -> list[DayOutcome]:
        return closing_.close_days(conn, self.realm_id, entity, closing, run_id, lg, self._told)
