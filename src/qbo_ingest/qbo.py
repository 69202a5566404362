"""The QBO Accounting API client: query pages, count, CDC; auth, retries, throttle and breaker built in.

One `httpx.Client` (connection pooling) per `QboClient`; a client may be shared by many threads.
Every request carries `minorversion=75`, waits for the realm's rate limiter, passes the shared circuit
breaker, and is retried on 429/5xx/timeouts/dropped connections/cut JSON with backoff 2, 4, 8, 16,
32, 64 s (a larger Retry-After wins) — 6 retries, then `RetriesExhausted` naming the entity/window.
"""

from __future__ import annotations

import email.utils
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from . import entities as catalogue
from .entities import Entity
from .errors import (
    AuthError,
    CircuitOpenError,
    ConfigError,
    FatalApiError,
    QboError,
    RetriesExhausted,
    RetryableError,
)
from .oauth import OAuthSession
from .redact import redact
from .settings import Settings
from .throttle import CircuitBreaker, NoLimit, RateLimiter, shared_limiter
from .token_store import AccessToken, TokenStore
from .windows import Window, parse_qbo_time, to_qbo_literal

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
MAX_PAGE = 1000
CDC_MAX_DAYS = 30
RETRY_AFTER_CAP_S = 300.0
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
RETRY_BASE_ENV = "QBO_RETRY_BASE_SECONDS"  # first backoff wait; then x2 each retry (default 2: 2, 4 .. 64 s)
DEFAULT_RETRY_BASE_S = 2.0


@dataclass(frozen=True)
class Page:
    number: int
    records: list[dict[str, Any]]
    intuit_tid: str | None
    requests: int
    retries: int
    # The response body the records came from, so the warehouse can store payloads exactly as
    # received without re-encoding them in Python (bench/README.md: throughput).
    body: bytes | None = field(default=None, repr=False, compare=False)


@dataclass
class ClientStats:
    """Counters of one client; `QboClient.stats` returns a consistent copy."""

    requests: int = 0
    retries: int = 0
    throttled_429: int = 0
    token_refreshes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass
class _Call:
    requests: int = 0
    retries: int = 0
    intuit_tid: str | None = None
    body: bytes | None = None


def _entity(entity: Entity | str) -> Entity:
    return entity if isinstance(entity, Entity) else catalogue.get(entity)


def _label(start: datetime, end: datetime) -> str:
    if all(t.astimezone(timezone.utc).time() == datetime.min.time() for t in (start, end)):
        return Window(start.astimezone(timezone.utc), end.astimezone(timezone.utc)).label
    return f"{to_qbo_literal(start)}..{to_qbo_literal(end)}"


def _retry_after(value: str | None) -> float | None:
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


