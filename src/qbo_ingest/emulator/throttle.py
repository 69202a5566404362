"""Per-realm request limits as Intuit enforces them: 500 per minute and 10 per second."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable


class Throttle:
    """Sliding windows over accepted requests; a throttled request does not use up quota."""

    def __init__(self, now: Callable[[], float], *, per_minute: int = 500, per_second: int = 10) -> None:
        self.now = now
        self.per_minute = per_minute
        self.per_second = per_second
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {}
        self._second: dict[str, deque[float]] = {}

    def admit(self, realm: str) -> bool:
        t = self.now()
        with self._lock:
            minute = self._minute.setdefault(realm, deque())
            second = self._second.setdefault(realm, deque())
            while minute and minute[0] <= t - 60:
                minute.popleft()
            while second and second[0] <= t - 1:
                second.popleft()
            if len(minute) >= self.per_minute or len(second) >= self.per_second:
                return False
            minute.append(t)
            second.append(t)
            return True

    def reset(self) -> None:
        with self._lock:
            self._minute.clear()
            self._second.clear()
