"""The runs' COUNTs (each run's source check), sent together.

A dense run asks for its count as its first page shows it holds more than a page (handover.py). The
first pages of a backfill's runs come back together (preflight.py), so their COUNTs go out as one batch
request (QBO's batch operation, up to 10 payloads): metered per item, but one request against the 10
per second and 500 per minute, where three COUNTs would take three of the places the last pages wait
for. The batch leaves when every run whose first page came back full has asked, or LINGER_S after the
first ask; a lone COUNT is a plain query. A count taken before the pages are read can differ from raw
when records change during the run: the source check then counts again (checks.source_checks), so an
edit is never reported as a loss.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import BudgetStop, CallLimitReached
from qbo_ingest.pipeline.planning import Span
from qbo_ingest.redact import redact

log = logging.getLogger("qbo_ingest.backfill")

BATCH = 10  # Intuit: "up to 10 payloads with a single batch operation" (docs/learn/.../batch)
LINGER_S = 0.2

Asked = list[tuple[Entity, Span]]


class Counts:
    """Thread-safe: `owe` when a run will need a count, `ask` when it does, `wait` for the answers."""

    def __init__(self, count: Callable[[Asked], list[int | Exception]],
                 record: Callable[[Entity, Span, int], None], *, owed: int = 0) -> None:
        self._count = count  # COUNT(*) of each window (one request, or one batch request)
        self._record = record
        self._lock = threading.Lock()
        self._owed = owed  # runs known to need a count that have not asked yet
        self._queued: Asked = []
        self._timer: threading.Timer | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._sent: list[Future[None]] = []

    def ask(self, entity: Entity, span: Span) -> None:
        with self._lock:
            self._owed = max(0, self._owed - 1)
            self._queued.append((entity, span))
            if self._owed == 0 or len(self._queued) >= BATCH:
                self._flush()
            elif self._timer is None:
                self._timer = threading.Timer(LINGER_S, self._flush_later)
                self._timer.daemon = True
                self._timer.start()

    def _flush_later(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:  # under the lock
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._queued = self._queued[:BATCH], self._queued[BATCH:]
        if not batch:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qbo-count")
        self._sent.append(self._pool.submit(self._send, batch))
        if self._queued:
            self._flush()

    def _send(self, batch: Asked) -> None:
        try:
            answers = self._count(batch)
        except (BudgetStop, CallLimitReached):  # the run was stopped: no check for these runs
            return
        except Exception as exc:
            answers = [exc] * len(batch)
        for (entity, span), got in zip(batch, answers, strict=True):
            if isinstance(got, Exception):
                log.warning("count of %s %s failed (%s); the source check counts again", entity.name,
                            span.label, redact(str(got)).splitlines()[0])
            else:
                self._record(entity, span, got)

    def wait(self) -> None:
        """Send what is queued and wait for every answer."""
        with self._lock:
            self._flush()
            sent, self._sent = self._sent, []
        for fut in sent:
            fut.result()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
