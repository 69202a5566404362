"""The source's pure parts: query text, the retry policy (spec section 4) and reading QBO's answers."""

from __future__ import annotations

import email.utils
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from tenacity import RetryCallState

from qbo_ingest.catalogue import get
from qbo_ingest.errors import FatalApiError, RetryableError
from qbo_ingest.source import queries, retry
from qbo_ingest.source.responses import classify, is_throttle, parse_fault, retry_after

UTC = timezone.utc
D1 = datetime(2025, 10, 15, tzinfo=UTC)
D2 = datetime(2025, 10, 16, tzinfo=UTC)
PDT = timezone(timedelta(hours=-7))


# ---- query building --------------------------------------------------------------------------
def test_select_for_a_transaction_pages_in_key_order() -> None:
    assert queries.select(get("Invoice"), D1, D2, 1000) == (
        "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2025-10-15T00:00:00Z' "
        "AND MetaData.LastUpdatedTime < '2025-10-16T00:00:00Z' ORDERBY MetaData.LastUpdatedTime MAXRESULTS 1000")
    assert queries.select(get("Invoice"), D1, D2, 7, 1) .endswith(
        "ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 7")
    assert queries.select(get("Invoice"), D1, D2, 7, 1001).endswith(" STARTPOSITION 1001 MAXRESULTS 7")


def test_lists_ask_for_inactive_rows_too_and_times_are_utc_literals() -> None:
    start = datetime(2025, 10, 14, 17, 0, 0, 999, tzinfo=PDT)  # 00:00:00Z on the 15th
    assert queries.where(get("Customer"), start, D2) == (
        "MetaData.LastUpdatedTime >= '2025-10-15T00:00:00Z' AND MetaData.LastUpdatedTime < '2025-10-16T00:00:00Z' "
        "AND Active IN (true, false)")
    assert "Active" not in queries.where(get("CustomerType"), D1, D2)  # a list without an Active field
    assert queries.count(get("Customer"), D1, D2) == (
        "SELECT COUNT(*) FROM Customer WHERE MetaData.LastUpdatedTime >= '2025-10-15T00:00:00Z' "
        "AND MetaData.LastUpdatedTime < '2025-10-16T00:00:00Z' AND Active IN (true, false)")
    assert queries.MAX_PAGE == 1000


def test_labels_for_whole_days_and_for_slices() -> None:
    assert queries.label(D1, D2) == "2025-10-15"
    assert queries.label(D1, D2 + timedelta(days=4)) == "2025-10-15..2025-10-19"
    assert queries.label(D1.astimezone(PDT), D2.astimezone(PDT)) == "2025-10-15"  # midnight UTC in another zone
    assert queries.label(D1, D1 + timedelta(hours=8)) == "2025-10-15T00:00:00Z..2025-10-15T08:00:00Z"
    assert queries.label(D1 + timedelta(hours=8), D2) == "2025-10-15T08:00:00Z..2025-10-16T00:00:00Z"
    assert queries.label(D1, D2 + timedelta(microseconds=1)) == "2025-10-15T00:00:00Z..2025-10-16T00:00:00Z"


# ---- retry policy ----------------------------------------------------------------------------
def test_default_waits_are_the_spec_ladder() -> None:
    assert retry.waits(retry.DEFAULT_RETRY_BASE_S) == [2, 4, 8, 16, 32, 64]
    assert retry.waits(0.5, 3) == [0.5, 1, 2]
    assert (retry.MAX_RETRIES, retry.RETRY_AFTER_CAP_S, retry.DEFAULT_RETRY_BASE_S) == (6, 300.0, 2.0)


def _run(failures: list[BaseException], *, base: float = 2.0, max_retries: int = 6) -> tuple[list[float], int, Any]:
    """Call a function failing with `failures` in turn (then succeeding) under the policy."""
    slept: list[float] = []
    before: list[int] = []
    calls = 0

    def call() -> str:
        nonlocal calls
        calls += 1
        if calls <= len(failures):
            raise failures[calls - 1]
        return "ok"

    def note(state: RetryCallState) -> None:
        before.append(state.attempt_number)

    pol = retry.policy(base=base, max_retries=max_retries, sleep=slept.append, before_sleep=note)
    try:
        result: Any = pol(call)
    except BaseException as exc:  # the test inspects what escaped
        result = exc
    assert before == list(range(1, len(slept) + 1))  # before_sleep runs once before each wait
    return slept, calls, result


def test_policy_backs_off_exponentially_then_gives_up_with_the_last_error() -> None:
    errs = [RetryableError(f"503 #{i}") for i in range(10)]
    slept, calls, result = _run(errs)
    assert slept == [2, 4, 8, 16, 32, 64] and calls == 7
    assert result is errs[6]  # reraise: the 7th failure itself, not a tenacity RetryError
    slept, calls, result = _run(errs[:2], base=1.0)
    assert (slept, calls, result) == ([1, 2], 3, "ok")
    slept, calls, _ = _run(errs, base=3.0, max_retries=2)
    assert (slept, calls) == ([3, 6], 3)


