"""CDC through the client (emulator), and OAuth token-endpoint failures (MockTransport)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from qbo_ingest.errors import AuthError, FatalApiError
from qbo_ingest.source.auth.oauth import OAuthSession
from qbo_ingest.source.auth.token_store import MemoryTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .emu import emulator, running, settings_for
from .fakes import CLIENT_ID, CLIENT_SECRET, TOKEN_URL, FakeTime


def test_cdc_returns_changes_and_deleted_stubs() -> None:
    emu = emulator()
    with running(emu) as srv:
        s = settings_for(emu, srv, refresh_token=emu.issue_refresh_token())
        with QboClient(s, MemoryTokenStore(), limiter=NoLimit()) as c:
            now = emu.now()
            day = now - timedelta(days=10)
            victim = next(iter(emu.truth("Invoice", day - timedelta(days=1), day)))
            emu.delete_record("Invoice", victim)
            edited = next(iter(emu.truth("Customer", day - timedelta(days=400), day)))
            emu.update_record("Customer", edited)
            out = c.cdc(["Invoice", "Customer"], now - timedelta(hours=1))
    assert set(out) == {"Invoice", "Customer"}
    stubs = [r for r in out["Invoice"] if r.get("status") == "Deleted"]
    assert [r["Id"] for r in stubs] == [victim]
    assert edited in {r["Id"] for r in out["Customer"]}


def test_cdc_refuses_more_than_30_days_and_unsupported_entities_without_a_request() -> None:
    t = FakeTime()
    transport = httpx.MockTransport(lambda r: pytest.fail(f"no request expected: {r.url}"))
    from .fakes import settings

    with QboClient(settings(QBO_REFRESH_TOKEN="CANARY-unused-refresh"), MemoryTokenStore(), transport=transport,
                   wall_clock=t.clock, limiter=NoLimit()) as c:
        from datetime import datetime, timezone

        now = datetime.fromtimestamp(t.now, tz=timezone.utc)
        with pytest.raises(FatalApiError, match="at most 30 days"):
            c.cdc(["Invoice"], now - timedelta(days=31))
        with pytest.raises(FatalApiError, match="does not support TaxCode"):
            c.cdc(["TaxCode"], now - timedelta(days=1))


def _session(handler, **kw) -> OAuthSession:  # type: ignore[no-untyped-def]
    return OAuthSession(CLIENT_ID, CLIENT_SECRET, token_url=TOKEN_URL, transport=httpx.MockTransport(handler),
                        sleep=lambda s: None, **kw)


def test_token_endpoint_5xx_is_retried_then_succeeds_and_expiry_uses_time_before_request() -> None:
    calls = []
    clock = iter([1000.0, 1005.0, 1010.0])

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(503, text="busy", headers={"intuit_tid": "t1"})
        return httpx.Response(200, json={"access_token": "CANARY-a", "refresh_token": "CANARY-r2",
                                         "expires_in": 3600})

    tokens = _session(handler, wall_clock=lambda: next(clock)).refresh("CANARY-r1")
    assert len(calls) == 2
    assert tokens.expires_at == 1005.0 + 3600 and tokens.obtained_at == 1005.0
    assert calls[1].headers["Authorization"].startswith("Basic ")
    assert b"grant_type=refresh_token" in calls[1].content
    assert "CANARY" not in repr(tokens)


def test_invalid_client_says_which_settings_to_check() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client"}, headers={"intuit_tid": "tid-9"})

    with pytest.raises(AuthError) as err:
        _session(handler).refresh("CANARY-r1")
    assert "invalid_client" in str(err.value) and "QBO_CLIENT_SECRET" in str(err.value)
    assert "intuit_tid=tid-9" in str(err.value)


def test_revoke_kills_the_refresh_token_at_the_emulator() -> None:
    emu = emulator()
    with running(emu) as srv:
        session = OAuthSession(emu.cfg.client_id, emu.cfg.client_secret, token_url=srv.token_url,
                               revoke_url=srv.revoke_url)
        rt = emu.issue_refresh_token()
        session.revoke(rt)
        assert emu.counters()["revoke"] == 1
        with pytest.raises(AuthError, match="invalid_grant"):
            session.refresh(rt)
        session.close()
