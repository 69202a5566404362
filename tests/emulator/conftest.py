"""Fixtures: an emulator served over real HTTP on 127.0.0.1 and a thin client for its API."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from qbo_ingest.local.emulator import Emulator, EmulatorConfig, RunningServer, serve_in_thread
from qbo_ingest.local.emulator.capabilities import SCHEMA

UTC = timezone.utc
NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)


class FakeClock:
    """An injectable `() -> aware datetime` that only moves when told to."""

    def __init__(self, start: datetime = NOW) -> None:
        self.t = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.t += timedelta(seconds=seconds)


class Api:
    """Just enough of a QBO client to exercise the emulator: token, query, cdc, raw requests."""

    def __init__(self, emu: Emulator, srv: RunningServer) -> None:
        self.emu = emu
        self.srv = srv
        self.realm = emu.cfg.realm_id
        self.http = httpx.Client(base_url=srv.base_url, timeout=20)
        self.auth = (emu.cfg.client_id, emu.cfg.client_secret)
        self.refresh_token = emu.issue_refresh_token()
        self.access_token = ""
        self.refresh()

    def token(self, **form: str) -> httpx.Response:
        return self.http.post(self.srv.token_url, data=form, auth=self.auth,
                              headers={"Accept": "application/json"})

    def refresh(self) -> dict[str, Any]:
        r = self.token(grant_type="refresh_token", refresh_token=self.refresh_token)
        assert r.status_code == 200, r.text
        body = r.json()
        self.refresh_token, self.access_token = body["refresh_token"], body["access_token"]
        return body

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/v3/company/{self.realm}/{path}", params=params, headers=self.headers)

    def query(self, statement: str) -> httpx.Response:
        return self.get("query", query=statement, minorversion=75)

    def ok(self, statement: str) -> dict[str, Any]:
        r = self.query(statement)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def all_pages(self, where: str, entity: str = "Invoice", size: int = 1000,
                  order: str = "MetaData.LastUpdatedTime") -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            page = self.ok(f"SELECT * FROM {entity} {where} ORDERBY {order} STARTPOSITION {start} MAXRESULTS {size}")
            got = page["QueryResponse"].get(SCHEMA.caps[entity].key, [])  # CreditCardPayment: ...Txn
            rows.extend(got)
            if len(got) < size:
                return rows
            start += size

    def cdc(self, entities: str, since: str) -> httpx.Response:
        return self.get("cdc", entities=entities, changedSince=since, minorversion=75)

    def close(self) -> None:
        self.http.close()


Factory = Callable[..., Api]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_api(clock: FakeClock) -> Iterator[Factory]:
    """`make_api(profile=..., **config)` -> Api against a fresh emulator on a free port."""
    started: list[tuple[RunningServer, Api]] = []

    def make(**config: Any) -> Api:
        config.setdefault("clock", clock)
        config.setdefault("profile", "empty")
        config.setdefault("throttle", False)  # the fake clock stands still; throttle tests turn it on
        emu = Emulator(EmulatorConfig(**config))
        srv = serve_in_thread(emu)
        api = Api(emu, srv)
        started.append((srv, api))
        return api

    yield make
    for srv, api in started:
        api.close()
        srv.stop()


def window(day: str) -> str:
    """WHERE clause for one UTC day, as the backfill sends it."""
    d = datetime.fromisoformat(day).replace(tzinfo=UTC)
    nxt = (d + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (f"WHERE MetaData.LastUpdatedTime >= '{d.strftime('%Y-%m-%dT%H:%M:%SZ')}' "
            f"AND MetaData.LastUpdatedTime < '{nxt}'")