def test_only_retryable_errors_are_retried() -> None:
    fatal = FatalApiError("400 bad query")
    assert _run([fatal]) == ([], 1, fatal)
    boom = KeyError("x")
    assert _run([boom]) == ([], 1, boom)


def test_a_larger_retry_after_wins_and_is_capped() -> None:
    errs = [RetryableError("429", retry_after=10.0), RetryableError("429", retry_after=1.0),
            RetryableError("429", retry_after=1000.0), RetryableError("429", retry_after=0.0),
            RetryableError("429", retry_after=None)]
    slept, calls, result = _run(errs)
    assert slept == [10.0, 4, 300.0, 16, 32] and (calls, result) == (6, "ok")


# ---- reading QBO's answers -------------------------------------------------------------------
def test_parse_fault_reads_both_spellings() -> None:
    upper = {"Fault": {"type": "ValidationFault", "Error": [
        {"Message": "Error parsing query", "Detail": "QueryParserError: Encountered \"OR\"", "code": "4000"},
        {"Message": "Second", "Detail": "Second", "code": "4001"}]}}
    assert parse_fault(upper) == ("ValidationFault", "4000",
                                  'Error parsing query: QueryParserError: Encountered "OR"; Second')
    lower = {"fault": {"Type": "AUTHENTICATION", "error": [
        {"message": "message=AuthenticationFailed", "detail": "Token expired", "Code": "3200"}]}}
    assert parse_fault(lower) == ("AUTHENTICATION", "3200", "message=AuthenticationFailed: Token expired")
    single = {"Fault": {"type": "SystemFault", "Error": {"Message": "boom", "code": "10000"}}}
    assert parse_fault(single) == ("SystemFault", "10000", "boom")
    assert parse_fault({"Fault": {"Error": ["junk", {"Detail": "only detail"}]}}) == ("", "", ": only detail")
    assert parse_fault({"Fault": {"type": "X"}}) == ("X", "", "no message")
    assert parse_fault({"Fault": {"type": "X", "Error": [{"Message": "m", "Detail": "m"}]}}) == ("X", "", "m")
    first_code = {"Fault": {"Error": [{"Message": "a"}, {"Message": "b", "code": "2"}, {"code": "3"}]}}
    assert parse_fault(first_code) == ("", "2", "a; b; ")
    for not_a_fault in (None, [], "Fault", {"QueryResponse": {}}, {"Fault": "x"}, {"Fault": None}):
        assert parse_fault(not_a_fault) is None


def test_is_throttle() -> None:
    assert is_throttle("", "", "Request THROTTLED, try later")
    assert is_throttle("", "003001", "")
    assert is_throttle("", "3001", "")
    assert is_throttle("ThrottleExceeded", "", "")
    assert not is_throttle("ValidationFault", "4000", "Error parsing query")
    assert not is_throttle("", "30010", "")


def test_retry_after_seconds_or_http_date() -> None:
    assert retry_after("7") == 7.0
    assert retry_after("1.5") == 1.5
    assert retry_after("-3") == 0.0
    assert retry_after(None) is None and retry_after("") is None and retry_after("soon") is None
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    got = retry_after(email.utils.format_datetime(when, usegmt=True))
    assert got is not None and 100 < got <= 120
    past = datetime.now(timezone.utc) - timedelta(seconds=120)
    assert retry_after(email.utils.format_datetime(past, usegmt=True)) == 0.0


