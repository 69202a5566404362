"""Settings from the spec's secrets table: Mage secrets first, environment second.

Values are validated here so a bad one fails at start with ONE line naming the variable and how to set
it. Secrets are `SecretStr` (pydantic): they print as `**********` in repr, str and tracebacks.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Literal
from urllib.parse import urlsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import BaseModel, ConfigDict, SecretStr

from qbo_ingest.errors import ConfigError
from qbo_ingest.redact import register_secret

log = logging.getLogger(__name__)

Entorno = Literal["sandbox", "production"]
Group = Literal["app", "qbo", "postgres"]

API_BASE = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
}
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"

HOW = "(env var or Mage secret)"
# Which variables each caller group needs. `app` is enough for `qbo-ingest auth`.
REQUIRED: dict[str, tuple[str, ...]] = {
    "app": ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET"),
    "qbo": ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REALM_ID", "QBO_ENTORNO"),
    "postgres": ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD"),
}
NAMES = (
    "QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REFRESH_TOKEN", "QBO_REALM_ID", "QBO_ENTORNO",
    "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_PORT", "POSTGRES_DB",
    "QBO_DATABASE_URL", "QBO_API_BASE_URL", "QBO_TOKEN_URL", "QBO_AUTHORIZE_URL", "QBO_REVOKE_URL",
    "QBO_RETRY_BASE_SECONDS", "QBO_LOADER_PASSWORD", "QBO_ANALYST_PASSWORD", "QBO_TOKEN_KEY",
    "QBO_MONTHLY_CALL_BUDGET", "QBO_DBT_BIN", "QBO_DBT_PROJECT_DIR",
)
DEFAULT_RETRY_BASE_S = 2.0
_ASCII_DIGITS = re.compile(r"[0-9]{1,5}")
_REALM = re.compile(r"[1-9][0-9]{0,24}")  # QBO company ids: ASCII digits, no leading zero, never 0

SecretLookup = Callable[[str], "str | None"]


class SettingsError(ConfigError):
    """A missing or invalid setting; the message is one line naming the variable and the fix."""


class Settings(BaseModel):
    """Everything the client and the warehouse need to connect. Immutable."""

    model_config = ConfigDict(frozen=True)

    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    realm_id: str | None = None
    entorno: Entorno = "sandbox"
    postgres_host: str | None = None
    postgres_user: str | None = None
    postgres_password: SecretStr | None = None
    postgres_port: int = 5432
    postgres_db: str = "postgres"
    database_url: SecretStr | None = None
    api_base_url: str = API_BASE["sandbox"]
    token_url: str = TOKEN_URL
    authorize_url: str = AUTHORIZE_URL
    revoke_url: str = REVOKE_URL
    # The first backoff wait; then x2 each retry (spec troubleshooting: raise it when `API Limit: 429`
    # is frequent). Default 2: waits 2, 4 .. 64 s.
    retry_base_seconds: float = DEFAULT_RETRY_BASE_S
    # Passwords `qbo-ingest db init` gives the roles it creates (None: leave an existing one unchanged).
    loader_password: SecretStr | None = None
    analyst_password: SecretStr | None = None
    # Key material for the token store's encryption (source/auth/sealing.py); None: QBO_CLIENT_SECRET.
    token_key: SecretStr | None = None
    # Metered QBO calls allowed per calendar month (UTC) before a run stops cleanly; None: no budget.
    # Intuit's Builder tier includes 500,000 CorePlus calls a month (past it, reads are blocked).
    monthly_call_budget: int | None = None
    # `qbo-ingest models build`: the dbt executable (dbt lives in a venv of its own: the Mage image sets
    # /opt/dbt/bin/dbt) and the dbt project directory; None: next to this interpreter / on PATH, and the
    # checkout's analytics/ (apps/analytics/models.py).
    dbt_bin: str | None = None
    dbt_project_dir: str | None = None

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        use_mage_secrets: bool = True,
        *,
        require: Iterable[Group] = ("qbo", "postgres"),
        secret_lookup: SecretLookup | None = None,
    ) -> Settings:
        """Read every variable (Mage secret first, then `env`, default `os.environ`) and validate it."""
        environ = os.environ if env is None else env
        lookup = secret_lookup if secret_lookup is not None else (_mage_lookup() if use_mage_secrets else None)

        def get(name: str) -> str | None:
            if lookup is not None:
                try:
                    value = lookup(name)
                except Exception:  # a broken secrets backend must not hide the env value
                    value = None
                if value is not None and str(value).strip():
                    return str(value).strip()
            value = environ.get(name)
            return value.strip() if value is not None and value.strip() else None

        raw = {name: get(name) for name in NAMES}
        for name in _required_names(require):
            if raw[name] is None and not _satisfied_otherwise(name, raw):
                raise SettingsError(f"{name} is not set: set it {HOW}")
        entorno = _entorno(raw["QBO_ENTORNO"])
        port = _port(raw["POSTGRES_PORT"])
        urls = _urls(raw, entorno)
        realm = _realm(raw["QBO_REALM_ID"])
        retry_base = _retry_base(raw["QBO_RETRY_BASE_SECONDS"])
        monthly_budget = _monthly_budget(raw["QBO_MONTHLY_CALL_BUDGET"])
        for name in ("QBO_CLIENT_SECRET", "QBO_REFRESH_TOKEN", "POSTGRES_PASSWORD", "QBO_DATABASE_URL",
                     "QBO_LOADER_PASSWORD", "QBO_ANALYST_PASSWORD", "QBO_TOKEN_KEY"):
            register_secret(raw[name])

        def secret(name: str) -> SecretStr | None:
            value = raw[name]
            return SecretStr(value) if value is not None else None

        return cls(
            client_id=raw["QBO_CLIENT_ID"],
            client_secret=secret("QBO_CLIENT_SECRET"),
            refresh_token=secret("QBO_REFRESH_TOKEN"),
            realm_id=realm,
            entorno=entorno,
            postgres_host=raw["POSTGRES_HOST"],
            postgres_user=raw["POSTGRES_USER"],
            postgres_password=secret("POSTGRES_PASSWORD"),
            postgres_port=port,
            postgres_db=raw["POSTGRES_DB"] or "postgres",
            database_url=secret("QBO_DATABASE_URL"),
            api_base_url=urls["QBO_API_BASE_URL"],
            token_url=urls["QBO_TOKEN_URL"],
            authorize_url=urls["QBO_AUTHORIZE_URL"],
            revoke_url=urls["QBO_REVOKE_URL"],
            retry_base_seconds=retry_base,
            loader_password=secret("QBO_LOADER_PASSWORD"),
            analyst_password=secret("QBO_ANALYST_PASSWORD"),
            token_key=secret("QBO_TOKEN_KEY"),
            monthly_call_budget=monthly_budget,
            dbt_bin=raw["QBO_DBT_BIN"],
            dbt_project_dir=raw["QBO_DBT_PROJECT_DIR"],
        )

    def token_key_material(self) -> str | None:
        """What the token store's key is derived from: QBO_TOKEN_KEY, else QBO_CLIENT_SECRET."""
        for value in (self.token_key, self.client_secret):
            if value is not None and value.get_secret_value():
                return value.get_secret_value()
        return None

    def dsn(self) -> str:
        """Connection string for psycopg; `QBO_DATABASE_URL` wins. Contains the password: never print it."""
        if self.database_url is not None:
            url = self.database_url.get_secret_value()
            try:
                conninfo_to_dict(url)
            except psycopg.ProgrammingError:  # the message may quote the password: not shown
                raise SettingsError(
                    "QBO_DATABASE_URL is invalid: give postgresql://USER:PASSWORD@HOST:5432/DB "
                    "(or a 'host=... dbname=...' conninfo)"
                ) from None
            return url
        missing = [
            n for n, v in (("POSTGRES_HOST", self.postgres_host), ("POSTGRES_USER", self.postgres_user))
            if not v
        ]
        if missing:
            raise SettingsError(f"{missing[0]} is not set: set it {HOW} or give QBO_DATABASE_URL")
        return make_conninfo(
            host=self.postgres_host,
            port=self.postgres_port,
            user=self.postgres_user,
            password=self.postgres_password.get_secret_value() if self.postgres_password else None,
            dbname=self.postgres_db,
        )

    def require_qbo(self) -> None:
        """Raise the one-line error for the first QBO setting the client cannot work without."""
        for name, value in (
            ("QBO_CLIENT_ID", self.client_id),
            ("QBO_CLIENT_SECRET", self.client_secret),
            ("QBO_REALM_ID", self.realm_id),
        ):
            if not value:
                raise SettingsError(f"{name} is not set: set it {HOW}")


