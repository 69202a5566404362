"""Items 11, 12 and the db init cases of 15 (issue 13), through `qbo-ingest db init` as the admin: passwords
never reach the server as text (so neither a rejection nor the server log can show them); an existing
privileged role is refused, not stripped; bad role names are one error line."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from cx_support import as_user, db_init, drop_roles
from psycopg.conninfo import conninfo_to_dict

PW = "Zq9!x"  # 5 characters: passwordcheck rejects it as too short when it sees the text


@pytest.fixture
def names(pg_url: str):  # type: ignore[no-untyped-def]
    suffix = uuid.uuid4().hex[:8]
    got = (f"cx_l_{suffix}", f"cx_a_{suffix}", f"cx_su_{suffix}")
    yield got
    drop_roles(pg_url, *got)


def test_a_password_the_server_policy_would_see_is_never_sent_as_text(pg_url: str, names) -> None:  # type: ignore[no-untyped-def]
    log_file = Path(str(conninfo_to_dict(pg_url).get("host") or "")) / "log"
    if not log_file.is_file():
        pytest.skip("needs the embedded server's log file")
    dbname = conninfo_to_dict(pg_url)["dbname"]
    with psycopg.connect(pg_url, autocommit=True) as admin:  # this database only: a password policy, logging
        admin.execute(f'ALTER DATABASE "{dbname}" SET session_preload_libraries = \'passwordcheck\'')
        admin.execute(f'ALTER DATABASE "{dbname}" SET log_statement = \'all\'')
    start = log_file.stat().st_size
    out = db_init(pg_url, names[0], names[1], QBO_LOADER_PASSWORD=PW, QBO_ANALYST_PASSWORD=PW + "-analyst")
    text = out.stdout + out.stderr
    assert PW not in text and "Traceback" not in text
    assert out.returncode == 0, text
    with log_file.open("rb") as f:
        f.seek(start)
        server_log = f.read().decode("utf-8", "replace")
    assert "set_config" in server_log  # statements were logged ...
    assert PW not in server_log  # ... and no password with them
    # the password works: the server stored its verifier
    loader = as_user(pg_url, names[0])
    params = conninfo_to_dict(loader)
    with psycopg.connect(**{**params, "password": PW}) as c:  # type: ignore[arg-type]
        assert c.execute("SELECT current_user").fetchone() == (names[0],)
    with psycopg.connect(pg_url) as admin:
        verifier = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (names[0],)).fetchone()
    assert verifier is not None and str(verifier[0]).startswith("SCRAM-SHA-256$")


def test_an_existing_privileged_role_is_refused_and_left_unchanged(pg_url: str, names) -> None:  # type: ignore[no-untyped-def]
    su = names[2]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{su}" SUPERUSER CREATEDB CREATEROLE NOLOGIN')
    out = db_init(pg_url, su, names[1])
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(
        f"error: --loader-role='{su}' is an existing role with SUPER, CREATEDB, CREATEROLE, NOLOGIN")
    with psycopg.connect(pg_url) as admin:
        row = admin.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles "
                            "WHERE rolname = %s", (su,)).fetchone()
        made = admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (names[1],)).fetchone()
    assert row == (True, True, True, False)
    assert made == (0,)  # nothing changed before the refusal


@pytest.mark.parametrize("case", ["same", "reserved", "pg_prefix", "admin"])
def test_bad_role_names_are_one_error_line(pg_url: str, names, case: str) -> None:  # type: ignore[no-untyped-def]
    admin_user = str(conninfo_to_dict(pg_url).get("user") or "postgres")
    loader, analyst, pattern = {
        "same": (names[0], names[0], "they must differ"),
        "reserved": ("public", names[1], "is a reserved PostgreSQL role name"),
        "pg_prefix": ("pg_monitor", names[1], "is a reserved PostgreSQL role name"),
        "admin": (admin_user, names[1], "is the admin running db init"),
    }[case]
    out = db_init(pg_url, loader, analyst)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: ") and pattern in out.stderr, out.stderr
