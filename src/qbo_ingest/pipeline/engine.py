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
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from qbo_ingest import faultpoints
from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import Entity
from qbo_ingest.pipeline.daybook import DayBook, DayStats
from qbo_ingest.pipeline.planning import Span, contiguous_runs, split_run
from qbo_ingest.pipeline.quality import QualityGateError, check_window, source_check
from qbo_ingest.pipeline.report import DayOutcome, ProgressFn, RunReport
from qbo_ingest.pipeline.source import Source
from qbo_ingest.records import placed_time
from qbo_ingest.redact import redact
from qbo_ingest.warehouse.ledger import RunStatus, Status
from qbo_ingest.windows import Window, day_window

log = logging.getLogger("qbo_ingest.backfill")

MAX_IN_FLIGHT = 10  # QBO: 10 requests per second / in flight per realm


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Set on Ctrl-C: every stream stops before its next request, no queued stream starts.
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    # ---------------------------------------------------------------- preflight
    @contextmanager
    def checked(self, entities: Sequence[Entity]) -> Iterator[Any]:
        """A connection after the tables exist and the grants to load `entities` are checked; then the
        credentials: an AuthError (invalid_client, invalid_grant, no refresh token) stops the run here
        as one error, before any ledger row is written."""
        with wh.connect(self.dsn) as conn:
            wh.ensure_schema(conn, list(entities))
            wh.check_grants(conn, list(entities))
            self.client.ensure_token()
            yield conn

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
        self._stop.clear()
        with wh.run_alive(self.dsn, report.run_id):  # released at the end, or by the server if we die
            self._run_jobs(plan, jobs, book, report, t0)
        report.outcomes.sort(key=lambda o: (o.entity, o.day))
        return report

    def _run_jobs(self, plan: dict[Entity, list[date]], jobs: list[tuple[Entity, Span]], book: DayBook,
                  report: RunReport, t0: float) -> None:
        interrupted = False
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="qbo")
        try:
            futures = [pool.submit(self.stream, e, span, report.run_id, book) for e, span in jobs]
            try:
                for fut in as_completed(futures):
                    self._collect(fut.result(), report)
            except KeyboardInterrupt:
                interrupted = True
                self._stop_streams(futures, report)
                raise
            if self.source_checks:
                report.source_mismatches = self._source_checks(plan, report)
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
            report.seconds = time.monotonic() - t0
            status: RunStatus = "interrupted" if interrupted else "succeeded" if report.ok else "failed"
            with wh.connect(self.dsn) as conn:
                wh.run_finish(conn, run_id=report.run_id, status=status,
                              requests=report.requests,
                              days_succeeded=len(report.outcomes) - len(report.failed) - len(report.open_days),
                              days_failed=len(report.failed))

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
        return int(self.client.count(entity, window.start, window.end))

    def stream(self, entity: Entity, span: Span, run_id: str, book: DayBook) -> tuple[list[DayOutcome], int]:
        """Fetch one span (whole days or a time slice) page by page; release each day once the stream
        has passed it, and close the days it is the last open stream on."""
        name = entity.name
        mine = list(span.days)  # this stream's days not yet released, in order
        outcomes: list[DayOutcome] = []
        requests = 0
        lg = log.getChild(entity.snake)

        # A day that has not ended when the stream starts is loaded but never closed: QBO may still add
        # records to it, so it must not become `succeeded` (which --resume and retry-failed skip).
        started = self.clock()
        unended = {d for d in span.days if day_window(d).end > started}

        def release_until(conn: Any, limit: date | None, *, error: str | None = None) -> None:
            while mine and (limit is None or mine[0] < limit):
                d = mine.pop(0)
                entry = book.release(name, d)
                if entry is None:
                    continue
                if d in unended and entry.error is None:
                    outcomes.append(self._leave_open(entity, d, entry.stats, lg))
                else:
                    outcomes.append(self._close_day(conn, entity, d, entry.stats, run_id, entry.error, lg))

        try:
            with wh.connect(self.dsn) as conn:
                begin = [d for d in book.claim_begin(name, span.days) if d not in unended]
                wh.ledger_begin(conn, self.realm_id, name, begin, run_id=run_id)
                faultpoints.hit("ledger_begin")
                try:
                    window = span.window
                    if self._stop.is_set():
                        raise Interrupted()
                    for page in self.client.pages(entity, window.start, window.end, page_size=self.page_size):
                        requests += page.requests
                        records = page.records
                        first_day = (_day(records[0], page.floor) if records else
                                     (mine[0] if mine else span.days[-1]))
                        tgt = first_day if first_day in span.days else span.days[-1]
                        book.add_requests(name, tgt, page.requests, page.retries, page.intuit_tid)
                        if not records:
                            continue
                        faultpoints.hit("fetch")
                        res = wh.upsert_page(conn, entity, self.realm_id, records, page_number=page.number,
                                             body=page.body, floor=page.floor)
                        for d, (fetched, upserted) in res.by_day.items():
                            if d not in span.days:  # outside the span: cannot happen with a bounded query
                                lg.warning("record outside %s attributed to %s", span.label, d)
                                continue
                            book.add_rows(name, d, fetched, upserted, res.escaped_by_day.get(d, 0))
                        release_until(conn, _day(records[-1], page.floor))
                        if self._stop.is_set():
                            raise Interrupted()
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

    def _leave_open(self, entity: Entity, d: date, st: DayStats, lg: logging.Logger) -> DayOutcome:
        lg.info("%s %s has not ended (UTC): %d record(s) so far loaded; the day is not closed in the ledger "
                   "(a sync or backfill after it ends closes it)", entity.name, d, st.rows_fetched)
        out = DayOutcome(entity.name, d, "open", st.rows_fetched, st.rows_upserted, st.requests, None)
        if self.on_day is not None:
            with self._lock:
                self.on_day(out)
        return out

    def _close_day(self, conn: Any, entity: Entity, d: date, st: DayStats, run_id: str,
                   error: str | None, lg: logging.Logger) -> DayOutcome:
        label = entity.block_name(d.isoformat())
        status: Status = "succeeded"
        if error is None:
            try:
                check_window(lg, entity.name, label, st.rows_fetched, st.rows_upserted)
            except QualityGateError as exc:
                status, error = "failed", str(exc)
        else:
            status = "failed"
        faultpoints.hit("ledger_finish")
        wh.ledger_finish(conn, self.realm_id, entity.name, d, status=status,
                         rows_fetched=st.rows_fetched, rows_upserted=st.rows_upserted, pages=st.pages,
                         requests=st.requests, retries=st.retries, error=error, intuit_tid=st.intuit_tid,
                         chars_escaped=st.chars_escaped,
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


