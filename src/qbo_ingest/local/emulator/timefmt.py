"""QBO writes every timestamp in Pacific time with the offset in force at that instant."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
PACIFIC = ZoneInfo("America/Los_Angeles")


def pacific(ts: float) -> str:
    """Epoch seconds -> `2024-07-01T10:00:00-07:00` (correct DST offset for the instant)."""
    return datetime.fromtimestamp(ts, PACIFIC).isoformat()


def pacific_ms(dt: datetime) -> str:
    """The `time` field of responses: `2015-07-23T11:02:25.149-07:00`."""
    return dt.astimezone(PACIFIC).isoformat(timespec="milliseconds")


def pacific_date(ts: float) -> str:
    return datetime.fromtimestamp(ts, PACIFIC).date().isoformat()


def day_epoch(d: date) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()


def as_epoch(value: datetime | date | float | int) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: give an aware datetime (e.g. tzinfo=timezone.utc)")
        return value.timestamp()
    if isinstance(value, date):
        return day_epoch(value)
    return float(value)
