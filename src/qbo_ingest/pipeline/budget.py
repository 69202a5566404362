"""The metered-call budget of one engine: counts every request as it is sent, refuses the one that
would exceed `--max-requests` or the month's budget, and hands the counts to the warehouse's book.

The source calls `on_call(kind, n)` before it sends a request (`QboClient(meter=...)`); the engine
asks `reserve(n)` before it starts a stream, so a stream only starts when its estimated requests
still fit (a run stops between streams, not half-way through one, unless the estimate was short).
When a stream's estimate no longer fits, no further stream starts (the running ones finish within
the budget); a request that would exceed the budget, or QBO's monthly-cap 429, halts the run: every
later request is refused without being sent.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from qbo_ingest.errors import BudgetStop

TOKEN = "token"  # noqa: S105 - the kind of a token refresh, not a secret


@dataclass
class CallBudget:
    """Requests sent by this engine (token refreshes apart), against two optional limits."""

    max_requests: int | None = None  # this run (`--max-requests`)
    monthly_budget: int | None = None  # QBO_MONTHLY_CALL_BUDGET
    used_before: int = 0  # metered calls already in the book this month (set by the engine's preflight)
    sent: int = 0
    stopped: str | None = None
    announced: bool = False  # the stop has been logged (one line per run)
    _outstanding: int = 0
    _halted: bool = False  # no request is sent any more (a refused request, QBO's cap); `stopped` alone
    # only keeps new streams from starting, the running ones finish within the budget
    _pending: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def limited(self) -> bool:
        """A request budget is set (`--max-requests` or the monthly one)."""
        return self.max_requests is not None or self.monthly_budget is not None

    def remaining(self) -> int | None:
        """Requests still allowed (None: no limit)."""
        with self._lock:
            return self._remaining()

    def _remaining(self) -> int | None:
        left = [x for x in (
            None if self.max_requests is None else self.max_requests - self.sent,
            None if self.monthly_budget is None else self.monthly_budget - self.used_before - self.sent,
        ) if x is not None]
        return min(left) if left else None

    def _why(self) -> str:
        if self.max_requests is not None and self.sent >= self.max_requests:
            return f"--max-requests {self.max_requests} reached ({self.sent} requests sent)"
        return (f"monthly call budget {self.monthly_budget:,} reached ({self.used_before + self.sent:,} metered "
                "calls this month; QBO_MONTHLY_CALL_BUDGET)")

    def on_call(self, kind: str, n: int = 1) -> None:
        """One request of `kind` is about to be sent; raises `BudgetStop` (not sent) when it does not fit."""
        with self._lock:
            if kind == TOKEN:
                self._pending[kind] += n
                return
            if self._halted:
                raise BudgetStop(f"not sent: the run was stopped ({self.stopped})")
            left = self._remaining()
            if left is not None and left < n:
                self.stopped = self.stopped or self._why()
                self._halted = True
                raise BudgetStop(f"request budget spent: {self._why()}")
            self.sent += n
            self._outstanding = max(0, self._outstanding - n)  # a sent request uses up a reservation
            self._pending[kind] += n

    def reserve(self, n: int) -> bool:
        """Whether a stream estimated at `n` requests may start; False stops the run (no later stream
        starts either, so the days left are a clean tail for --resume)."""
        with self._lock:
            if self.stopped is not None:
                return False
            left = self._remaining()
            if left is not None and left - self._outstanding < n:
                self.stopped = (f"{self._why_short()}: {left - self._outstanding} request(s) left, the next "
                                f"stream needs about {n}")
                return False
            self._outstanding += n
            return True

    def require(self, n: int, what: str) -> None:
        """Raise `BudgetStop` (nothing sent) unless `n` more requests fit: a run that could load nothing
        does not spend its planning COUNTs first."""
        with self._lock:
            left = self._remaining()
            if left is not None and left - self._outstanding < n:
                self.stopped = self.stopped or self._why_short()
                self._halted = True
                raise BudgetStop(f"request budget spent: {self._why_short()}: {max(0, left - self._outstanding)} "
                                 f"request(s) left, {what} needs at least {n}")

    def _why_short(self) -> str:
        mr = None if self.max_requests is None else self.max_requests - self.sent
        mb = None if self.monthly_budget is None else self.monthly_budget - self.used_before - self.sent
        if mr is not None and (mb is None or mr <= mb):
            return f"--max-requests {self.max_requests}"
        return f"monthly call budget {self.monthly_budget:,} (QBO_MONTHLY_CALL_BUDGET)"

    def release(self, reserved: int, used: int) -> None:
        """A stream that reserved `reserved` requests has ended after sending `used`."""
        with self._lock:
            self._outstanding = max(0, self._outstanding - max(0, reserved - used))

    def stop(self, reason: str) -> bool:
        """Stop the run at once (e.g. QBO's monthly-cap 429): no stream starts and no request is sent any
        more. True for the first such stop."""
        with self._lock:
            first = not self._halted
            self.stopped = self.stopped or reason
            self._halted = True
            return first

    def drain(self) -> dict[str, int]:
        """The counts not yet written to the book (and forget them)."""
        with self._lock:
            out = dict(self._pending)
            self._pending.clear()
            return out
