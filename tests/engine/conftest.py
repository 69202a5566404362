"""Engine fixtures: an emulator over real HTTP on 127.0.0.1 and settings pointing at it and at a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from qbo_ingest.backfill import Engine
from qbo_ingest.emulator import Emulator, EmulatorConfig, serve_in_thread
from qbo_ingest.settings import Settings


def settings_for(emu: Emulator, srv: Any, dsn: str, **extra: str) -> Settings:
    env = {
        "QBO_CLIENT_ID": emu.config.client_id,
        "QBO_CLIENT_SECRET": emu.config.client_secret,
        "QBO_REFRESH_TOKEN": emu.issue_refresh_token(),
        "QBO_REALM_ID": emu.config.realm_id,
        "QBO_ENTORNO": "sandbox",
        "QBO_API_BASE_URL": srv.base_url,
        "QBO_TOKEN_URL": srv.token_url,
        "QBO_AUTHORIZE_URL": srv.authorize_url,
        "QBO_REVOKE_URL": srv.revoke_url,
        "QBO_DATABASE_URL": dsn,
        **extra,
    }
    return Settings.load(env=env, use_mage_secrets=False)


def make_engine(settings: Settings, dsn: str, *, stack: ExitStack, **kw: Any) -> Engine:
    from qbo_ingest.qbo import QboClient
    from qbo_ingest.token_store import PostgresTokenStore

    client = QboClient(settings, token_store=PostgresTokenStore(dsn), sleep=lambda s: None)
    stack.callback(client.close)
    return Engine(client=client, dsn=dsn, realm_id=settings.realm_id or "", **kw)


@pytest.fixture
def qbo(pg_url: str) -> Iterator[Callable[..., tuple[Emulator, Engine, Settings]]]:
    """qbo(profile=..., **config) -> (emulator, engine, settings), all torn down after the test."""
    with ExitStack() as stack:

        def start(*, engine_kw: dict[str, Any] | None = None, **cfg: Any) -> tuple[Emulator, Engine, Settings]:
            cfg.setdefault("seed", 11)
            cfg.setdefault("profile", "sparse")
            emu = Emulator(EmulatorConfig(**cfg))
            srv = stack.enter_context(serve_in_thread(emu))
            settings = settings_for(emu, srv, pg_url)
            eng = make_engine(settings, pg_url, stack=stack, **(engine_kw or {}))
            return emu, eng, settings

        yield start