def _entorno(raw: str | None) -> Entorno:
    value = (raw or "sandbox").lower()
    if value == "sandbox":
        return "sandbox"
    if value == "production":
        return "production"
    raise SettingsError(f"QBO_ENTORNO={raw!r} is invalid: set it to 'sandbox' or 'production' {HOW}")


def _port(raw: str | None) -> int:
    text = raw or "5432"
    # int() would take fullwidth or Arabic-Indic digits: only ASCII digits are a port
    if _ASCII_DIGITS.fullmatch(text) and 0 < int(text) < 65536:
        return int(text)
    raise SettingsError(f"POSTGRES_PORT={text[:20]!r} is invalid: set it to a port number such as 5432 {HOW}")


def _urls(raw: Mapping[str, str | None], entorno: str) -> dict[str, str]:
    urls = {}
    for name, default in (
        ("QBO_API_BASE_URL", API_BASE[entorno]),
        ("QBO_TOKEN_URL", TOKEN_URL),
        ("QBO_AUTHORIZE_URL", AUTHORIZE_URL),
        ("QBO_REVOKE_URL", REVOKE_URL),
    ):
        value = raw[name] or default
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018  (raises ValueError for a port outside 0-65535)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            ok = False
        if not ok:
            raise SettingsError(f"{name}={value[:60]!r} is invalid: set it to an http(s) URL such as {default} {HOW}")
        urls[name] = value.rstrip("/")
    return urls


