"""Fixtures for the warehouse tests: a connection to a fresh database with the schema in place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from qbo_ingest import warehouse as wh

REALM = "9130350000000001"


def make_rec(rid: object, last_updated: str, **fields: Any) -> dict[str, Any]:
    """A QBO-shaped record with a Pacific-offset LastUpdatedTime, as the API returns it."""
    return {
        "Id": str(rid),
        "SyncToken": "0",
        "domain": "QBO",
        "MetaData": {"CreateTime": last_updated, "LastUpdatedTime": last_updated},
        **fields,
    }


@pytest.fixture
def rec() -> Callable[..., dict[str, Any]]:
    return make_rec


@pytest.fixture
def conn(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    c = wh.connect(pg_url)
    wh.ensure_schema(c, ["Invoice", "Customer"])
    try:
        yield c
    finally:
        c.close()
