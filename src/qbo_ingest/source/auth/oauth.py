"""OAuth 2.0 with Intuit, on Authlib's httpx client: refresh, code exchange, authorize URL, revoke.

No flow is hand-rolled: Authlib builds the requests (HTTP Basic client auth, form bodies) and parses
the token responses. This module turns its outcomes into `TokenSet` values and typed errors, and
records expiry from a timestamp taken BEFORE the request so a slow token call never overstates it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from pydantic import SecretStr
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from qbo_ingest.errors import INVALID_GRANT_MESSAGE, AuthError, RetryableError
from qbo_ingest.redact import redact, register_secret
from qbo_ingest.source import tls

log = logging.getLogger(__name__)

SCOPE = "com.intuit.quickbooks.accounting"


@dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returned. Tokens are kept out of repr."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: float  # wall-clock epoch seconds
    obtained_at: float = 0.0  # taken before the token request
    refresh_expires_at: float | None = None
    intuit_tid: str | None = None


def _secret(value: SecretStr | str | None) -> str:
    if value is None:
        return ""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class OAuthSession:
    """A client of Intuit's OAuth endpoints. Thread-safe (one call at a time per session)."""

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr | str,
        *,
        token_url: str,
        authorize_url: str | None = None,
        revoke_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 3,
        retry_base_s: float = 2.0,
    ) -> None:
        self.client_id = client_id
        self.token_url = token_url
        self.authorize_url = authorize_url
        self.revoke_url = revoke_url
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._attempts = attempts
        # The API's backoff base (QBO_RETRY_BASE_SECONDS) scales the token endpoint's too.
        self._wait_base = retry_base_s / 2  # default 1: waits 1, 2, 4 (max 8) s
        self._lock = threading.Lock()
        secret = _secret(client_secret)
        register_secret(secret)
        self._secret = secret
        self._client = OAuth2Client(
            client_id=client_id,
            client_secret=secret,
            scope=SCOPE,
            timeout=timeout,
            transport=transport,
            verify=tls.context(),
        )
        self._last_tid: str | None = None
        # Called with the grant ("refresh", "code") before each request to the token endpoint: the
        # client's metered-call book counts token calls apart (QboClient sets it).
        self.on_request: Callable[[str], None] | None = None

        def remember_tid(resp: httpx.Response) -> httpx.Response:
            self._last_tid = resp.headers.get("intuit_tid")
            return resp

        self._client.register_compliance_hook("access_token_response", remember_tid)
        self._client.register_compliance_hook("refresh_token_response", remember_tid)

    def __repr__(self) -> str:
        return f"OAuthSession(client_id={self.client_id!r}, token_url={self.token_url!r})"

    def key_material(self) -> str:
        """The client secret, from which the token store derives its key when QBO_TOKEN_KEY is unset."""
        return self._secret

    # -- grants ---------------------------------------------------------------------------------------
    def refresh(self, refresh_token: str) -> TokenSet:
        """Access token (and possibly a rotated refresh token) from a refresh token."""
        register_secret(refresh_token)
        return self._grant(
            "refresh", lambda: self._client.refresh_token(self.token_url, refresh_token=refresh_token),
            fallback_refresh=refresh_token,
        )

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """The authorization-code grant, after the user approved the app."""
        register_secret(code)
        return self._grant(
            "code exchange",
            lambda: self._client.fetch_token(
                self.token_url, grant_type="authorization_code", code=code, redirect_uri=redirect_uri
            ),
        )

    def authorization_url(self, redirect_uri: str, state: str) -> str:
        if not self.authorize_url:
            raise AuthError("no authorize URL configured", next_step="set QBO_AUTHORIZE_URL")
        url, _ = self._client.create_authorization_url(
            self.authorize_url, state=state, redirect_uri=redirect_uri, scope=SCOPE
        )
        return str(url)

    def revoke(self, token: str) -> None:
        """Revoke a refresh (or access) token at Intuit, e.g. when an app is disconnected."""
        if not self.revoke_url:
            raise AuthError("no revoke URL configured", next_step="set QBO_REVOKE_URL")
        # Intuit's revoke endpoint takes JSON {"token": ...} with HTTP Basic client auth (its own SDKs
        # send it so); Authlib's RFC 7009 helper would send a form body.
        with self._lock:
            try:
                resp = self._client.request(
                    "POST", self.revoke_url, json={"token": token}, auth=(self.client_id, self._secret),
                    headers={"Accept": "application/json"}, withhold_token=True,
                )
            except httpx.HTTPError as exc:
                raise RetryableError(f"QBO revoke endpoint failed: {type(exc).__name__}",
                                     kind="connection") from None
        if resp.status_code >= 400:
            raise AuthError(
                "token revocation failed", status=resp.status_code,
                intuit_tid=resp.headers.get("intuit_tid"), body=resp.text,
            )

    def close(self) -> None:
        self._client.close()

    # -- internals ------------------------------------------------------------------------------------
    def _grant(self, what: str, call: Callable[[], Any], *, fallback_refresh: str | None = None) -> TokenSet:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._wait_base, min=self._wait_base, max=8 * self._wait_base),
            retry=retry_if_exception_type(RetryableError),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._grant_once(what, call, fallback_refresh)
        raise AssertionError("unreachable")  # pragma: no cover

    def _grant_once(self, what: str, call: Callable[[], Any], fallback_refresh: str | None) -> TokenSet:
        with self._lock:
            self._last_tid = None
            started = self._wall_clock()  # before the request: expiry is never overstated
            if self.on_request is not None:
                self.on_request(what)
            try:
                token = dict(call())
            except OAuthError as exc:
                tid = self._last_tid
                if exc.error == "invalid_grant":
                    raise AuthError(INVALID_GRANT_MESSAGE, kind="invalid_grant", intuit_tid=tid,
                                    next_step="") from None
                if exc.error == "invalid_client":
                    raise AuthError(
                        "QBO rejected the app credentials (invalid_client)", kind="invalid_client",
                        intuit_tid=tid,
                        next_step="check QBO_CLIENT_ID and QBO_CLIENT_SECRET (env or Mage secret) match the "
                        "app's keys for this QBO_ENTORNO in the Intuit developer portal",
                    ) from None
                raise AuthError(
                    f"QBO token {what} failed: {exc.error}: {redact(exc.description or '')}",
                    kind=str(exc.error), intuit_tid=tid,
                ) from None
            except httpx.HTTPStatusError as exc:
                raise RetryableError(
                    f"QBO token endpoint answered {exc.response.status_code} during {what}",
                    status=exc.response.status_code, intuit_tid=exc.response.headers.get("intuit_tid"),
                    body=exc.response.text, kind=str(exc.response.status_code),
                ) from None
            except httpx.TimeoutException:
                raise RetryableError(f"QBO token endpoint timed out during {what}", kind="timeout") from None
            except httpx.TransportError as exc:
                raise RetryableError(
                    f"QBO token endpoint connection failed during {what}: {type(exc).__name__}",
                    kind="connection",
                ) from None
            except ValueError:
                raise RetryableError(
                    f"QBO token endpoint sent an unreadable answer during {what}",
                    intuit_tid=self._last_tid, kind="invalid_json",
                ) from None
            finally:
                self._client.token = None  # never keep tokens on the shared Authlib client
        access = token.get("access_token")
        if not access:
            raise AuthError(f"QBO token {what} returned no access token", intuit_tid=self._last_tid)
        refresh = token.get("refresh_token") or fallback_refresh or ""
        register_secret(access)
        register_secret(refresh)
        expires_in = float(token.get("expires_in") or 3600)
        refresh_in = token.get("x_refresh_token_expires_in")
        return TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_at=started + expires_in,
            obtained_at=started,
            refresh_expires_at=started + float(refresh_in) if refresh_in else None,
            intuit_tid=self._last_tid,
        )
