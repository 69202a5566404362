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

from qbo_ingest.errors import AuthError
from qbo_ingest.source.auth.code_flow import run_auth
from qbo_ingest.source.auth.token_store import PostgresTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .emu import emulator, running, settings_for, utc

D1, D2 = utc(2025, 10, 15), utc(2025, 10, 16)
WORKER = Path(__file__).with_name("token_worker.py")


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


# ---- production keys: an https redirect URI, no listener, the redirected address pasted back ------------

HTTPS_REDIRECT = "https://ops.example.com/qbo-ingest/callback"


def _landing(authorize_url: str) -> str:
    """What the browser would land on: the emulator's 302 Location (it never calls the redirect URI)."""
    resp = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["location"]
    assert location.startswith(HTTPS_REDIRECT + "?")
    return location


def _url_in(printed: list[str]) -> str:
    return next(line for p in printed for line in p.splitlines() if "connect/oauth2?" in line)


def test_https_redirect_pasted_at_the_prompt_stores_the_token_the_loader_uses(pg_url: str, tmp_path: Path) -> None:
    from qbo_ingest.source.auth.code_flow import PENDING_FILE

    emu = emulator(redirect_uris=(HTTPS_REDIRECT,))
    printed: list[str] = []
    prompts: list[str] = []
    with running(emu) as srv:
        s = settings_for(emu, srv)

        def paste(prompt: str) -> str:
            prompts.append(prompt)
            assert (tmp_path / PENDING_FILE).stat().st_mode & 0o077 == 0  # the pending state: owner only
            return "  " + _landing(_url_in(printed)) + "\n"

        realm = run_auth(s, store=PostgresTokenStore(pg_url), redirect_uri=HTTPS_REDIRECT, read_line=paste,
                         pending_dir=tmp_path, printer=printed.append)
        assert realm == emu.cfg.realm_id and len(prompts) == 1
        assert emu.counters()["authorize"] == 1
        row = PostgresTokenStore(pg_url, key_material=emu.cfg.client_secret).get(realm, emu.cfg.client_id)
        assert row is not None and row.refresh_token
        with QboClient(s, PostgresTokenStore(pg_url), limiter=NoLimit()) as c:  # a new store, as the loader
            assert c.company_info()
    assert f"redirect_uri={HTTPS_REDIRECT.replace(':', '%3A').replace('/', '%2F')}" in _url_in(printed)
    assert all(row.refresh_token not in p for p in printed)
    assert not (tmp_path / PENDING_FILE).exists()


def test_emulator_refuses_a_redirect_uri_the_app_did_not_register() -> None:
    emu = emulator(redirect_uris=(HTTPS_REDIRECT,))
    with running(emu) as srv:
        resp = httpx.get(srv.authorize_url, params={
            "client_id": emu.cfg.client_id, "response_type": "code", "state": "s",
            "redirect_uri": "https://elsewhere.example.com/cb", "scope": "com.intuit.quickbooks.accounting",
        }, follow_redirects=False, timeout=10)
    assert resp.status_code == 400 and "not registered" in resp.text


