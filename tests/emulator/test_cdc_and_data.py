"""CDC per the reference, and the generated data: DST offsets, determinism, references, mutations."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from qbo_ingest.catalogue import CATALOGUE
from qbo_ingest.local.emulator import Emulator, EmulatorConfig
from qbo_ingest.local.emulator.capabilities import SCHEMA

from .conftest import NOW, Factory, FakeClock, window

UTC = timezone.utc
RECENT = "2026-11-20"  # within 30 days of the fake clock (2026-11-27 20:00Z)


def since(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- CDC -------------------------------------------------------------------------------------
def test_cdc_older_than_30_days_is_an_error(make_api: Factory) -> None:
    api = make_api()
    r = api.cdc("Invoice", since(31))
    assert r.status_code == 400
    assert r.json()["Fault"]["type"] == "ValidationFault"
    assert "30 days" in r.json()["Fault"]["Error"][0]["Detail"]
    assert api.cdc("Invoice", since(29)).status_code == 200


def test_cdc_unsupported_entities_are_errors(make_api: Factory) -> None:
    api = make_api()
    for name in [e.name for e in CATALOGUE if not e.cdc]:
        r = api.cdc(f"Invoice,{name}", since(1))
        assert r.status_code == 400, name
        assert name in r.json()["Fault"]["Error"][0]["Detail"]


def test_cdc_shape_updates_and_deleted_stubs(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {RECENT: 5}, "Customer": {RECENT: 2}},
                   update_fraction=0.0, delete_fraction=0.0)
    ids = sorted(api.emu.truth("Invoice", date(2026, 11, 20), date(2026, 11, 21)), key=int)
    assert len(ids) == 5
    api.emu.delete_record("Invoice", ids[0], at=NOW - timedelta(hours=2))
    api.emu.update_record("Invoice", ids[1], at=NOW - timedelta(hours=1))
    body = api.cdc("Invoice,Customer", since(10)).json()
    assert set(body) == {"CDCResponse", "time"}
    groups = body["CDCResponse"][0]["QueryResponse"]
    inv, cust = groups
    assert inv["startPosition"] == 1 and inv["maxResults"] == 5 and cust["maxResults"] == 2
    objs = {o["Id"]: o for o in inv["Invoice"]}
    stub = objs[ids[0]]
    assert stub == {"Id": ids[0], "status": "Deleted",
                    "MetaData": {"LastUpdatedTime": "2026-11-27T10:00:00-08:00"}}  # NOW - 2 h, Pacific
    assert objs[ids[1]]["SyncToken"] == "1"
    assert datetime.fromisoformat(objs[ids[1]]["MetaData"]["LastUpdatedTime"]) == NOW - timedelta(hours=1)
    # oldest change first
    changed = [datetime.fromisoformat(o["MetaData"]["LastUpdatedTime"]) for o in inv["Invoice"]]
    assert changed == sorted(changed)
    # the deleted invoice is gone from queries, and deleted() reports it
    assert ids[0] not in {r["Id"] for r in api.all_pages(window(RECENT))}
    assert api.emu.deleted("Invoice")[ids[0]] == NOW - timedelta(hours=2)


def test_cdc_caps_at_1000_objects_oldest_first(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {"2026-11-18": 700}, "Bill": {"2026-11-19": 600}},
                   update_fraction=0.0, delete_fraction=0.0)
    body = api.cdc("Bill,Invoice", since(20)).json()
    bills, invs = body["CDCResponse"][0]["QueryResponse"]
    assert invs["maxResults"] == 700 and len(invs["Invoice"]) == 700  # all of the older day
    assert bills["maxResults"] == 300  # truncated at 1000 in total
    newest_inv = max(datetime.fromisoformat(o["MetaData"]["LastUpdatedTime"]) for o in invs["Invoice"])
    oldest_bill = min(datetime.fromisoformat(o["MetaData"]["LastUpdatedTime"]) for o in bills["Bill"])
    assert newest_inv <= oldest_bill


def test_cdc_entity_without_changes(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {RECENT: 1}})
    groups = api.cdc("Invoice,Payment", since(10)).json()["CDCResponse"][0]["QueryResponse"]
    assert groups[0]["maxResults"] == 1 and groups[1] == {}


# ---- data ------------------------------------------------------------------------------------
def test_dst_offsets_and_instants(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {"2024-07-15": 3, "2024-01-15": 3}},
                   update_fraction=0.0, delete_fraction=0.0)
    for day, offset in (("2024-07-15", "-07:00"), ("2024-01-15", "-08:00")):
        rows = api.all_pages(window(day))
        assert len(rows) == 3
        for r in rows:
            for key in ("CreateTime", "LastUpdatedTime"):
                text = r["MetaData"][key]
                assert text.endswith(offset), text
                instant = datetime.fromisoformat(text)
                assert datetime.fromisoformat(day).replace(tzinfo=UTC) <= instant < \
                    datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
        truth = api.emu.truth("Invoice", datetime.fromisoformat(day).replace(tzinfo=UTC),
                              datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1))
        assert {r["Id"]: datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) for r in rows} == truth


def test_dst_transition_day_offsets() -> None:
    emu = Emulator(EmulatorConfig(profile="empty", profile_overrides={"Invoice": {"2024-03-10": 2000}},
                                  update_fraction=0.0, delete_fraction=0.0))
    q = emu.parse("SELECT * FROM Invoice WHERE MetaData.CreateTime >= '2024-03-10T00:00:00Z' "
                  "AND MetaData.CreateTime < '2024-03-11T00:00:00Z'")
    offsets = {}
    for rec in emu.store.select(q):
        text = emu.builder.build("Invoice", rec)["MetaData"]["CreateTime"]
        offsets[text[-6:]] = offsets.get(text[-6:], 0) + 1
        # DST starts 2024-03-10 10:00 UTC: before it -08:00, after it -07:00
        assert text.endswith("-08:00" if rec.ct < datetime(2024, 3, 10, 10, tzinfo=UTC).timestamp() else "-07:00")
    assert set(offsets) == {"-08:00", "-07:00"}


def _sample(seed: int) -> list[dict[str, object]]:
    emu = Emulator(EmulatorConfig(seed=seed, profile="sparse"))
    out = []
    for name in ("Invoice", "Customer", "Bill", "JournalEntry"):
        q = emu.parse(f"SELECT * FROM {name} WHERE MetaData.LastUpdatedTime >= '2025-05-01T00:00:00Z' "
                      "AND MetaData.LastUpdatedTime < '2025-05-03T00:00:00Z' AND Active IN (true, false)"
                      if name == "Customer" else
                      f"SELECT * FROM {name} WHERE MetaData.LastUpdatedTime >= '2025-05-01T00:00:00Z' "
                      "AND MetaData.LastUpdatedTime < '2025-05-03T00:00:00Z'")
        out.extend(emu.builder.build(name, r) for r in emu.store.select(q))
    return out


def test_same_seed_same_data_other_seed_different() -> None:
    a, b, c = _sample(11), _sample(11), _sample(12)
    assert a == b and len(a) > 40
    assert a != c


def test_references_point_at_existing_records(make_api: Factory) -> None:
    api = make_api(profile="sparse", seed=4, data_end=date(2023, 3, 31))
    customers = {c["Id"]: c["DisplayName"] for c in api.all_pages("WHERE Active IN (true, false)", "Customer",
                                                                  order="Id")}
    items = {i["Id"]: i["Name"] for i in api.all_pages("WHERE Active IN (true, false)", "Item", order="Id")}
    invoices = api.all_pages(window("2023-02-01"))
    assert len(invoices) >= 10
    for inv in invoices:
        ref = inv["CustomerRef"]
        assert customers[ref["value"]] == ref["name"]
        for line in inv["Line"]:
            if line["DetailType"] == "SalesItemLineDetail":
                item = line["SalesItemLineDetail"]["ItemRef"]
                assert items[item["value"]] == item["name"]
        assert isinstance(inv["TotalAmt"], (int, float)) and isinstance(inv["Id"], str)
        assert inv["Line"][-1]["DetailType"] == "SubTotalLineDetail"
        assert all(v is not None for v in inv.values())


@pytest.mark.parametrize("entity", [e.name for e in CATALOGUE])
def test_every_entity_is_served(make_api: Factory, entity: str) -> None:
    api = make_api(profile="demo", seed=2, data_end=date(2023, 1, 31))
    active = " AND Active IN (true, false)" if "Active" in SCHEMA.caps[entity].properties else ""
    body = api.ok(f"SELECT * FROM {entity} WHERE MetaData.LastUpdatedTime < '2023-02-15T00:00:00Z'{active}")
    rows = body["QueryResponse"][SCHEMA.caps[entity].key]  # CreditCardPayment: CreditCardPaymentTxn
    assert rows and all(set(r) >= {"Id", "SyncToken", "MetaData"} for r in rows)


def test_generated_updates_and_deletes_exist() -> None:
    emu = Emulator(EmulatorConfig(seed=1, profile="sparse", data_end=date(2023, 6, 30)))
    deleted = emu.deleted("Invoice")
    assert deleted
    all_time = emu.truth("Invoice", date(2022, 1, 1), date(2024, 1, 1))
    assert not set(deleted) & set(all_time)
    updated = [r for r in emu.store.candidates("Invoice", None, None, by_change=False) if r.lut > r.ct]
    assert updated and all(r.sync >= 1 for r in updated)


def test_update_record_moves_lut_and_synctoken(make_api: Factory, clock: FakeClock) -> None:
    api = make_api(profile_overrides={"Invoice": {"2024-05-01": 3}}, update_fraction=0.0, delete_fraction=0.0)
    rid = next(iter(api.emu.truth("Invoice", date(2024, 5, 1), date(2024, 5, 2))))
    api.emu.update_record("Invoice", rid)
    assert rid not in {r["Id"] for r in api.all_pages(window("2024-05-01"))}
    moved = api.ok(f"SELECT * FROM Invoice WHERE Id = '{rid}'")["QueryResponse"]["Invoice"][0]
    assert moved["SyncToken"] == "1"
    assert datetime.fromisoformat(moved["MetaData"]["LastUpdatedTime"]) == clock()
    assert api.emu.truth("Invoice", clock(), clock() + timedelta(seconds=1)) == {rid: clock()}


def test_mutate_between_pages_moves_rows_out_of_the_window(make_api: Factory) -> None:
    api = make_api(profile_overrides={"Invoice": {"2024-05-01": 250}}, update_fraction=0.0, delete_fraction=0.0)
    where = window("2024-05-01")
    api.emu.mutate_between_pages("Invoice", 10)
    first = api.ok(f"SELECT * FROM Invoice {where} ORDERBY Id STARTPOSITION 1 MAXRESULTS 100")
    assert first["QueryResponse"]["maxResults"] == 100
    assert len(api.emu.mutations) == 10
    assert api.ok(f"SELECT COUNT(*) FROM Invoice {where}")["QueryResponse"]["totalCount"] == 240
    rest = api.all_pages(where, order="Id", size=100)
    assert len(rest) == 240
    assert not {m[1] for m in api.emu.mutations} & {r["Id"] for r in rest}


def test_burst_day_is_lazy_and_pages() -> None:
    emu = Emulator(EmulatorConfig(seed=9, profile="burst"))
    bursts = emu.burst_days()
    day = bursts["Invoice"][0]
    q = emu.parse(f"SELECT COUNT(*) FROM Invoice WHERE MetaData.CreateTime >= '{day}T00:00:00Z' "
                  f"AND MetaData.CreateTime < '{day + timedelta(days=1)}T00:00:00Z'")
    n = len(emu.store.select(q))
    assert 95_000 <= n <= 100_000  # a few were hard-deleted
    assert emu.volumes.count("Invoice", emu.volumes.index(day)) == 100_000
    other = emu.volumes.count("Invoice", emu.volumes.index(day) + 1)
    assert 15 <= other <= 25


def test_fast_serializer_matches_objects_for_every_entity() -> None:
    import json

    emu = Emulator(EmulatorConfig(seed=3, profile="sparse", data_end=date(2023, 3, 31)))
    for ent in CATALOGUE:
        recs = list(emu.store.candidates(ent.name, None, None, by_change=False))[:150]
        assert recs, ent.name
        for r in recs:
            obj = emu.builder.build(ent.name, r)
            assert json.loads(emu.builder.build_json(ent.name, r)) == obj
            for key, value in obj.items():
                if key.endswith(("Ref", "Addr")) or key in ("CurrencyRef", "BillEmail", "TxnTaxDetail"):
                    assert isinstance(value, dict), (ent.name, key, value)


@pytest.mark.parametrize("entity", ["Invoice", "Customer", "Payment"])
def test_truth_equals_full_paged_query_with_updates_and_deletes(make_api: Factory, entity: str) -> None:
    api = make_api(profile="sparse", seed=21, data_end=date(2023, 4, 30))
    start, end = "2023-02-01T00:00:00Z", "2023-03-01T00:00:00Z"
    active = " AND Active IN (true, false)" if entity == "Customer" else ""
    rows = api.all_pages(f"WHERE MetaData.LastUpdatedTime >= '{start}' AND MetaData.LastUpdatedTime < '{end}'"
                         + active, entity, size=137)
    truth = api.emu.truth(entity, datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC))
    assert {r["Id"]: datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]) for r in rows} == truth
    assert len(rows) == len(truth) and truth
    if entity != "Customer":
        assert any(r["SyncToken"] != "0" for r in rows)  # some were edited after creation
        assert not set(api.emu.deleted(entity)) & set(truth)


def test_serve_forever_prints_what_a_client_needs() -> None:
    import subprocess
    import sys

    import httpx

    code = "from qbo_ingest.local.emulator import serve_forever; serve_forever(port=0, seed=3, profile='demo')"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        lines = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            if ":" in line and line.startswith("  "):
                key, _, value = line.strip().partition(":")
                lines[key.strip()] = value.strip()
            if line.startswith("Press Ctrl+C"):
                break
        assert set(lines) >= {"API base URL", "token URL", "realm id", "client id", "client secret", "refresh token"}
        for _ in range(100):
            try:
                r = httpx.post(lines["token URL"], auth=(lines["client id"], lines["client secret"]),
                               data={"grant_type": "refresh_token", "refresh_token": lines["refresh token"]})
                break
            except httpx.ConnectError:
                import time

                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["access_token"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_same_data_across_processes() -> None:
    """Seeds use blake2b, not Python's per-process salted hash()."""
    import os
    import subprocess
    import sys

    code = ("import hashlib, json; from qbo_ingest.local.emulator import Emulator, EmulatorConfig; "
            "e = Emulator(EmulatorConfig(seed=5, profile='sparse')); "
            "q = e.parse(\"SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-02-01T00:00:00Z' "
            "AND MetaData.LastUpdatedTime < '2024-02-03T00:00:00Z'\"); "
            "print(hashlib.sha256(e.builder.page_json('Invoice', e.store.select(q)).encode()).hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": hs}).stdout.strip()
        for hs in ("1", "2")
    }
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_data_end_of_today_is_refused_on_the_wall_clock():
    from qbo_ingest.local.emulator import EmulatorConfig

    today = datetime.now(timezone.utc).date()
    with pytest.raises(ValueError, match="must be before today"):
        EmulatorConfig(data_end=today)
