"""Intuit OAuth 2.0 as the reference describes it: grants, rotation policies, revoke, authorize."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlparse

import httpx

from qbo_ingest.local.emulator import EmulatorConfig, RotationPolicy

from .conftest import Api, Factory, FakeClock

INVALID_GRANT = {"error": "invalid_grant", "error_description": "Token invalid"}


def refresh_with(api: Api, token: str) -> httpx.Response:
    return api.token(grant_type="refresh_token", refresh_token=token)


def test_token_response_shape(make_api: Factory) -> None:
    api = make_api(access_ttl=3600)
    body = refresh_with(api, api.refresh_token).json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "x_refresh_token_expires_in",
                         "x_refresh_token_hard_expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400


def test_rotation_every_n_old_token_dies_at_once(make_api: Factory) -> None:
    api = make_api(rotation=RotationPolicy(every_n=3, every_seconds=None, grace_seconds=0))
    t0 = api.refresh_token  # the fixture already refreshed once with the playground token
    # the fixture's refresh was #1 for the first token; #2 keeps it, #3 rotates
    assert refresh_with(api, t0).json()["refresh_token"] == t0
    t1 = refresh_with(api, t0).json()["refresh_token"]
    assert t1 != t0
    r = refresh_with(api, t0)
    assert r.status_code == 400 and r.json() == INVALID_GRANT
    assert refresh_with(api, t1).status_code == 200


def test_rotation_every_n_1_rotates_each_refresh(make_api: Factory) -> None:
    api = make_api(rotation=RotationPolicy(every_n=1, every_seconds=None, grace_seconds=0))
    seen = {api.refresh_token}
    for _ in range(3):
        old = api.refresh_token
        api.refresh()
        assert api.refresh_token not in seen
        seen.add(api.refresh_token)
        assert refresh_with(api, old).json() == INVALID_GRANT


def test_rotation_every_t_seconds(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(rotation=RotationPolicy(every_n=None, every_seconds=600, grace_seconds=0))
    t0 = api.refresh_token
    clock.advance(300)
    assert refresh_with(api, t0).json()["refresh_token"] == t0  # younger than 600 s: same token
    clock.advance(301)
    t1 = refresh_with(api, t0).json()["refresh_token"]
    assert t1 != t0
    assert refresh_with(api, t0).json() == INVALID_GRANT
    assert refresh_with(api, t1).json()["refresh_token"] == t1


def test_rotation_with_grace_keeps_old_token_alive_for_a_while(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(rotation=RotationPolicy(every_n=1, grace_seconds=3600))
    old = api.refresh_token
    api.refresh()
    new = api.refresh_token
    clock.advance(1800)
    r = refresh_with(api, old)  # inside the grace period it still works (and returns a newer token)
    assert r.status_code == 200 and r.json()["refresh_token"] not in (old, new)
    clock.advance(1801)
    assert refresh_with(api, old).json() == INVALID_GRANT


def test_never_rotate_policy(make_api: Factory) -> None:
    api = make_api(rotation=RotationPolicy(every_n=None, every_seconds=None))
    t0 = api.refresh_token
    for _ in range(3):
        assert refresh_with(api, t0).json()["refresh_token"] == t0


def test_access_token_expires(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(access_ttl=600)
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200
    clock.advance(601)
    r = api.query("SELECT COUNT(*) FROM Invoice")
    assert r.status_code == 401 and r.json()["fault"]["error"][0]["code"] == "3200"
    api.refresh()
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200


def test_invalid_client(make_api: Factory) -> None:
    api = make_api()
    r = api.http.post(api.srv.token_url, data={"grant_type": "refresh_token", "refresh_token": api.refresh_token},
                      auth=("emu-client-id", "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = api.http.post(api.srv.token_url, data={"grant_type": "refresh_token", "refresh_token": api.refresh_token})
    assert r.status_code == 401
    assert refresh_with(api, "AB11-not-a-token").json() == INVALID_GRANT


def test_authorize_redirects_and_code_exchange(make_api: Factory) -> None:
    api = make_api()
    redirect = "http://localhost:8123/callback"
    r = api.http.get(api.srv.authorize_url, params={
        "client_id": "emu-client-id", "response_type": "code", "scope": "com.intuit.quickbooks.accounting",
        "redirect_uri": redirect, "state": "xyz"})
    assert r.status_code == 302
    loc = urlparse(r.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == redirect
    params = parse_qs(loc.query)
    assert params["state"] == ["xyz"] and params["realmId"] == [api.realm]
    code = params["code"][0]
    wrong = api.token(grant_type="authorization_code", code=code, redirect_uri="http://localhost:9/other")
    assert wrong.status_code == 400
    # a code is single use: the mismatch above consumed it, so get another
    r = api.http.get(api.srv.authorize_url, params={"client_id": "emu-client-id", "response_type": "code",
                                                    "redirect_uri": redirect, "state": "s2"})
    code = parse_qs(urlparse(r.headers["location"]).query)["code"][0]
    tokens = api.token(grant_type="authorization_code", code=code, redirect_uri=redirect)
    assert tokens.status_code == 200
    body = tokens.json()
    assert body["refresh_token"] and body["access_token"]
    assert api.token(grant_type="authorization_code", code=code, redirect_uri=redirect).json()["error"] == \
        "invalid_grant"
    assert refresh_with(api, body["refresh_token"]).status_code == 200
    bad = api.http.get(api.srv.authorize_url, params={"client_id": "nope", "response_type": "code",
                                                      "redirect_uri": redirect})
    assert bad.status_code == 400
    assert api.emu.counters()["authorize"] == 3


def test_revoke_refresh_token_ends_the_grant(make_api: Factory) -> None:
    api = make_api()
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200
    r = api.http.post(api.srv.revoke_url, json={"token": api.refresh_token}, auth=api.auth)
    assert r.status_code == 200
    assert refresh_with(api, api.refresh_token).json() == INVALID_GRANT
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 401
    assert api.emu.counters()["revoke"] == 1


def test_revoke_all_access_tokens(make_api: Factory) -> None:
    api = make_api()
    api.emu.revoke_all_access_tokens()
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 401
    api.refresh()
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200


def test_concurrent_refreshes_are_safe(make_api: Factory) -> None:
    api = make_api(rotation=RotationPolicy.parse("every-refresh"))
    token = api.refresh_token
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda _: refresh_with(api, token).status_code, range(24)))
    assert results.count(200) == 1 and results.count(400) == 23  # exactly one wins the rotation
    api2 = make_api(rotation=RotationPolicy.parse("never"))
    token2 = api2.refresh_token
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda _: refresh_with(api2, token2).status_code, range(24)))
    assert codes == [200] * 24


def test_secrets_not_in_reprs() -> None:
    cfg = EmulatorConfig(client_secret="s3cr3t-value")
    assert "s3cr3t-value" not in repr(cfg)
