"""Retries, backoff, Retry-After, faults, 401 renewal: QboClient against a MockTransport fake."""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx
import pytest

from qbo_ingest.errors import INVALID_GRANT_MESSAGE, AuthError, FatalApiError, RetriesExhausted
from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit

from .fakes import AUTH_401, THROTTLE, FakeQbo, FakeTime, fault, make_records, settings

D1 = datetime(2025, 10, 15, tzinfo=timezone.utc)
D2 = datetime(2025, 10, 16, tzinfo=timezone.utc)
OK_EMPTY = (200, {"QueryResponse": {}}, {})


def client(fake: FakeQbo, t: FakeTime, **kw: object) -> QboClient:
    s = settings(QBO_REFRESH_TOKEN=fake.first_refresh)
    kw.setdefault("breaker", CircuitBreaker(clock=t.clock))
    return QboClient(s, MemoryTokenStore(wall_clock=t.clock), transport=fake.transport(), sleep=t.sleep,
                     clock=t.clock, wall_clock=t.clock, limiter=NoLimit(), **kw)  # type: ignore[arg-type]


@pytest.fixture
def t() -> FakeTime:
    return FakeTime()


@pytest.fixture
def fake() -> FakeQbo:
    return FakeQbo(make_records(5, D1, 60))


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_each_retryable_status_is_retried_after_2s(fake: FakeQbo, t: FakeTime, status: int) -> None:
    body = THROTTLE if status == 429 else {"Fault": {"Error": [{"Message": "x"}], "type": "SystemFault"}}
    fake.script = [(status, body, {})]
    with client(fake, t) as c:
        data = c.query("SELECT COUNT(*) FROM Invoice WHERE MetaData.LastUpdatedTime >= '2025-10-15T00:00:00Z' "
                       "AND MetaData.LastUpdatedTime < '2025-10-16T00:00:00Z'")
        assert data["QueryResponse"]["totalCount"] == 5
        assert t.sleeps == [2]
        st = c.stats
        assert (st.requests, st.retries) == (2, 1)
        assert st.throttled_429 == (1 if status == 429 else 0)


@pytest.mark.parametrize("failure", [
    httpx.ReadTimeout("read timed out"),
    httpx.ConnectError("connection refused"),
    httpx.RemoteProtocolError("peer closed connection"),
    b'{"QueryResponse": {"Invoice": [{"Id": "1", "Meta',  # a cut JSON body
])
def test_timeouts_connection_errors_and_cut_json_are_retried(fake: FakeQbo, t: FakeTime, failure: object) -> None:
    fake.script = [(200, failure, {}), (200, failure, {})]
    with client(fake, t) as c:
        pages = list(c.pages("Invoice", D1, D2))
    assert sum(len(p.records) for p in pages) == 5
    assert t.sleeps == [2, 4]
    assert pages[0].retries == 2 and pages[0].requests == 3


def test_exact_backoff_then_the_7th_failure_fails_cleanly(
    fake: FakeQbo, t: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    fake.script = [(429, THROTTLE, {})] * 7
    caplog.set_level(logging.WARNING, logger="qbo_ingest")
    with client(fake, t) as c, pytest.raises(RetriesExhausted) as err:
        list(c.pages("Invoice", D1, D2))
    assert t.sleeps == [2, 4, 8, 16, 32, 64]
    assert len(fake.statements) == 7
    msg = str(err.value)
    assert "Invoice 2025-10-15" in msg and "after 6 retries" in msg and "intuit_tid=tid-" in msg
    assert "retry-failed" in msg  # the next step
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("API Limit: 429")]
    assert len(lines) == 6
    assert lines[0].startswith("API Limit: 429 on query (Invoice 2025-10-15) retry 1/6 in 2s (intuit_tid=tid-")
    assert "retry 6/6 in 64s" in lines[-1]


def test_larger_retry_after_wins_smaller_is_ignored(fake: FakeQbo, t: FakeTime) -> None:
    fake.script = [(429, THROTTLE, {"Retry-After": "10"}), (429, THROTTLE, {"Retry-After": "1"})]
    with client(fake, t) as c:
        c.count("Invoice", D1, D2)
    assert t.sleeps == [10, 4]


