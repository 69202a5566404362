"""Circuit breaker states and the client-side rate limiter (fake clock, plus one real-time run)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest

from qbo_ingest.errors import CircuitOpenError, RetriesExhausted
from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit, RateLimiter

from .fakes import THROTTLE, FakeQbo, FakeTime, make_records, settings

D1 = datetime(2025, 10, 15, tzinfo=timezone.utc)
D2 = datetime(2025, 10, 16, tzinfo=timezone.utc)


def test_breaker_opens_after_threshold_then_half_opens_for_one_trial() -> None:
    t = FakeTime()
    b = CircuitBreaker(threshold=3, cooldown_s=30, clock=t.clock)
    for _ in range(2):
        b.before_request()
        b.record_failure()
    assert b.state == "closed"
    b.record_success()  # a success resets the consecutive count
    for _ in range(3):
        b.before_request()
        b.record_failure()
    assert b.state == "open"
    with pytest.raises(CircuitOpenError, match=r"half-opens in 30s"):
        b.before_request("query (Invoice 2025-10-15)")
    t.sleep(29)
    with pytest.raises(CircuitOpenError):
        b.before_request()
    t.sleep(1)
    assert b.state == "half-open"
    b.before_request()  # the one trial
    with pytest.raises(CircuitOpenError):
        b.before_request()  # a second caller while the trial is in flight
    b.record_failure()  # trial failed: open again for a full cool-down
    assert b.state == "open"
    t.sleep(30)
    b.before_request()
    b.record_success()
    assert b.state == "closed"
    b.before_request()
    assert b.opened_count == 2


def test_breaker_is_shared_by_workers_and_stops_requests_before_they_are_sent() -> None:
    t = FakeTime()
    fake = FakeQbo(make_records(3, D1, 60))
    breaker = CircuitBreaker(threshold=5, cooldown_s=60, clock=t.clock)
    s = settings(QBO_REFRESH_TOKEN=fake.first_refresh)
    store = MemoryTokenStore(wall_clock=t.clock)

    def worker() -> QboClient:
        return QboClient(s, store, transport=fake.transport(), sleep=t.sleep, clock=t.clock, wall_clock=t.clock,
                         limiter=NoLimit(), breaker=breaker, max_retries=2)

    a, b = worker(), worker()
    fake.script = [(503, {"Fault": {"Error": [{"Message": "down"}], "type": "SystemFault"}}, {})] * 5
    with pytest.raises(RetriesExhausted):
        a.count("Invoice", D1, D2)  # 3 failures (1 + 2 retries)
    with pytest.raises(CircuitOpenError):
        b.count("Invoice", D1, D2)  # 2 more failures open the breaker on the 2nd attempt
    sent = len(fake.statements)
    with pytest.raises(CircuitOpenError) as err:
        a.count("Invoice", D1, D2)
    assert len(fake.statements) == sent  # nothing sent while open
    assert "circuit breaker open after 5 consecutive failed QBO requests" in str(err.value)
    t.sleep(60)
    fake.script = []
    assert b.count("Invoice", D1, D2) == 3  # the trial succeeds and closes it
    assert breaker.state == "closed"
    assert a.count("Invoice", D1, D2) == 3
    a.close()
    b.close()


def test_limiter_spreads_a_600_request_burst_under_both_qbo_limits() -> None:
    t = FakeTime(start=1000.0)
    lim = RateLimiter(clock=t.clock, sleep=t.sleep)
    stamps = []
    for _ in range(600):
        lim.acquire()
        stamps.append(t.now)
    # never more than 10 in any second nor 500 in any minute
    for i in range(len(stamps) - 10):
        assert stamps[i + 10] - stamps[i] >= 1.0
    for i in range(len(stamps) - 500):
        assert stamps[i + 500] - stamps[i] >= 60.0
    assert stamps[499] - stamps[0] < 60  # the first 500 go at 10/s
    assert 60 <= stamps[-1] - stamps[0] < 75  # then the minute limit holds the rest back


def test_limiter_is_shared_by_threads_in_real_time() -> None:
    """A scaled-down limit (20/s) in real time: 8 threads x 10 requests never exceed it."""
    lim = RateLimiter(per_second=20, per_minute=1000)
    stamps: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        for _ in range(10):
            lim.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=run) for _ in range(8)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stamps.sort()
    assert len(stamps) == 80
    for i in range(len(stamps) - 20):
        assert stamps[i + 20] - stamps[i] >= 0.99
    assert 3.0 <= time.monotonic() - start < 15.0


def test_client_waits_on_the_limiter_for_each_attempt() -> None:
    t = FakeTime()
    fake = FakeQbo(make_records(3, D1, 60))
    fake.script = [(429, THROTTLE, {})]
    lim = RateLimiter(per_second=1, per_minute=100, clock=t.clock, sleep=t.sleep)
    c = QboClient(settings(QBO_REFRESH_TOKEN=fake.first_refresh), MemoryTokenStore(wall_clock=t.clock),
                  transport=fake.transport(), sleep=t.sleep, clock=t.clock, wall_clock=t.clock, limiter=lim)
    with c:
        for _ in range(3):
            c.count("Invoice", D1, D2)
    assert lim.acquired == 4  # 3 calls + 1 retry
