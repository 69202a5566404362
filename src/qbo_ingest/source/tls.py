"""One TLS context per process for the QBO API and Intuit's OAuth endpoints.

httpx builds a context (certifi's CA bundle, ~27 ms of loading) for every client it creates; an engine
has two (API and OAuth) and a Mage worker makes an engine per block run. The context is the same each
time, so it is built once and shared (`ssl.SSLContext` is safe to share between threads).
"""

from __future__ import annotations

import ssl
from functools import cache

import httpx


@cache
def context() -> ssl.SSLContext:
    """httpx's default verifying context (honours SSL_CERT_FILE / SSL_CERT_DIR), built on first use."""
    return httpx.create_ssl_context()
