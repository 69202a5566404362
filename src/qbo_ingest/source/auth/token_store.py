"""Where refresh and access tokens live, so every thread and process uses the newest ones.

Intuit may rotate the refresh token on any refresh, and the old one may die at once. So a refresh is:
take a lock (a PostgreSQL advisory lock: works across threads AND processes), read the current refresh
token, call the token endpoint, persist what it returned, commit, and only then use the access token.
The access token is cached in the same row, so ten workers share one refresh instead of ten.

The stored refresh token wins over `QBO_REFRESH_TOKEN`, which only seeds the store: the environment
value is adopted when there is no stored token, or when it differs from the value last seeded (the
operator pasted a new token from the OAuth Playground). Tokens are stored in the state schema
`qbo_ingest` (the table is made by `qbo-ingest db init`: qbo_ingest/warehouse/sql/state.sql), never in
`raw`, which analysts read.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

import psycopg
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from qbo_ingest.errors import AuthError, ConfigError
from qbo_ingest.source.auth.oauth import OAuthSession, TokenSet
from qbo_ingest.source.auth.sealing import PREFIX, Sealer

log = logging.getLogger(__name__)

SCHEMA = "qbo_ingest"
TABLE = f"{SCHEMA}.oauth_tokens"
MISSING_REFRESH_MSG = (
    "no QBO refresh token: none is stored for realm {realm} and QBO_REFRESH_TOKEN is not set. "
    "Run `qbo-ingest auth` or get one in Intuit's OAuth 2.0 Playground, then set QBO_REFRESH_TOKEN "
    "(env or Mage secret)"
)


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float  # wall-clock epoch seconds
    obtained_at: float | None = None


@dataclass(frozen=True)
class StoredTokens:
    """One row of the store. Tokens are kept out of repr."""

    realm_id: str
    client_id: str
    refresh_token: str | None = field(default=None, repr=False)
    refresh_expires_at: float | None = None
    access_token: str | None = field(default=None, repr=False)
    access_obtained_at: float | None = None
    access_expires_at: float | None = None
    seed_sha256: str | None = None
    refreshes: int = 0
    rotations: int = 0


class TokenStore(Protocol):
    def access_token(
        self, realm_id: str, oauth: OAuthSession, *, seed_refresh_token: str | None = None,
        stale: str | None = None,
    ) -> AccessToken: ...

    def save(
        self, realm_id: str, client_id: str, tokens: TokenSet, *, seed_refresh_token: str | None = None
    ) -> None: ...

    def get(self, realm_id: str, client_id: str) -> StoredTokens | None: ...

    def bind_key(self, oauth: OAuthSession) -> None: ...


def _sha(value: str | None) -> str | None:
    return hashlib.sha256(value.encode()).hexdigest() if value else None


class _Txn:
    def __init__(self, row: StoredTokens | None) -> None:
        self.row = row
        self.new: StoredTokens | None = None
        self.used: str | None = None  # the refresh token the new row was obtained with


class _RotatingStore:
    """The rotation protocol; subclasses give a row read and a locked read-modify-write."""

    def __init__(self, *, wall_clock: Callable[[], float] = time.time, refresh_margin: float = 300.0) -> None:
        self._wall_clock = wall_clock
        self.refresh_margin = refresh_margin

    # subclass hooks
    def get(self, realm_id: str, client_id: str) -> StoredTokens | None:
        raise NotImplementedError

    def _locked(self, realm_id: str, client_id: str) -> Any:
        raise NotImplementedError

    def bind_key(self, oauth: OAuthSession) -> None:
        """A store that seals tokens takes its key from the client secret when it was given none."""

    def _usable(self, row: StoredTokens | None, stale: str | None) -> bool:
        if row is None or not row.access_token or row.access_expires_at is None:
            return False
        if stale is not None and row.access_token == stale:
            return False
        lifetime = row.access_expires_at - (row.access_obtained_at or row.access_expires_at - 3600)
        margin = min(self.refresh_margin, max(lifetime, 0) / 2)
        return row.access_expires_at - margin > self._wall_clock()

    def access_token(
        self,
        realm_id: str,
        oauth: OAuthSession,
        *,
        seed_refresh_token: str | None = None,
        stale: str | None = None,
    ) -> AccessToken:
        """A valid access token, refreshing (under the lock) only when needed.

        `stale` is the access token QBO just refused with 401: it is not handed back again.
        """
        client_id = oauth.client_id
        self.bind_key(oauth)
        row = self.get(realm_id, client_id)
        if self._usable(row, stale):
            assert row is not None and row.access_token and row.access_expires_at
            return AccessToken(row.access_token, row.access_expires_at, row.access_obtained_at)
        with self._locked(realm_id, client_id) as txn:
            row = txn.row
            if self._usable(row, stale):  # another worker refreshed while we waited for the lock
                assert row is not None and row.access_token and row.access_expires_at
                return AccessToken(row.access_token, row.access_expires_at, row.access_obtained_at)
            refresh, seed_sha = self._pick_refresh(realm_id, row, seed_refresh_token)
            txn.used = refresh
            tokens = oauth.refresh(refresh)
            base = row or StoredTokens(realm_id=realm_id, client_id=client_id)
            rotated = tokens.refresh_token != refresh
            txn.new = replace(
                base,
                refresh_token=tokens.refresh_token,
                refresh_expires_at=tokens.refresh_expires_at or base.refresh_expires_at,
                access_token=tokens.access_token,
                access_obtained_at=tokens.obtained_at,
                access_expires_at=tokens.expires_at,
                seed_sha256=seed_sha,
                refreshes=base.refreshes + 1,
                rotations=base.rotations + int(rotated),
            )
        if rotated:  # logged once the lock's transaction has committed
            log.info("QBO refresh token rotated for realm %s; new one stored before use", realm_id)
        # The lock's transaction has committed: only now is the new access token used.
        return AccessToken(tokens.access_token, tokens.expires_at, tokens.obtained_at)

    def _pick_refresh(
        self, realm_id: str, row: StoredTokens | None, seed: str | None
    ) -> tuple[str, str | None]:
        seed_sha = _sha(seed)
        stored = row.refresh_token if row else None
        if stored and (seed_sha is None or seed_sha == row.seed_sha256):  # type: ignore[union-attr]
            return stored, row.seed_sha256  # type: ignore[union-attr]
        if seed:
            if stored:
                log.info("QBO_REFRESH_TOKEN differs from the value last seeded: using the new one")
            return seed, seed_sha
        raise AuthError(MISSING_REFRESH_MSG.format(realm=realm_id), kind="no_refresh_token", next_step="")

    def save(
        self, realm_id: str, client_id: str, tokens: TokenSet, *, seed_refresh_token: str | None = None
    ) -> None:
        """Store tokens obtained elsewhere (the `auth` code flow). They win over the env value given."""
        with self._locked(realm_id, client_id) as txn:
            base = txn.row or StoredTokens(realm_id=realm_id, client_id=client_id)
            txn.new = replace(
                base,
                refresh_token=tokens.refresh_token,
                refresh_expires_at=tokens.refresh_expires_at,
                access_token=tokens.access_token,
                access_obtained_at=tokens.obtained_at,
                access_expires_at=tokens.expires_at,
                seed_sha256=_sha(seed_refresh_token),
            )


class MemoryTokenStore(_RotatingStore):
    """In-process store for unit tests and one-off scripts (not shared across processes)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._rows: dict[tuple[str, str], StoredTokens] = {}
        self._lock = threading.RLock()

    def get(self, realm_id: str, client_id: str) -> StoredTokens | None:
        with self._lock:
            return self._rows.get((realm_id, client_id))

    @contextmanager
    def _locked(self, realm_id: str, client_id: str) -> Iterator[_Txn]:
        with self._lock:
            txn = _Txn(self._rows.get((realm_id, client_id)))
            yield txn
            if txn.new is not None:
                self._rows[(realm_id, client_id)] = txn.new


