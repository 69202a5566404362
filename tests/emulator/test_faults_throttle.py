"""Throttling (500/min, 10/s per realm), every injectable fault, and the local /admin API."""

from __future__ import annotations

import json
from datetime import date

import httpx
import pytest

from .conftest import Factory, FakeClock, window

THROTTLE_ERROR = {"Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                  "Detail": "The request limit was reached.  Try again later", "code": "3001"}
COUNT = "SELECT COUNT(*) FROM Invoice"  # kind "count"
PAGE = "SELECT * FROM Invoice"  # kind "query": faults default to on="query"


def test_10_per_second(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(throttle=True)
    codes = [api.query(COUNT).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]
    r = api.query(COUNT)
    assert r.status_code == 429
    assert r.json()["Fault"] == {"Error": [THROTTLE_ERROR], "type": "SERVICE"}
    assert "Retry-After" not in r.headers
    assert api.emu.counters()["throttled"] == 2
    clock.advance(1.01)
    assert api.query(COUNT).status_code == 200


def test_500_per_minute(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(throttle=True, retry_after=60)
    for i in range(500):
        assert api.query(COUNT).status_code == 200, i
        clock.advance(0.115)  # 500 requests in 57.5 s: never 10 in one second
    r = api.query(COUNT)
    assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    assert api.emu.counters()["throttled"] == 1
    clock.advance(3)  # the oldest requests leave the minute window
    assert api.query(COUNT).status_code == 200


def test_throttle_off(make_api: Factory) -> None:
    api = make_api(throttle=False)
    assert {api.query(COUNT).status_code for _ in range(30)} == {200}


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_errors(make_api: Factory, kind: str) -> None:
    api = make_api()
    api.emu.faults.add(kind, on="query", at_requests=[2])
    codes = [api.query(PAGE).status_code for _ in range(3)]
    assert codes == [200, int(kind), 200]
    assert api.emu.counters()["faults"] == 1


def test_fault_bodies(make_api: Factory) -> None:
    api = make_api()
    api.emu.faults.add("500", count=1)
    assert api.query(PAGE).json()["Fault"]["type"] == "SystemFault"
    api.emu.faults.add("502", count=1)
    r = api.query(PAGE)
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    api.emu.faults.add("429", count=1)
    r = api.query(PAGE)
    assert r.status_code == 429 and r.json()["Fault"]["Error"][0] == THROTTLE_ERROR
    assert api.emu.counters()["throttled"] == 0 and api.emu.counters()["faults"] == 3


def test_fault200(make_api: Factory) -> None:
    api = make_api()
    api.emu.faults.add("fault200", count=1)
    r = api.query(PAGE)
    assert r.status_code == 200
    assert r.json()["Fault"]["Error"][0]["code"] == "10000"
    assert "QueryResponse" not in r.json()


def test_truncated(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {"2024-01-01": 50}}, update_fraction=0.0, delete_fraction=0.0)
    api.emu.faults.add("truncated", count=1)
    r = api.query(f"SELECT * FROM Invoice {window('2024-01-01')}")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert api.query(f"SELECT * FROM Invoice {window('2024-01-01')}").json()["QueryResponse"]["maxResults"] == 50


def test_reset_closes_the_connection(make_api: Factory) -> None:
    api = make_api()
    api.emu.faults.add("reset", count=1)
    with pytest.raises(httpx.TransportError):
        api.query(PAGE)
    assert api.query(PAGE).status_code == 200  # a new connection works


def test_slow(make_api: Factory) -> None:
    api = make_api()
    api.emu.faults.add("slow", count=1, seconds=1.5)
    with pytest.raises(httpx.ReadTimeout):
        api.http.get(f"/v3/company/{api.realm}/query", params={"query": PAGE}, headers=api.headers, timeout=0.3)
    assert api.query(PAGE).status_code == 200


def test_revoke_access_mid_run(make_api: Factory) -> None:
    api = make_api()
    api.emu.faults.add("revoke_access", on="query", at_requests=[2])
    assert api.query(PAGE).status_code == 200
    r = api.query(PAGE)
    assert r.status_code == 401 and r.json()["fault"]["type"] == "AUTHENTICATION"
    assert api.query(PAGE).status_code == 401  # the token stays revoked
    api.refresh()
    assert api.query(PAGE).status_code == 200


def test_faults_on_token_cdc_count_and_any(make_api: Factory) -> None:
    api = make_api()
    api.emu.faults.add("503", on="token", count=1)
    r = api.token(grant_type="refresh_token", refresh_token=api.refresh_token)
    assert r.status_code == 503
    api.refresh()
    api.emu.faults.add("500", on="cdc", count=1)
    assert api.cdc("Invoice", "2026-11-26T00:00:00Z").status_code == 500
    assert api.cdc("Invoice", "2026-11-26T00:00:00Z").status_code == 200
    api.emu.faults.add("500", on="count", count=1)
    assert api.query("SELECT * FROM Invoice").status_code == 200  # a page, not a count
    assert api.query(COUNT).status_code == 500
    total = api.emu.counters()["total"]
    api.emu.faults.add("503", on="any", at_requests=[total + 2])
    assert [api.query(COUNT).status_code for _ in range(3)] == [200, 503, 200]
    assert api.emu.counters()["faults"] == 4


def test_probability_is_seeded(make_api: Factory) -> None:
    patterns = []
    for _ in range(2):
        api = make_api()
        api.emu.faults.add("503", probability=0.5, seed=42)
        patterns.append([api.query(PAGE).status_code for _ in range(20)])
    assert patterns[0] == patterns[1]
    assert set(patterns[0]) == {200, 503}


def test_unknown_fault_kind() -> None:
    from qbo_ingest.local.emulator.faults import Faults

    with pytest.raises(ValueError, match="Unknown fault kind"):
        Faults().add("418")


def test_counters_by_kind(make_api: Factory) -> None:
    api = make_api()  # the fixture made one token request
    api.query(COUNT)
    api.query("SELECT * FROM Invoice")
    api.cdc("Invoice", "2026-11-26T00:00:00Z")
    c = api.emu.counters()
    assert (c["token"], c["count"], c["query"], c["cdc"], c["total"]) == (1, 1, 1, 1, 4)


def test_admin_api(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {"2024-02-02": 4}}, update_fraction=0.0, delete_fraction=0.0)
    admin = api.srv.admin_url
    truth = api.http.get(f"{admin}/truth", params={"entity": "Invoice", "start": "2024-02-02T00:00:00Z",
                                                    "end": "2024-02-03T00:00:00Z"}).json()
    assert truth["count"] == 4
    assert set(truth["records"]) == {r["Id"] for r in api.all_pages(window("2024-02-02"))}
    rt = api.http.get(f"{admin}/refresh-token").json()["refresh_token"]
    assert api.token(grant_type="refresh_token", refresh_token=rt).status_code == 200
    r = api.http.post(f"{admin}/faults", json={"kind": "500", "on": "query", "count": 1})
    assert r.status_code == 201
    assert api.query("SELECT * FROM Invoice").status_code == 500
    counters = api.http.get(f"{admin}/counters").json()
    assert counters["faults"] == 1 and counters["token"] == 2
    api.http.post(f"{admin}/reset-counters")
    assert api.http.get(f"{admin}/counters").json()["total"] == 0  # admin calls are not counted
    rid = next(iter(truth["records"]))
    assert api.http.post(f"{admin}/delete", json={"entity": "Invoice", "id": rid}).status_code == 200
    assert rid not in {r["Id"] for r in api.all_pages(window("2024-02-02"))}
    assert api.http.post(f"{admin}/faults", json={"kind": "nope"}).status_code == 400


def test_latency(make_api: Factory) -> None:
    import time

    api = make_api(latency_ms=150, jitter_ms=50)
    t = time.perf_counter()
    api.query(COUNT)
    assert time.perf_counter() - t >= 0.15


def test_serve_in_thread_urls(make_api: Factory) -> None:
    api = make_api(data_end=date(2023, 1, 2))
    srv = api.srv
    assert srv.base_url.startswith("http://127.0.0.1:")
    assert srv.token_url == srv.base_url + "/oauth2/v1/tokens/bearer"
    assert srv.authorize_url == srv.base_url + "/connect/oauth2"
    assert srv.revoke_url == srv.base_url + "/v2/oauth2/tokens/revoke"


def test_40_batch_requests_per_minute(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(throttle=True)
    body = {"BatchItemRequest": [{"bId": "1", "Query": COUNT}]}
    codes = []
    for _ in range(41):
        codes.append(api.http.post(f"/v3/company/{api.realm}/batch", json=body, headers=api.headers).status_code)
        clock.advance(0.5)
    assert codes == [200] * 40 + [429]
    assert api.query(COUNT).status_code == 200  # plain queries still have quota
