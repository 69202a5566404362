"""Settings: one-line errors, Mage secrets first; secrets absent from repr, logs, errors, tracebacks."""

from __future__ import annotations

import logging
import pickle
import traceback
from datetime import datetime, timezone

import pytest

from qbo_ingest.errors import AuthError, FatalApiError, RetriesExhausted
from qbo_ingest.redact import redact
from qbo_ingest.settings import Settings, SettingsError
from qbo_ingest.source.auth.token_store import MemoryTokenStore, PostgresTokenStore
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import NoLimit

from .fakes import CLIENT_SECRET, THROTTLE, FakeQbo, FakeTime, make_records, settings

D1 = datetime(2025, 10, 15, tzinfo=timezone.utc)
D2 = datetime(2025, 10, 16, tzinfo=timezone.utc)
FULL = {
    "QBO_CLIENT_ID": "cid", "QBO_CLIENT_SECRET": "CANARY-cs", "QBO_REFRESH_TOKEN": "CANARY-rt",
    "QBO_REALM_ID": "123", "QBO_ENTORNO": "production", "POSTGRES_HOST": "db", "POSTGRES_USER": "ingest",
    "POSTGRES_PASSWORD": "CANARY-pw",
}


def test_full_environment_loads_with_spec_names_and_defaults() -> None:
    s = Settings.load(env=FULL, use_mage_secrets=False)
    assert s.api_base_url == "https://quickbooks.api.intuit.com"
    assert s.token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
    assert (s.postgres_port, s.postgres_db) == (5432, "postgres")
    assert "password=CANARY-pw" in s.dsn() and "host=db" in s.dsn()
    sandbox = Settings.load(env={**FULL, "QBO_ENTORNO": "Sandbox"}, use_mage_secrets=False)
    assert sandbox.api_base_url == "https://sandbox-quickbooks.api.intuit.com"
    url = Settings.load(env={**FULL, "QBO_DATABASE_URL": "postgresql://a:CANARY-x@h/d"}, use_mage_secrets=False)
    assert url.dsn() == "postgresql://a:CANARY-x@h/d"


@pytest.mark.parametrize(("change", "message"), [
    ({"QBO_ENTORNO": "prod"},
     "QBO_ENTORNO='prod' is invalid: set it to 'sandbox' or 'production' (env var or Mage secret)"),
    ({"QBO_CLIENT_ID": ""}, "QBO_CLIENT_ID is not set: set it (env var or Mage secret)"),
    ({"POSTGRES_PASSWORD": None}, "POSTGRES_PASSWORD is not set: set it (env var or Mage secret)"),
    ({"POSTGRES_PORT": "54x"}, "POSTGRES_PORT='54x' is invalid: set it to a port number such as 5432 "
                               "(env var or Mage secret)"),
    ({"QBO_TOKEN_URL": "ftp://x"}, "QBO_TOKEN_URL='ftp://x' is invalid"),
    ({"QBO_REALM_ID": "abc"}, "QBO_REALM_ID='abc' is invalid"),
])
def test_a_bad_value_is_one_line_naming_the_variable(change: dict, message: str) -> None:
    env = {k: v for k, v in {**FULL, **change}.items() if v is not None}
    with pytest.raises(SettingsError) as err:
        Settings.load(env=env, use_mage_secrets=False)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_require_only_what_the_caller_uses() -> None:
    only_pg = {k: v for k, v in FULL.items() if k.startswith("POSTGRES")}
    assert Settings.load(env=only_pg, use_mage_secrets=False, require=("postgres",)).postgres_host == "db"
    with pytest.raises(SettingsError, match="QBO_CLIENT_ID"):
        Settings.load(env=only_pg, use_mage_secrets=False)
    emu = {"QBO_CLIENT_ID": "c", "QBO_CLIENT_SECRET": "s", "QBO_REALM_ID": "1",
           "QBO_API_BASE_URL": "http://127.0.0.1:9/"}
    s = Settings.load(env=emu, use_mage_secrets=False, require=("qbo",))
    assert s.api_base_url == "http://127.0.0.1:9"  # an explicit base URL makes QBO_ENTORNO optional


