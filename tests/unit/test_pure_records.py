"""The record reader: any QBO time with any offset -> its instant and its one UTC-day window."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbo_ingest.errors import RecordError
from qbo_ingest.records import (
    last_updated,
    parse_qbo_time,
    placed_time,
    readable_time,
    record_id,
    to_qbo_literal,
    utc_day,
    version_key,
)
from qbo_ingest.windows import daily_windows

UTC = timezone.utc
FAST = settings(max_examples=200, deadline=1000)

instants = st.datetimes(min_value=datetime(2001, 1, 2), max_value=datetime(2090, 12, 30), timezones=st.just(UTC))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


def qbo_text(t: datetime, tz: timezone, zulu: bool) -> str:
    """The instant written as QBO (or a client) writes it: local time with its offset, or `Z`."""
    if zulu:
        return t.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return t.astimezone(tz).isoformat()


@settings(max_examples=200, deadline=1000)
@given(t=instants, tz=offsets, zulu=st.booleans())
def test_any_record_is_read_as_its_instant_and_lies_in_exactly_one_daily_window(
        t: datetime, tz: timezone, zulu: bool) -> None:
    rec = {"Id": "7", "MetaData": {"LastUpdatedTime": qbo_text(t, tz, zulu)}}
    assert last_updated(rec) == t
    day = utc_day(rec)
    assert day == t.date()
    ws = daily_windows(day - timedelta(days=3), day + timedelta(days=3))
    holders = [w for w in ws if w.start <= last_updated(rec) < w.end]
    assert len(holders) == 1 and holders[0].day == day


@FAST
@given(t=instants, tz=offsets)
def test_qbo_literal_is_utc_seconds_and_reads_back(t: datetime, tz: timezone) -> None:
    text = to_qbo_literal(t.astimezone(tz))
    assert text.endswith("Z") and len(text) == 20
    assert parse_qbo_time(text) == t.replace(microsecond=0)


def test_pacific_offsets_cross_midnight_utc() -> None:
    # 20:00 at -07:00 is 03:00Z the next day; 16:59:59 at -07:00 is still the same UTC day
    assert utc_day({"MetaData": {"LastUpdatedTime": "2014-09-19T20:00:00-07:00"}}) == date(2014, 9, 20)
    assert utc_day({"MetaData": {"LastUpdatedTime": "2014-09-19T16:59:59-07:00"}}) == date(2014, 9, 19)
    assert utc_day({"MetaData": {"LastUpdatedTime": "2014-09-19T17:00:00-07:00"}}) == date(2014, 9, 20)
    assert parse_qbo_time(" 2025-10-15T09:30:00Z ") == datetime(2025, 10, 15, 9, 30, tzinfo=UTC)
    assert parse_qbo_time("2025-10-15T09:30:00.250-08:00") == datetime(2025, 10, 15, 17, 30, 0, 250_000, tzinfo=UTC)


def test_time_without_offset_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^timestamp without offset: '2025-10-15T09:30:00'$"):
        parse_qbo_time("2025-10-15T09:30:00")
    padded = " " * 30 + "2025-10-15T09:30:00"  # quoted as received, cut at 40 characters
    with pytest.raises(ValueError, match=r"^timestamp without offset: '" + " " * 30 + r"2025-10-15'$"):
        parse_qbo_time(padded)
    with pytest.raises(ValueError, match=r"^naive datetime given; windows are UTC instants$"):
        to_qbo_literal(datetime(2025, 10, 15))
    assert to_qbo_literal(datetime(2025, 10, 15, 1, 2, 3, 999_999, tzinfo=timezone(timedelta(hours=-7)))) == \
        "2025-10-15T08:02:03Z"


def test_record_id_is_text_and_required() -> None:
    assert record_id({"Id": 130}) == "130"
    assert record_id({"Id": "0"}) == "0"
    assert record_id({"Id": 0}) == "0"
    with pytest.raises(RecordError) as err:
        record_id({"SyncToken": "0", "MetaData": {}, "b": 1}, entity="Invoice")
    assert str(err.value).startswith("Invoice record without Id (keys: MetaData, SyncToken, b)")
    with pytest.raises(RecordError, match=r"^record record without Id"):
        record_id({"Id": ""})
    with pytest.raises(RecordError, match=r"keys: k00, k01, k02, k03, k04, k05, k06, k07, k08, k09\)"):
        record_id({f"k{i:02}": i for i in range(15)})


@pytest.mark.parametrize("rec", [
    {"Id": "5"},
    {"Id": "5", "MetaData": None},
    {"Id": "5", "MetaData": "2025-10-15T09:30:00Z"},
    {"Id": "5", "MetaData": {"LastUpdatedTime": ""}},
    {"Id": "5", "MetaData": {"CreateTime": "2025-10-15T09:30:00Z"}},
])
def test_missing_last_updated_time_is_a_record_error(rec: dict) -> None:
    with pytest.raises(RecordError, match=r"^Customer '5' has no MetaData.LastUpdatedTime"):
        last_updated(rec, entity="Customer")
    with pytest.raises(RecordError, match=r"^record '5' has no"):
        utc_day(rec)
    with pytest.raises(RecordError, match=r"^record '5' has no"):
        last_updated(rec)


@pytest.mark.parametrize("text", ["yesterday", "2025-10-15T09:30:00", "2025-13-15T09:30:00Z"])
def test_unreadable_last_updated_time_is_a_record_error(text: str) -> None:
    with pytest.raises(RecordError) as err:
        last_updated({"Id": "5", "MetaData": {"LastUpdatedTime": text}}, entity="Bill")
    assert str(err.value).startswith(
        "Bill '5': MetaData.LastUpdatedTime is not an ISO 8601 time with an offset")
    assert err.value.__cause__ is None
    with pytest.raises(RecordError, match=r"^Bill '5': MetaData.LastUpdatedTime is not"):
        utc_day({"Id": "5", "MetaData": {"LastUpdatedTime": text}}, entity="Bill")


GOOD = {"Id": "5", "MetaData": {"LastUpdatedTime": "2025-10-15T09:30:00-07:00"}}
FLOOR = datetime(2025, 10, 15, tzinfo=UTC)


def test_readable_time_is_the_instant_or_none_when_unreadable() -> None:
    assert readable_time(GOOD) == datetime(2025, 10, 15, 16, 30, tzinfo=UTC)
    assert readable_time({"Id": "5"}) is None
    assert readable_time({"Id": "5", "MetaData": {"LastUpdatedTime": "2025-10-15T09:30:00"}}) is None  # no offset
    assert readable_time({"Id": "5", "MetaData": "2025-10-15T09:30:00Z"}) is None


def test_placed_time_falls_back_to_the_query_floor_only_when_the_time_is_unreadable() -> None:
    assert placed_time(GOOD, FLOOR) == datetime(2025, 10, 15, 16, 30, tzinfo=UTC)
    assert placed_time(GOOD, None) == datetime(2025, 10, 15, 16, 30, tzinfo=UTC)
    assert placed_time({"Id": "7"}, FLOOR) is FLOOR
    with pytest.raises(RecordError, match=r"^Bill '7' has no MetaData.LastUpdatedTime"):
        placed_time({"Id": "7"}, None, entity="Bill")


def test_version_key_is_the_id_and_the_time_as_sent() -> None:
    assert version_key(GOOD) == ("5", "2025-10-15T09:30:00-07:00")
    assert version_key({"Id": 5, "MetaData": {"LastUpdatedTime": "2025-10-15T16:30:00Z"}}) == (
        "5", "2025-10-15T16:30:00Z")
    assert version_key({"Id": "5"}) == ("5", "")
    assert version_key({"Id": "5", "MetaData": "x"}) == ("5", "")
    assert version_key({"Id": "5", "MetaData": {"LastUpdatedTime": None}}) == ("5", "")
