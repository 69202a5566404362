"""Intuit's token endpoint as its pages document it (source per case)."""

from __future__ import annotations

from ..conftest import Factory, FakeClock
from . import sources as S


@S.cites(S.AUTH_FAQ, S.REFRESH_POLICY_2025)
def test_token_response_fields(make_api: Factory) -> None:
    """AUTH_FAQ: access tokens last 3,600 s, refresh tokens 100 days rolling; REFRESH_POLICY_2025: a 5-year
    maximum, reported by a new field of the refresh response (`x_refresh_token_hard_expires_in`)."""
    api = make_api()
    body = api.refresh()
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert 8_640_000 <= body["x_refresh_token_expires_in"] <= 8_726_400
    assert body["x_refresh_token_hard_expires_in"] > 4 * 365 * 86400


@S.cites(S.REFRESH_POLICY_2025)
def test_hard_expiry_ends_the_grant(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(refresh_hard_ttl=90 * 86400)
    for _ in range(3):  # refreshing well within the rolling 100 days keeps it alive ...
        clock.advance(29 * 86400)
        body = api.refresh()
        assert body["x_refresh_token_expires_in"] == body["x_refresh_token_hard_expires_in"] <= 90 * 86400
    clock.advance(4 * 86400)  # ... but never past the hard maximum
    r = api.token(grant_type="refresh_token", refresh_token=api.refresh_token)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


@S.cites(S.AUTH_FAQ)
def test_default_rotation_is_about_daily_with_a_grace_period(make_api: Factory, clock: FakeClock) -> None:
    """AUTH_FAQ (and Intuit staff on its forum): the refresh token value changes about every 24 hours; use
    the latest value from the most recent response. That the previous value keeps working for a day is
    unconfirmed (the emulator's default grace)."""
    api = make_api()
    first = api.refresh_token
    clock.advance(3600)
    assert api.refresh()["refresh_token"] == first  # same value within the day
    clock.advance(86400)
    new = api.refresh()["refresh_token"]
    assert new != first
    clock.advance(3600)
    old = api.token(grant_type="refresh_token", refresh_token=first)
    assert old.status_code == 200 and old.json()["refresh_token"] == new  # grace: the old one still works
    clock.advance(86400)
    assert api.token(grant_type="refresh_token", refresh_token=first).status_code == 400
