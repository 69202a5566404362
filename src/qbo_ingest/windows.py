"""Dates -> daily UTC windows `[D 00:00Z, D+1 00:00Z)`: the unit of the ledger and of retry."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from qbo_ingest.errors import DateRangeError

UTC = timezone.utc
# A day as the user gives it (`2025-10-01` from the CLI or a Mage variable) or already parsed; parsed once,
# by `parse_day`, wherever it enters.
DateLike = date | str
MAX_DAYS = 366 * 30
MIN_DAY = date(2000, 1, 1)
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, order=True)
class Window:
    """A half-open UTC interval. A day window is the unit of the ledger and of retry."""

    start: datetime
    end: datetime

    @property
    def day(self) -> date:
        return self.start.date()

    @property
    def label(self) -> str:
        """`2025-10-15` for a day, `2025-10-15..2025-10-20` for a span (end exclusive day shown inclusive)."""
        last = (self.end - timedelta(days=1)).date()
        return self.day.isoformat() if last == self.day else f"{self.day}..{last}"

    def days(self) -> list[Window]:
        out: list[Window] = []
        cur = self.start
        while cur < self.end:
            nxt = min(cur + timedelta(days=1), self.end)
            out.append(Window(cur, nxt))
            cur = nxt
        return out


def parse_day(value: object, *, name: str = "date") -> date:
    """ISO `YYYY-MM-DD` strictly; anything else is a one-line error naming the variable."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DateRangeError(f"{name} is missing: give it as YYYY-MM-DD, e.g. {name}=2025-10-01")
    text = str(value).strip()
    try:
        if not _ISO_DAY.fullmatch(text):  # fromisoformat also takes 2024-W10-5 and non-ASCII digits
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        raise DateRangeError(
            f"{name}={text[:40]!r} is not a date in ISO 8601 format YYYY-MM-DD (e.g. 2025-10-01)"
        ) from None
    if day < MIN_DAY:
        raise DateRangeError(f"{name}={text} is before {MIN_DAY}: QuickBooks Online holds nothing that old "
                             f"(the earliest day accepted is {MIN_DAY})")
    return day


def day_range(start: object, end: object, *, names: tuple[str, str] = ("--from", "--to")
              ) -> tuple[date | None, date | None]:
    """Optional inclusive bounds (None: open); a reversed pair is an error naming both."""
    s = parse_day(start, name=names[0]) if start else None
    t = parse_day(end, name=names[1]) if end else None
    if s is not None and t is not None and t < s:
        raise DateRangeError(f"{names[1]} ({t}) is before {names[0]} ({s}): swap them")
    return s, t


def day_window(d: date) -> Window:
    start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return Window(start, start + timedelta(days=1))


def daily_windows(fecha_inicio: DateLike | None, fecha_fin: DateLike | None, *,
                  today: date | None = None) -> list[Window]:
    """Inclusive ISO dates -> one window per UTC day. Errors are one clear line."""
    start = parse_day(fecha_inicio, name="fecha_inicio")
    end = parse_day(fecha_fin, name="fecha_fin")
    if end < start:
        raise DateRangeError(f"fecha_fin ({end}) is before fecha_inicio ({start}): swap them")
    n = (end - start).days + 1
    if n > MAX_DAYS:
        raise DateRangeError(f"range of {n} days is too long (max {MAX_DAYS}); split it")
    if today is not None and start > today:
        raise DateRangeError(f"fecha_inicio ({start}) is in the future (today is {today} UTC)")
    if today is not None and end > today:
        raise DateRangeError(f"fecha_fin ({end}) is in the future (today is {today} UTC): nothing is there yet; "
                             f"use fecha_fin={today - timedelta(days=1)} (today itself is loaded but stays open "
                             "until it ends; `qbo-ingest sync` keeps it current)")
    return [day_window(start + timedelta(days=i)) for i in range(n)]
