"""Per-realm request limits as Intuit enforces them: 500/minute, 10/second; batch requests 40/minute per
realm and app and 120/minute per realm (developer.intuit.com .../learn/limits-and-throttles). The emulator
serves one app, so the per-app 40 binds unless it is raised."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class Throttle:
    """Sliding windows over accepted requests; a throttled request does not use up quota."""

    def __init__(self, now: Callable[[], float], *, per_minute: int = 500, per_second: int = 10,
                 batch_per_minute: int = 40, batch_per_realm_minute: int = 120) -> None:
        self.now = now
        self.per_minute = per_minute
        self.per_second = per_second
        self.batch_per_minute = batch_per_minute
        self.batch_per_realm_minute = batch_per_realm_minute
        self._batch: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {}
        self._second: dict[str, deque[float]] = {}

    def admit(self, realm: str, *, batch: bool = False) -> bool:
        """Take one request from the realm's quota (batch requests also have their own per-minute caps)."""
        t = self.now()
        with self._lock:
            minute = self._minute.setdefault(realm, deque())
            second = self._second.setdefault(realm, deque())
            batches = self._batch.setdefault(realm, deque())
            for q, span in ((minute, 60), (second, 1), (batches, 60)):
                while q and q[0] <= t - span:
                    q.popleft()
            if len(minute) >= self.per_minute or len(second) >= self.per_second:
                return False
            if batch and len(batches) >= min(self.batch_per_minute, self.batch_per_realm_minute):
                return False
            minute.append(t)
            second.append(t)
            if batch:
                batches.append(t)
            return True

    def reset(self) -> None:
        with self._lock:
            self._minute.clear()
            self._second.clear()
            self._batch.clear()