def _realm(realm: str | None) -> str | None:
    if realm is not None and not _REALM.fullmatch(realm):
        raise SettingsError(
            f"QBO_REALM_ID={realm[:30]!r} is invalid: set it to the numeric company id shown in QBO "
            f"(Settings > Account and settings > Billing & subscription) {HOW}"
        )
    return realm


def _retry_base(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_RETRY_BASE_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 300:
        raise SettingsError(f"QBO_RETRY_BASE_SECONDS={raw[:20]!r} is invalid: give seconds between 0 and 300, "
                            f"e.g. 2 {HOW}")
    return value


def _monthly_budget(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        value = int(raw.replace("_", "").replace(",", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(f"QBO_MONTHLY_CALL_BUDGET={raw[:20]!r} is invalid: give a whole number of calls "
                            f"per month, e.g. 450000 (Intuit's Builder tier includes 500000) {HOW}")
    return value


def _required_names(groups: Iterable[str]) -> list[str]:
    out: list[str] = []
    for group in groups:
        if group not in REQUIRED:
            raise ValueError(f"unknown settings group {group!r}; valid: {', '.join(REQUIRED)}")
        out.extend(n for n in REQUIRED[group] if n not in out)
    return out


def _satisfied_otherwise(name: str, raw: Mapping[str, str | None]) -> bool:
    # QBO_DATABASE_URL replaces the POSTGRES_* variables; an explicit API base URL (the emulator) makes
    # QBO_ENTORNO irrelevant.
    if name.startswith("POSTGRES_") and raw.get("QBO_DATABASE_URL"):
        return True
    return name == "QBO_ENTORNO" and bool(raw.get("QBO_API_BASE_URL"))


def _mage_lookup() -> SecretLookup | None:
    """Mage's `get_secret_value` when running inside Mage (mage_ai already imported), else None.

    Importing mage_ai outside Mage is slow and has side effects, so it is only used when present.
    """
    if "mage_ai" not in sys.modules:
        return None
    try:
        from mage_ai.data_preparation.shared.secrets import get_secret_value
    except Exception:
        return None

    def lookup(name: str) -> str | None:
        value = get_secret_value(name)
        return None if value is None else str(value)

    return lookup
