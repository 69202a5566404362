"""The emulator's query evaluation (local/emulator/query.py), pure: statements -> Query, time literals,
errors shaped like Intuit's, LIKE patterns. (Over HTTP: tests/emulator/test_query.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from qbo_ingest.local.emulator import query as q
from qbo_ingest.local.emulator.core import QUERYABLE

UTC = timezone.utc


@pytest.fixture(autouse=True)
def fresh_parse_cache() -> Iterator[None]:
    """`parse` is memoised: each test parses for itself (and a mutation run sees its own parser)."""
    q.parse.cache_clear()
    yield
    q.parse.cache_clear()


def parse(statement: str) -> q.Query:
    return q.parse(statement, QUERYABLE)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_the_whole_query_of_a_keyset_page() -> None:
    got = parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2025-10-15T00:00:00Z' AND "
                "MetaData.LastUpdatedTime < '2025-10-16T00:00:00Z' ORDERBY MetaData.LastUpdatedTime "
                "STARTPOSITION 1001 MAXRESULTS 1000")
    assert got == q.Query("Invoice", False, (
        q.Condition("MetaData.LastUpdatedTime", ">=", ts("2025-10-15T00:00:00+00:00")),
        q.Condition("MetaData.LastUpdatedTime", "<", ts("2025-10-16T00:00:00+00:00"))),
        "MetaData.LastUpdatedTime", False, 1001, 1000)
    assert got.filter_key() == ("Invoice", (("MetaData.LastUpdatedTime", ">=", ts("2025-10-15T00:00:00+00:00")),
                                            ("MetaData.LastUpdatedTime", "<", ts("2025-10-16T00:00:00+00:00"))),
                                "MetaData.LastUpdatedTime", False)
    assert got.has_condition("MetaData.LastUpdatedTime") and not got.has_condition("Active")


@pytest.mark.parametrize(("statement", "order", "desc"), [
    ("SELECT * FROM Invoice ORDERBY Id", "Id", False),
    ("SELECT * FROM Invoice ORDERBY Id ASC", "Id", False),
    ("SELECT * FROM Invoice ORDERBY Id desc", "Id", True),
    ("SELECT * FROM Invoice order by MetaData.CreateTime DESC", "MetaData.CreateTime", True),
    ("SELECT * FROM Invoice", None, False),
])
def test_order(statement: str, order: str | None, desc: bool) -> None:
    got = parse(statement)
    assert (got.order_field, got.descending) == (order, desc)


def test_values_keep_their_kind() -> None:
    got = parse("SELECT COUNT(*) FROM Customer WHERE Balance > -12.50 AND Balance <= 3 AND Active = TRUE AND "
                "Taxable = false AND DisplayName = 'O\\'Brien & Co' AND Id IN ('1', '2') "
                "AND DisplayName LIKE '%it\\'s%'")
    assert got.count is True and got.entity == "Customer"
    assert [c.key() for c in got.conditions] == [
        ("Balance", ">", -12.5), ("Balance", "<=", 3), ("Active", "=", True), ("Taxable", "=", False),
        ("DisplayName", "=", "O'Brien & Co"), ("Id", "IN", ("1", "2")), ("DisplayName", "LIKE", "%it's%")]
    assert [type(c.value) for c in got.conditions[:4]] == [float, int, bool, bool]


def test_paging_defaults_and_limits() -> None:
    assert (parse("SELECT * FROM Invoice").start, parse("SELECT * FROM Invoice").max_results) == (1, 100)
    assert parse("SELECT * FROM Invoice STARTPOSITION 0").start == 1
    assert parse("SELECT * FROM Invoice MAXRESULTS 1000").max_results == 1000
    assert parse("SELECT * FROM Invoice MAXRESULTS 0").max_results == 0
    with pytest.raises(q.QueryError) as err:
        parse("SELECT * FROM Invoice MAXRESULTS 1001")
    assert (err.value.code, err.value.message, err.value.detail) == (
        "4001", "Invalid query", "QueryValidationError: value 1001 is too large. Max allowed value is 1000")
    assert str(err.value) == err.value.detail
    assert (q.MAX_RESULTS, q.DEFAULT_MAX_RESULTS) == (1000, 100)


def test_time_literals_in_every_form_are_instants() -> None:
    same = ts("2024-07-01T07:00:00+00:00")
    for text in ("2024-07-01T00:00:00-07:00", "2024-07-01T07:00:00Z", "2024-07-01T07:00:00+00:00",
                 "2024-07-01T07:00:00+0000", "2024-07-01 07:00:00Z", "2024-07-01T00:00:00-0700",
                 "2024-07-01T00:00", "2024-07-01T00:00:00", " 2024-07-01T07:00Z "):
        assert q.parse_instant(text) == same, text
    assert q.parse_instant("2024-07-01") == same  # a date alone: midnight Pacific (PDT in July)
    assert q.parse_instant("2024-01-01") == ts("2024-01-01T08:00:00+00:00")  # PST in January
    assert q.parse_instant("2024-01-01T10:00:00.5Z") == ts("2024-01-01T10:00:00.500000+00:00")
    assert q.parse_instant("2024-01-01T10:00:00.123456789Z") == ts("2024-01-01T10:00:00.123456+00:00")
    assert q.parse_instant("2024-01-01T10:00:00.1-08:00") == ts("2024-01-01T18:00:00.100000+00:00")


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-07-01T25:00:00Z", "2024-07-01T07", "07/01/2024",
                                  "2024-07-01T07:00:00+25:00"])
def test_bad_time_literals_are_validation_faults(text: str) -> None:
    with pytest.raises(q.QueryError) as err:
        q.parse_instant(text)
    assert (err.value.code, err.value.detail) == ("4001", f"QueryValidationError: Invalid date/time value '{text}'")
    assert err.value.__cause__ is None


def test_an_unquoted_time_value_is_a_validation_fault() -> None:
    with pytest.raises(q.QueryError, match=r"MetaData\.LastUpdatedTime needs a quoted date/time value"):
        parse("SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime > 5")


def test_the_time_value_check_names_the_field() -> None:
    # what the Transformer raises for an unquoted time value (the xfail above: it is wrapped on the way out)
    with pytest.raises(q.QueryError) as err:
        q._condition("MetaData.CreateTime", "<", 5)
    assert (err.value.code, err.value.detail) == (
        "4001", "QueryValidationError: MetaData.CreateTime needs a quoted date/time value")
    assert q._condition("TotalAmt", "<", 5) == q.Condition("TotalAmt", "<", 5)


def test_time_fields_in_lists() -> None:
    got = parse("SELECT * FROM Invoice WHERE MetaData.CreateTime IN ('2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z')")
    assert got.conditions[0].value == (ts("2024-01-01T00:00:00+00:00"), ts("2024-01-02T00:00:00+00:00"))


@pytest.mark.parametrize(("statement", "detail"), [
    ("SELECT * FROM Invoice WHERE", 'QueryParserError: Encountered "<EOF>" at line 1, column 23.'),
    ("SELECT FROM Invoice", 'QueryParserError: Encountered "FROM" at line 1, column 8.'),
    ("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'", 'QueryParserError: Encountered "OR" at line 1, column 38.'),
    ("SELECT * FROM invoice", "QueryParserError: Entity 'invoice' is not supported or the name is misspelled "
                              "(entity names are case-sensitive)"),
    ("SELECT * FROM Invoice WHERE Id = 'x", 'QueryParserError: Encountered "\'x" at line 1, column 34.'),
])
def test_parser_errors_name_the_token_and_place(statement: str, detail: str) -> None:
    with pytest.raises(q.QueryError) as err:
        parse(statement)
    assert (err.value.code, err.value.message, err.value.detail) == ("4000", "Error parsing query", detail)


def test_a_trailing_semicolon_and_spaces_are_ignored() -> None:
    assert parse("  SELECT * FROM Invoice ;  ".strip()) == parse("SELECT * FROM Invoice")
    assert parse("SELECT * FROM CompanyInfo").entity == "CompanyInfo"


def test_like_is_percent_only_and_case_insensitive() -> None:
    rx = q.like_regex("Bill%")
    assert rx.match("bill's diner") and rx.match("BILL") and not rx.match("A Bill")
    mid = q.like_regex("%a.b%")
    assert mid.match("xxA.Byy") and not mid.match("xxaXbyy")  # `.` is literal
    assert q.like_regex("exact").match("EXACT") and not q.like_regex("exact").match("exactly")
    assert q.like_regex("%").match("line1\nline2")
    assert q.like_regex("a_b").match("a_b") and not q.like_regex("a_b").match("axb")  # `_` is no wildcard


def test_errors_helpers_shape() -> None:
    e = q.parser_error("x")
    assert (e.code, e.message, e.detail) == ("4000", "Error parsing query", "QueryParserError: x")
    v = q.validation_error("y")
    assert (v.code, v.message, v.detail) == ("4001", "Invalid query", "QueryValidationError: y")
    assert q.TIME_FIELDS == ("MetaData.LastUpdatedTime", "MetaData.CreateTime")
    assert datetime.fromtimestamp(q.parse_instant("2024-03-10T03:30:00"), UTC) - \
        datetime.fromtimestamp(q.parse_instant("2024-03-10T01:30:00"), UTC) == timedelta(hours=1)  # DST gap
