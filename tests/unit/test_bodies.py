"""Query pages read for their keys only (source/bodies.py): the same Ids and times a whole parse gives, and
None - parse it whole - for anything that reading would not take exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from qbo_ingest.source.bodies import KeysOnly, keys_of_page, parse


def _page(records: list[Any], **extra: Any) -> bytes:
    return json.dumps({"QueryResponse": {"Invoice": records, "startPosition": 1, "maxResults": 1000, **extra},
                       "time": "2025-03-01T10:00:00.000-08:00"}).encode()


def test_keys_match_the_whole_parse_and_nothing_else_is_built() -> None:
    recs = [{"Id": str(i), "SyncToken": "0", "Line": [{"Amount": i}], "CustomField": [],
             "MetaData": {"CreateTime": "2025-03-01T09:00:00-08:00", "LastUpdatedTime": f"2025-03-01T10:00:0{i}-08:00"}}
            for i in range(1, 6)]
    got = keys_of_page(_page(recs), "Invoice")
    assert isinstance(got, KeysOnly)
    whole = parse(_page(recs))["QueryResponse"]
    assert got == {"QueryResponse": {"startPosition": 1, "maxResults": 1000, "Invoice": [
        {"Id": r["Id"], "MetaData": {"LastUpdatedTime": r["MetaData"]["LastUpdatedTime"]}} for r in whole["Invoice"]]}}


def test_an_empty_answer_has_no_entity_key() -> None:
    assert keys_of_page(b'{"QueryResponse":{}}', "Invoice") == {"QueryResponse": {}}
    assert keys_of_page(b'{"QueryResponse":{"startPosition":1,"maxResults":0}}', "Invoice") == {
        "QueryResponse": {"startPosition": 1, "maxResults": 0}}


@pytest.mark.parametrize("body", [
    b'{"Fault":{"Error":[{"Message":"x","code":"3001"}],"type":"ValidationFault"}}',
    b'{"fault":{"error":[{"message":"x"}]},"QueryResponse":{}}',
    b'{"time":"x"}',
    b'{"QueryResponse":{"Invoice":[{"Id":1,"MetaData":{"LastUpdatedTime":"2025-03-01T10:00:00-08:00"}}]}}',
    b'{"QueryResponse":{"Invoice":[{"Id":"","MetaData":{"LastUpdatedTime":"2025-03-01T10:00:00-08:00"}}]}}',
    b'{"QueryResponse":{"Invoice":[{"Id":"1"}]}}',
    b'{"QueryResponse":{"Invoice":[{"Id":"1","MetaData":{}}]}}',
    b'{"QueryResponse":{"Invoice":[{"Id":"1","MetaData":"2025"}]}}',
    b'{"QueryResponse":{"Invoice":{"Id":"1"}}}',
    b'{"QueryResponse":{"Invoice":[{"Id":"1","MetaData":{"LastUpdatedTime":"2025-03-01T10:00:00-08:00"}}]',
    b'not json',
])
def test_anything_the_keys_cannot_carry_exactly_is_left_to_the_whole_parse(body: bytes) -> None:
    assert keys_of_page(body, "Invoice") is None


def test_the_entity_key_is_case_sensitive_like_qbo() -> None:
    body = _page([{"Id": "1", "MetaData": {"LastUpdatedTime": "2025-03-01T10:00:00-08:00"}}])
    assert keys_of_page(body, "Customer") == {"QueryResponse": {"startPosition": 1, "maxResults": 1000}}
    assert keys_of_page(body, "invoice") == {"QueryResponse": {"startPosition": 1, "maxResults": 1000}}