def test_mage_secrets_win_over_environment() -> None:
    secrets = {"QBO_REALM_ID": "999", "POSTGRES_PASSWORD": "CANARY-from-mage"}
    s = Settings.load(env=FULL, secret_lookup=secrets.get)
    assert s.realm_id == "999"
    assert s.postgres_password is not None
    assert s.postgres_password.get_secret_value() == "CANARY-from-mage"
    assert s.client_id == "cid"  # not in Mage: the environment fills it

    def broken(name: str) -> str | None:
        raise RuntimeError("secrets db unavailable")

    assert Settings.load(env=FULL, secret_lookup=broken).realm_id == "123"


def test_settings_repr_and_str_hide_secrets() -> None:
    s = Settings.load(env={**FULL, "QBO_DATABASE_URL": "postgresql://a:CANARY-url@h/d"}, use_mage_secrets=False)
    for text in (repr(s), str(s), s.model_dump_json()):
        assert "CANARY" not in text


def test_redact_masks_credentials_in_urls_headers_and_bodies() -> None:
    text = ("GET https://x/y?code=abc123&state=s&refresh_token=rt-999 Authorization: Bearer eyJhbGciOi.x.y "
            'postgresql://user:hunter22@db/x password=pw22 {"access_token": "at-1", "code": "3001"}')
    out = redact(text)
    for secret in ("abc123", "rt-999", "eyJhbGciOi", "hunter22", "pw22", "at-1"):
        assert secret not in out
    assert '"code": "3001"' in out and "state=s" in out
    assert redact("y-" * 25, limit=10) == "y-" * 5 + "... (40 more chars)"


def test_no_secret_reaches_logs_errors_or_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    t = FakeTime()
    fake = FakeQbo(make_records(3, D1, 60))
    store = MemoryTokenStore(wall_clock=t.clock)
    s = settings(QBO_REFRESH_TOKEN=fake.first_refresh)
    errors: list[BaseException] = []
    with QboClient(s, store, transport=fake.transport(), sleep=t.sleep, clock=t.clock, wall_clock=t.clock,
                   limiter=NoLimit()) as c:
        fake.script = [(429, THROTTLE, {})] * 7
        with pytest.raises(RetriesExhausted) as e1:
            c.count("Invoice", D1, D2)
        errors.append(e1.value)
        t.sleep(60)  # let the breaker half-open again
        # QBO echoes the request in a fault: the token in it must not come back to us.
        stolen = next(iter(fake.valid_access))
        fake.script = [(400, {"Fault": {"Error": [{"Message": f"bad request access_token={stolen} "
                                                             f"Bearer {stolen}"}], "type": "ValidationFault"}}, {})]
        with pytest.raises(FatalApiError) as e2:
            c.count("Invoice", D1, D2)
        errors.append(e2.value)
        fake.revoke_access()
        fake.valid_refresh.clear()  # the refresh token dies too
        with pytest.raises(AuthError) as e3:
            c.count("Invoice", D1, D2)
        errors.append(e3.value)
        reprs = [repr(c), repr(store), repr(c.oauth), repr(store.get(s.realm_id or "", s.client_id or ""))]
    canaries = [CLIENT_SECRET, fake.first_refresh, stolen, "CANARY-pg-password"]
    texts = [caplog.text, *reprs, repr(PostgresTokenStore(s.dsn()))]
    for exc in errors:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc)),
                  str(pickle.loads(pickle.dumps(exc)))]  # noqa: S301 - our own object
    for text in texts:
        for canary in canaries:
            assert canary not in text
        assert "CANARY-access" not in text and "CANARY-refresh" not in text


def test_inside_mage_get_secret_value_is_asked_first(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    asked: list[str] = []

    def get_secret_value(name: str) -> str | None:  # Mage's API: None (with a warning) when missing
        asked.append(name)
        return {"QBO_REALM_ID": "4242"}.get(name)

    mod = types.ModuleType("mage_ai.data_preparation.shared.secrets")
    mod.get_secret_value = get_secret_value  # type: ignore[attr-defined]
    for name in ("mage_ai", "mage_ai.data_preparation", "mage_ai.data_preparation.shared"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "mage_ai.data_preparation.shared.secrets", mod)
    s = Settings.load(env=FULL)
    assert s.realm_id == "4242" and s.client_id == "cid"
    assert "QBO_CLIENT_SECRET" in asked
    assert Settings.load(env=FULL, use_mage_secrets=False).realm_id == "123"
