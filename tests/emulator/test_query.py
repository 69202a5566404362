"""The query endpoint against the reference: grammar, errors, paging, COUNT, Active, shapes."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from qbo_ingest.local.emulator.core import QUERYABLE
from qbo_ingest.local.emulator.query import QueryError, parse

from .conftest import Factory, window

UTC = timezone.utc
DAY = "2024-01-10"
EXACT = {"update_fraction": 0.0, "delete_fraction": 0.0}


def invoices(n: int, day: str = DAY) -> dict[str, object]:
    return {"profile_overrides": {"Invoice": {day: n}}, **EXACT}


# ---- grammar (pure) --------------------------------------------------------------------------
def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# Each statement with the whole query it must build: (entity, count, conditions, order, desc, start, max).
@pytest.mark.parametrize(("statement", "expected"), [
    ("SELECT * FROM Invoice", ("Invoice", False, [], None, False, 1, 100)),
    ("select * from Invoice where Id = '5'", ("Invoice", False, [("Id", "=", "5")], None, False, 1, 100)),
    ("SELECT COUNT(*) FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-01-01'",
     ("Invoice", True, [("MetaData.LastUpdatedTime", ">=", _ts("2024-01-01T00:00:00-08:00"))],
      None, False, 1, 100)),  # a date alone is Pacific midnight
    ("SELECT * FROM Customer WHERE Active IN (true, false) AND DisplayName LIKE 'Bill%' ORDERBY Id DESC",
     ("Customer", False, [("Active", "IN", (True, False)), ("DisplayName", "LIKE", "Bill%")], "Id", True, 1, 100)),
    ("SELECT * FROM Invoice ORDER BY MetaData.CreateTime ASC STARTPOSITION 11 MAXRESULTS 10",
     ("Invoice", False, [], "MetaData.CreateTime", False, 11, 10)),
    ("SELECT * FROM Invoice WHERE TotalAmt >= 10.5 AND TotalAmt < 1000 AND DocNumber = 'O\\'Brien'",
     ("Invoice", False, [("TotalAmt", ">=", 10.5), ("TotalAmt", "<", 1000), ("DocNumber", "=", "O'Brien")],
      None, False, 1, 100)),
    ("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > '2013-03-13T14:50:22-08:00'",
     ("Invoice", False, [("MetaData.LastUpdatedTime", ">", _ts("2013-03-13T22:50:22+00:00"))], None, False, 1, 100)),
    ("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime <= '2018-03-24T21:42:59Z';",
     ("Invoice", False, [("MetaData.LastUpdatedTime", "<=", _ts("2018-03-24T21:42:59+00:00"))],
      None, False, 1, 100)),
    ("SELECT * FROM Invoice STARTPOSITION 0 MAXRESULTS 1000", ("Invoice", False, [], None, False, 1, 1000)),
])
def test_grammar_accepts(statement: str, expected: tuple) -> None:
    q = parse(statement, QUERYABLE)
    entity, count, conditions, order, desc, start, max_results = expected
    assert (q.entity, q.count, q.order_field, q.descending, q.start, q.max_results) == (
        entity, count, order, desc, start, max_results)
    assert [c.key() for c in q.conditions] == conditions
    # 1000 == 1000.0 in Python: the kinds are checked too (an int stays an int, 10.5 a float, true a bool)
    assert [type(c.value) for c in q.conditions] == [type(v) for _, _, v in conditions]


def test_grammar_builds_the_query() -> None:
    q = parse("SELECT * FROM Customer WHERE Active IN (true,false) AND Balance > 0 "
              "ORDERBY MetaData.LastUpdatedTime DESC STARTPOSITION 3 MAXRESULTS 7", QUERYABLE)
    assert (q.entity, q.count, q.order_field, q.descending, q.start, q.max_results) == (
        "Customer", False, "MetaData.LastUpdatedTime", True, 3, 7)
    assert [(c.field, c.op, c.value) for c in q.conditions] == [("Active", "IN", (True, False)),
                                                                ("Balance", ">", 0)]
    assert parse("SELECT * FROM Invoice", QUERYABLE).max_results == 100  # the default


def test_time_literals_are_instants() -> None:
    a = parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-07-01T00:00:00-07:00'", QUERYABLE)
    b = parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-07-01T07:00:00Z'", QUERYABLE)
    c = parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-07-01T07:00:00+00:00'", QUERYABLE)
    assert a.conditions[0].value == b.conditions[0].value == c.conditions[0].value == datetime(
        2024, 7, 1, 7, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("statement", "fragment"), [
    ("SELECT FROM Invoice", 'Encountered "FROM"'),
    ("SELECT * FROM Invoice WHERE", "<EOF>"),
    ("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'", 'Encountered "OR"'),
    ("SELECT * FROM Invoice GROUP BY Id", 'Encountered "GROUP"'),
    ("SELECT * FROM invoice", "Entity 'invoice'"),
    ("DELETE FROM Invoice", 'Encountered "DELETE"'),
])
def test_grammar_rejects(statement: str, fragment: str) -> None:
    with pytest.raises(QueryError) as err:
        parse(statement, QUERYABLE)
    assert err.value.code == "4000"
    assert err.value.detail.startswith("QueryParserError: ")
    assert fragment in err.value.detail


# ---- over HTTP -------------------------------------------------------------------------------
def test_parser_error_is_intuit_fault(make_api: Factory) -> None:
    api = make_api()
    r = api.query("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'")
    assert r.status_code == 400
    body = r.json()
    assert set(body) == {"Fault", "time"}
    err = body["Fault"]["Error"][0]
    assert body["Fault"]["type"] == "ValidationFault"
    assert err["code"] == "4000" and err["Detail"].startswith("QueryParserError:")
    assert r.headers["intuit_tid"]


def test_maxresults_above_1000_is_an_error_not_a_cap(make_api: Factory) -> None:
    api = make_api(**invoices(5))
    r = api.query("SELECT * FROM Invoice MAXRESULTS 1001")
    assert r.status_code == 400
    err = r.json()["Fault"]["Error"][0]
    assert err["Detail"] == "QueryValidationError: value 1001 is too large. Max allowed value is 1000"
    r = api.query("SELECT * FROM Invoice MAXRESULTS 1500")
    assert "value 1500 is too large. Max allowed value is 1000" in r.json()["Fault"]["Error"][0]["Detail"]
    assert api.query("SELECT * FROM Invoice MAXRESULTS 1000").status_code == 200


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001])
def test_paging_edges(make_api: Factory, n: int) -> None:
    api = make_api(**invoices(n))
    where = window(DAY)
    count = api.ok(f"SELECT COUNT(*) FROM Invoice {where}")
    assert count["QueryResponse"] == {"totalCount": n}
    first = api.ok(f"SELECT * FROM Invoice {where} ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1 MAXRESULTS 1000")
    if n == 0:
        assert first["QueryResponse"] == {}
    else:
        qr = first["QueryResponse"]
        assert set(qr) == {"Invoice", "startPosition", "maxResults"}
        assert qr["startPosition"] == 1 and qr["maxResults"] == min(n, 1000) == len(qr["Invoice"])
    second = api.ok(f"SELECT * FROM Invoice {where} ORDERBY MetaData.LastUpdatedTime "
                    "STARTPOSITION 1001 MAXRESULTS 1000")
    if n > 1000:
        assert second["QueryResponse"]["maxResults"] == n - 1000
        assert second["QueryResponse"]["startPosition"] == 1001
    else:
        assert second["QueryResponse"] == {}
    assert "time" in second
    rows = api.all_pages(where)
    assert len(rows) == n == len({r["Id"] for r in rows})
    assert {r["Id"] for r in rows} == set(api.emu.truth("Invoice", datetime(2024, 1, 10, tzinfo=UTC),
                                                         datetime(2024, 1, 11, tzinfo=UTC)))


def test_empty_page_shape_and_time_offset(make_api: Factory) -> None:
    api = make_api()
    body = api.ok("SELECT * FROM Invoice")
    assert body["QueryResponse"] == {}
    assert body["time"].endswith("-08:00")  # November: Pacific standard time
    assert datetime.fromisoformat(body["time"]).astimezone(UTC) == datetime(2026, 11, 27, 20, tzinfo=UTC)


def test_post_query_with_application_text(make_api: Factory) -> None:
    api = make_api(**invoices(3))
    r = api.http.post(f"/v3/company/{api.realm}/query", params={"minorversion": 75},
                      content=f"SELECT * FROM Invoice {window(DAY)}",
                      headers={**api.headers, "Content-Type": "application/text"})
    assert r.status_code == 200
    assert r.json()["QueryResponse"]["maxResults"] == 3


def test_minorversion_below_75_served_and_tid_unique(make_api: Factory) -> None:
    api = make_api(**invoices(2))
    tids = set()
    for mv in ("3", "65", "75", None):
        params = {"query": "SELECT COUNT(*) FROM Invoice"} | ({"minorversion": mv} if mv else {})
        r = api.http.get(f"/v3/company/{api.realm}/query", params=params, headers=api.headers)
        assert r.status_code == 200 and r.json()["QueryResponse"]["totalCount"] == 2
        tids.add(r.headers["intuit_tid"])
    assert len(tids) == 4


def test_order_is_stable_with_ties_broken_by_id(make_api: Factory) -> None:
    # 3000 records in one day: many share a LastUpdatedTime second
    api = make_api(**invoices(3000))
    rows = api.all_pages(window(DAY), size=250)
    keys = [(datetime.fromisoformat(r["MetaData"]["LastUpdatedTime"]), int(r["Id"])) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == 3000
    assert len({k[0] for k in keys}) < len(keys)  # there were ties
    desc = api.ok(f"SELECT * FROM Invoice {window(DAY)} ORDERBY Id DESC MAXRESULTS 5")["QueryResponse"]["Invoice"]
    assert [int(r["Id"]) for r in desc] == sorted((k[1] for k in keys), reverse=True)[:5]


def test_filters_on_fields_and_like(make_api: Factory) -> None:
    api = make_api(profile="sparse", seed=3)
    customers = api.ok("SELECT * FROM Customer WHERE Active IN (true, false) MAXRESULTS 1000")["QueryResponse"]
    first = customers["Customer"][0]
    prefix = first["DisplayName"][:3]
    liked = api.ok(f"SELECT * FROM Customer WHERE Active IN (true, false) AND DisplayName LIKE '{prefix}%' "
                   "MAXRESULTS 1000")["QueryResponse"]["Customer"]
    assert first["Id"] in {c["Id"] for c in liked}
    assert all(c["DisplayName"].lower().startswith(prefix.lower()) for c in liked)
    one = api.ok(f"SELECT * FROM Customer WHERE Id = '{first['Id']}'")["QueryResponse"]
    assert one.get("Customer", [{}])[0].get("Id") in (first["Id"], None)  # None when that one is inactive
    some = api.ok("SELECT * FROM Invoice WHERE Id IN ('1', '2', '3')")["QueryResponse"]["Invoice"]
    assert {r["Id"] for r in some} <= {"1", "2", "3"} and some
    big = api.ok("SELECT * FROM Invoice WHERE MetaData.CreateTime < '2023-01-03' AND TotalAmt > 1000 "
                 "MAXRESULTS 1000")["QueryResponse"]["Invoice"]
    assert big and all(r["TotalAmt"] > 1000 for r in big)


def test_list_entities_hide_inactive_unless_asked(make_api: Factory) -> None:
    api = make_api(profile="sparse", seed=5, data_end=date(2023, 12, 31))
    default = api.ok("SELECT * FROM Customer MAXRESULTS 1000")["QueryResponse"]["Customer"]
    both = api.ok("SELECT * FROM Customer WHERE Active IN (true, false) MAXRESULTS 1000")["QueryResponse"]["Customer"]
    inactive = api.ok("SELECT * FROM Customer WHERE Active = false MAXRESULTS 1000")["QueryResponse"]["Customer"]
    assert all(c["Active"] for c in default)
    assert inactive and not any(c["Active"] for c in inactive)
    assert len(both) == len(default) + len(inactive)
    assert api.ok("SELECT COUNT(*) FROM Customer")["QueryResponse"]["totalCount"] == len(default)
    # truth() counts list entities active AND inactive
    truth = api.emu.truth("Customer", datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert set(truth) == {c["Id"] for c in both}


def test_companyinfo_both_ways(make_api: Factory) -> None:
    api = make_api()
    direct = api.get(f"companyinfo/{api.realm}").json()["CompanyInfo"]
    queried = api.ok("SELECT * FROM CompanyInfo")["QueryResponse"]["CompanyInfo"][0]
    assert direct == queried and direct["CompanyName"] and direct["Id"] == "1"
    assert api.emu.counters()["companyinfo"] == 2


def test_batch_queries(make_api: Factory) -> None:
    api = make_api(**invoices(4))
    items = [{"bId": "a", "Query": "SELECT COUNT(*) FROM Invoice"},
             {"bId": "b", "Query": "SELECT * FROM Invoice MAXRESULTS 2"},
             {"bId": "c", "Query": "SELECT * FROM Nope"}]
    r = api.http.post(f"/v3/company/{api.realm}/batch", json={"BatchItemRequest": items}, headers=api.headers)
    assert r.status_code == 200
    out = {i["bId"]: i for i in r.json()["BatchItemResponse"]}
    assert out["a"]["QueryResponse"] == {"totalCount": 4}
    assert out["b"]["QueryResponse"]["maxResults"] == 2
    assert out["c"]["Fault"]["type"] == "ValidationFault"
    too_many = [{"bId": str(i), "Query": "SELECT * FROM Invoice"} for i in range(31)]
    r = api.http.post(f"/v3/company/{api.realm}/batch", json={"BatchItemRequest": too_many}, headers=api.headers)
    assert r.status_code == 400
    assert api.emu.counters()["batch"] == 2


def test_unknown_realm_is_a_fault(make_api: Factory) -> None:
    api = make_api()
    r = api.http.get("/v3/company/123/query", params={"query": "SELECT * FROM Invoice"}, headers=api.headers)
    assert r.status_code == 403
    assert "Unknown realm '123'" in r.json()["Fault"]["Error"][0]["Detail"]


def test_missing_token_is_lowercase_401(make_api: Factory) -> None:
    api = make_api()
    r = api.http.get(f"/v3/company/{api.realm}/query", params={"query": "SELECT * FROM Invoice"})
    assert r.status_code == 401
    body = r.json()
    assert body["fault"]["type"] == "AUTHENTICATION"
    assert body["fault"]["error"][0] == {
        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        "detail": "Token expired or invalid", "code": "3200"}
    assert "time" in body


def test_property_spelling_resolves_to_the_indexed_name() -> None:
    """`Metadata.LastUpdatedTime` (Intuit's sample spelling) becomes `MetaData.LastUpdatedTime` at parse time,
    so it takes the day-bounded scan instead of building payloads to compare (issue 14 item 1)."""
    q = parse("SELECT * FROM Invoice WHERE metadata.lastupdatedtime >= '2024-01-01T00:00:00Z' "
              "AND ID IN ('1', '2') ORDERBY METADATA.LASTUPDATEDTIME", QUERYABLE)
    assert [c.field for c in q.conditions] == ["MetaData.LastUpdatedTime", "Id"]
    assert q.order_field == "MetaData.LastUpdatedTime"
    with pytest.raises(QueryError) as err:
        parse("SELECT * FROM Invoice WHERE MetaData.Nope >= '2024-01-01'", QUERYABLE)
    assert err.value.detail == "QueryValidationError: Property MetaData.Nope not found for Entity Invoice"
