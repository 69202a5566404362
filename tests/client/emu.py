"""Helpers to run QboClient against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from qbo_ingest.local.emulator import Emulator, EmulatorConfig, RotationPolicy, serve_in_thread
from qbo_ingest.settings import Settings

REALM = "9341453000000001"


def emulator(**kw: Any) -> Emulator:
    cfg: dict[str, Any] = dict(seed=7, profile="sparse", realm_id=REALM, client_id="emu-client-id",
                               client_secret="emu-client-secret",
                               rotation=RotationPolicy(every_n=1, every_seconds=None, grace_seconds=0))
    cfg.update(kw)
    return Emulator(EmulatorConfig(**cfg))


@contextmanager
def running(emu: Emulator) -> Iterator[Any]:
    with serve_in_thread(emu) as srv:
        yield srv


def settings_for(emu: Emulator, srv: Any, *, refresh_token: str | None = None, dsn: str | None = None) -> Settings:
    env = {
        "QBO_CLIENT_ID": emu.cfg.client_id, "QBO_CLIENT_SECRET": emu.cfg.client_secret,
        "QBO_REALM_ID": emu.cfg.realm_id, "QBO_API_BASE_URL": srv.base_url, "QBO_TOKEN_URL": srv.token_url,
        "QBO_AUTHORIZE_URL": srv.authorize_url, "QBO_REVOKE_URL": srv.revoke_url,
    }
    if refresh_token:
        env["QBO_REFRESH_TOKEN"] = refresh_token
    if dsn:
        env["QBO_DATABASE_URL"] = dsn
    return Settings.load(env=env, use_mage_secrets=False, require=("qbo",))


def utc(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=timezone.utc)
