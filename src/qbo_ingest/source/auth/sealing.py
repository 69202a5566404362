"""Tokens sealed at rest: the token store keeps refresh and access tokens encrypted (Fernet: AES-128-CBC
+ HMAC-SHA256, from the `cryptography` package), so neither the table nor the server's statement log
(`log_statement=all` logs bind parameters) holds a usable token.

The key is derived (HKDF-SHA256) from `QBO_TOKEN_KEY` when set, else from `QBO_CLIENT_SECRET`: every process
that can refresh a token already holds that secret, and a token without it is of no use to anyone. A
value that does not open with the current key (the secret was rotated) reads as no stored token, so
`QBO_REFRESH_TOKEN` (or `qbo-ingest auth`) seeds the store again.
"""

from __future__ import annotations

import base64
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

log = logging.getLogger(__name__)

PREFIX = "fernet1:"


class Sealer:
    def __init__(self, key_material: str) -> None:
        if not key_material:
            raise ValueError("the token store key material is empty")
        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"qbo-ingest token store",
                   info=b"oauth tokens v1").derive(key_material.encode("utf-8"))
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    def __repr__(self) -> str:
        return "Sealer(<key hidden>)"

    def seal(self, value: str | None) -> str | None:
        if not value:
            return value
        return PREFIX + self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, value: str | None) -> str | None:
        """The token, or None when the value does not open with this key. A value stored before
        sealing existed (no prefix) is returned as is and sealed at the next write."""
        if not value or not value.startswith(PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX):].encode("ascii")).decode("utf-8")
        except InvalidToken:
            log.warning("a stored QBO token does not open with the current key (QBO_TOKEN_KEY or "
                        "QBO_CLIENT_SECRET changed?): treated as absent")
            return None
