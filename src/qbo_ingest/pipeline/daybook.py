"""The per-day book the streams of one run share: counts per (entity, day), and when a day closes.

A day may be fetched by several streams (a heavy day cut into time slices); it is closed (quality
gates + ledger row) once every stream touching it has moved past it or ended.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date


@dataclass
class DayStats:
    rows_fetched: int = 0
    rows_upserted: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    chars_escaped: int = 0
    intuit_tid: str | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass
class DayEntry:
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
        self._days: dict[tuple[str, date], DayEntry] = {}

    def add(self, entity: str, days: Sequence[date]) -> None:
        with self._lock:
            for d in days:
                self._days.setdefault((entity, d), DayEntry()).open_streams += 1

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

    def add_rows(self, entity: str, d: date, fetched: int, upserted: int, escaped: int = 0) -> None:
        with self._lock:
            st = self._days[(entity, d)].stats
            st.rows_fetched += fetched
            st.rows_upserted += upserted
            st.chars_escaped += escaped
            st.pages += 1

    def fail(self, entity: str, days: Sequence[date], error: str) -> None:
        with self._lock:
            for d in days:
                entry = self._days[(entity, d)]
                entry.error = entry.error or error

    def release(self, entity: str, d: date) -> DayEntry | None:
        """One stream is done with day `d`; the entry if it was the last one (the caller closes the day)."""
        with self._lock:
            entry = self._days[(entity, d)]
            entry.open_streams -= 1
            if entry.open_streams < 0:  # pragma: no cover - a stream releases each of its days once
                raise RuntimeError(f"{entity} {d}: released more often than streams were added")
            return entry if entry.open_streams == 0 else None

    def unfinished(self) -> list[tuple[str, date, DayEntry]]:
        """Days a stream began that are still held by a stream that never ran (a run stopped by its
        budget skips the streams that no longer fit)."""
        with self._lock:
            return [(e, d, entry) for (e, d), entry in sorted(self._days.items())
                    if entry.begun and entry.open_streams > 0]