def test_cli_https_flow_non_interactive_then_a_backfill_uses_the_token(pg_url: str, tmp_path: Path) -> None:
    """`--no-wait` prints the URL; `--redirected-url` finishes; `backfill` then runs on the stored token."""
    import os

    from qbo_ingest import warehouse as wh
    from qbo_ingest.catalogue import get

    with wh.connect(pg_url) as c:
        wh.ensure_schema(c, [get("Invoice")])
    exe = str(Path(sys.executable).with_name("qbo-ingest"))
    emu = emulator(redirect_uris=(HTTPS_REDIRECT,))
    with running(emu) as srv:
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
               "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
               "QBO_CLIENT_ID": emu.cfg.client_id, "QBO_CLIENT_SECRET": emu.cfg.client_secret,
               "QBO_REALM_ID": emu.cfg.realm_id, "QBO_API_BASE_URL": srv.base_url, "QBO_TOKEN_URL": srv.token_url,
               "QBO_AUTHORIZE_URL": srv.authorize_url, "QBO_DATABASE_URL": pg_url, "QBO_RETRY_BASE_SECONDS": "0"}

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([exe, *args], env=env, capture_output=True, text=True, timeout=120,
                                  stdin=subprocess.DEVNULL)

        first = cli("auth", "--redirect-uri", HTTPS_REDIRECT, "--no-wait")
        assert first.returncode == 0, first.stderr
        assert "--redirected-url" in first.stdout
        stale = _landing(_url_in([first.stdout]))

        prompt_eof = cli("auth", "--redirect-uri", HTTPS_REDIRECT)  # no terminal: one clear line, no traceback
        assert prompt_eof.returncode == 2 and "error: no address was pasted" in prompt_eof.stderr

        done = cli("auth", "--redirect-uri", HTTPS_REDIRECT, "--redirected-url", stale)
        assert done.returncode == 2 and "wrong state" in done.stderr  # the prompt run issued a new state
        again = cli("auth", "--redirect-uri", HTTPS_REDIRECT, "--no-wait")
        landing = _landing(_url_in([again.stdout]))
        code = dict(parse_qsl(urlsplit(landing).query))["code"]
        done = cli("auth", "--redirect-uri", HTTPS_REDIRECT, "--redirected-url", landing)
        assert done.returncode == 0, done.stderr
        assert f"authorized realm {emu.cfg.realm_id}" in done.stdout
        assert code not in done.stdout + done.stderr

        load = cli("backfill", "Invoice", "--fecha-inicio", "2025-10-15", "--fecha-fin", "2025-10-15", "--no-progress")
        assert load.returncode == 0, load.stdout + load.stderr
    assert emu.counters()["token"] >= 1  # the loader refreshed with the stored token


def test_pasted_address_with_a_wrong_state_or_another_host_is_refused(pg_url: str, tmp_path: Path) -> None:
    emu = emulator(redirect_uris=(HTTPS_REDIRECT,))
    printed: list[str] = []
    with running(emu) as srv:
        s = settings_for(emu, srv)

        def forged(prompt: str) -> str:
            parts = urlsplit(_landing(_url_in(printed)))
            q = dict(parse_qsl(parts.query))
            q["state"] = "forged"
            return urlunsplit(parts._replace(query=urlencode(q)))

        with pytest.raises(AuthError, match="wrong state"):
            run_auth(s, store=PostgresTokenStore(pg_url), redirect_uri=HTTPS_REDIRECT, read_line=forged,
                     pending_dir=tmp_path, printer=printed.append)
        printed.clear()
        elsewhere: list[str] = []

        def other_host(prompt: str) -> str:
            landing = _landing(_url_in(printed))
            elsewhere.append(dict(parse_qsl(urlsplit(landing).query))["code"])
            return landing.replace("ops.example.com", "evil.example.com")

        with pytest.raises(AuthError, match="not on the redirect URI") as info:
            run_auth(s, store=PostgresTokenStore(pg_url), redirect_uri=HTTPS_REDIRECT, read_line=other_host,
                     pending_dir=tmp_path, printer=printed.append)
        assert elsewhere[0] not in str(info.value)
    assert PostgresTokenStore(pg_url).get(emu.cfg.realm_id, emu.cfg.client_id) is None


def test_redirect_uri_rules_production_keys_need_https(pg_url: str, tmp_path: Path) -> None:
    emu = emulator()
    with running(emu) as srv:
        prod = settings_for(emu, srv).model_copy(update={"entorno": "production"})
        with pytest.raises(AuthError, match="only https redirect URIs for production"):
            run_auth(prod, store=PostgresTokenStore(pg_url), port=0, printer=lambda _: None)
        with pytest.raises(AuthError, match="only https redirect URIs for production"):
            run_auth(prod, store=PostgresTokenStore(pg_url), redirect_uri="http://localhost:8040/callback",
                     printer=lambda _: None)
        with pytest.raises(AuthError, match="must be https"):
            run_auth(settings_for(emu, srv), store=PostgresTokenStore(pg_url),
                     redirect_uri="http://ops.example.com/cb", printer=lambda _: None)
        with pytest.raises(AuthError, match="no pending authorization"):
            run_auth(settings_for(emu, srv), store=PostgresTokenStore(pg_url), redirect_uri=HTTPS_REDIRECT,
                     redirected_url=HTTPS_REDIRECT + "?code=x&state=y&realmId=1", pending_dir=tmp_path,
                     printer=lambda _: None)
    assert emu.counters().get("authorize", 0) == 0
