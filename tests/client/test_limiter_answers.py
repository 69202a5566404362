"""The per-second window follows the answers: a request answered late holds its place longer (it may
have reached QBO late), one in flight holds it until it ends, and waiting requests of the stream with
more pages left go first (fake clock; one real-time run for the priority)."""

from __future__ import annotations

import threading
import time

from qbo_ingest.source.throttle import RateLimiter

from .fakes import FakeTime


def _limiter(t: FakeTime, per_second: int = 2) -> RateLimiter:
    return RateLimiter(per_second=per_second, per_minute=1000, clock=t.clock, sleep=t.sleep)


def test_a_request_answered_at_the_fastest_round_trip_frees_its_place_a_second_and_the_margin_after_it_left():
    t = FakeTime(start=100.0)
    lim = _limiter(t)
    a, b = lim.slot(), lim.slot()
    t.now += 0.15
    lim.answered(a)
    lim.answered(b)
    third = lim.slot()  # the window is full until a's place frees
    assert 1.025 <= third.sent - 100.0 <= 1.03  # 1 s + the 25 ms margin (+ 2 ms of the limiter's sleep slack)


def test_a_request_answered_late_holds_its_place_by_how_late_it_came():
    t = FakeTime(start=100.0)
    lim = _limiter(t)
    fast, slow = lim.slot(), lim.slot()
    t.now += 0.15
    lim.answered(fast)  # the fastest round trip: 150 ms
    t.now += 0.25
    lim.answered(slow)  # 400 ms: it may have reached QBO 250 ms after it left
    lim.slot()  # fast's place: 1.025 s after 100.0
    t.now = max(t.now, 100.0)
    late = lim.slot()
    assert late.sent - 100.0 >= 1.025 + 0.25 - 1e-9


def test_a_request_in_flight_holds_its_place_and_one_without_an_answer_until_a_second_after_it_ended():
    t = FakeTime(start=100.0)
    lim = _limiter(t, per_second=1)
    s = lim.slot()
    lim_waits: list[float] = []

    def close_later(seconds: float) -> None:  # the fake sleep: the request ends (timeout) 3 s after it left
        lim_waits.append(seconds)
        t.sleep(seconds)
        if t.now - 100.0 >= 3.0:
            lim.closed(s)

    lim._sleep = close_later
    nxt = lim.slot()
    assert nxt.sent - 100.0 >= 3.0 + 1.025 - 1e-9  # not 1.025 s after it left: it was in flight for 3 s
    assert all(w <= 0.03 for w in lim_waits[:-1])  # while in flight it looks again soon; then 1.025 s after


def test_acquire_alone_keeps_the_fixed_window():
    t = FakeTime(start=100.0)
    lim = _limiter(t, per_second=10)
    stamps = []
    for _ in range(30):
        lim.acquire()
        stamps.append(t.now)
    assert all(stamps[i + 10] - stamps[i] >= 1.025 for i in range(20))


def test_the_waiting_request_with_more_pages_left_gets_the_free_place_first():
    lim = RateLimiter(per_second=1, per_minute=1000)
    first = lim.slot()
    lim.answered(first)
    got: list[str] = []
    lock = threading.Lock()

    def ask(name: str, priority: int, delay: float) -> None:
        time.sleep(delay)
        lim.answered(lim.slot(priority=priority))
        with lock:
            got.append(name)

    threads = [threading.Thread(target=ask, args=("short", 1, 0.0)),  # asks first, one page left
               threading.Thread(target=ask, args=("long", 6, 0.2))]  # asks later, six pages left
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert got == ["long", "short"]
