"""One small function that scrubs secrets out of any text before it is logged or raised.

Like dlt's `sanitize_url`: query parameters and headers that carry credentials, the password of a
connection URL or conninfo, and every secret value this process has registered are replaced by `***`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MASK = "***"
_SENSITIVE = (
    r"access_token|refresh_token|id_token|client_secret|code|password|passwd|secret|token|assertion|api_key"
)
# key=value in query strings, form bodies and conninfo strings; "key": "value" in JSON.
# A value is bare, or quoted as libpq writes one with a space or quote in it: password='p w\'x'.
_KV = re.compile(rf"(?i)\b({_SENSITIVE})(\s*=\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^&\s'\"]+)")
_JSON = re.compile(rf"(?i)(\"(?:{_SENSITIVE.replace('code|', '')})\"\s*:\s*\")([^\"]*)(\")")
_AUTH = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}")
_URL_PASSWORD = re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^:/@\s]+:)([^@\s]+)(@)")

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value (a token, a password) so `redact` masks it wherever it appears."""
    if value and len(value) >= 4:
        with _lock:
            _registered.add(value)


def redact(text: object, *, secrets: Iterable[str | None] = (), limit: int | None = None) -> str:
    """Text safe to log: credentials masked, optionally truncated to `limit` characters."""
    out = str(text)
    with _lock:
        known = sorted(_registered | {s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    for value in known:
        out = out.replace(value, MASK)
    out = _URL_PASSWORD.sub(rf"\1{MASK}\3", out)
    out = _AUTH.sub(rf"\1 {MASK}", out)
    out = _JSON.sub(rf"\1{MASK}\3", out)
    out = _KV.sub(rf"\1\2{MASK}", out)
    if limit is not None and len(out) > limit:
        out = out[:limit] + f"... ({len(out) - limit} more chars)"
    return out
