"""Shared fixtures: a real PostgreSQL for every database test.

`QBO_TEST_DATABASE_URL` names an existing server; otherwise an embedded PostgreSQL is started once
per session in a temporary directory. Each test gets its own fresh database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    from qbo_ingest.local import postgres as embedded_db

    with embedded_db.temporary_server(prefix="qbo-test-pg-") as url:
        yield url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test; dropped afterwards."""
    from qbo_ingest.local import postgres as embedded_db

    dsn = embedded_db.create_database(pg_server_url, "t")
    try:
        yield dsn
    finally:
        embedded_db.drop_database(pg_server_url, dsn)


from support import qbo  # noqa: E402,F401  (emulator + engine fixture for every test directory)