class Breaker:
    """Records what `classify` tells the shared circuit breaker."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def record_failure(self) -> None:
        self.events.append("failure")

    def record_success(self) -> None:
        self.events.append("success")


def _classify(status: int, body: Any = None, *, text: str | None = None, headers: dict[str, str] | None = None,
              ) -> tuple[Any, Breaker, list[tuple[tuple[Any, ...], dict[str, Any]]]]:
    h = {"intuit_tid": "tid-1", **(headers or {})}
    resp = (httpx.Response(status, json=body, headers=h) if text is None
            else httpx.Response(status, text=text, headers=h))
    breaker, counted = Breaker(), []
    try:
        out: Any = classify(resp, "query", breaker=breaker,  # type: ignore[arg-type]
                            count=lambda *a, **k: counted.append((a, k)))
    except (RetryableError, FatalApiError) as exc:
        out = exc
    return out, breaker, counted


def test_classify_ok_body_and_401() -> None:
    out, b, counted = _classify(200, {"QueryResponse": {"Invoice": []}})
    assert out == {"QueryResponse": {"Invoice": []}} and b.events == ["success"] and counted == []
    out, b, _ = _classify(401, {"fault": {}})
    assert out == "auth" and b.events == []
    out, b, _ = _classify(200, {"fault": {"type": "AUTHENTICATION", "error": [{"message": "x"}]}})
    assert out == "auth" and b.events == []
    out, b, _ = _classify(200, {"Fault": {"type": "Other", "Error": [{"Message": "x", "code": "3200"}]}})
    assert out == "auth"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_classify_retryable_statuses(status: int) -> None:
    body = {"Fault": {"type": "SystemFault", "Error": [{"Message": "busy", "code": "10001"}]}}
    out, b, counted = _classify(status, body, headers={"Retry-After": "9"})
    assert isinstance(out, RetryableError)
    assert out.message == f"QBO query answered {status}: busy"
    assert (out.status, out.intuit_tid, out.kind, out.retry_after) == (status, "tid-1", str(status), 9.0)
    assert b.events == ["failure"]
    assert counted == ([(("throttled_429",), {"kind": "429"})] if status == 429 else
                       [(("retries", 0), {"kind": str(status)})])


def test_classify_retryable_without_fault_uses_the_reason_phrase() -> None:
    out, b, _ = _classify(503, text="<html>down</html>")
    assert isinstance(out, RetryableError) and out.message == "QBO query answered 503: Service Unavailable"
    assert out.retry_after is None


def test_classify_client_errors_are_fatal_and_keep_the_breaker_closed() -> None:
    body = {"Fault": {"type": "ValidationFault", "Error": [{"Message": "Error parsing query",
                                                           "Detail": "QueryParserError: x", "code": "4000"}]}}
    out, b, _ = _classify(400, body)
    assert isinstance(out, FatalApiError) and b.events == ["success"]
    assert out.message == "QBO query rejected: ValidationFault: Error parsing query: QueryParserError: x (code 4000)"
    assert (out.status, out.intuit_tid, out.kind) == (400, "tid-1", "ValidationFault")
    assert out.body is not None and "QueryParserError" in out.body
    out, _, _ = _classify(404, text="nope")
    assert isinstance(out, FatalApiError) and out.message == "QBO query rejected: Not Found"
    assert out.kind == "404"
    out, b, _ = _classify(400, text="Bad request text")  # a 400 is fatal whatever its body
    assert isinstance(out, FatalApiError) and out.message == "QBO query rejected: Bad Request"
    assert (out.status, out.kind, b.events) == (400, "400", ["success"])


def test_classify_cut_json_is_retryable() -> None:
    out, b, _ = _classify(200, text='{"QueryResponse": {"Invoice": [')
    assert isinstance(out, RetryableError) and out.kind == "invalid_json"
    assert out.message == "QBO query answered 200 with a truncated or invalid JSON body"
    assert (out.status, out.intuit_tid, out.body) == (200, "tid-1", '{"QueryResponse": {"Invoice": [')
    assert b.events == ["failure"]
    out, _, _ = _classify(200, text="[1, 2]")
    assert isinstance(out, RetryableError) and out.kind == "invalid_json"


def test_classify_faults_inside_a_200() -> None:
    throttled = {"Fault": {"type": "ThrottleExceeded", "Error": [{"Message": "slow down", "code": "3001"}]}}
    out, b, counted = _classify(200, throttled)
    assert isinstance(out, RetryableError) and out.kind == "429" and out.status == 200
    assert out.intuit_tid == "tid-1"
    assert out.message == "QBO query throttled (Fault in a 200): slow down"
    assert b.events == ["failure"] and counted == [(("throttled_429",), {"kind": "429"})]
    for ftype in ("SystemFault", "SERVICE"):
        out, b, _ = _classify(200, {"Fault": {"type": ftype, "Error": [{"Message": "oops"}]}})
        assert isinstance(out, RetryableError) and out.kind == ftype and b.events == ["failure"]
        assert (out.status, out.intuit_tid) == (200, "tid-1")
        assert out.message == "QBO query system fault in a 200: oops"
    out, b, _ = _classify(200, {"Fault": {"type": "ValidationFault", "Error": [{"Message": "bad", "code": "2010"}]}})
    assert isinstance(out, FatalApiError) and b.events == ["success"]
    assert out.message == "QBO query rejected: ValidationFault: bad (code 2010)" and out.kind == "ValidationFault"
    assert (out.status, out.intuit_tid) == (200, "tid-1")
    assert out.body is not None and '"code":"2010"' in out.body
    out, _, _ = _classify(200, {"Fault": {"Error": [{"Message": "bad"}]}})
    assert isinstance(out, FatalApiError) and out.message == "QBO query rejected: : bad" and out.kind == "fault"
