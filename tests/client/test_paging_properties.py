"""Keyset paging over real HTTP to the emulator: for any tie pattern, page size and edits between pages,
`QboClient.pages` returns every record of the window exactly once.

Each example builds a fresh emulator (about 10 ms) with its records stamped in tie groups (several records
in the same second), serves it on 127.0.0.1 and pages one window with a small page size, asking the
emulator's admin knob `/admin/mutate-between-pages` to edit records between pages (an edit moves the
record's LastUpdatedTime to 'now', as QBO does) while the clock moves on.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .emu import emulator, running, settings_for
from .fakes import FakeTime

UTC = timezone.utc
CREATED = date(2025, 10, 14)  # the records are created that day ...
DAY = datetime(2025, 10, 15, tzinfo=UTC)  # ... and stamped (edited) into tie groups on this one
NOW = DAY + timedelta(days=1, hours=6)  # the emulator's clock when paging starts
MAX_RECORDS = 40
# ~0.1-0.4 s an example (one emulator, one request per page): 15 examples keep each property under ~10 s.
BOUNDED = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)

# Tie groups: how many records share each second, and the gaps between those seconds.
def tie_groups_of(largest: int) -> st.SearchStrategy[list[tuple[int, int]]]:
    return st.lists(st.tuples(st.integers(1, largest), st.integers(1, 4000)), min_size=1, max_size=10).filter(
        lambda gs: sum(n for n, _ in gs) <= MAX_RECORDS)


groups = tie_groups_of(10)
# Edits between pages: after page i, edit n records of the next query's result set, then move the clock.
edit_plans = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 90)), max_size=8)


class Clock:
    """The emulator's clock: stands still unless a test moves it (edits land at 'now')."""

    def __init__(self, t: datetime) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


def _stamp(emu: Any, tie_groups: list[tuple[int, int]]) -> dict[str, datetime]:
    """Give the first records the tie pattern's LastUpdatedTimes; returns {Id: time} of the window."""
    ids = sorted(emu.truth("Invoice", datetime(2025, 10, 14, tzinfo=UTC), DAY), key=int)
    t, i, out = DAY, 0, {}
    for n, gap in tie_groups:
        t += timedelta(seconds=gap)
        for rid in ids[i:i + n]:
            emu.update_record("Invoice", rid, t)
            out[rid] = t
        i += n
    return out


def _page_with_edits(tie_groups: list[tuple[int, int]], page_size: int, edits: list[tuple[int, int]],
                     end: datetime) -> tuple[list[str], dict[str, datetime], set[str]]:
    clock = Clock(NOW)
    emu = emulator(profile="empty", profile_overrides={"Invoice": {CREATED.isoformat(): MAX_RECORDS, "default": 0}},
                   update_fraction=0.0, delete_fraction=0.0, clock=clock, throttle=False,
                   data_end=CREATED + timedelta(days=1))
    window = _stamp(emu, tie_groups)
    assert emu.truth("Invoice", DAY, end) == window
    got: list[str] = []
    t = FakeTime()
    with running(emu) as srv, httpx.Client(base_url=srv.base_url) as admin:
        s = settings_for(emu, srv, refresh_token=emu.issue_refresh_token())
        with QboClient(s, MemoryTokenStore(), sleep=t.sleep, limiter=NoLimit()) as c:
            for number, page in enumerate(c.pages("Invoice", DAY, end, page_size=page_size)):
                got.extend(str(r["Id"]) for r in page.records)
                for n, advance in edits[number:number + 1]:
                    if n:
                        r = admin.post("/admin/mutate-between-pages", json={"entity": "Invoice", "n": n})
                        assert r.status_code == 200, r.text
                    clock.advance(advance)
    edited = {rid for _, rid, _ in emu.mutations}
    return got, window, edited


@BOUNDED
@given(tie_groups=groups, page_size=st.integers(1, 15))
def test_any_tie_pattern_and_page_size_returns_every_record_once(
        tie_groups: list[tuple[int, int]], page_size: int) -> None:
    got, window, _ = _page_with_edits(tie_groups, page_size, [], DAY + timedelta(days=1))
    assert len(got) == len(set(got))
    assert set(got) == set(window)


@settings(BOUNDED, phases=[Phase.explicit, Phase.generate])  # a known failure: shrinking it would cost minutes
@given(tie_groups=groups, page_size=st.integers(1, 15), edits=edit_plans)
# Found by this property (shrunk) before paging kept versions (issue 13 items 4, 10): three records share a second
# and the page holds two. That second is read
# by STARTPOSITION; the record edited between those pages moves to 'now', the positions after it shift down
# by one, and the record that slid into an already-read position is never returned (1017000005 lost).
@example(tie_groups=[(1, 1), (1, 1), (3, 1)], page_size=2, edits=[(0, 0), (0, 0), (1, 0)])
def test_edits_between_pages_never_lose_or_repeat_a_record_in_an_open_window(
        tie_groups: list[tuple[int, int]], page_size: int, edits: list[tuple[int, int]]) -> None:
    # The window ends after 'now' (an incremental sync): an edited record stays inside, so every record
    # of the window must come; only an edited one may come twice (its new version: newest wins upstream).
    got, window, edited = _page_with_edits(tie_groups, page_size, edits, NOW + timedelta(days=1))
    assert {i for i in got if got.count(i) > 1} <= edited, "an unedited record was returned twice"
    assert set(got) == set(window), f"lost: {sorted(set(window) - set(got), key=int)}"


@BOUNDED
@given(tie_groups=tie_groups_of(3), page_size=st.integers(4, 15),
       edits=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 90)), max_size=8))
def test_edits_between_pages_when_no_tie_fills_a_page(
        tie_groups: list[tuple[int, int]], page_size: int, edits: list[tuple[int, int]]) -> None:
    """No second ever holds a page (ties of at most 3, at most 3 edits landing in one second, pages of 4 or
    more): the keyset alone reads the window, and edits between pages lose nothing, in an open window (the
    edited record comes once) and in a past one (it left the window)."""
    got, window, edited = _page_with_edits(tie_groups, page_size, edits, NOW + timedelta(days=1))
    assert {i for i in got if got.count(i) > 1} <= edited and set(got) == set(window)
    got, window, edited = _page_with_edits(tie_groups, page_size, edits, DAY + timedelta(days=1))
    assert {i for i in got if got.count(i) > 1} <= edited
    assert set(window) - edited <= set(got) <= set(window)  # only an edited record may be missing
