"""Client-side rate limit and the circuit breaker shared by all workers of a run.

QBO allows 500 requests/minute and 10/second per company and app. `RateLimiter` blocks a request
until it fits both rates (the second's window follows the answers' round trips, the minute's is a
pyrate-limiter 3 in-memory bucket), so the pipeline itself never causes a 429. One limiter per realm
is shared by every thread of the process (`shared_limiter`). Processes do not share it: two processes
on one realm must each be given half the rate (`RateLimiter(per_minute=250, per_second=5)`).

`CircuitBreaker` stops every request after N consecutive failed requests across all workers, until a
cool-down has passed; then one trial request closes it again or re-opens it. Clock and sleep are
injectable so tests do not wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyrate_limiter import AbstractClock, Duration, InMemoryBucket, Rate, RateItem

from qbo_ingest.errors import CircuitOpenError

log = logging.getLogger(__name__)

QBO_PER_MINUTE = 500
QBO_PER_SECOND = 10


class _FnClock(AbstractClock):
    """pyrate-limiter clock (milliseconds) over any `() -> seconds` function."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> int:
        return int(self._clock() * 1000)


@dataclass
class Slot:
    """One request's place in the per-second window: from its send until QBO can no longer count its
    arrival in the same second as a new request's (`RateLimiter` computes when)."""

    sent: float
    answered_at: float | None = None  # its answer arrived (any HTTP status)
    closed_at: float | None = None  # the request ended without an answer (connection failure, timeout)


class RateLimiter:
    """Blocking acquire under QBO's per-realm limits; thread-safe.

    The second's window follows the answers. QBO counts a request when it arrives, which the client
    never sees; it does see the round trip. A request whose answer came `d` later than the fastest round
    trip of the run may have arrived up to `d` late, so its second is held `d` longer: a request QBO's edge
    or a busy server took late does not let the tenth request after it arrive in the same second. One
    answered at the fastest round trip frees its place 1 s + `margin_ms` after it was sent; a request in
    flight holds its place until it ends, one without an answer (timeout, connection failure) until 1 s +
    the margin after it ended. The minute (pyrate-limiter bucket) is a fixed window, 1 s longer than QBO's.
    """

    def __init__(
        self,
        *,
        per_minute: int = QBO_PER_MINUTE,
        per_second: int = QBO_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_ms: int = 25,
    ) -> None:
        self.per_minute = per_minute
        self.per_second = per_second
        self._now = clock
        self._clock = _FnClock(clock)
        self._sleep = sleep
        self._second = 1.0 + margin_ms / 1000
        # The minute's margin is 1 s (1.6% of the quota): the 429s a 61 s window drew in dense runs were the
        # emulator's, which counted requests after its latency sleep in a busy event loop (it now counts
        # them on arrival, like QBO's edge; bench/README.md, dense throughput).
        # The bucket alone, not pyrate's `Limiter`: a Limiter starts a background leaker thread that trims
        # the bucket's items while a request thread appends to them; under load that interleaving left the
        # items out of order and `binary_search` looping forever (a CI run hung in the 600-request test).
        # Here every put, wait and trim happens under one lock.
        self._bucket = InMemoryBucket([Rate(per_minute, int(Duration.MINUTE) + int(Duration.SECOND))])
        self._slots: list[Slot] = []  # the per-second window's places, oldest first
        self._fastest: float | None = None  # the fastest round trip answered so far
        self._waiting: dict[object, int] = {}  # the requests waiting for a slot, by priority
        self._lock = threading.Lock()
        self.waited_s = 0.0
        self.acquired = 0

    def __repr__(self) -> str:
        return f"RateLimiter(per_minute={self.per_minute}, per_second={self.per_second})"

    def _frees_at(self, s: Slot) -> float | None:
        """When `s` no longer counts in the per-second window (None: in flight, unknown yet)."""
        if s.answered_at is not None:
            late = (s.answered_at - s.sent) - (self._fastest or 0.0)  # >= 0: how late it may have arrived
            return s.sent + late + self._second
        if s.closed_at is not None:
            return s.closed_at + self._second
        return None

    def _take(self, name: str) -> tuple[Slot | None, float]:
        """A slot now, or None and the seconds to wait before asking again."""
        now = self._now()
        frees = [(self._frees_at(s), s) for s in self._slots]
        live = [(t, s) for t, s in frees if t is None or t > now]
        self._slots = [s for _, s in live]
        if len(live) >= self.per_second:
            ends = sorted(t for t, _ in live if t is not None)
            need = len(live) - self.per_second + 1  # places that must free up
            delay = ends[need - 1] - now if len(ends) >= need else 0.01
            # a request in flight may free its place sooner once answered: look again soon
            return None, min(delay, 0.02) if len(ends) < len(live) else delay
        ms = self._clock.now()
        self._bucket.leak(ms)
        if not self._bucket.put(RateItem(name, ms)):
            delay_ms = self._bucket.waiting(RateItem(name, ms))
            assert isinstance(delay_ms, int)  # in-memory bucket: never awaitable
            return None, max(delay_ms, 1) / 1000
        slot = Slot(now)
        self._slots.append(slot)
        return slot, 0.0

    def slot(self, name: str = "qbo", *, priority: int = 0, in_flight: threading.Semaphore | None = None) -> Slot:
        """Block until one request fits; the caller reports its end (`answered` / `closed`). While requests
        of a higher `priority` wait (a stream with more pages left), this one waits behind them.
        `in_flight`: the caller's cap on its requests at once; one of its places is taken with the slot
        (the caller gives it back when the request ends)."""
        waited = 0.0
        me = object()
        with self._lock:
            self._waiting[me] = priority
        try:
            while True:
                with self._lock:
                    if max(self._waiting.values()) > priority:
                        got, delay = None, 0.0
                    elif in_flight is not None and not in_flight.acquire(blocking=False):
                        got, delay = None, 0.0  # the caller's requests at once: look again soon
                    else:
                        got, delay = self._take(name)
                        if got is None and in_flight is not None:
                            in_flight.release()
                    if got is not None:
                        self.acquired += 1
                        self.waited_s += waited
                        return got
                delay += 0.002
                self._sleep(delay)
                waited += delay
        finally:
            with self._lock:
                del self._waiting[me]

    def answered(self, slot: Slot) -> None:
        """The request's answer arrived now (any HTTP status): its round trip places its arrival."""
        with self._lock:
            now = self._now()
            slot.answered_at = now
            rtt = now - slot.sent
            self._fastest = rtt if self._fastest is None else min(self._fastest, rtt)

    def closed(self, slot: Slot) -> None:
        """The request ended; without an answer it may have arrived at any time up to now."""
        with self._lock:
            if slot.answered_at is None and slot.closed_at is None:
                slot.closed_at = self._now()

    def acquire(self, name: str = "qbo") -> float:
        """Block until one request fits and count it as sent now and answered at once; the seconds waited."""
        before = self.waited_s
        s = self.slot(name)
        with self._lock:
            s.answered_at = s.sent + (self._fastest or 0.0)
        return self.waited_s - before


