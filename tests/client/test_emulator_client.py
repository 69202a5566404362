"""QboClient against the emulator over real HTTP: data equals the emulator's ground truth; faults,
backoff, 401, throttling, invalid_grant."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from qbo_ingest.errors import INVALID_GRANT_MESSAGE, AuthError, RetriesExhausted
from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit, RateLimiter

from .emu import emulator, running, settings_for, utc
from .fakes import FakeTime

D1, D2 = utc(2025, 10, 15), utc(2025, 10, 16)


def client(emu, srv, t: FakeTime | None = None, **kw) -> QboClient:  # type: ignore[no-untyped-def]
    s = settings_for(emu, srv, refresh_token=emu.issue_refresh_token())
    if t is not None:
        kw.setdefault("sleep", t.sleep)
        kw.setdefault("clock", t.clock)
        kw.setdefault("breaker", CircuitBreaker(clock=t.clock))
    kw.setdefault("limiter", NoLimit())
    return QboClient(s, MemoryTokenStore(), **kw)


def ids(pages) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(r["Id"]) for p in pages for r in p.records]


@pytest.mark.parametrize(("entity", "page_size"), [("Invoice", 25), ("Customer", 3), ("Payment", 25)])
def test_pages_and_count_equal_the_emulator_truth(entity: str, page_size: int) -> None:
    emu = emulator()
    start, end = utc(2025, 10, 1), utc(2025, 10, 8)
    with running(emu) as srv, client(emu, srv) as c:
        got = ids(c.pages(entity, start, end, page_size=page_size))
        truth = emu.truth(entity, start, end)
        assert sorted(got) == sorted(truth) and len(got) == len(set(got))
        assert c.count(entity, start, end) == len(truth)
        assert len(truth) > page_size  # several pages really were read


def test_keyset_paging_returns_exactly_the_truth_while_records_change_between_pages() -> None:
    day = "2026-11-20"
    emu = emulator(profile_overrides={"Invoice": {day: 2500, "default": 0}}, update_fraction=0.0,
                   delete_fraction=0.0)
    start = utc(2026, 11, 20)
    with running(emu) as srv, client(emu, srv) as c:
        # an open window (until after 'now'): the moved records stay inside and come once each
        end = emu.now() + timedelta(hours=1)
        emu.mutate_between_pages("Invoice", 40)
        pages = list(c.pages("Invoice", start, end))
        got = ids(pages)
        assert len(emu.mutations) == 40
        assert len(set(got)) <= len(got) <= len(set(got)) + 40  # a moved record comes again, newest last
        assert set(got) == set(emu.truth("Invoice", start, end))
        newest = {r["Id"]: r["MetaData"]["LastUpdatedTime"] for p in pages for r in p.records}
        assert {i: datetime.fromisoformat(t) for i, t in newest.items()} == emu.truth("Invoice", start, end)
        # a past day window: records moved out of it before being read are (rightly) not returned
        before = set(emu.truth("Invoice", start, start + timedelta(days=1)))
        emu.mutate_between_pages("Invoice", 40)
        got_day = ids(c.pages("Invoice", start, start + timedelta(days=1)))
        after = set(emu.truth("Invoice", start, start + timedelta(days=1)))
        assert len(got_day) == len(set(got_day))
        assert after <= set(got_day) <= before
        assert len(after) == len(before) - 40


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "reset", "truncated", "fault200", "slow"])
def test_each_emulator_fault_is_retried_after_2s(kind: str) -> None:
    emu = emulator()
    t = FakeTime()
    with running(emu) as srv, client(emu, srv, t, timeout=0.5) as c:
        truth = emu.truth("Invoice", D1, D2)
        emu.faults.add(kind, on="query", at_requests=[1], seconds=2.0)
        got = ids(c.pages("Invoice", D1, D2))
        assert sorted(got) == sorted(truth)
        assert emu.counters()["faults"] == 1
        if kind == "reset":
            # The emulator may answer 500 before it drops the connection, which then fails the next
            # request on it too: one or two retries, always on the backoff ladder.
            assert t.sleeps in ([2], [2, 4])
        else:
            assert t.sleeps == [2]
            assert c.stats.retries == 1


def test_backoff_2_to_64_then_the_7th_failure_fails_cleanly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="qbo_ingest")
    emu = emulator()
    t = FakeTime()
    with running(emu) as srv, client(emu, srv, t) as c:
        emu.faults.add("429", on="query", at_requests=list(range(1, 8)))
        with pytest.raises(RetriesExhausted) as err:
            list(c.pages("Invoice", D1, D2))
        assert t.sleeps == [2, 4, 8, 16, 32, 64]
        assert emu.counters()["query"] == 7
    assert "Invoice 2025-10-15" in str(err.value) and "intuit_tid=" in str(err.value)
    limit_lines = [r.getMessage() for r in caplog.records if "API Limit: 429" in r.getMessage()]
    assert [line.split(" retry ")[1].split(" (")[0] for line in limit_lines] == [
        "1/6 in 2s", "2/6 in 4s", "3/6 in 8s", "4/6 in 16s", "5/6 in 32s", "6/6 in 64s"]


def test_retry_after_header_larger_than_backoff_wins() -> None:
    emu = emulator(retry_after=10)
    t = FakeTime()
    with running(emu) as srv, client(emu, srv, t) as c:
        emu.faults.add("429", on="count", at_requests=[1])
        c.count("Invoice", D1, D2)
    assert t.sleeps == [10]


def test_401_mid_run_recovers_with_one_renewal() -> None:
    emu = emulator(profile_overrides={"Invoice": {"2025-10-15": 2300, "default": 0}})
    with running(emu) as srv, client(emu, srv) as c:
        pages = c.pages("Invoice", D1, D2)
        first = next(pages)
        emu.revoke_all_access_tokens()
        rest = list(pages)
        truth = emu.truth("Invoice", D1, D2)
        assert len(truth) > 1000
        assert sorted(ids([first, *rest])) == sorted(truth)
        assert emu.counters()["token"] == 2  # the first token, then one renewal after the 401
        emu.faults.add("revoke_access", on="count", at_requests=[1])
        assert c.count("Invoice", D1, D2) == len(truth)
        assert emu.counters()["token"] == 3


def test_invalid_grant_against_the_emulator_gives_the_clear_message() -> None:
    emu = emulator()
    with running(emu) as srv:
        s = settings_for(emu, srv, refresh_token="not-a-valid-refresh-token")
        with QboClient(s, MemoryTokenStore(), limiter=NoLimit()) as c, pytest.raises(AuthError) as err:
            c.count("Invoice", D1, D2)
    assert INVALID_GRANT_MESSAGE in str(err.value)
    assert "not-a-valid-refresh-token" not in str(err.value)


@pytest.mark.slow
def test_the_limiter_keeps_a_600_request_burst_free_of_429s_with_emulator_throttling_on() -> None:
    """Emulator and client share a fake clock: 600 requests need > 60 s of (fake) time, 0 throttled.

    Slow only because each emulator request costs ~45 ms of real time on loopback (600 x 45 ms)."""
    t = FakeTime(start=utc(2026, 11, 27, 12).timestamp())
    emu = emulator(clock=lambda: datetime.fromtimestamp(t.now, tz=timezone.utc))
    with running(emu) as srv, client(emu, srv, t, limiter=RateLimiter(clock=t.clock, sleep=t.sleep)) as c:
        t0 = t.now
        for _ in range(600):
            c.count("Invoice", D1, D2)
        counters = emu.counters()
        assert counters["count"] == 600
        assert counters["throttled"] == 0
        assert c.stats.throttled_429 == 0 and c.stats.retries == 0
        assert t.now - t0 >= 60  # the minute limit held the last 100 back


def test_without_the_limiter_a_burst_is_throttled_and_recovers_by_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The 429 storm of the report: 5 workers x 12 requests at one (fake) instant, no client-side limit."""
    caplog.set_level(logging.WARNING, logger="qbo_ingest")
    t = FakeTime(start=utc(2026, 11, 27, 12).timestamp())
    emu = emulator(clock=lambda: datetime.fromtimestamp(t.now, tz=timezone.utc))
    errors: list[BaseException] = []
    with running(emu) as srv, client(emu, srv, t, breaker=CircuitBreaker(threshold=50, clock=t.clock)) as c:

        def work() -> None:
            try:
                for _ in range(12):
                    c.company_info()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(5)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        counters = emu.counters()
        stats = c.stats
    assert errors == []
    assert counters["throttled"] > 0 and counters["companyinfo"] == 60 + counters["throttled"]
    assert stats.throttled_429 == counters["throttled"] == stats.retries
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("API Limit: 429")]
    assert len(lines) == counters["throttled"]
    print("emulator counters:", counters)
    print("client stats:", stats)
    print("\n".join(lines))


def test_real_time_workers_behind_the_default_limiter_never_hit_the_emulator_throttle() -> None:
    """Real clocks on both sides: 4 workers x 15 requests at QBO's 10/s take > 5 s and get no 429."""
    emu = emulator()
    limiter = RateLimiter()
    errors: list[BaseException] = []
    with running(emu) as srv, client(emu, srv, limiter=limiter) as c:
        c.company_info()
        emu.reset_counters()

        def work() -> None:
            try:
                for _ in range(15):
                    c.company_info()
            except BaseException as exc:
                errors.append(exc)

        start = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed = time.monotonic() - start
        counters = emu.counters()
    assert errors == []
    assert counters["companyinfo"] == 60 and counters["throttled"] == 0
    assert elapsed >= 5.0
