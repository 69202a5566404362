"""Refresh-token rotation through PostgresTokenStore: threads and processes never use a dead token."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg
import pytest

from qbo_ingest.errors import AuthError
from qbo_ingest.source.auth.oauth import OAuthSession
from qbo_ingest.source.auth.token_store import PostgresTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .fakes import CLIENT_ID, CLIENT_SECRET, REALM, TOKEN_URL, FakeQbo, make_records, serve_http, settings

D1 = datetime(2025, 10, 15, tzinfo=timezone.utc)
D2 = datetime(2025, 10, 16, tzinfo=timezone.utc)
WORKER = Path(__file__).with_name("token_worker.py")


def oauth(fake: FakeQbo) -> OAuthSession:
    return OAuthSession(CLIENT_ID, CLIENT_SECRET, token_url=TOKEN_URL, transport=fake.transport())


def test_env_token_only_seeds_then_the_stored_one_wins(pg_url: str) -> None:
    fake = FakeQbo()
    store = PostgresTokenStore(pg_url)
    seed = fake.first_refresh
    first = store.access_token(REALM, oauth(fake), seed_refresh_token=seed)
    row = store.get(REALM, CLIENT_ID)
    assert row is not None and row.refresh_token != seed and row.rotations == 1
    # The env still holds the (now dead) seed: the stored token is used, not the env one.
    second = store.access_token(REALM, oauth(fake), seed_refresh_token=seed, stale=first.value)
    assert second.value != first.value and fake.invalid_grants == 0
    # The operator pastes a new token (e.g. from the OAuth Playground): it is adopted.
    fake.valid_refresh = {"CANARY-refresh-from-playground"}
    with psycopg.connect(pg_url) as conn:  # the stored one is dead now
        conn.execute("UPDATE qbo_ingest.oauth_tokens SET access_expires_at = now() - interval '1 hour'")
    store.access_token(REALM, oauth(fake), seed_refresh_token="CANARY-refresh-from-playground")
    assert fake.invalid_grants == 0
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*), max(refreshes) FROM qbo_ingest.oauth_tokens").fetchone() == (1, 3)


def test_no_token_anywhere_says_how_to_get_one(pg_url: str) -> None:
    with pytest.raises(AuthError, match="qbo-ingest auth"):
        PostgresTokenStore(pg_url).access_token(REALM, oauth(FakeQbo()), seed_refresh_token=None)


def test_ten_threads_share_refreshes_and_survive_rotation(pg_url: str) -> None:
    fake = FakeQbo(make_records(3, D1, 60))
    fake.access_ttl = 1  # renewed every ~0.5 s; each renewal rotates the refresh token (old one dies)
    fake.revoke_at = {100}  # and once every access token dies mid-run: 401 -> one shared renewal
    s = settings(QBO_REFRESH_TOKEN=fake.first_refresh)
    store = PostgresTokenStore(pg_url)
    errors: list[BaseException] = []
    counts = [0] * 10
    barrier = threading.Barrier(10)

    def run(i: int) -> None:
        with QboClient(s, store, transport=fake.transport(), limiter=NoLimit()) as c:
            try:
                barrier.wait()
                deadline = time.monotonic() + 2.5
                while time.monotonic() < deadline:
                    assert c.count("Invoice", D1, D2) == 3
                    counts[i] += 1
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    span = time.monotonic() - began
    assert errors == []
    assert fake.invalid_grants == 0
    assert min(counts) > 0 and fake.api_requests > 100
    row = store.get(REALM, CLIENT_ID)
    assert row is not None and row.refreshes == fake.token_calls == row.rotations
    # shared: about one renewal per half second (+1 for the revocation), not one per thread
    assert 4 <= fake.token_calls <= span / 0.5 + 3


@pytest.mark.slow
def test_two_processes_with_ten_threads_each_never_use_a_dead_refresh_token(pg_url: str) -> None:
    fake = FakeQbo(make_records(3, D1, 60))
    fake.access_ttl = 2  # renewals every ~1 s while 20 workers run for 5 s, each one rotates
    base, token_url, stop = serve_http(fake)
    try:
        procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), pg_url, base, token_url, CLIENT_ID, CLIENT_SECRET, REALM,
                 fake.first_refresh, "10", "5"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        stop()
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert [r["errors"] for r in results] == [[], []], outs
    assert all(r["ok"] > 0 for r in results)
    assert fake.invalid_grants == 0
    assert fake.token_calls >= 3, (results, fake.token_calls)  # rotation really happened several times
    row = PostgresTokenStore(pg_url, key_material=CLIENT_SECRET).get(REALM, CLIENT_ID)
    assert row is not None and row.rotations == fake.token_calls
    assert row.refresh_token in fake.valid_refresh  # the stored one is the live one