class NoLimit:
    """A limiter that never waits (unit tests, or a caller that limits elsewhere)."""

    acquired = 0
    waited_s = 0.0

    def acquire(self, name: str = "qbo") -> float:
        return 0.0

    def slot(self, name: str = "qbo", *, priority: int = 0, in_flight: threading.Semaphore | None = None) -> Slot:
        if in_flight is not None:
            in_flight.acquire()
        return Slot(0.0)

    def answered(self, slot: Slot) -> None:
        pass

    def closed(self, slot: Slot) -> None:
        pass


_shared: dict[str, RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(realm_id: str) -> RateLimiter:
    """The one limiter of this process for a realm (QBO counts per company and app)."""
    with _shared_lock:
        if realm_id not in _shared:
            _shared[realm_id] = RateLimiter()
        return _shared[realm_id]


class CircuitBreaker:
    """Closed -> open after `threshold` consecutive failures -> half-open after `cooldown_s` -> one trial.

    The default cool-down (30 s) is shorter than the 5th and 6th backoff waits (32 s, 64 s), so one
    worker's own retry ladder reaches its trial requests; many workers failing together stop at once.
    """

    def __init__(
        self, *, threshold: int = 5, cooldown_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._answered = False  # one of the failures since the last success got an HTTP answer
        self.opened_count = 0

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, failures={self._failures}, threshold={self.threshold})"

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown_s:
            return "half-open"
        return "open"

    def before_request(self, what: str = "request") -> None:
        """Raise `CircuitOpenError` unless a request may be sent now."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and not self._trial_in_flight:
                self._trial_in_flight = True
                log.warning("Circuit breaker half-open: sending one trial %s", what)
                return
            assert self._opened_at is not None
            remaining = max(0.0, self.cooldown_s - (self._clock() - self._opened_at))
            err = CircuitOpenError(
                f"circuit breaker open after {self.threshold} consecutive failed QBO requests; "
                f"{what} not sent (half-opens in {remaining:.0f}s)",
                kind="circuit_open",
            )
            err.unanswered = not self._answered
        raise err

    def record_success(self) -> None:
        with self._lock:
            if self._opened_at is not None:
                log.warning("Circuit breaker closed: trial request succeeded")
            self._failures = 0
            self._answered = False
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self, *, unanswered: bool = False) -> None:
        """One failed request; `unanswered`: no HTTP answer came back (connection failure, timeout)."""
        with self._lock:
            self._failures += 1
            self._answered = self._answered or not unanswered
            if self._trial_in_flight or (self._opened_at is None and self._failures >= self.threshold):
                self._opened_at = self._clock()
                self._trial_in_flight = False
                self.opened_count += 1
                log.warning(
                    "Circuit breaker open after %d consecutive failed QBO requests; cool-down %.0fs",
                    self._failures, self.cooldown_s,
                )

    def record_neutral(self) -> None:
        """A request that neither proves nor disproves QBO's health (e.g. a 401): frees a trial slot."""
        with self._lock:
            self._trial_in_flight = False