def retry_base_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The first backoff wait in seconds: env `QBO_RETRY_BASE_SECONDS` (spec troubleshooting: raise it
    when `API Limit: 429` is frequent), else 2. Waits are base, 2x, 4x .. 32x (2, 4 .. 64 s by default)."""
    raw = (os.environ if environ is None else environ).get(RETRY_BASE_ENV, "").strip()
    if not raw:
        return DEFAULT_RETRY_BASE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 300:
        raise ConfigError(f"{RETRY_BASE_ENV}={raw!r} is invalid: give seconds between 0 and 300, e.g. 2")
    return value


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


def _is_throttle(ftype: str, code: str, text: str) -> bool:
    return "throttle" in text.lower() or code.lstrip("0") == "3001" or "throttl" in ftype.lower()


class QboClient:
    """QuickBooks Online API v3 for one company (realm)."""

    def __init__(
        self,
        settings: Settings,
        token_store: TokenStore,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        limiter: RateLimiter | NoLimit | None = None,
        breaker: CircuitBreaker | None = None,
        timeout: float = 30.0,
        max_retries: int = 6,
        retry_base_s: float | None = None,
        logger: logging.Logger | None = None,
        oauth: OAuthSession | None = None,
    ) -> None:
        settings.require_qbo()
        assert settings.client_id and settings.client_secret and settings.realm_id
        self.realm_id: str = settings.realm_id
        self.base_url = settings.api_base_url.rstrip("/")
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s if retry_base_s is not None else retry_base_from_env()
        self._store = token_store
        self._seed = settings.refresh_token.get_secret_value() if settings.refresh_token else None
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self.limiter = limiter if limiter is not None else shared_limiter(self.realm_id)
        self.breaker = breaker if breaker is not None else CircuitBreaker(clock=clock)
        self.log = logger or log
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": "qbo-ingest"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        self.oauth = oauth or OAuthSession(
            settings.client_id,
            settings.client_secret,
            token_url=settings.token_url,
            authorize_url=settings.authorize_url,
            revoke_url=settings.revoke_url,
            transport=transport,
            timeout=timeout,
            wall_clock=wall_clock,
            sleep=sleep,
        )
        self._owns_oauth = oauth is None
        self._access: AccessToken | None = None
        self._token_lock = threading.Lock()
        self._stats = ClientStats()
        self._stats_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"QboClient(realm_id={self.realm_id!r}, base_url={self.base_url!r})"

    def __enter__(self) -> QboClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()
        if self._owns_oauth:
            self.oauth.close()

    @property
    def stats(self) -> ClientStats:
        with self._stats_lock:
            return replace(self._stats, by_kind=dict(self._stats.by_kind))

    def _count(self, name: str, n: int = 1, *, kind: str | None = None) -> None:
        with self._stats_lock:
            setattr(self._stats, name, getattr(self._stats, name) + n)
            if kind:
                self._stats.by_kind[kind] = self._stats.by_kind.get(kind, 0) + n

    # -- public API ------------------------------------------------------------------------------------
    def query(self, statement: str, *, context: str | None = None) -> dict[str, Any]:
        """Run one query statement (one request plus its retries)."""
        data, _ = self._request("query", "query", {"query": statement}, context=context)
        return data

    def pages(
        self, entity: Entity | str, start: datetime, end: datetime, *, page_size: int = MAX_PAGE
    ) -> Iterator[Page]:
        """Every record with start <= MetaData.LastUpdatedTime < end, page by page, each id once.

        Keyset paging: the next page asks `LastUpdatedTime >= <last time seen>` and drops ids already
        seen, so a record updated between two requests (it moves to the end) never shifts another one
        out of reach, as offset paging would. If a whole page shares one second, that second is read
        with STARTPOSITION before moving on; a position that does not advance stops with an error.
        """
        ent = _entity(entity)
        if not 0 < page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE} (QBO's maximum), got {page_size}")
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware (UTC) datetimes")
        context = f"{ent.name} {_label(start, end)}"
        seen: set[str] = set()
        number = 0
        pending = _Call()
        lo = start

        def fetch(lo_: datetime, hi: datetime, position: int | None) -> list[dict[str, Any]]:
            stmt = self._select(ent, lo_, hi, page_size, position)
            data, call = self._request("query", "query", {"query": stmt}, context=context)
            pending.requests += call.requests
            pending.retries += call.retries
            pending.intuit_tid = call.intuit_tid
            pending.body = call.body
            rows = (data.get("QueryResponse") or {}).get(ent.name) or []
            if not isinstance(rows, list):
                raise FatalApiError(f"unexpected QueryResponse shape for {ent.name}", context=context)
            return rows

        def take(rows: list[dict[str, Any]]) -> Page | None:
            nonlocal number, pending
            new = [r for r in rows if str(r.get("Id")) not in seen]
            seen.update(str(r.get("Id")) for r in new)
            if not new:
                return None
            number += 1
            page = Page(number, new, pending.intuit_tid, pending.requests, pending.retries, pending.body)
            pending = _Call()
            return page

        while lo < end:
            rows = fetch(lo, end, None)
            page = take(rows)
            if page:
                yield page
            if len(rows) < page_size:
                return
            last = max(parse_qbo_time(str(r["MetaData"]["LastUpdatedTime"])) for r in rows)
            nxt = last.astimezone(timezone.utc).replace(microsecond=0)
            if nxt > lo:
                lo = nxt
                continue
            # The whole page shares the second `lo`: read that second by position, then move past it.
            tie_end = min(lo + timedelta(seconds=1), end)
            position = 1
            while True:
                position_rows = fetch(lo, tie_end, position)
                page = take(position_rows)
                if page:
                    yield page
                if len(position_rows) < page_size:
                    break
                nxt_position = position + len(position_rows)
                if nxt_position <= position:  # pragma: no cover - guarded by len() > 0 above
                    raise FatalApiError("page position did not advance", context=context)
                position = nxt_position
            lo = tie_end

    def count(self, entity: Entity | str, start: datetime, end: datetime) -> int:
        """`SELECT COUNT(*)` with the same WHERE as `pages` (one request)."""
        ent = _entity(entity)
        stmt = f"SELECT COUNT(*) FROM {ent.name} WHERE {self._where(ent, start, end)}"
        data, _ = self._request("count", "query", {"query": stmt}, context=f"{ent.name} {_label(start, end)}")
        total = (data.get("QueryResponse") or {}).get("totalCount")
        if total is None:
            raise FatalApiError(f"COUNT answer without totalCount for {ent.name}", body=str(data))
        return int(total)

    def cdc(self, entities: list[Entity] | list[str], changed_since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Changes (deleted stubs included) since `changed_since`, at most 30 days back (QBO's limit)."""
        ents = [_entity(e) for e in entities]
        if changed_since.tzinfo is None:
            raise ValueError("changed_since must be timezone-aware")
        now = datetime.fromtimestamp(self._wall_clock(), tz=timezone.utc)
        if now - changed_since > timedelta(days=CDC_MAX_DAYS):
            raise FatalApiError(
                f"CDC looks back at most {CDC_MAX_DAYS} days; changedSince={to_qbo_literal(changed_since)} "
                f"is {(now - changed_since).days} days back",
                kind="cdc_too_old", next_step="use a query backfill (`pages`) for older changes",
            )
        unsupported = [e.name for e in ents if not e.cdc]
        if unsupported:
            raise FatalApiError(
                f"QBO CDC does not support {', '.join(unsupported)}", kind="cdc_unsupported",
                next_step="query these entities by LastUpdatedTime instead",
            )
        params = {"entities": ",".join(e.name for e in ents), "changedSince": to_qbo_literal(changed_since)}
        data, _ = self._request("cdc", "cdc", params, context=f"CDC {params['entities']}")
        out: dict[str, list[dict[str, Any]]] = {e.name: [] for e in ents}
        for block in data.get("CDCResponse") or []:
            for qr in block.get("QueryResponse") or []:
                for key, value in qr.items():
                    if isinstance(value, list):
                        out.setdefault(key, []).extend(value)
        total = sum(len(v) for v in out.values())
        if total >= 1000:
            self.log.warning("CDC answer holds %d objects (QBO's cap is 1000): query a narrower span", total)
        return out

    def ensure_token(self) -> None:
        """Have a usable access token now (refreshing it if needed), so wrong credentials or a dead refresh
        token fail once, before any load, instead of once per window."""
        self._token()

    def company_info(self) -> dict[str, Any]:
        """The CompanyInfo object: a cheap call to check credentials and realm."""
        data, _ = self._request("companyinfo", f"companyinfo/{self.realm_id}", {}, context="CompanyInfo")
        info = data.get("CompanyInfo")
        return info if isinstance(info, dict) else data

    # -- statements ----------------------------------------------------------------------------------
    @staticmethod
    def _where(ent: Entity, start: datetime, end: datetime) -> str:
        conds = [
            f"MetaData.LastUpdatedTime >= '{to_qbo_literal(start)}'",
            f"MetaData.LastUpdatedTime < '{to_qbo_literal(end)}'",
        ]
        if ent.needs_active_filter:
            conds.append("Active IN (true, false)")
        return " AND ".join(conds)

    def _select(self, ent: Entity, lo: datetime, hi: datetime, size: int, position: int | None) -> str:
        stmt = f"SELECT * FROM {ent.name} WHERE {self._where(ent, lo, hi)} ORDERBY MetaData.LastUpdatedTime"
        if position is not None:
            stmt += f" STARTPOSITION {position}"
        return stmt + f" MAXRESULTS {size}"

    # -- tokens ----------------------------------------------------------------------------------------
    def _token(self, stale: str | None = None) -> str:
        with self._token_lock:
            cur = self._access
            if cur is not None and cur.value != stale and self._fresh(cur):
                return cur.value
            before = self._store
            self._access = before.access_token(
                self.realm_id, self.oauth, seed_refresh_token=self._seed, stale=stale
            )
            self._count("token_refreshes", kind="token")
            return self._access.value

    def _fresh(self, tok: AccessToken) -> bool:
        lifetime = tok.expires_at - (tok.obtained_at if tok.obtained_at is not None else tok.expires_at - 3600)
        margin = min(300.0, max(lifetime, 0.0) / 2)
        return tok.expires_at - margin > self._wall_clock()

    # -- one request with retries ---------------------------------------------------------------------
    def _request(
        self, kind: str, path: str, params: dict[str, str], *, context: str | None
    ) -> tuple[dict[str, Any], _Call]:
        url = f"{self.base_url}/v3/company/{self.realm_id}/{path}"
        params = {**params, "minorversion": MINOR_VERSION}
        call = _Call()
        what = f"{kind} ({context})" if context else kind
        base = self.retry_base_s
        backoff = wait_exponential(multiplier=base, exp_base=2, max=base * 2 ** (self.max_retries - 1))

        def wait(state: RetryCallState) -> float:
            base = float(backoff(state))
            exc = state.outcome.exception() if state.outcome else None
            ra = getattr(exc, "retry_after", None)
            return max(base, min(float(ra), RETRY_AFTER_CAP_S)) if ra else base

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            call.retries += 1
            self._count("retries")
            label = "API Limit" if isinstance(exc, RetryableError) and exc.kind == "429" else "API retry"
            kind_ = exc.kind if isinstance(exc, QboError) else type(exc).__name__
            self.log.warning(
                "%s: %s on %s retry %d/%d in %gs (intuit_tid=%s)",
                label, kind_, what, state.attempt_number, self.max_retries, delay,
                getattr(exc, "intuit_tid", None) or "-",
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.max_retries + 1),
            wait=wait,
            retry=retry_if_exception_type(RetryableError),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(kind, url, params, call, what), call
        except RetryableError as exc:
            err = RetriesExhausted(
                f"QBO {what} failed after {self.max_retries} retries ({call.requests} requests); "
                f"last error: {exc.message}",
                attempts=call.requests, last=exc, status=exc.status, intuit_tid=exc.intuit_tid,
                kind=exc.kind, body=exc.body,
            )
            self.log.error("%s", err)
            raise err from exc
        except CircuitOpenError as exc:
            self.log.error("%s", exc)
            raise
        except QboError as exc:
            if exc.context is None and context:
                exc.context = context
            self.log.error("QBO %s failed: %s", kind, exc)
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, kind: str, url: str, params: dict[str, str], call: _Call, what: str) -> dict[str, Any]:
        stale: str | None = None
        for auth_try in range(2):
            token = self._token(stale)
            self.breaker.before_request(what)
            self.limiter.acquire(self.realm_id)
            call.requests += 1
            self._count("requests", kind=kind)
            try:
                resp = self._http.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
            except httpx.TimeoutException:
                self.breaker.record_failure()
                raise RetryableError(f"QBO {what} timed out", kind="timeout") from None
            except httpx.TransportError as exc:
                self.breaker.record_failure()
                raise RetryableError(
                    f"QBO {what} connection failed ({type(exc).__name__})", kind="connection"
                ) from None
            tid = resp.headers.get("intuit_tid")
            call.intuit_tid = tid
            outcome = self._classify(resp, what)
            if outcome == "auth":
                self.breaker.record_neutral()
                if auth_try == 0:
                    self.log.warning("QBO answered 401 on %s: renewing the access token once (intuit_tid=%s)",
                                     what, tid or "-")
                    stale = token
                    continue
                raise AuthError(
                    f"QBO refused a freshly renewed access token on {what} (401 twice)",
                    status=resp.status_code, intuit_tid=tid, body=resp.text, kind="401",
                    next_step="check the app's scope and that QBO_REALM_ID belongs to the authorized company; "
                    "if it persists run `qbo-ingest auth`",
                )
            assert isinstance(outcome, dict)
            call.body = resp.content
            return outcome
        raise AssertionError("unreachable")  # pragma: no cover

    def _classify(self, resp: httpx.Response, what: str) -> dict[str, Any] | str:
        """The parsed body, or "auth" for a 401, or raise the typed error (updating the breaker)."""
        status = resp.status_code
        tid = resp.headers.get("intuit_tid")
        if status == 401:
            return "auth"
        try:
            data = resp.json()
        except ValueError:
            data = None
        fault = parse_fault(data)
        if status in RETRYABLE_STATUS:
            self.breaker.record_failure()
            if status == 429:
                self._count("throttled_429", kind="429")
            else:
                self._count("retries", 0, kind=str(status))
            text = fault[2] if fault else resp.reason_phrase
            raise RetryableError(
                f"QBO {what} answered {status}: {text}", status=status, intuit_tid=tid, kind=str(status),
                retry_after=_retry_after(resp.headers.get("Retry-After")),
            )
        if status >= 400:
            self.breaker.record_success()  # QBO is healthy; the request is wrong
            ftype, code, text = fault or ("", "", resp.reason_phrase)
            raise FatalApiError(
                f"QBO {what} rejected: {ftype + ': ' if ftype else ''}{text}"
                f"{' (code ' + code + ')' if code else ''}",
                status=status, intuit_tid=tid, body=resp.text, kind=ftype or str(status),
            )
        if not isinstance(data, dict):
            self.breaker.record_failure()
            raise RetryableError(
                f"QBO {what} answered {status} with a truncated or invalid JSON body", status=status,
                intuit_tid=tid, body=resp.text, kind="invalid_json",
            )
        if fault is not None:
            ftype, code, text = fault
            if ftype.upper().startswith("AUTHENTICATION") or code == "3200":
                return "auth"
            if _is_throttle(ftype, code, text):
                self.breaker.record_failure()
                self._count("throttled_429", kind="429")
                raise RetryableError(f"QBO {what} throttled (Fault in a 200): {text}", status=status,
                                     intuit_tid=tid, kind="429")
            if ftype in ("SystemFault", "SERVICE"):
                self.breaker.record_failure()
                raise RetryableError(f"QBO {what} system fault in a 200: {text}", status=status,
                                     intuit_tid=tid, kind=ftype)
            self.breaker.record_success()
            raise FatalApiError(
                f"QBO {what} rejected: {ftype}: {text}{' (code ' + code + ')' if code else ''}",
                status=status, intuit_tid=tid, body=redact(resp.text), kind=ftype or "fault",
            )
        self.breaker.record_success()
        return data
