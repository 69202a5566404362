"""Test support shared by every test directory: an emulator over real HTTP on 127.0.0.1,
settings pointing at it and at a real PostgreSQL, and an engine with a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
from qbo_ingest.pipeline.engine import Engine
from qbo_ingest.settings import Settings


def settings_for(emu: Emulator, srv: Any, dsn: str, **extra: str) -> Settings:
    env = {**srv.client_env(dsn), **extra}
    return Settings.load(env=env, use_mage_secrets=False)


class FakeTime:
    """Monotonic clock that only moves when the client sleeps (or a test calls advance): backoff
    and the breaker's cool-down are exercised without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_engine(settings: Settings, dsn: str, *, stack: ExitStack, clock: FakeTime | None = None,
                **kw: Any) -> Engine:
    from qbo_ingest.source.auth.token_store import PostgresTokenStore
    from qbo_ingest.source.client import QboClient

    t = clock or FakeTime()
    client = QboClient(settings, token_store=PostgresTokenStore(dsn), sleep=t.sleep, clock=t)
    stack.callback(client.close)
    eng = Engine(client=client, dsn=dsn, realm_id=settings.realm_id or "", **kw)
    eng.fake_time = t  # type: ignore[attr-defined]  # tests move time forward (e.g. past a breaker cool-down)
    return eng


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
            eng = make_engine(settings, pg_url, stack=stack, clock=FakeTime(), **(engine_kw or {}))
            return emu, eng, settings

        yield start
