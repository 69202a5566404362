"""Client tests get databases with the state schema (the token store's table), as `db init` leaves them."""

from __future__ import annotations

import pytest

from qbo_ingest import warehouse as wh


@pytest.fixture
def pg_url(pg_url: str) -> str:
    """A fresh database with the state schema, as `qbo-ingest db init` leaves it."""
    with wh.connect(pg_url) as c:
        wh.ensure_schema(c, [])
    return pg_url
