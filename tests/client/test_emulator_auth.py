"""Against the emulator over HTTP with a real PostgreSQL store: rotation with immediate invalidation
under 10 threads and 2 processes, and the `auth` authorization-code flow end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from qbo_ingest import warehouse as wh
from qbo_ingest.errors import AuthError
from qbo_ingest.source.auth.code_flow import run_auth
from qbo_ingest.source.auth.token_store import PostgresTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .emu import emulator, running, settings_for, utc

D1, D2 = utc(2025, 10, 15), utc(2025, 10, 16)
WORKER = Path(__file__).with_name("token_worker.py")


@pytest.fixture
def pg_url(pg_url: str) -> str:
    """A fresh database with the state schema, as `qbo-ingest db init` leaves it."""
    with wh.connect(pg_url) as c:
        wh.ensure_schema(c, [])
    return pg_url


def test_ten_threads_rotating_every_refresh_get_no_invalid_grant(pg_url: str) -> None:
    emu = emulator(access_ttl=2, throttle=False)  # renewals every ~1 s; each rotates, old token dies
    store = PostgresTokenStore(pg_url)
    errors: list[BaseException] = []
    done = [0] * 10
    with running(emu) as srv:
        s = settings_for(emu, srv, refresh_token=emu.issue_refresh_token())

        def run(i: int) -> None:
            try:
                with QboClient(s, store, limiter=NoLimit()) as c:
                    c.company_info()
                    done[i] += 1
                    deadline = time.monotonic() + 4  # from the first answer: robust to a slow start
                    while time.monotonic() < deadline:
                        c.company_info()
                        done[i] += 1
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        counters = emu.counters()
    assert errors == []  # no invalid_grant, no 401 twice
    assert min(done) > 0
    row = store.get(emu.cfg.realm_id, emu.cfg.client_id)
    assert row is not None
    assert counters["token"] == row.refreshes == row.rotations >= 3
    print(f"10 threads: requests={sum(done)}, token refreshes={counters['token']}, invalid_grant=0")


@pytest.mark.slow
def test_two_processes_of_ten_threads_share_rotation_through_postgres(pg_url: str) -> None:
    emu = emulator(access_ttl=2, throttle=False)
    with running(emu) as srv:
        seed = emu.issue_refresh_token()
        procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), pg_url, srv.base_url, srv.token_url, emu.cfg.client_id,
                 emu.cfg.client_secret, emu.cfg.realm_id, seed, "10", "5"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]
        outs = [p.communicate(timeout=180) for p in procs]
        counters = emu.counters()
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
    assert [r["errors"] for r in results] == [[], []], outs
    assert all(r["ok"] > 0 for r in results)
    row = PostgresTokenStore(pg_url, key_material=emu.cfg.client_secret).get(emu.cfg.realm_id, emu.cfg.client_id)
    assert row is not None and counters["token"] == row.rotations >= 3
    print(f"2 processes x 10 threads: requests ok={[r['ok'] for r in results]}, "
          f"token refreshes={counters['token']} (each rotated, old token dead at once), invalid_grant=0")


def _follow(url: str) -> None:
    httpx.get(url, follow_redirects=True, timeout=10)


def test_run_auth_end_to_end_stores_a_working_refresh_token(pg_url: str) -> None:
    emu = emulator()
    store = PostgresTokenStore(pg_url)
    printed: list[str] = []
    with running(emu) as srv:
        s = settings_for(emu, srv)  # no QBO_REFRESH_TOKEN at all
        realm = run_auth(s, store=store, port=0, redirect_host="127.0.0.1", open_url=_follow,
                         printer=printed.append, timeout_s=20)
        assert realm == emu.cfg.realm_id
        assert emu.counters()["authorize"] == 1
        row = store.get(realm, emu.cfg.client_id)
        assert row is not None and row.refresh_token
        with QboClient(s, store, limiter=NoLimit()) as c:  # the stored token is used
            assert c.company_info()
    assert "connect/oauth2?" in printed[0] and "state=" in printed[0]
    assert all(row.refresh_token not in p for p in printed)


def test_run_auth_rejects_a_redirect_with_the_wrong_state(pg_url: str) -> None:
    def tampered(url: str) -> None:
        parts = urlsplit(url)
        q = dict(parse_qsl(parts.query))
        q["state"] = "forged"
        _follow(urlunsplit(parts._replace(query=urlencode(q))))

    emu = emulator()
    with running(emu) as srv:
        s = settings_for(emu, srv)
        with pytest.raises(AuthError, match="wrong state"):
            run_auth(s, store=PostgresTokenStore(pg_url), port=0, redirect_host="127.0.0.1",
                     open_url=tampered, printer=lambda _: None, timeout_s=20)
    assert PostgresTokenStore(pg_url).get(emu.cfg.realm_id, emu.cfg.client_id) is None
