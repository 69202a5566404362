"""Reading QBO's answers: the Fault body in its two spellings, throttles, and the typed error (or the
parsed body) each response stands for."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx

from qbo_ingest.errors import CallLimitReached, ConfigError, FatalApiError, QboError, RetryableError
from qbo_ingest.redact import redact
from qbo_ingest.source import bodies
from qbo_ingest.source.throttle import CircuitBreaker

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def parse_fault(data: Any) -> tuple[str, str, str] | None:
    """(type, code, text) of a Fault in either shape (`Fault/Error/Message` or `fault/error/message`)."""
    if not isinstance(data, dict):
        return None
    fault = data.get("Fault") or data.get("fault")
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or fault.get("error") or []
    parts, code = [], ""
    for err in errors if isinstance(errors, list) else [errors]:
        if not isinstance(err, dict):
            continue
        msg = err.get("Message") or err.get("message") or ""
        detail = err.get("Detail") or err.get("detail") or ""
        code = code or str(err.get("code") or err.get("Code") or "")
        parts.append(f"{msg}: {detail}" if detail and detail != msg else str(msg))
    return str(fault.get("type") or fault.get("Type") or ""), code, "; ".join(parts) or "no message"


def realm_refused(realm_id: str, exc: QboError) -> ConfigError:
    """The one error for a wrong QBO_REALM_ID (a 403 `is_realm_refusal` answer)."""
    return ConfigError(
        f"QBO_REALM_ID={realm_id} is not a company these credentials can read (HTTP {exc.status}"
        f"{', intuit_tid=' + exc.intuit_tid if exc.intuit_tid else ''})",
        next_step="set QBO_REALM_ID to the company id `qbo-ingest auth` printed (QuickBooks: Settings > "
        "Account and settings > Billing & subscription), or authorize that company with `qbo-ingest auth`")


def is_realm_refusal(resp: httpx.Response) -> bool:
    """QBO's 403 for a company the token cannot read: `message=ApplicationAuthorizationFailed;
    errorCode=003100; statusCode=403` (as developers report it; Intuit's "Handling common errors" page does
    not list 3100). Other 403s (a permission on one entity) are not this."""
    try:
        fault = parse_fault(resp.json())
    except ValueError:
        return False
    if fault is None:
        return False
    _type, code, text = fault
    return code.lstrip("0") == "3100" or "applicationauthorizationfailed" in text.lower().replace(" ", "")


def is_throttle(ftype: str, code: str, text: str) -> bool:
    return "throttle" in text.lower() or code.lstrip("0") == "3001" or "throttl" in ftype.lower()


# The monthly metered-call cap (Intuit App Partner Program, Builder tier: 500,000 CorePlus calls per
# workspace and month). Intuit documents it as "throttled and an HTTP 429 error will be returned"
# (developer.intuit.com, "API call limits and throttles") without a separate error code, so a 429 is the
# cap - not the per-minute throttle (`ThrottleExceeded`, errorCode 003001) - when its Fault text names
# the monthly limit. The emulator's cap body (issue 14) must match this.
_MONTHLY_CAP_WORDS = ("monthly", "per month", "this month", "coreplus", "call limit", "calls limit")


def is_monthly_cap(status: int, fault: tuple[str, str, str] | None) -> bool:
    """A 429 for the month's metered-call cap: retrying it only burns time (reads stay blocked)."""
    if status != 429 or fault is None:
        return False
    ftype, code, text = fault
    low = f"{ftype} {text}".lower()
    if code.lstrip("0") == "3001" or "throttleexceeded" in low.replace(" ", ""):
        return False
    return any(w in low for w in _MONTHLY_CAP_WORDS)


def retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (a number or an HTTP date), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def classify(resp: httpx.Response, what: str, *, breaker: CircuitBreaker,
         count: Callable[..., None], keys_of: str | None = None) -> dict[str, Any] | str:
    """The parsed body, or "auth" for a 401, or raise the typed error (updating the breaker).

    `keys_of`: the entity of a query page whose records are read for their keys only (source/bodies.py);
    any body that reading cannot take exactly is parsed whole as always."""
    status = resp.status_code
    tid = resp.headers.get("intuit_tid")
    if status == 401:
        return "auth"
    if keys_of is not None and status == 200:
        keys = bodies.keys_of_page(resp.content, keys_of)
        if keys is not None:
            breaker.record_success()
            return keys
    try:
        data = bodies.parse(resp.content)
    except ValueError:
        data = None
    fault = parse_fault(data)
    if is_monthly_cap(status, fault):
        assert fault is not None
        count("throttled_429", kind="429")
        raise CallLimitReached(f"QBO {what} refused: monthly call limit reached (HTTP 429: {fault[2]}); "
                               f"intuit_tid={tid or '-'}", status=status, intuit_tid=tid)
    if status in RETRYABLE_STATUS:
        breaker.record_failure()
        if status == 429:
            count("throttled_429", kind="429")
        else:
            count("retries", 0, kind=str(status))
        text = fault[2] if fault else resp.reason_phrase
        raise RetryableError(
            f"QBO {what} answered {status}: {text}", status=status, intuit_tid=tid, kind=str(status),
            retry_after=retry_after(resp.headers.get("Retry-After")),
        )
    if status >= 400:
        breaker.record_success()  # QBO is healthy; the request is wrong
        ftype, code, text = fault or ("", "", resp.reason_phrase)
        raise FatalApiError(
            f"QBO {what} rejected: {ftype + ': ' if ftype else ''}{text}"
            f"{' (code ' + code + ')' if code else ''}",
            status=status, intuit_tid=tid, body=resp.text, kind=ftype or str(status),
        )
    if not isinstance(data, dict):
        breaker.record_failure()
        raise RetryableError(
            f"QBO {what} answered {status} with a truncated or invalid JSON body", status=status,
            intuit_tid=tid, body=resp.text, kind="invalid_json",
        )
    if fault is not None:
        ftype, code, text = fault
        if ftype.upper().startswith("AUTHENTICATION") or code == "3200":
            return "auth"
        if is_throttle(ftype, code, text):
            breaker.record_failure()
            count("throttled_429", kind="429")
            raise RetryableError(f"QBO {what} throttled (Fault in a 200): {text}", status=status,
                                 intuit_tid=tid, kind="429")
        if ftype in ("SystemFault", "SERVICE"):
            breaker.record_failure()
            raise RetryableError(f"QBO {what} system fault in a 200: {text}", status=status,
                                 intuit_tid=tid, kind=ftype)
        breaker.record_success()
        raise FatalApiError(
            f"QBO {what} rejected: {ftype}: {text}{' (code ' + code + ')' if code else ''}",
            status=status, intuit_tid=tid, body=redact(resp.text), kind=ftype or "fault",
        )
    breaker.record_success()
    return data
