"""Every error a user can act on derives from `QboIngestError`, and each says its next step.

The CLI prints exactly these as one `error: ...` line (exit 2); anything else is an internal error.
Errors about QuickBooks Online (`QboError` and below) are split by what to do next: retry, fix the
request, re-authorize, fix the configuration. Their messages name what failed (and for which
entity/window when the caller gave it), carry the `intuit_tid` that Intuit support asks for and a
truncated response body. Text passes through `redact`, so URLs, tokens and passwords never reach a
log or a traceback.
"""

from __future__ import annotations

from typing import Any

from qbo_ingest.redact import redact

BODY_LIMIT = 300

INVALID_GRANT_MESSAGE = (
    "QBO refresh token expired or was revoked (invalid_grant). Get a new one with `qbo-ingest auth` or "
    "Intuit's OAuth 2.0 Playground, then set QBO_REFRESH_TOKEN (env or Mage secret)."
)


class QboIngestError(Exception):
    """Root of every expected error: a one-line message and, where there is one, the next step."""

    next_step = ""

    def __init__(self, message: str = "", *, next_step: str | None = None) -> None:
        self.message = redact(message)
        if next_step is not None:
            self.next_step = next_step
        super().__init__(self.message)

    def __str__(self) -> str:
        text = self.message
        if self.next_step and self.next_step not in text:
            text += f". Next: {self.next_step}"
        return redact(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class DateRangeError(QboIngestError, ValueError):
    """Bad `fecha_inicio` / `fecha_fin`: the message says which and how to fix it."""


class UnknownEntityError(QboIngestError, ValueError):
    """A name that is not in the catalogue; the message lists the valid ones."""


class RecordError(QboIngestError, ValueError):
    """A record QBO sent without the shape every record has (`Id`, `MetaData.LastUpdatedTime`)."""

    next_step = "report the record's Id and intuit_tid to Intuit; the rest of the page is unaffected"


class ConfigError(QboIngestError):
    """A missing or invalid setting."""


class WarehouseError(QboIngestError):
    """The database refused or could not be reached; the message says which and what to check."""

    next_step = "check QBO_DATABASE_URL / POSTGRES_* and that the server is up"


class GrantError(QboIngestError, PermissionError):
    """The connected user lacks privileges the load needs; the message says what to GRANT."""

    def __init__(self, user: str, missing: list[str], remediation: list[str]) -> None:
        self.user = user
        self.missing = missing
        self.remediation = remediation
        super().__init__(
            f"Database user {user!r} is missing: {'; '.join(missing)}. "
            f"As an admin run: {' '.join(remediation)} (or `qbo-ingest db init`)."
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (type(self), (self.user, self.missing, self.remediation))


class SyncError(QboIngestError):
    """A sync that cannot go on; the message says what to run instead."""


class DayFailedError(QboIngestError):
    """One day's load failed; the message names the day's block and how to retry it."""


class QboError(QboIngestError):
    """Base of every error this package raises about QuickBooks Online."""

    next_step = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        intuit_tid: str | None = None,
        body: str | None = None,
        url: str | None = None,
        kind: str | None = None,
        context: str | None = None,
        next_step: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.status = status
        self.intuit_tid = intuit_tid
        self.body = redact(body, limit=BODY_LIMIT) if body else None
        self.url = redact(url) if url else None
        self.kind = kind
        self.context = context
        if next_step is not None:
            self.next_step = next_step
        Exception.__init__(self, str(self))

    def __str__(self) -> str:
        head = f"{self.context}: {self.message}" if self.context else self.message
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.intuit_tid:
            details.append(f"intuit_tid={self.intuit_tid}")
        if self.url:
            details.append(f"url={self.url}")
        if self.body:
            details.append(f"body={self.body}")
        text = head + (f" ({', '.join(details)})" if details else "")
        if self.next_step and self.next_step not in text:
            text += f". Next: {self.next_step}"
        return redact(text)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Keep the structured fields when an error crosses a process boundary.
        return (
            _rebuild,
            (type(self), self.message, self.status, self.intuit_tid, self.body, self.url, self.kind,
             self.context, self.next_step),
        )


def _rebuild(cls: type[QboError], message: str, *fields: Any) -> QboError:
    status, intuit_tid, body, url, kind, context, next_step = fields
    return cls(message, status=status, intuit_tid=intuit_tid, body=body, url=url, kind=kind,
               context=context, next_step=next_step)


class RetryableError(QboError):
    """A transient failure (429, 5xx, timeout, dropped connection, cut JSON): worth trying again."""

    next_step = "it is retried with backoff; if it persists, rerun the failed window later"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)  # type: ignore[arg-type,unused-ignore]


class FatalApiError(QboError):
    """QBO refused the request itself (validation, permission, unknown entity): retrying won't help."""

    next_step = "fix the request or the configuration; retrying the same call will fail again"


class AuthError(QboError):
    """The credentials do not work: refresh token dead, client id/secret wrong, access refused twice."""

    next_step = "run `qbo-ingest auth` or get a new refresh token in Intuit's OAuth 2.0 Playground"


class CircuitOpenError(QboError):
    """The shared circuit breaker is open after repeated failures: no request is sent until it half-opens.
    `unanswered`: not one of those failures got an HTTP answer (QBO could not be reached)."""

    next_step = "wait for the cool-down (QBO is failing or throttling), then rerun the failed windows"
    unanswered: bool = False


class RetriesExhausted(QboError):
    """The last retry failed: a controlled failure of this window, safe to rerun later."""

    next_step = "rerun this window later (`qbo-ingest retry-failed`); check status.developer.intuit.com"

    def __init__(self, message: str, *, attempts: int = 0, last: QboError | None = None, **kw: object) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(message, **kw)  # type: ignore[arg-type,unused-ignore]


class BudgetStop(QboIngestError):
    """The run's request budget (`--max-requests`, QBO_MONTHLY_CALL_BUDGET) would be exceeded by the next
    request: it is not sent, the run stops, and the days not loaded stay pending."""

    next_step = "run the same backfill again with --resume (raise --max-requests or QBO_MONTHLY_CALL_BUDGET first)"


class CallLimitReached(QboIngestError):
    """QBO answered 429 for the month's metered-call cap (not the per-minute throttle): every further
    read is refused until the next calendar month, so nothing is retried."""

    next_step = ("stop calling QBO this month (retries only deepen the block) or move the app to a higher "
                 "Intuit App Partner tier; then rerun with --resume")

    def __init__(self, message: str, *, status: int | None = None, intuit_tid: str | None = None) -> None:
        self.status = status
        self.intuit_tid = intuit_tid
        super().__init__(message)
