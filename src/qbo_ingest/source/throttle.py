"""Client-side rate limit and the circuit breaker shared by all workers of a run.

QBO allows 500 requests/minute and 10/second per company and app. `RateLimiter` (pyrate-limiter 3,
in-memory bucket) blocks a request until it fits both rates, so the pipeline itself never causes a
429. One limiter per realm is shared by every thread of the process (`shared_limiter`). Processes do
not share it: two processes on one realm must each be given half the rate (`RateLimiter(per_minute=250,
per_second=5)`).

`CircuitBreaker` stops every request after N consecutive failed requests across all workers, until a
cool-down has passed; then one trial request closes it again or re-opens it. Clock and sleep are
injectable so tests do not wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

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


class RateLimiter:
    """Blocking acquire under QBO's per-realm limits; thread-safe."""

    def __init__(
        self,
        *,
        per_minute: int = QBO_PER_MINUTE,
        per_second: int = QBO_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_ms: int = 100,
    ) -> None:
        self.per_minute = per_minute
        self.per_second = per_second
        self._clock = _FnClock(clock)
        self._sleep = sleep
        # Windows a little longer than QBO's (1.2 s, 61 s): requests sent exactly at the limit can
        # arrive closer together than they left (network jitter) and be counted over it by QBO.
        # The second's window gets twice the margin: 10 per 1.2 s is still above 500 per 61 s, so it
        # costs nothing against the minute quota. The minute's margin is 1 s (1.6% of the quota): the
        # 62 s of earlier releases cost 3%, and the 429s a 61 s window drew in dense runs were the
        # emulator's, which counted requests after its latency sleep in a busy event loop (it now
        # counts them on arrival, like QBO's edge; bench/README.md, dense throughput).
        rates = [
            Rate(per_second, int(Duration.SECOND) + 2 * margin_ms),
            Rate(per_minute, int(Duration.MINUTE) + 10 * margin_ms),
        ]
        # The bucket alone, not pyrate's `Limiter`: a Limiter starts a background leaker thread that trims
        # the bucket's items while a request thread appends to them; under load that interleaving left the
        # items out of order and `binary_search` looping forever (a CI run hung in the 600-request test).
        # Here every put, wait and trim happens under one lock.
        self._bucket = InMemoryBucket(rates)
        self._lock = threading.Lock()
        self.waited_s = 0.0
        self.acquired = 0

    def __repr__(self) -> str:
        return f"RateLimiter(per_minute={self.per_minute}, per_second={self.per_second})"

    def acquire(self, name: str = "qbo") -> float:
        """Block until one request fits; return the seconds waited. Sleep is ours (injectable)."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock.now()
                self._bucket.leak(now)
                if self._bucket.put(RateItem(name, now)):
                    self.acquired += 1
                    self.waited_s += waited
                    return waited
                delay_ms = self._bucket.waiting(RateItem(name, now))
            assert isinstance(delay_ms, int)  # in-memory bucket: never awaitable
            delay = max(delay_ms, 1) / 1000 + 0.005
            self._sleep(delay)
            waited += delay


class NoLimit:
    """A limiter that never waits (unit tests, or a caller that limits elsewhere)."""

    acquired = 0
    waited_s = 0.0

    def acquire(self, name: str = "qbo") -> float:
        return 0.0


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