def _ts(value: float | None) -> datetime | None:
    return datetime.fromtimestamp(value, tz=timezone.utc) if value is not None else None


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


_COLUMNS = (
    "realm_id, client_id, refresh_token, refresh_expires_at, access_token, access_obtained_at, "
    "access_expires_at, seed_sha256, refreshes, rotations"
)


class PostgresTokenStore(_RotatingStore):
    """Tokens in `qbo_ingest.oauth_tokens`, rotated under `pg_advisory_xact_lock` (threads + processes).

    Tokens are sealed (source/auth/sealing.py) with a key derived from `key_material` (Settings:
    QBO_TOKEN_KEY, else QBO_CLIENT_SECRET); without one, the client secret of the first refresh is used.
    If the connection breaks after Intuit answered a refresh and before the new tokens are committed,
    the write is retried on new connections (`persist_retry_s`), so a rotated refresh token is not lost
    to a database blip."""

    def __init__(self, dsn: str, *, key_material: str | None = None, lock_timeout_s: float = 120.0,
                 persist_retry_s: float = 60.0, **kw: Any) -> None:
        super().__init__(**kw)
        self._dsn = dsn
        self._lock_timeout_ms = int(lock_timeout_s * 1000)
        self._persist_retry_s = persist_retry_s
        self._sealer: Sealer | None = Sealer(key_material) if key_material else None

    def __repr__(self) -> str:
        return f"PostgresTokenStore(table={TABLE!r})"  # the DSN holds a password: never shown

    def bind_key(self, oauth: OAuthSession) -> None:
        if self._sealer is None:
            self._sealer = Sealer(oauth.key_material())

    def _open(self, value: str | None) -> str | None:
        if value and value.startswith(PREFIX):
            if self._sealer is None:
                raise ConfigError("the token store holds sealed tokens but has no key",
                                  next_step="set QBO_CLIENT_SECRET (or QBO_TOKEN_KEY) as for the load")
            return self._sealer.open(value)
        return value

    def _seal(self, value: str | None) -> str | None:
        if self._sealer is None:
            raise ConfigError("the token store has no key to seal tokens with",
                              next_step="set QBO_CLIENT_SECRET (or QBO_TOKEN_KEY)")
        return self._sealer.seal(value)

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection (committed on normal exit); a missing token table is a ConfigError saying to run
        `qbo-ingest db init`, not a database traceback."""
        try:
            with psycopg.connect(self._dsn, connect_timeout=30) as conn:
                yield conn
        except psycopg.errors.UndefinedTable:
            raise ConfigError(f"{TABLE} does not exist", next_step="run `qbo-ingest db init` as the database "
                              "admin (it creates the state schema)") from None

    def _row(self, rec: tuple[Any, ...] | None) -> StoredTokens | None:
        if rec is None:
            return None
        return StoredTokens(
            realm_id=rec[0], client_id=rec[1], refresh_token=self._open(rec[2]),
            refresh_expires_at=_epoch(rec[3]), access_token=self._open(rec[4]),
            access_obtained_at=_epoch(rec[5]), access_expires_at=_epoch(rec[6]),
            seed_sha256=rec[7], refreshes=rec[8], rotations=rec[9],
        )

    def get(self, realm_id: str, client_id: str) -> StoredTokens | None:
        with self._connect() as conn:
            rec = conn.execute(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE realm_id = %s AND client_id = %s",
                (realm_id, client_id),
            ).fetchone()
        return self._row(rec)

    def forget(self, realm_id: str) -> int:
        """Drop every stored token of a realm (the demo's emulator forgets its tokens on restart)."""
        with self._connect() as conn:
            return conn.execute(f"DELETE FROM {TABLE} WHERE realm_id = %s", (realm_id,)).rowcount

    def _lock_and_read(self, conn: psycopg.Connection[Any], realm_id: str, client_id: str) -> StoredTokens | None:
        conn.execute(f"SET LOCAL lock_timeout = {self._lock_timeout_ms}")
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     (f"qbo_ingest.oauth:{realm_id}:{client_id}",))
        rec = conn.execute(f"SELECT {_COLUMNS} FROM {TABLE} WHERE realm_id = %s AND client_id = %s",
                           (realm_id, client_id)).fetchone()
        return self._row(rec)

    @contextmanager
    def _locked(self, realm_id: str, client_id: str) -> Iterator[_Txn]:
        txn: _Txn | None = None
        try:
            with self._connect() as conn:  # commits on normal exit, rolls back on error
                txn = _Txn(self._lock_and_read(conn, realm_id, client_id))
                yield txn
                if txn.new is not None:
                    self._write(conn, txn.new)
        except psycopg.OperationalError:
            if txn is None or txn.new is None:
                raise
            self._persist_after_blip(txn)  # Intuit answered, the commit did not happen (or is unknown)

    def _persist_after_blip(self, txn: _Txn) -> None:
        """Store tokens Intuit already issued on new connections, unless the row moved on meanwhile."""
        new = txn.new
        assert new is not None
        log.warning("token store: the database connection broke while storing a refreshed QBO token; "
                    "storing it again (up to %.0f s)", self._persist_retry_s)
        for attempt in Retrying(stop=stop_after_delay(self._persist_retry_s), reraise=True,
                                wait=wait_exponential(multiplier=0.5, max=8),
                                retry=retry_if_exception_type(psycopg.OperationalError)):
            with attempt, self._connect() as conn:
                row = self._lock_and_read(conn, new.realm_id, new.client_id)
                current = row.refresh_token if row else None
                if current == new.refresh_token:
                    return  # the first commit did land
                if current not in (None, txn.used):
                    log.warning("token store: another process stored a newer refresh token; keeping it")
                    return
                self._write(conn, new)
        log.info("token store: refreshed QBO token stored after the database came back")

    def _write(self, conn: psycopg.Connection[Any], new: StoredTokens) -> None:
        conn.execute(
            f"INSERT INTO {TABLE} ({_COLUMNS}, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
            "ON CONFLICT (realm_id, client_id) DO UPDATE SET "
            "refresh_token = EXCLUDED.refresh_token, refresh_expires_at = EXCLUDED.refresh_expires_at, "
            "access_token = EXCLUDED.access_token, access_obtained_at = EXCLUDED.access_obtained_at, "
            "access_expires_at = EXCLUDED.access_expires_at, seed_sha256 = EXCLUDED.seed_sha256, "
            "refreshes = EXCLUDED.refreshes, rotations = EXCLUDED.rotations, updated_at = now()",
            (
                new.realm_id, new.client_id, self._seal(new.refresh_token), _ts(new.refresh_expires_at),
                self._seal(new.access_token), _ts(new.access_obtained_at), _ts(new.access_expires_at),
                new.seed_sha256, new.refreshes, new.rotations,
            ),
        )
