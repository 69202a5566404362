"""Keyset paging: every record of the window exactly once, even when records change between pages."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .fakes import FakeQbo, FakeTime, make_records, settings

D1 = datetime(2025, 10, 15, tzinfo=timezone.utc)
D2 = datetime(2025, 10, 16, tzinfo=timezone.utc)


def client(fake: FakeQbo) -> QboClient:
    t = FakeTime()
    return QboClient(settings(QBO_REFRESH_TOKEN=fake.first_refresh), MemoryTokenStore(wall_clock=t.clock),
                     transport=fake.transport(), sleep=t.sleep, clock=t.clock, wall_clock=t.clock,
                     limiter=NoLimit())


def ids(pages: list) -> list[str]:
    return [r["Id"] for p in pages for r in p.records]


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 2500])
def test_page_edges(n: int) -> None:
    fake = FakeQbo(make_records(n, D1, 30))
    with client(fake) as c:
        pages = list(c.pages("Invoice", D1, D2))
        assert sorted(ids(pages), key=int) == [str(i + 1) for i in range(n)]
        assert [p.number for p in pages] == list(range(1, len(pages) + 1))
        assert c.count("Invoice", D1, D2) == n
    assert all(len(p.records) <= 1000 for p in pages)


def test_window_bounds_are_half_open() -> None:
    recs = make_records(3, D1 - timedelta(seconds=1), 1) + make_records(1, D2, 1)
    for i, r in enumerate(recs):
        r["Id"] = str(i + 1)
    fake = FakeQbo(recs)  # at 23:59:59 the day before, 00:00:00, 00:00:01, and 00:00:00 the day after
    with client(fake) as c:
        assert ids(list(c.pages("Invoice", D1, D2))) == ["2", "3"]


def test_ties_larger_than_a_page_fall_back_to_startposition_within_the_second() -> None:
    # 2,300 records updated in the same second, then 10 more a minute later.
    recs = make_records(2300, D1 + timedelta(hours=3), 0, same_second_every=10**9)
    recs += make_records(10, D1 + timedelta(hours=4), 1)
    for i, r in enumerate(recs):
        r["Id"] = str(i + 1)
    fake = FakeQbo(recs)
    with client(fake) as c:
        got = ids(list(c.pages("Invoice", D1, D2)))
    assert len(got) == len(set(got)) == 2310
    assert any("STARTPOSITION 1001" in s for s in fake.statements)
    assert any("STARTPOSITION 2001" in s for s in fake.statements)


def test_records_updated_between_pages_are_not_skipped() -> None:
    """Offset paging would skip rows here: 50 records of page 1 move to 'now', shifting the rest."""
    fake = FakeQbo(make_records(3000, D1, 20))
    now = D2 + timedelta(hours=5)  # the window runs until 'now' (an open-ended sync)
    end = now + timedelta(hours=1)
    moved = [str(i) for i in range(1, 51)]
    fake.on_page = lambda f: f.touch(moved, now)
    with client(fake) as c:
        got = ids(list(c.pages("Invoice", D1, end)))
    # every version once: the 50 moved ones were read on page 1 and come again with their new time
    # (still inside the window), so raw ends with their newest payload (issue 13 item 10)
    assert len(got) == 3050 and len(set(got)) == 3000
    assert set(got) == {str(i) for i in range(1, 3001)}


def test_records_moved_out_of_a_past_window_only_leave_what_was_not_yet_read() -> None:
    fake = FakeQbo(make_records(2500, D1, 30))
    before = {r["Id"] for r in fake.records}
    later = [str(i) for i in range(2001, 2011)]  # not read yet when they move to tomorrow
    fake.on_page = lambda f: f.touch(later, D2 + timedelta(hours=1))
    with client(fake) as c:
        got = set(ids(list(c.pages("Invoice", D1, D2))))
        truth_after = {r["Id"] for r in fake.records
                       if D1 <= datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) < D2}
    assert truth_after == before - set(later)
    assert got == truth_after
