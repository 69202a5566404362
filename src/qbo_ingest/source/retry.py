"""The retry policy of spec section 4: backoff base, 2x, 4x .. (2, 4, 8, 16, 32, 64 s by default), at
most 6 retries, a larger `Retry-After` wins (capped), only for `RetryableError`."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from qbo_ingest.errors import RetryableError

DEFAULT_RETRY_BASE_S = 2.0
MAX_RETRIES = 6
RETRY_AFTER_CAP_S = 300.0


def waits(base: float, max_retries: int = MAX_RETRIES) -> list[float]:
    """The waits before each retry when QBO gives no Retry-After: base * 2**i (2, 4 .. 64 s by default)."""
    return [base * 2**i for i in range(max_retries)]


def policy(*, base: float, max_retries: int, sleep: Callable[[float], None],
           before_sleep: Callable[[RetryCallState], None]) -> Retrying:
    """A tenacity `Retrying` for one request: exponential waits from `base`, Retry-After honoured."""
    backoff = wait_exponential(multiplier=base, exp_base=2, max=base * 2 ** (max_retries - 1))

    def wait(state: RetryCallState) -> float:
        planned = float(backoff(state))
        exc = state.outcome.exception() if state.outcome else None
        ra = exc.retry_after if isinstance(exc, RetryableError) else None
        return max(planned, min(float(ra), RETRY_AFTER_CAP_S)) if ra else planned

    return Retrying(
        stop=stop_after_attempt(max_retries + 1),
        wait=wait,
        retry=retry_if_exception_type(RetryableError),
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
