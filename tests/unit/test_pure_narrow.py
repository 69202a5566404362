"""A running pager narrowed by the engine stops at its new end, also for a request already in flight."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from qbo_ingest.records import to_qbo_literal
from qbo_ingest.source.paging import Cost, KeysetPager, PageStream

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
RECORDS = [{"Id": str(i), "MetaData": {"LastUpdatedTime": to_qbo_literal(T0 + timedelta(minutes=i))}}
           for i in range(50)]


def _source(asked: list[tuple[datetime, datetime]]) -> KeysetPager:
    def fetch(lo: datetime, hi: datetime, position: int | None) -> tuple[list[dict[str, Any]], Cost]:
        asked.append((lo, hi))
        rows = [r for r in RECORDS if lo <= T0 + timedelta(minutes=int(r["Id"])) < hi][:10]
        return rows, Cost(requests=1)

    def count(lo: datetime, hi: datetime) -> tuple[int, Cost]:  # pragma: no cover - no dense second here
        raise AssertionError("not asked")

    return KeysetPager("Invoice", 10, fetch, count)


def test_narrow_drops_what_a_request_in_flight_brings_past_the_new_end_and_asks_no_further():
    asked: list[tuple[datetime, datetime]] = []
    end = T0 + timedelta(hours=2)
    stream = PageStream(_source(asked), T0, end)
    first = next(stream)
    assert [r["Id"] for r in first.records] == [str(i) for i in range(10)]
    cut = T0 + timedelta(minutes=15)
    stream.narrow(cut)
    stream.narrow(end)  # never widens
    assert stream.end == cut
    rest = [r["Id"] for p in stream for r in p.records]
    assert rest == [str(i) for i in range(10, 15)]  # minutes 10..14; 15.. belong to the streams handed over
    assert all(hi <= cut for _, hi in asked[1:])  # the requests after the narrowing ask up to the new end
    assert stream.position < cut


def test_a_narrowing_arriving_while_a_page_is_fetched_drops_its_records_past_the_end():
    asked: list[tuple[datetime, datetime]] = []
    pager = _source(asked)
    stream = PageStream(pager, T0, T0 + timedelta(hours=2))
    fetch = pager._fetch

    def late(lo: datetime, hi: datetime, position: int | None) -> tuple[list[dict[str, Any]], Cost]:
        got = fetch(lo, hi, position)  # the request left with the old end; the narrowing comes meanwhile
        if len(asked) == 2:
            stream.narrow(T0 + timedelta(minutes=13))
        return got

    pager._fetch = late
    ids = [r["Id"] for p in stream for r in p.records]
    assert ids == [str(i) for i in range(13)]
    assert len(asked) == 2


def test_the_pager_tells_the_requests_left_by_the_time_its_records_covered():
    asked: list[tuple[datetime, datetime]] = []
    pager = _source(asked)
    stream = PageStream(pager, T0, T0 + timedelta(minutes=50))
    stream.hint = 7
    assert pager.pages_left(T0) == 7  # nothing received yet: the planner's estimate
    next(stream)  # 10 records over minutes 0..9
    lo = T0 + timedelta(minutes=9)
    assert pager.pages_left(lo) == 1 + int(10 * 41 / 9 / 10)  # this request + about 41 minutes' worth
    assert pager.pages_left(T0 + timedelta(minutes=50)) == 1
