"""Errors split by what to do next: retry, fix the request, re-authorize, fix the configuration.

Every message names what failed (and for which entity/window when the caller gave it), carries the
`intuit_tid` that Intuit support asks for, a truncated response body, and the next step. Text passes
through `redact` so URLs, tokens and passwords never reach a log or a traceback.
"""

from __future__ import annotations

from typing import Any

from .redact import redact

BODY_LIMIT = 300

INVALID_GRANT_MESSAGE = (
    "QBO refresh token expired or was revoked (invalid_grant). Get a new one with `qbo-ingest auth` or "
    "Intuit's OAuth 2.0 Playground, then set QBO_REFRESH_TOKEN (env or Mage secret)."
)


class QboError(Exception):
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
        super().__init__(str(self))

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


class ConfigError(QboError):
    """A missing or invalid setting."""

    next_step = ""


class CircuitOpenError(QboError):
    """The shared circuit breaker is open after repeated failures: no request is sent until it half-opens."""

    next_step = "wait for the cool-down (QBO is failing or throttling), then rerun the failed windows"


class RetriesExhausted(QboError):
    """The last retry failed: a controlled failure of this window, safe to rerun later."""

    next_step = "rerun this window later (`qbo-ingest retry-failed`); check status.developer.intuit.com"

    def __init__(self, message: str, *, attempts: int = 0, last: QboError | None = None, **kw: object) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(message, **kw)  # type: ignore[arg-type,unused-ignore]
