"""The QBO record shape, read in one place: `Id`, `MetaData.LastUpdatedTime`, and the UTC day of that
instant (the record's daily window). Also QBO's time literals and the `Page` a source yields.

QBO stamps `MetaData.LastUpdatedTime` with a Pacific offset (`-07:00`/`-08:00`); it is parsed as an
aware instant, and its UTC date is the day the record belongs to everywhere (paging, upsert, ledger).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from qbo_ingest.errors import RecordError

UTC = timezone.utc


def parse_qbo_time(text: str) -> datetime:
    """A QBO time (`2025-10-15T09:30:00-07:00`, `...Z`) as an aware instant; no offset is an error."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp without offset: {text[:40]!r}")
    return dt


def to_qbo_literal(ts: datetime) -> str:
    """An explicit-offset literal QBO reads unambiguously: `2025-10-15T00:00:00Z`."""
    if ts.tzinfo is None:
        raise ValueError("naive datetime given; windows are UTC instants")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record_id(rec: Mapping[str, Any], *, entity: str = "record") -> str:
    """The record's `Id` as text; a record without one is a `RecordError` (no payload text quoted)."""
    rid = rec.get("Id")
    if rid is None or str(rid) == "":
        raise RecordError(f"{entity} record without Id (keys: {', '.join(sorted(map(str, rec))[:10])})")
    return str(rid)


def last_updated(rec: Mapping[str, Any], *, entity: str = "record") -> datetime:
    """`MetaData.LastUpdatedTime` as an aware instant; missing or unreadable is a `RecordError`."""
    meta = rec.get("MetaData")
    text = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
    if not text:
        raise RecordError(f"{entity} {rec.get('Id')!r} has no MetaData.LastUpdatedTime")
    try:
        return parse_qbo_time(str(text))
    except ValueError:
        raise RecordError(f"{entity} {rec.get('Id')!r}: MetaData.LastUpdatedTime is not an ISO 8601 time "
                          "with an offset") from None


def readable_time(rec: Mapping[str, Any]) -> datetime | None:
    """`MetaData.LastUpdatedTime` as an instant, or None when it is missing or has no offset."""
    try:
        return last_updated(rec)
    except RecordError:
        return None


def placed_time(rec: Mapping[str, Any], floor: datetime | None, *, entity: str = "record") -> datetime:
    """The instant a record is placed at: its LastUpdatedTime, or, when that is missing or unreadable (no
    MetaData, no offset), `floor`, the lower bound of the query that returned it (QBO matched it there).
    Without a floor such a record is a `RecordError`."""
    t = readable_time(rec)
    if t is not None:
        return t
    if floor is None:
        return last_updated(rec, entity=entity)  # raises, naming the record
    return floor


def version_key(rec: Mapping[str, Any]) -> tuple[str, str]:
    """(Id, LastUpdatedTime as sent): one version of a record. Paging drops a version it has already
    yielded, not an Id: a record edited between two pages comes again with its new time and is kept."""
    meta = rec.get("MetaData")
    text = meta.get("LastUpdatedTime") if isinstance(meta, Mapping) else None
    return str(rec.get("Id")), str(text or "")


def utc_day(rec: Mapping[str, Any], *, entity: str = "record") -> date:
    """The UTC day of the record's LastUpdatedTime: the daily window it belongs to."""
    return last_updated(rec, entity=entity).astimezone(UTC).date()


@dataclass(frozen=True)
class Page:
    """One answer of a source: the records QBO returned, with what it cost."""

    number: int
    records: list[dict[str, Any]]
    intuit_tid: str | None
    requests: int
    retries: int
    # The response body the records came from, so the warehouse can store payloads exactly as
    # received without re-encoding them in Python (bench/README.md: throughput).
    body: bytes | None = field(default=None, repr=False, compare=False)
    # The lower bound of the query that returned these records: where a record without a readable
    # LastUpdatedTime is placed (records.placed_time).
    floor: datetime | None = field(default=None, compare=False)
    # The records hold only `Id` and `MetaData.LastUpdatedTime`; the payloads are in `body`
    # (QboClient.pages(keys_only=True), source/bodies.py).
    keys_only: bool = field(default=False, compare=False)
