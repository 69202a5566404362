"""Limits and shapes of 2025-2026 as Intuit documents them (source per case)."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any

from ..conftest import Api, Factory, FakeClock
from . import sources as S

DATA = {"profile_overrides": {"Invoice": {"2024-01-10": 4, "default": 0}, "Customer": {"2023-01-01": 3},
                              "PurchaseOrder": {"2024-01-10": 2, "default": 0}},
        "data_end": date(2024, 1, 31)}


def _batch(api: Api) -> int:
    body = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT COUNT(*) FROM Invoice"}]}
    return api.http.post(f"/v3/company/{api.realm}/batch", json=body, headers=api.headers).status_code


@S.cites(S.LIMITS)
def test_batch_requests_are_capped_per_app_and_per_realm(make_api: Factory) -> None:
    """LIMITS: batch "Throttled at 40 Batch requests per minute, per realm ID and app" and "120 Batch
    requests per minute per realm ID"."""
    api = make_api(throttle=True, per_second=10_000, **DATA)
    codes = [_batch(api) for _ in range(41)]
    assert codes[:40] == [200] * 40 and codes[40] == 429
    api2 = make_api(throttle=True, per_second=10_000, batch_per_minute=1000, **DATA)
    codes2 = [_batch(api2) for _ in range(121)]
    assert codes2[:120] == [200] * 120 and codes2[120] == 429


@S.cites(S.LIMITS, S.BUILDER_TIER_2026)
def test_monthly_metered_cap_blocks_until_next_month(make_api: Factory, clock: FakeClock) -> None:
    """LIMITS: calls beyond the Builder tier's monthly limit "will be throttled and an HTTP 429 error will be
    returned"; BUILDER_TIER_2026: they are "blocked until the following month". Its body is unconfirmed: the
    emulator keeps the throttle code and says so in the detail (no Retry-After)."""
    clock.t = datetime(2026, 11, 27, 20, 0, tzinfo=timezone.utc)
    api = make_api(monthly_call_cap=5, **DATA)
    for _ in range(4):
        assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200
    assert _batch(api) == 200  # the 5th metered call
    r = api.query("SELECT COUNT(*) FROM Invoice")
    assert r.status_code == 429 and "Retry-After" not in r.headers
    err = r.json()["Fault"]["Error"][0]
    assert "Monthly API call limit" in err["Detail"] and "2026-12-01" in err["Detail"]
    assert err["Detail"] != "The request limit was reached.  Try again later"  # not the throttle's body
    api.refresh()  # OAuth is not metered
    assert api.emu.counters()["metered_blocked"] == 1
    clock.t = datetime(2026, 12, 1, 0, 0, 1, tzinfo=timezone.utc)
    api.refresh()
    assert api.query("SELECT COUNT(*) FROM Invoice").status_code == 200


def _walk(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [*obj, *(k for v in obj.values() for k in _walk(v))]
    if isinstance(obj, list):
        return [k for v in obj for k in _walk(v)]
    return []


@S.cites(S.ADDRESS_CHANGES_2025)
def test_addresses_use_iso3_countries_and_no_lat_long(make_api: Factory) -> None:
    """Intuit's 2025 change (as summarised by ADDRESS_CHANGES_2025): Country in CompanyAddr,
    CustomerCommunicationAddr and LegalAddr is ISO 3-letter (`USA`); Lat/Long are no longer returned."""
    api = make_api(**DATA)
    info = api.get(f"companyinfo/{api.realm}").json()["CompanyInfo"]
    for key in ("CompanyAddr", "CustomerCommunicationAddr", "LegalAddr"):
        assert info[key]["Country"] == "USA"
    bodies = [info, api.ok("SELECT * FROM Invoice"), api.ok("SELECT * FROM Customer")]
    assert not {"Lat", "Long"} & {k for b in bodies for k in _walk(b)}


@S.cites(S.CUSTOM_FIELDS_LEGACY, S.CUSTOM_FIELDS)
def test_include_enhanced_all_custom_fields(make_api: Factory) -> None:
    """CUSTOM_FIELDS_LEGACY: by default only the first three String custom fields are returned;
    CUSTOM_FIELDS: `?minorversion=70&include=enhancedAllCustomFields` returns every custom field (the
    non-string value shapes are unconfirmed)."""
    api = make_api(**DATA)
    plain = api.ok("SELECT * FROM Invoice")["QueryResponse"]["Invoice"]
    every = api.get("query", query="SELECT * FROM Invoice", minorversion=75,
                    include="enhancedAllCustomFields").json()["QueryResponse"]["Invoice"]
    assert [r["Id"] for r in plain] == [r["Id"] for r in every]
    for a, b in zip(plain, every, strict=True):
        assert len(a["CustomField"]) == 3 and all(f["Type"] == "StringType" for f in a["CustomField"])
        assert b["CustomField"][:3] == a["CustomField"] and len(b["CustomField"]) > 3
        assert {k: v for k, v in a.items() if k != "CustomField"} == {k: v for k, v in b.items() if k != "CustomField"}
    one = api.get(f"invoice/{plain[0]['Id']}", include="enhancedAllCustomFields").json()["Invoice"]
    assert json.dumps(one, sort_keys=True) == json.dumps(every[0], sort_keys=True)
    po = api.ok("SELECT * FROM PurchaseOrder")["QueryResponse"]["PurchaseOrder"]
    assert all(len(r["CustomField"]) == 3 for r in po)
