"""Dates -> daily UTC windows: properties over any range, and the exact errors users see."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbo_ingest.errors import DateRangeError
from qbo_ingest.windows import MAX_DAYS, Window, daily_windows, day_range, day_window, parse_day

UTC = timezone.utc
FAST = settings(max_examples=150, deadline=1000)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))  # QBO holds nothing before 2000


def midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


@FAST
@given(start=days, length=st.integers(0, 800), as_text=st.booleans())
def test_daily_windows_partition_any_range_exactly(start: date, length: int, as_text: bool) -> None:
    end = start + timedelta(days=length)
    ws = daily_windows(start.isoformat() if as_text else start, end.isoformat() if as_text else end)
    assert len(ws) == length + 1
    assert ws[0].start == midnight(start) and ws[-1].end == midnight(end + timedelta(days=1))
    for w in ws:
        assert w.end - w.start == timedelta(days=1)
        assert w.start.tzinfo is not None and w.start.utcoffset() == timedelta(0)
        assert (w.start.hour, w.start.minute, w.start.second, w.start.microsecond) == (0, 0, 0, 0)
        assert w.label == w.day.isoformat() and w.days() == [w]
    for a, b in itertools.pairwise(ws):
        assert a.end == b.start  # no gap, no overlap
    assert [w.day for w in ws] == [start + timedelta(days=i) for i in range(length + 1)]


@FAST
@given(start=days, length=st.integers(0, 800), second=st.integers(0, 86_399))
def test_any_instant_of_the_range_is_in_exactly_one_window(start: date, length: int, second: int) -> None:
    ws = daily_windows(start, start + timedelta(days=length))
    t = midnight(start) + timedelta(days=length // 2, seconds=second)
    holders = [w for w in ws if w.start <= t < w.end]
    assert len(holders) == 1 and holders[0].day == t.date()


@FAST
@given(start=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)),
       span=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=40)))
def test_window_days_cut_any_span_into_consecutive_pieces_of_at_most_a_day(start: datetime, span: timedelta) -> None:
    w = Window(start, start + span)
    pieces = w.days()
    assert pieces[0].start == w.start and pieces[-1].end == w.end
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    assert all(timedelta(0) < p.end - p.start <= timedelta(days=1) for p in pieces)
    assert all(p.end - p.start == timedelta(days=1) for p in pieces[:-1])
    assert Window(start, start).days() == []


def test_labels_show_the_end_day_inclusive() -> None:
    assert Window(midnight(date(2025, 10, 15)), midnight(date(2025, 10, 21))).label == "2025-10-15..2025-10-20"
    assert day_window(date(2025, 10, 15)).label == "2025-10-15"
    assert Window(midnight(date(2025, 10, 15)), midnight(date(2025, 10, 17))).label == "2025-10-15..2025-10-16"


def test_windows_sort_by_start() -> None:
    a, b = day_window(date(2025, 1, 2)), day_window(date(2025, 1, 1))
    assert sorted([a, b]) == [b, a]


def test_parse_day_accepts_dates_datetimes_and_strict_iso_text() -> None:
    assert parse_day("2025-10-01") == date(2025, 10, 1)
    assert parse_day(" 2025-10-01 ") == date(2025, 10, 1)
    assert parse_day(date(2025, 10, 1)) == date(2025, 10, 1)
    assert parse_day(datetime(2025, 10, 1, 23, 59)) == date(2025, 10, 1)
    assert type(parse_day(datetime(2025, 10, 1, 23, 59))) is date


@pytest.mark.parametrize(("value", "message"), [
    (None, "fecha_inicio is missing: give it as YYYY-MM-DD, e.g. fecha_inicio=2025-10-01"),
    ("", "fecha_inicio is missing: give it as YYYY-MM-DD, e.g. fecha_inicio=2025-10-01"),
    ("   ", "fecha_inicio is missing: give it as YYYY-MM-DD, e.g. fecha_inicio=2025-10-01"),
    ("2025-10-1", "fecha_inicio='2025-10-1' is not a date in ISO 8601 format YYYY-MM-DD (e.g. 2025-10-01)"),
    ("20251001", "fecha_inicio='20251001' is not a date in ISO 8601 format YYYY-MM-DD (e.g. 2025-10-01)"),
    ("2025-13-01", "fecha_inicio='2025-13-01' is not a date in ISO 8601 format YYYY-MM-DD (e.g. 2025-10-01)"),
    ("2025-10-01T00:00", "fecha_inicio='2025-10-01T00:00' is not a date in ISO 8601 format YYYY-MM-DD"),
    ("x" * 60, "fecha_inicio='" + "x" * 40 + "' is not a date"),
])
def test_parse_day_errors_are_one_line_naming_the_variable(value: object, message: str) -> None:
    with pytest.raises(DateRangeError) as err:
        parse_day(value, name="fecha_inicio")
    assert str(err.value).startswith(message)
    assert err.value.__cause__ is None  # one line: no chained ValueError traceback
    assert err.value.__context__ is None or err.value.__suppress_context__


def test_parse_day_default_name() -> None:
    with pytest.raises(DateRangeError, match=r"^date is missing: give it as YYYY-MM-DD, e.g. date=2025-10-01"):
        parse_day(None)


def test_range_errors() -> None:
    with pytest.raises(DateRangeError, match=r"fecha_fin \(2025-09-30\) is before fecha_inicio \(2025-10-01\): swap"):
        daily_windows("2025-10-01", "2025-09-30")
    with pytest.raises(DateRangeError, match=r"^fecha_fin is missing"):
        daily_windows("2025-10-01", None)
    with pytest.raises(DateRangeError, match=r"^fecha_inicio='2025-1-01' is not a date"):
        daily_windows("2025-1-01", "2025-10-01")
    with pytest.raises(DateRangeError, match=r"^fecha_fin='x' is not a date"):
        daily_windows("2025-10-01", "x")
    start = date(2000, 1, 1)
    assert len(daily_windows(start, start + timedelta(days=MAX_DAYS - 1))) == MAX_DAYS
    with pytest.raises(DateRangeError, match=rf"range of {MAX_DAYS + 1} days is too long \(max {MAX_DAYS}\); split"):
        daily_windows(start, start + timedelta(days=MAX_DAYS))
    assert MAX_DAYS == 366 * 30


def test_future_start_is_refused_only_when_today_is_given() -> None:
    today = date(2025, 10, 10)
    future = r"fecha_inicio \(2025-10-11\) is in the future \(today is 2025-10-10 UTC\)"
    with pytest.raises(DateRangeError, match=future):
        daily_windows("2025-10-11", "2025-10-12", today=today)
    assert [w.day for w in daily_windows("2025-10-09", "2025-10-10", today=today)] == [date(2025, 10, 9), today]
    with pytest.raises(DateRangeError, match=r"fecha_fin \(2025-10-11\) is in the future"):  # nothing there yet
        daily_windows("2025-10-10", "2025-10-11", today=today)
    assert len(daily_windows("2099-01-01", "2099-01-01")) == 1


def test_days_before_2000_are_refused_naming_the_variable() -> None:
    assert parse_day("2000-01-01", name="fecha_inicio") == date(2000, 1, 1)
    with pytest.raises(DateRangeError) as err:
        parse_day("1999-12-31", name="fecha_inicio")
    assert str(err.value) == ("fecha_inicio=1999-12-31 is before 2000-01-01: QuickBooks Online holds nothing that "
                              "old (the earliest day accepted is 2000-01-01)")


def test_a_future_fecha_fin_is_refused_with_the_day_to_use() -> None:
    today = date(2025, 10, 10)
    assert daily_windows("2025-10-08", "2025-10-10", today=today)[-1].day == today
    with pytest.raises(DateRangeError) as err:
        daily_windows("2025-10-08", "2025-10-11", today=today)
    assert str(err.value) == (
        "fecha_fin (2025-10-11) is in the future (today is 2025-10-10 UTC): nothing is there yet; use "
        "fecha_fin=2025-10-09 (today itself is loaded but stays open until it ends; `qbo-ingest sync` keeps "
        "it current)")


def test_day_range_is_optional_inclusive_and_refuses_a_reversed_pair() -> None:
    assert day_range(None, None) == (None, None)
    assert day_range("", "") == (None, None)
    assert day_range("2025-10-01", None) == (date(2025, 10, 1), None)
    assert day_range(None, "2025-10-02") == (None, date(2025, 10, 2))
    assert day_range("2025-10-02", "2025-10-02") == (date(2025, 10, 2), date(2025, 10, 2))
    with pytest.raises(DateRangeError) as err:
        day_range("2025-10-02", "2025-10-01")
    assert str(err.value) == "--to (2025-10-01) is before --from (2025-10-02): swap them"
    with pytest.raises(DateRangeError) as err:
        day_range("2025-10-02", "2025-10-01", names=("start", "end"))
    assert str(err.value) == "end (2025-10-01) is before start (2025-10-02): swap them"
    with pytest.raises(DateRangeError, match=r"^start='x' is not a date"):
        day_range("x", None, names=("start", "end"))
    with pytest.raises(DateRangeError, match=r"^end='y' is not a date"):
        day_range(None, "y", names=("start", "end"))
