"""Query endpoint, read by Id and unknown routes, as Intuit documents them (source per case)."""

from __future__ import annotations

from datetime import date

import pytest

from ..conftest import Factory
from . import sources as S

DAYS = {"profile_overrides": {"Invoice": {"2024-01-10": 7, "default": 0}, "Customer": {"2023-01-01": 5},
                              "Item": {"2023-01-01": 6}},
        "update_fraction": 0.0, "delete_fraction": 0.0, "data_end": date(2024, 1, 31)}
WHERE = "WHERE {f} >= '2024-01-10T00:00:00Z' AND {f} < '2024-01-11T00:00:00Z'"


def _fault(body: dict[str, object]) -> dict[str, str]:
    fault = body["Fault"]
    assert isinstance(fault, dict) and fault["type"] == "ValidationFault"
    err = fault["Error"][0]
    assert set(err) >= {"Message", "Detail", "code"}
    return err  # type: ignore[no-any-return]


@S.cites(S.DATA_QUERIES, S.DATA_QUERIES_OLD, S.BLOG_QUERIES_2023)
@pytest.mark.parametrize("spelling", [
    "Metadata.LastUpdatedTime",  # S.DATA_QUERIES_OLD: its sample URI writes `Metadata.LastUpdatedTime`
    "metadata.lastupdatedtime",  # S.BLOG_QUERIES_2023: `ORDERBY metadata.lastupdatedtime DESC`
    "METADATA.LASTUPDATEDTIME",
])
def test_property_names_are_case_insensitive(make_api: Factory, spelling: str) -> None:
    """S.DATA_QUERIES: only the entity name is "Case sensitive"; property names are matched in any case."""
    api = make_api(**DAYS)
    exact = api.ok(f"SELECT * FROM Invoice {WHERE.format(f='MetaData.LastUpdatedTime')} ORDERBY Id")
    other = api.ok(f"SELECT * FROM Invoice {WHERE.format(f=spelling)} ORDERBY {spelling}")
    ids = [r["Id"] for r in exact["QueryResponse"]["Invoice"]]
    assert len(ids) == 7
    assert sorted(r["Id"] for r in other["QueryResponse"]["Invoice"]) == sorted(ids)
    # S.BLOG_QUERIES_2023: `WHERE active = true` on Customer
    assert api.ok("SELECT COUNT(*) FROM Customer WHERE active = true")["QueryResponse"]["totalCount"] >= 1


@S.cites(S.COMMON_ERRORS)
@pytest.mark.parametrize("statement", [
    "SELECT * FROM Invoice WHERE Nonsense = 'x'",
    "SELECT COUNT(*) FROM Invoice WHERE Nonsense = 'x'",
    "SELECT * FROM Invoice ORDERBY Nonsense",
    "SELECT Nonsense FROM Invoice",
])
def test_unknown_property_is_a_400_validation_fault(make_api: Factory, statement: str) -> None:
    """S.COMMON_ERRORS: the Fault JSON shape; "Property X not found for Entity Y" as reported by independent
    clients (the exact code 4001 is unconfirmed)."""
    api = make_api(**DAYS)
    r = api.query(statement)
    assert r.status_code == 400
    err = _fault(r.json())
    assert "QueryValidationError" in err["Detail"] and "Property Nonsense not found for Entity Invoice" in err["Detail"]


@S.cites(S.DATA_QUERIES)
def test_entity_names_stay_case_sensitive(make_api: Factory) -> None:
    """S.DATA_QUERIES: the entity name is "Case sensitive"."""
    r = make_api(**DAYS).query("SELECT * FROM invoice")
    assert r.status_code == 400 and "QueryParserError" in _fault(r.json())["Detail"]


@S.cites(S.DATA_QUERIES_OLD)
def test_select_list_returns_only_those_fields(make_api: Factory) -> None:
    """S.DATA_QUERIES_OLD: a response can have `sparse` true "if not all properties of the entity are in the
    response"; the select list itself follows the issue's probe `SELECT Id, MetaData FROM Customer`."""
    api = make_api(**DAYS)
    rows = api.ok("SELECT Id, MetaData FROM Customer")["QueryResponse"]["Customer"]
    assert len(rows) == 5
    for r in rows:
        assert set(r) == {"Id", "MetaData", "domain", "sparse"} and r["sparse"] is True
        assert set(r["MetaData"]) == {"CreateTime", "LastUpdatedTime"}
    nested = api.ok("SELECT id, metadata.lastupdatedtime FROM Customer")["QueryResponse"]["Customer"]
    assert all(set(r["MetaData"]) == {"LastUpdatedTime"} for r in nested)


def test_star_plus_a_field_returns_whole_objects(make_api: Factory) -> None:
    """`SELECT *, Sku FROM Item` (the issue's probe): every property, Sku included where the item has one."""
    api = make_api(**DAYS)
    full = api.ok("SELECT * FROM Item")["QueryResponse"]["Item"]
    plus = api.ok("SELECT *, Sku FROM Item")["QueryResponse"]["Item"]
    assert plus == full and any("Sku" in r for r in plus)


@S.cites(S.INVOICE_REF)
def test_read_by_id(make_api: Factory) -> None:
    """S.INVOICE_REF "Read an invoice": GET /v3/company/<realmID>/invoice/<invoiceId> -> {"Invoice": {...}, "time"}."""
    api = make_api(**DAYS)
    row = api.ok(f"SELECT * FROM Invoice {WHERE.format(f='MetaData.LastUpdatedTime')}")["QueryResponse"]["Invoice"][0]
    r = api.get(f"invoice/{row['Id']}", minorversion=75)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"Invoice", "time"} and body["Invoice"] == row
    cust = api.get("customer/1").json()
    assert cust["Customer"]["Id"] == "1"


@S.cites(S.COMMON_ERRORS)
def test_read_of_a_missing_id_is_object_not_found(make_api: Factory) -> None:
    """S.COMMON_ERRORS: error 610 "Object Not Found" (the 400 status is unconfirmed)."""
    r = make_api(**DAYS).get("invoice/999999999")
    assert r.status_code == 400 and _fault(r.json())["code"] == "610"


@S.cites(S.COMMON_ERRORS)
@pytest.mark.parametrize("path", ["/v3/company/{realm}/nonsense/1", "/v3/company/{realm}/reports", "/nothing",
                                  "/v3/company/{realm}/Invoice/1"])
def test_unknown_routes_answer_a_json_fault(make_api: Factory, path: str) -> None:
    """S.COMMON_ERRORS: every error body is a Fault (`Unsupported Operation`); never plain text."""
    api = make_api(**DAYS)
    r = api.http.get(path.format(realm=api.realm), headers=api.headers)
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert _fault(r.json())["Message"] == "Unsupported Operation"
