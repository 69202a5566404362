"""Shared fixtures: a real PostgreSQL for every database test.

`QBO_TEST_DATABASE_URL` names an existing server; otherwise an embedded PostgreSQL is started once
per session in a temporary directory. Each test gets its own fresh database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    from qbo_ingest import embedded_db

    with embedded_db.temporary_server(prefix="qbo-test-pg-") as url:
        yield url


def _with_dbname(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database for this test; dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_dbname(pg_server_url, name)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


from support import qbo  # noqa: E402,F401  (emulator + engine fixture for every test directory)
