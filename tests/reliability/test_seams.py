"""The two knobs the reliability suite relies on: the fault-point seam and QBO_RETRY_BASE_SECONDS."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest
from rel_support import ROOT

from qbo_ingest import faultpoints
from qbo_ingest.errors import ConfigError, RetriesExhausted
from qbo_ingest.settings import Settings
from qbo_ingest.source.auth.token_store import AccessToken
from qbo_ingest.source.client import QboClient
from qbo_ingest.source.throttle import CircuitBreaker, NoLimit


def test_faultpoint_spec_is_checked():
    assert faultpoints.parse("upsert:7") == ("upsert", 7)
    for bad in ("upsert", "upsert:0", "upsert:x", "nowhere:1", ":3"):
        with pytest.raises(ValueError, match="QBO_INGEST_CRASH_AT"):
            faultpoints.parse(bad)


def test_hook_counts_each_point_and_is_removed():
    seen: list[tuple[str, int]] = []
    faultpoints.set_hook(lambda name, n: seen.append((name, n)))
    try:
        for name in ("fetch", "upsert", "fetch"):
            faultpoints.hit(name)
    finally:
        faultpoints.set_hook(None)
    faultpoints.hit("fetch")  # no hook, no env: nothing happens
    assert seen == [("fetch", 1), ("upsert", 1), ("fetch", 2)]


def test_crash_at_kills_the_process_at_the_nth_hit_only():
    code = "from qbo_ingest import faultpoints as f\nfor i in range(3):\n    print(i, flush=True); f.hit('fetch')\n"
    env = {"PYTHONPATH": str(ROOT / "src")}
    killed = subprocess.run([sys.executable, "-c", code], env={**env, "QBO_INGEST_CRASH_AT": "fetch:2"},
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9 and killed.stdout.split() == ["0", "1"]
    normal = subprocess.run([sys.executable, "-c", code], env={**env, "QBO_INGEST_CRASH_AT": "upsert:1"},
                            capture_output=True, text=True, timeout=60)
    assert normal.returncode == 0 and normal.stdout.split() == ["0", "1", "2"]


def _retry_base(env: dict[str, str]) -> float:
    return Settings.load(env=env, use_mage_secrets=False, require=()).retry_base_seconds


def test_retry_base_env():
    assert _retry_base({}) == 2.0
    assert _retry_base({"QBO_RETRY_BASE_SECONDS": "0.5"}) == 0.5
    for bad in ("abc", "-1", "301"):
        with pytest.raises(ConfigError, match="QBO_RETRY_BASE_SECONDS"):
            _retry_base({"QBO_RETRY_BASE_SECONDS": bad})


class _Store:
    def access_token(self, *a: object, **k: object) -> AccessToken:
        return AccessToken("tok", 4e9, 0.0)


@pytest.mark.parametrize(("base", "ladder"), [(None, [2, 4, 8, 16, 32, 64]), (0.5, [0.5, 1, 2, 4, 8, 16])])
def test_backoff_ladder_scales_with_the_base(base, ladder, monkeypatch):
    monkeypatch.delenv("QBO_RETRY_BASE_SECONDS", raising=False)
    s = Settings.load(env={"QBO_CLIENT_ID": "c", "QBO_CLIENT_SECRET": "s", "QBO_REALM_ID": "1",
                           "QBO_REFRESH_TOKEN": "r", "QBO_ENTORNO": "sandbox",
                           "QBO_DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}, use_mage_secrets=False)
    slept: list[float] = []
    transport = httpx.MockTransport(lambda req: httpx.Response(503, json={}))
    client = QboClient(s, _Store(), transport=transport, sleep=slept.append, limiter=NoLimit(),  # type: ignore[arg-type]
                       breaker=CircuitBreaker(threshold=100), retry_base_s=base)
    with client, pytest.raises(RetriesExhausted):
        client.query("SELECT * FROM Invoice")
    assert slept == ladder
