"""Statements from Intuit's query documentation and blog posts, sent as written (source per case)."""

from __future__ import annotations

from datetime import date

import pytest

from ..conftest import Factory
from . import sources as S

DATA = {"profile": "demo", "seed": 8, "data_start": date(2024, 1, 1), "data_end": date(2024, 1, 31)}


@S.cites(S.BLOG_QUERIES_2023)
def test_blog_2023_active_customers_newest_first(make_api: Factory) -> None:
    """BLOG_QUERIES_2023: `SELECT * FROM Customer WHERE active = true ORDERBY metadata.lastupdatedtime DESC`
    (the URL-encoded form in the post spells the properties in lower case)."""
    api = make_api(**DATA)
    rows = api.ok("SELECT * FROM Customer WHERE active = true ORDERBY metadata.lastupdatedtime DESC")[
        "QueryResponse"]["Customer"]
    assert rows and all(r["Active"] is True for r in rows)
    stamps = [r["MetaData"]["LastUpdatedTime"] for r in rows]
    assert stamps == sorted(stamps, reverse=True)


@S.cites(S.BLOG_QUERIES_2017)
def test_blog_2017_quoted_multi_word_value(make_api: Factory) -> None:
    """BLOG_QUERIES_2017: surround multi-word names with single quotes,
    `SELECT * FROM Customer WHERE CompanyName='Wild Garden Restaurant'`."""
    api = make_api(**DATA)
    first = api.ok("SELECT * FROM Customer WHERE CompanyName LIKE '%' MAXRESULTS 1")["QueryResponse"]["Customer"][0]
    name = first["CompanyName"].replace("'", "\\'")
    rows = api.ok(f"SELECT * FROM Customer WHERE CompanyName='{name}'")["QueryResponse"]["Customer"]
    assert [r["Id"] for r in rows] == [first["Id"]]
    # the blog's own example company does not exist here: an empty QueryResponse, not an error
    assert api.ok("SELECT * FROM Customer WHERE CompanyName='Wild Garden Restaurant'")["QueryResponse"] == {}


@S.cites(S.DATA_QUERIES)
@pytest.mark.parametrize("statement", [
    "SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'",  # "The OR operation isn't supported"
    "SELECT * FROM Invoice GROUP BY CustomerRef",  # GROUP BY is not supported
    "SELECT * FROM Customer, Invoice",  # "You can only query one entity at a time"
])
def test_unsupported_syntax_is_a_parser_error(make_api: Factory, statement: str) -> None:
    r = make_api(**DATA).query(statement)
    assert r.status_code == 400
    err = r.json()["Fault"]["Error"][0]
    assert r.json()["Fault"]["type"] == "ValidationFault" and "QueryParserError" in err["Detail"]


@S.cites(S.DATA_QUERIES)
def test_operators_and_values(make_api: Factory) -> None:
    """DATA_QUERIES: operators IN, =, <, >, <=, >=, LIKE (wildcard `%` only); values quoted, unquoted, true,
    false, and `(a, b)` lists for IN; count(*) "Returns a single value"."""
    api = make_api(**DATA)
    every = api.ok("SELECT * FROM Invoice MAXRESULTS 1000")["QueryResponse"]["Invoice"]
    big = [r["Id"] for r in every if r["TotalAmt"] > 500]
    assert sorted(r["Id"] for r in api.ok("SELECT * FROM Invoice WHERE TotalAmt > 500 MAXRESULTS 1000")[
        "QueryResponse"].get("Invoice", [])) == sorted(big)
    two = [every[0]["Id"], every[1]["Id"]]
    got = api.ok(f"SELECT * FROM Invoice WHERE Id IN ('{two[0]}', '{two[1]}')")["QueryResponse"]["Invoice"]
    assert sorted(r["Id"] for r in got) == sorted(two)
    doc = every[0]["DocNumber"]
    assert api.ok(f"SELECT * FROM Invoice WHERE DocNumber LIKE '{doc[:2]}%' MAXRESULTS 1000")[
        "QueryResponse"]["Invoice"]
    count = api.ok("SELECT count(*) FROM Invoice")["QueryResponse"]
    assert set(count) == {"totalCount"} and count["totalCount"] == len(every)


@S.cites(S.LIMITS)
def test_ten_requests_per_second_then_429(make_api: Factory) -> None:
    """LIMITS: 10 requests per second per realm ID and app; HTTP 429 when throttling occurs."""
    api = make_api(throttle=True, **DATA)  # the test clock stands still: every request is in one second
    codes = [api.query("SELECT COUNT(*) FROM Invoice").status_code for _ in range(11)]
    assert codes[:10] == [200] * 10 and codes[10] == 429
    assert "ThrottleExceeded" in api.query("SELECT COUNT(*) FROM Invoice").json()["Fault"]["Error"][0]["Message"]