def test_throttle_fault_inside_a_200_is_retried_both_shapes(fake: FakeQbo, t: FakeTime) -> None:
    lower = fault(200, "SERVICE", "message=ThrottleExceeded; errorCode=003001; statusCode=429", "3001", lower=True)
    fake.script = [(200, THROTTLE, {}), (200, lower, {})]
    with client(fake, t) as c:
        assert c.count("Invoice", D1, D2) == 5
        assert c.stats.throttled_429 == 2
    assert t.sleeps == [2, 4]


@pytest.mark.parametrize("status", [200, 400])
@pytest.mark.parametrize("lower", [False, True])
def test_validation_fault_is_fatal_with_its_message_and_tid(
    fake: FakeQbo, t: FakeTime, status: int, lower: bool
) -> None:
    body = fault(status, "ValidationFault", "QueryValidationError: value 1500 is too large. Max allowed value is 1000",
                 "4001", lower=lower)
    fake.script = [(status, body, {})]
    with client(fake, t) as c, pytest.raises(FatalApiError) as err:
        c.count("Invoice", D1, D2)
    assert t.sleeps == []
    msg = str(err.value)
    assert "ValidationFault" in msg and "Max allowed value is 1000" in msg and "intuit_tid=tid-" in msg
    assert msg.startswith("Invoice 2025-10-15: ")


def test_minorversion_75_and_page_size_on_every_request(fake: FakeQbo, t: FakeTime) -> None:
    with client(fake, t) as c:
        list(c.pages("Customer", D1, D2))
        c.count("Customer", D1, D2)
    assert fake.params and all(p["minorversion"] == "75" for p in fake.params)
    assert "Active IN (true, false)" in fake.statements[0]
    assert fake.statements[0].endswith("ORDERBY MetaData.LastUpdatedTime MAXRESULTS 1000")


def test_401_mid_run_renews_once_and_resends(fake: FakeQbo, t: FakeTime) -> None:
    with client(fake, t) as c:
        assert c.count("Invoice", D1, D2) == 5
        calls = fake.token_calls
        fake.revoke_access()  # QBO revoked every access token mid-run
        assert c.count("Invoice", D1, D2) == 5
        assert fake.token_calls == calls + 1
        assert fake.invalid_grants == 0


def test_second_consecutive_401_is_an_auth_error(fake: FakeQbo, t: FakeTime) -> None:
    fake.script = [(401, AUTH_401, {}), (401, AUTH_401, {})]
    with client(fake, t) as c, pytest.raises(AuthError) as err:
        c.count("Invoice", D1, D2)
    assert "401 twice" in str(err.value)
    assert t.sleeps == []


def test_access_token_renewed_before_expiry(fake: FakeQbo, t: FakeTime) -> None:
    with client(fake, t) as c:
        c.count("Invoice", D1, D2)
        assert fake.token_calls == 1
        t.sleep(3000)  # 10 min left of 60: still used
        c.count("Invoice", D1, D2)
        assert fake.token_calls == 1
        t.sleep(400)  # under 5 min left: renewed before use, no 401 seen
        c.count("Invoice", D1, D2)
        assert fake.token_calls == 2
    assert not any("401" in str(s) for s in fake.script)


def test_invalid_grant_gives_the_one_clear_message(fake: FakeQbo, t: FakeTime) -> None:
    s = settings(QBO_REFRESH_TOKEN="CANARY-dead-refresh-token")
    c = QboClient(s, MemoryTokenStore(wall_clock=t.clock), transport=fake.transport(), sleep=t.sleep,
                  clock=t.clock, wall_clock=t.clock, limiter=NoLimit())
    with c, pytest.raises(AuthError) as err:
        c.count("Invoice", D1, D2)
    assert INVALID_GRANT_MESSAGE in str(err.value)
    assert err.value.kind == "invalid_grant"
    assert "CANARY" not in str(err.value)


@pytest.mark.parametrize("answered", [0, 1])
def test_an_open_breaker_says_whether_qbo_answered_any_of_its_failures(answered):
    """The run's preflight stops a run only when QBO could not be reached (pipeline/preflight.py): a
    breaker opened by connection failures alone says so; one HTTP answer among them (a 500) says not."""
    from qbo_ingest.errors import CircuitOpenError

    breaker = CircuitBreaker(threshold=3, clock=lambda: 0.0)
    for i in range(3):
        breaker.record_failure(unanswered=i >= answered)
    with pytest.raises(CircuitOpenError) as info:
        breaker.before_request("query")
    assert info.value.unanswered is (answered == 0)
    breaker.record_success()
    breaker.record_failure(unanswered=True)
    assert breaker.state == "closed"  # one failure after a success: closed, and the count starts again
