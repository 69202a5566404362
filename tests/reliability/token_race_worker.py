"""One process of the token race: N threads force access-token renewals through one PostgreSQL token
store (each marks the stored access token stale, as after a 401)
and use each new access token at once, until the store counts
TARGET refreshes in total (all processes together).

Usage: python token_race_worker.py DSN BASE_URL TOKEN_URL CLIENT_ID CLIENT_SECRET REALM SEED THREADS TARGET
Prints one JSON line: {"used": n, "errors": [...]} (used: fresh access tokens the API accepted).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from typing import Any

import httpx

from qbo_ingest.source.auth.oauth import OAuthSession
from qbo_ingest.source.auth.token_store import PostgresTokenStore


def main(argv: list[str]) -> None:
    dsn, base, token_url, client_id, secret, realm, seed, threads, target = argv
    store = PostgresTokenStore(dsn, key_material=secret)
    out: dict[str, Any] = {"used": 0, "errors": []}
    lock = threading.Lock()
    deadline = time.monotonic() + 240
    url = f"{base.rstrip('/')}/v3/company/{realm}/companyinfo/{realm}"

    def run(i: int) -> None:
        rng = random.Random(i)
        oauth = OAuthSession(client_id, secret, token_url=token_url)
        with httpx.Client(timeout=30) as http:
            while time.monotonic() < deadline:
                row = store.get(realm, client_id)
                if row is not None and row.refreshes >= int(target):
                    return
                try:
                    # the current access token is refused (as after a 401 for everyone): renew it
                    stale = row.access_token if row is not None else None
                    tok = store.access_token(realm, oauth, seed_refresh_token=seed, stale=stale)
                    resp = http.get(url, params={"minorversion": "75"},
                                    headers={"Authorization": f"Bearer {tok.value}", "Accept": "application/json"})
                    if resp.status_code != 200:
                        raise RuntimeError(f"API answered {resp.status_code} to a fresh access token")
                    with lock:
                        out["used"] += 1
                    time.sleep(rng.uniform(0, 0.2))  # workers drift apart, as real ones do; races remain
                except Exception as exc:
                    with lock:
                        out["errors"].append(f"{type(exc).__name__}: {exc}")
                    break
        oauth.close()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(int(threads))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1:])
