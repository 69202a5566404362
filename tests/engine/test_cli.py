"""The CLI: bad input gets one clear line and a non-zero exit, nothing is written; every command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from qbo_ingest.apps.cli.main import app

ROOT = Path(__file__).resolve().parents[2]


def _env(pg_url: str, **over: str) -> dict[str, str]:
    env = {
        "QBO_CLIENT_ID": "cid",
        "QBO_CLIENT_SECRET": "csecret-canary-123",
        "QBO_REFRESH_TOKEN": "rt-canary-456",
        "QBO_REALM_ID": "9341453000000001",
        "QBO_ENTORNO": "sandbox",
        "QBO_API_BASE_URL": "http://127.0.0.1:9",
        "QBO_TOKEN_URL": "http://127.0.0.1:9/oauth2/v1/tokens/bearer",
        "QBO_DATABASE_URL": pg_url,
    }
    env.update(over)
    return {k: v for k, v in env.items() if v != "<unset>"}


def _run(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    for k in ("QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REFRESH_TOKEN", "QBO_REALM_ID", "QBO_ENTORNO",
              "QBO_API_BASE_URL", "QBO_TOKEN_URL", "QBO_DATABASE_URL", "POSTGRES_HOST", "POSTGRES_USER",
              "POSTGRES_PASSWORD", "POSTGRES_PORT", "POSTGRES_DB"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return CliRunner(mix_stderr=False).invoke(app, args, catch_exceptions=False)


BAD = [
    (["backfill", "Invoice", "--fecha-inicio", "2024-02-30", "--fecha-fin", "2024-03-01"], {},
     r"fecha_inicio='2024-02-30' is not a date in ISO 8601 format"),
    (["backfill", "Invoice", "--fecha-inicio", "01/02/2024", "--fecha-fin", "2024-03-01"], {},
     r"fecha_inicio='01/02/2024' is not a date"),
    (["backfill", "Invoice", "--fecha-inicio", "2024-03-02", "--fecha-fin", "2024-03-01"], {},
     r"fecha_fin \(2024-03-01\) is before fecha_inicio \(2024-03-02\)"),
    (["backfill", "Invoce", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"], {},
     r"Unknown entity 'Invoce'. Valid: Account, Bill, .*Invoice"),
    (["backfill", "Invoice'; DROP TABLE x;--", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"], {},
     r"Unknown entity"),
    (["backfill", "Invoice", "--fecha-inicio", "2024-03-01' OR '1'='1", "--fecha-fin", "2024-03-01"], {},
     r"is not a date"),
    (["backfill", "Invoice", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"],
     {"QBO_ENTORNO": "prod"}, r"QBO_ENTORNO='prod' is invalid"),
    (["backfill", "Invoice", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"],
     {"QBO_CLIENT_ID": "<unset>"}, r"QBO_CLIENT_ID is not set"),
    (["backfill", "Invoice", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"],
     {"QBO_REALM_ID": "123 OR 1=1"}, r"QBO_REALM_ID='123 OR 1=1' is invalid"),
    (["backfill", "Invoice", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"],
     {"QBO_API_BASE_URL": "not a url"}, r"QBO_API_BASE_URL='not a url' is invalid"),
    (["reconcile", "Invoice", "--from", "2024-03-05", "--to", "2024-03-01"], {}, r"is before fecha_inicio"),
    (["status", "Nope"], {}, r"Unknown entity 'Nope'"),
    (["--log-format", "xml", "status"], {}, r"--log-format='xml' is invalid"),
]


@pytest.mark.parametrize(("args", "over", "pattern"), BAD)
def test_bad_input_is_one_clear_line_and_writes_nothing(pg_url, monkeypatch, args, over, pattern):
    result = _run(args, _env(pg_url, **over), monkeypatch)
    assert result.exit_code != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "canary" not in result.stderr + result.stdout
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regnamespace('raw')").fetchone() == (None,)


def test_unreachable_database_is_one_line(pg_url, monkeypatch):
    env = _env(pg_url, QBO_DATABASE_URL="postgresql://u:pw-canary-789@127.0.0.1:1/db?connect_timeout=2")
    result = _run(["backfill", "Invoice", "--fecha-inicio", "2024-03-01", "--fecha-fin", "2024-03-01"], env,
                  monkeypatch)
    assert result.exit_code != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "canary" not in result.stderr


def test_every_command_has_an_example_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    runner = CliRunner()
    names = [c.name or c.callback.__name__.replace("_", "-") for c in app.registered_commands if c.callback]
    names.append("db init")
    assert {"backfill", "retry-failed", "status", "sync", "reconcile", "emulator", "auth", "demo"} <= set(names)
    for name in names:
        result = runner.invoke(app, [*name.split(), "--help"])
        assert result.exit_code == 0, name
        assert "Example: qbo-ingest" in result.stdout, name
        assert f"qbo-ingest {name}" in readme, f"README does not document `qbo-ingest {name}`"
