"""The QBO Accounting API client: query pages, count, CDC; auth, retries, throttle and breaker built in.

One `httpx.Client` (connection pooling) per `QboClient`; a client may be shared by many threads.
Every request carries `minorversion=75`, waits for the realm's rate limiter, passes the shared circuit
breaker, and is retried on 429/5xx/timeouts/dropped connections/cut JSON with backoff 2, 4, 8, 16,
32, 64 s (a larger Retry-After wins) — 6 retries, then `RetriesExhausted` naming the entity/window.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any

import httpx
from tenacity import RetryCallState

from qbo_ingest import catalogue
from qbo_ingest.catalogue import Entity
from qbo_ingest.errors import (
    AuthError,
    CircuitOpenError,
    FatalApiError,
    QboError,
    RetriesExhausted,
    RetryableError,
)
from qbo_ingest.records import Page, to_qbo_literal
from qbo_ingest.settings import Settings
from qbo_ingest.source import bodies, cdc, queries, retry, tls
from qbo_ingest.source.auth.oauth import OAuthSession
from qbo_ingest.source.auth.token_store import AccessToken, TokenStore
from qbo_ingest.source.paging import Cost, KeysetPager, PageStream
from qbo_ingest.source.queries import MAX_PAGE
from qbo_ingest.source.responses import classify, is_realm_refusal, parse_fault, realm_refused
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit, RateLimiter, shared_limiter

__all__ = ["MAX_PAGE", "ClientStats", "Page", "QboClient"]

log = logging.getLogger(__name__)

MINOR_VERSION = "75"
_REALMS_OK: set[tuple[str, str, str]] = set()  # (realm, client id, API base) checked by check_realm


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
    keys_of: str | None = None  # read a query page of this entity for its records' keys only (source/bodies.py)
    keys_only: bool = False  # ... and it was


def _entity(entity: Entity | str) -> Entity:
    return entity if isinstance(entity, Entity) else catalogue.get(entity)


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
        max_retries: int = retry.MAX_RETRIES,
        retry_base_s: float | None = None,
        logger: logging.Logger | None = None,
        oauth: OAuthSession | None = None,
        meter: Callable[[str, int], None] | None = None,
        max_in_flight: int = 10,
    ) -> None:
        settings.require_qbo()
        assert settings.client_id and settings.client_secret and settings.realm_id
        self.realm_id: str = settings.realm_id
        self.base_url = settings.api_base_url.rstrip("/")
        self.max_retries = max_retries
        self.retry_base_s = retry_base_s if retry_base_s is not None else settings.retry_base_seconds
        self._store = token_store
        self._seed = settings.refresh_token.get_secret_value() if settings.refresh_token else None
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self.limiter = limiter if limiter is not None else shared_limiter(self.realm_id)
        self._in_flight = threading.BoundedSemaphore(max_in_flight)  # this client's requests at once
        self.breaker = breaker if breaker is not None else CircuitBreaker(clock=clock)
        self.log = logger or log
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json", "User-Agent": "qbo-ingest"},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16), verify=tls.context(),
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
            retry_base_s=self.retry_base_s,
        )
        self._owns_oauth = oauth is None
        # httpx's timeout is per read: a body trickling a byte at a time never trips it. A whole response
        # must arrive within this (real time), else it is a retryable timeout.
        self.response_timeout = 2 * timeout
        self._access: AccessToken | None = None
        self._token_lock = threading.Lock()
        # Called with (kind, n) before each request is sent, and ("token", 1) before each request to the
        # token endpoint: the metered-call book and budget (pipeline/budget.py). It may raise (budget
        # spent): then the request is not sent (a token request is never refused).
        self.meter = meter
        if meter is not None:  # each request to the token endpoint, booked apart as kind "token"
            self.oauth.on_request = lambda _grant: meter("token", 1)
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
        self, entity: Entity | str, start: datetime, end: datetime, *, page_size: int = MAX_PAGE,
        keys_only: bool = False,
    ) -> PageStream:
        """Every record with start <= MetaData.LastUpdatedTime < end, page by page, each version once
        (source/paging.py: keyset pages, a dense second read by STARTPOSITION and checked by COUNT).

        `keys_only`: each page's records hold only `Id` and `MetaData.LastUpdatedTime` (`Page.keys_only`)
        and the payloads are in `Page.body` - what a loader that stores the body text needs, at a tenth
        of the parsing cost. A page whose body cannot be read that way comes whole."""
        ent = _entity(entity)
        if not 0 < page_size <= MAX_PAGE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE} (QBO's maximum), got {page_size}")
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware (UTC) datetimes")
        context = f"{ent.name} {queries.label(start, end)}"

        def fetch(lo: datetime, hi: datetime, position: int | None) -> tuple[list[dict[str, Any]], Cost]:
            stmt = queries.select(ent, lo, hi, page_size, position)
            # an entity wrapped under another key (CreditCardPayment -> CreditCardPaymentTxn) is parsed whole:
            # either key is then read, and the keys-only reading (source/bodies.py) never sees an empty page
            data, call = self._request("query", "query", {"query": stmt}, context=context,
                                       keys_of=ent.name if keys_only and not ent.response_key else None,
                                       priority=pager.pages_left(lo))
            qr = data.get("QueryResponse") or {}
            rows = qr.get(ent.name) or (qr.get(ent.response_key) if ent.response_key else None) or []
            if not isinstance(rows, list):
                raise FatalApiError(f"unexpected QueryResponse shape for {ent.name}", context=context)
            return rows, Cost(call.requests, call.retries, call.intuit_tid, call.body, call.keys_only)

        def count(lo: datetime, hi: datetime) -> tuple[int, Cost]:
            data, call = self._request("count", "query", {"query": queries.count(ent, lo, hi)}, context=context)
            total = (data.get("QueryResponse") or {}).get("totalCount")
            if total is None:
                raise FatalApiError(f"COUNT answer without totalCount for {ent.name}", context=context)
            return int(total), Cost(call.requests, call.retries, call.intuit_tid)

        pager = KeysetPager(ent.name, page_size, fetch, count)
        return PageStream(pager, start, end)

    def count(self, entity: Entity | str, start: datetime, end: datetime) -> int:
        """`SELECT COUNT(*)` with the same WHERE as `pages` (one request)."""
        ent = _entity(entity)
        stmt = queries.count(ent, start, end)
        data, _ = self._request("count", "query", {"query": stmt}, context=f"{ent.name} {queries.label(start, end)}")
        total = (data.get("QueryResponse") or {}).get("totalCount")
        if total is None:
            raise FatalApiError(f"COUNT answer without totalCount for {ent.name}", body=str(data))
        return int(total)

    def counts(self, windows: Sequence[tuple[Entity, datetime, datetime]]) -> list[int | QboError]:
        """COUNT(*) of several windows in one batch request: one request against QBO's per-second and
        per-minute limits, metered per item. Each an int, or the error QBO answered that item with."""
        items = [{"bId": str(i), "Query": queries.count(e, a, b)} for i, (e, a, b) in enumerate(windows)]
        data, _ = self._request("batch", "batch", {}, context=f"{len(items)} COUNT(s)", units=len(items),
                                content=json.dumps({"BatchItemRequest": items}).encode())
        answers = {str(r.get("bId")): r for r in data.get("BatchItemResponse") or [] if isinstance(r, dict)}
        out: list[int | QboError] = []
        for i, (e, a, b) in enumerate(windows):
            item = answers.get(str(i), {})
            total = (item.get("QueryResponse") or {}).get("totalCount")
            fault = parse_fault(item)
            out.append(int(total) if total is not None else FatalApiError(
                f"COUNT of {e.name} {queries.label(a, b)} in a batch: {fault[2] if fault else 'no answer'}"))
        return out

    def cdc(self, entities: Sequence[Entity | str], changed_since: datetime) -> dict[str, list[dict[str, Any]]]:
        """Changes (deleted stubs included) since `changed_since`, at most 30 days back (QBO's limit)."""
        ents = [_entity(e) for e in entities]
        cdc.check(ents, changed_since, datetime.fromtimestamp(self._wall_clock(), tz=timezone.utc))
        params = {"entities": ",".join(e.name for e in ents), "changedSince": to_qbo_literal(changed_since)}
        data, _ = self._request("cdc", "cdc", params, context=f"CDC {params['entities']}")
        return cdc.by_entity(data, ents, self.log)

    def ensure_token(self) -> None:
        """Have a usable access token now (refreshing it if needed), so wrong credentials or a dead refresh
        token fail once, before any load, instead of once per window."""
        self._token()

    def check_realm(self) -> None:
        """Check QBO_REALM_ID with one CompanyInfo request, once per process. A run whose first requests are
        its first pages (or COUNTs) skips it: QBO answers any request for a wrong realm with 403
        ApplicationAuthorizationFailed, raised as the same `ConfigError` (`responses.realm_refused`)."""
        key = (self.realm_id, self.oauth.client_id, self.base_url)
        if key not in _REALMS_OK:
            self.company_info()
            _REALMS_OK.add(key)

    def company_info(self) -> dict[str, Any]:
        """The CompanyInfo object: a cheap call to check credentials and realm."""
        data, _ = self._request("companyinfo", f"companyinfo/{self.realm_id}", {}, context="CompanyInfo")
        info = data.get("CompanyInfo")
        return info if isinstance(info, dict) else data

    def report(self, name: str, params: dict[str, str]) -> dict[str, Any]:
        """One Reports API answer (`GET reports/{name}`), e.g. ProfitAndLoss with start_date/end_date/
        accounting_method: request kind `report` (metered, throttled, retried like any GET)."""
        data, _ = self._request("report", f"reports/{name}", params, context=name)
        return data

    # -- tokens ----------------------------------------------------------------------------------------
    def _token(self, stale: str | None = None) -> str:
        with self._token_lock:
            cur = self._access
            if cur is not None and cur.value != stale and self._fresh(cur):
                return cur.value
            self._access = self._store.access_token(self.realm_id, self.oauth, seed_refresh_token=self._seed,
                                                    stale=stale)
            self._count("token_refreshes", kind="token")
            return self._access.value

    def _fresh(self, tok: AccessToken) -> bool:
        lifetime = tok.expires_at - (tok.obtained_at if tok.obtained_at is not None else tok.expires_at - 3600)
        margin = min(300.0, max(lifetime, 0.0) / 2)
        return tok.expires_at - margin > self._wall_clock()

    # -- one request with retries ---------------------------------------------------------------------
    def _request(
        self, kind: str, path: str, params: dict[str, str], *, context: str | None, keys_of: str | None = None,
        priority: int = 0, content: bytes | None = None, units: int = 1,
    ) -> tuple[dict[str, Any], _Call]:
        """One GET (a POST of `content`) with its retries; `units`: the calls QBO meters for it."""
        url = f"{self.base_url}/v3/company/{self.realm_id}/{path}"
        params = {**params, "minorversion": MINOR_VERSION}
        call = _Call(keys_of=keys_of)
        what = f"{kind} ({context})" if context else kind

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

        retrying = retry.policy(base=self.retry_base_s, max_retries=self.max_retries, sleep=self._sleep,
                                before_sleep=before_sleep)
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(kind, url, params, call, what, priority, content, units), call
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

    def _attempt(self, kind: str, url: str, params: dict[str, str], call: _Call, what: str,
                 priority: int = 0, content: bytes | None = None, units: int = 1) -> dict[str, Any]:
        stale: str | None = None
        for auth_try in range(2):
            token = self._token(stale)
            self.breaker.before_request(what)
            if self.meter is not None:  # before the limiter: a spent budget does not wait for a slot
                self.meter(kind, units)
            slot = self.limiter.slot(self.realm_id, priority=priority, in_flight=self._in_flight)
            call.requests += 1
            self._count("requests", kind=kind)
            try:
                resp = bodies.read_whole(self._http, url, params, {"Authorization": f"Bearer {token}"},
                                         timeout=self.response_timeout, on_answer=partial(self.limiter.answered, slot),
                                         content=content)
            except httpx.TimeoutException:
                self.breaker.record_failure(unanswered=True)
                raise RetryableError(f"QBO {what} timed out", kind="timeout") from None
            except httpx.TransportError as exc:
                self.breaker.record_failure(unanswered=True)
                failed = f"QBO {what} connection failed ({type(exc).__name__})"
                raise RetryableError(failed, kind="connection") from None
            finally:
                self.limiter.closed(slot)
                self._in_flight.release()
            tid = resp.headers.get("intuit_tid")
            call.intuit_tid = tid
            try:
                outcome = classify(resp, what, breaker=self.breaker, count=self._count, keys_of=call.keys_of)
            except FatalApiError as exc:
                if exc.status == 403 and is_realm_refusal(resp):
                    raise realm_refused(self.realm_id, exc) from None
                raise
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
            call.keys_only = isinstance(outcome, bodies.KeysOnly)
            return outcome
        raise AssertionError("unreachable")  # pragma: no cover
