"""A separate process for the rotation test: N threads querying through one PostgreSQL token store.

Usage: python token_worker.py DSN BASE_URL TOKEN_URL CLIENT_ID CLIENT_SECRET REALM SEED THREADS SECONDS
Prints one JSON line: {"ok": n, "errors": [...]}.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timezone

from qbo_ingest.settings import Settings
from qbo_ingest.source.auth.token_store import PostgresTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit


def main(argv: list[str]) -> None:
    dsn, base, token_url, client_id, secret, realm, seed, threads, seconds = argv
    s = Settings.load(env={
        "QBO_CLIENT_ID": client_id, "QBO_CLIENT_SECRET": secret, "QBO_REALM_ID": realm,
        "QBO_REFRESH_TOKEN": seed, "QBO_API_BASE_URL": base, "QBO_TOKEN_URL": token_url,
        "QBO_DATABASE_URL": dsn,
    }, use_mage_secrets=False)
    store = PostgresTokenStore(dsn)
    ok = 0
    errors: list[str] = []
    lock = threading.Lock()
    d1, d2 = datetime(2025, 10, 15, tzinfo=timezone.utc), datetime(2025, 10, 16, tzinfo=timezone.utc)

    def run() -> None:
        nonlocal ok
        # each worker its own client (as separate Mage blocks would have): only the store is shared
        with QboClient(s, store, limiter=NoLimit(), timeout=30) as c:
            deadline: float | None = None  # counted from the first answer, so a slow start (a loaded
            while deadline is None or time.monotonic() < deadline:  # machine) still runs the full time
                try:
                    c.count("Invoice", d1, d2)
                    with lock:
                        ok += 1
                except Exception as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    return
                if deadline is None:
                    deadline = time.monotonic() + float(seconds)

    ts = [threading.Thread(target=run) for _ in range(int(threads))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"ok": ok, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1:])
