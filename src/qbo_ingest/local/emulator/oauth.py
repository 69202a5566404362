"""Intuit-style OAuth 2.0: refresh/authorization-code grants, rotation policy, revocation.

Tokens are random strings held in memory; the class never logs or prints them.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from qbo_ingest.local.emulator.config import EmulatorConfig

REFRESH_TTL = 8_726_400  # x_refresh_token_expires_in: ~101 days, rolling
CODE_TTL = 600


class OAuthError(Exception):
    """`invalid_grant` (400) or `invalid_client` (401) etc., rendered as Intuit's JSON."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _Chain:
    """One grant (one user connection): its current refresh token and rotation bookkeeping."""

    current: str
    issued_at: float
    hard_expires_at: float  # the grant's fixed maximum (5 years), never extended
    refreshes_since_rotation: int = 0
    revoked: bool = False
    access: set[str] = field(default_factory=set)


@dataclass
class _Refresh:
    chain: _Chain
    expires_at: float
    dies_at: float | None = None  # set when rotated away (now + grace)


class OAuthServer:
    def __init__(self, cfg: EmulatorConfig, now: Callable[[], float]) -> None:
        self.cfg = cfg
        self.now = now
        self._lock = threading.Lock()
        self._refresh: dict[str, _Refresh] = {}
        self._access: dict[str, tuple[float, _Chain]] = {}
        self._codes: dict[str, tuple[float, str]] = {}  # code -> (expires_at, redirect_uri)

    # ---- issuing ---------------------------------------------------------------------------
    def _new_refresh(self, chain: _Chain | None = None) -> str:
        token = "AB11" + secrets.token_urlsafe(36)
        now = self.now()
        if chain is None:
            chain = _Chain(current=token, issued_at=now, hard_expires_at=now + self.cfg.refresh_hard_ttl)
        else:
            chain.current, chain.issued_at, chain.refreshes_since_rotation = token, now, 0
        self._refresh[token] = _Refresh(chain, min(now + REFRESH_TTL, chain.hard_expires_at))
        return token

    def issue_refresh_token(self) -> str:
        with self._lock:
            return self._new_refresh()

    def issue_code(self, redirect_uri: str) -> str:
        code = "AB11" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = (self.now() + CODE_TTL, redirect_uri)
        return code

    def _access_for(self, chain: _Chain) -> str:
        token = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0." + secrets.token_urlsafe(48)
        self._access[token] = (self.now() + self.cfg.access_ttl, chain)
        chain.access.add(token)
        return token

    def _response(self, chain: _Chain) -> dict[str, object]:
        now = self.now()
        hard = max(0, int(chain.hard_expires_at - now))
        return {"access_token": self._access_for(chain), "refresh_token": chain.current,
                "token_type": "bearer", "expires_in": self.cfg.access_ttl,
                "x_refresh_token_expires_in": min(REFRESH_TTL, hard),
                "x_refresh_token_hard_expires_in": hard}

    # ---- grants ----------------------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        ok = (client_id is not None and client_secret is not None
              and secrets.compare_digest(client_id, self.cfg.client_id)
              and secrets.compare_digest(client_secret, self.cfg.client_secret))
        if not ok:
            raise OAuthError(401, "invalid_client", "Client authentication failed")

    def refresh(self, token: str) -> dict[str, object]:
        with self._lock:
            now = self.now()
            entry = self._refresh.get(token)
            if (entry is None or entry.chain.revoked or now >= entry.expires_at
                    or now >= entry.chain.hard_expires_at
                    or (entry.dies_at is not None and now >= entry.dies_at)):
                raise OAuthError(400, "invalid_grant", "Token invalid")
            chain = entry.chain
            chain.refreshes_since_rotation += 1
            pol = self.cfg.rotation
            rotate = (pol.every_n is not None and chain.refreshes_since_rotation >= pol.every_n) or (
                pol.every_seconds is not None and now - chain.issued_at >= pol.every_seconds)
            if rotate:
                old = self._refresh[chain.current]
                old.dies_at = now + pol.grace_seconds if pol.grace_seconds > 0 else now
                if entry is not old and entry.dies_at is None:
                    entry.dies_at = old.dies_at
                self._new_refresh(chain)
            else:
                # rolling expiry, never past the grant's hard maximum
                self._refresh[chain.current].expires_at = min(now + REFRESH_TTL, chain.hard_expires_at)
            return self._response(chain)

    def exchange_code(self, code: str, redirect_uri: str | None) -> dict[str, object]:
        with self._lock:
            got = self._codes.pop(code, None)
            if got is None or self.now() >= got[0]:
                raise OAuthError(400, "invalid_grant", "Token invalid")
            if redirect_uri is not None and redirect_uri != got[1]:
                raise OAuthError(400, "invalid_grant", "Redirect URI mismatch")
            token = self._new_refresh()
            return self._response(self._refresh[token].chain)

    # ---- checking and revoking -------------------------------------------------------------
    def access_ok(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            got = self._access.get(token)
            return got is not None and self.now() < got[0] and not got[1].revoked

    def revoke(self, token: str) -> bool:
        """Revoking a refresh token ends the whole grant; an access token ends just itself."""
        with self._lock:
            entry = self._refresh.get(token)
            if entry is not None:
                entry.chain.revoked = True
                for a in entry.chain.access:
                    self._access.pop(a, None)
                return True
            return self._access.pop(token, None) is not None

    def revoke_all_access_tokens(self) -> None:
        with self._lock:
            self._access.clear()
            for entry in self._refresh.values():
                entry.chain.access.clear()
