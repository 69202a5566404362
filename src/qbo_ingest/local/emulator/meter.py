"""The monthly metered-call cap of Intuit's App Partner Program (Builder tier: 500,000 CorePlus calls a
month, then calls are blocked until the next month; limits-and-throttles page). Off unless
`EmulatorConfig.monthly_call_cap` is set."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime

from qbo_ingest.local.emulator.timefmt import UTC

# CorePlus = data-out (read) calls; OAuth endpoints are never metered (Apideck's summary of Intuit's fee
# page; which kinds count is partly unconfirmed: every read-like request and every batch item counts here).
METERED = frozenset({"query", "count", "cdc", "batch", "companyinfo", "read", "report"})


def _month(t: float) -> tuple[int, int]:
    d = datetime.fromtimestamp(t, UTC)
    return (d.year, d.month)


class Meter:
    def __init__(self, cap: int | None, now: Callable[[], float]) -> None:
        self.cap = cap
        self.now = now
        self._lock = threading.Lock()
        self._month = (0, 0)
        self.used = 0

    def _roll(self) -> None:
        m = _month(self.now())
        if m != self._month:
            self._month, self.used = m, 0

    def blocked(self) -> bool:
        if self.cap is None:
            return False
        with self._lock:
            self._roll()
            return self.used >= self.cap

    def add(self, n: int = 1) -> None:
        """Count `n` successful metered calls (a batch counts each of its items)."""
        with self._lock:
            self._roll()
            self.used += n

    def resets_on(self) -> date:
        y, m = _month(self.now())
        return date(y + (m == 12), m % 12 + 1, 1)
