"""What the compose services run, run here without Docker: the `init` command with the admin
environment compose gives it, then the demo seed and a backfill as the least-privilege loader with
Mage's environment, against a real PostgreSQL and the emulator over HTTP."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict

from qbo_ingest import warehouse as wh
from qbo_ingest.catalogue import get

ROOT = Path(__file__).resolve().parents[2]
LOADER_PW = "loader-pw-for-tests"
ANALYST_PW = "analyst-pw-for-tests"
ADMIN_PW = "admin-pw-for-tests"


def _load_demo_seed() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_seed", ROOT / "deploy" / "demo_seed.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} for the values used here."""
    import re

    def sub(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3) or ""
        got = env.get(name, "")
        if op == ":?" and not got:
            raise AssertionError(f"compose would refuse to start: {arg}")
        return got or (arg if op == ":-" else "")

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", sub, value)


@pytest.fixture
def dotenv() -> dict[str, str]:
    """The demo's `.env` as a user would write it from .env.demo.example: the example plus the passwords."""
    return _dotenv(".env.demo.example")


def _dotenv(example: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (ROOT / example).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            values[k] = v
    suffix = uuid.uuid4().hex[:6]
    values.update(
        POSTGRES_ADMIN_PASSWORD=ADMIN_PW, POSTGRES_PASSWORD=LOADER_PW, POSTGRES_ANALYST_PASSWORD=ANALYST_PW,
        PGADMIN_DEFAULT_PASSWORD="x", POSTGRES_USER=f"qbo_loader_{suffix}", MAGE_OWNER_EMAIL="ops@example.com",
        MAGE_OWNER_PASSWORD="mage-owner-pw-for-tests",
    )
    return values


def _service_env(service: str, dotenv: dict[str, str], pg_url: str, *, user: str | None = None) -> dict[str, str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {k: _interpolate(str(v), dotenv) for k, v in compose["services"][service]["environment"].items()}
    # The network host `postgres` becomes the test server (a unix socket directory here).
    params = conninfo_to_dict(pg_url)
    env["POSTGRES_HOST"] = str(params.get("host") or "127.0.0.1")
    env["POSTGRES_PORT"] = str(params.get("port") or "5432")
    env["POSTGRES_DB"] = str(params["dbname"])
    if user is not None:
        env["POSTGRES_USER"] = user
    return env


@pytest.fixture
def loader_cleanup(pg_url: str, dotenv: dict[str, str]) -> Iterator[None]:
    yield
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for name in (dotenv["POSTGRES_USER"], "qbo_analyst"):
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                admin.execute(f'DROP OWNED BY "{name}"')
                if name != "qbo_analyst":  # shared across test databases on one server
                    admin.execute(f'DROP ROLE "{name}"')


def test_init_service_command_creates_schema_and_roles(
    pg_url: str, dotenv: dict[str, str], loader_cleanup: None
) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cmd = [_interpolate(c, dotenv) for c in compose["services"]["init"]["command"]]
    admin_user = str(conninfo_to_dict(pg_url).get("user") or "postgres")
    env = _service_env("init", dotenv, pg_url, user=admin_user)
    exe = Path(sys.executable).with_name(cmd[0])
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "POSTGRES_"))}
    for _ in range(2):  # `docker compose run --rm init` again is harmless
        out = subprocess.run([str(exe), *cmd[1:]], env={**clean, **env}, capture_output=True, text=True,
                             timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        assert LOADER_PW not in out.stdout + out.stderr and ADMIN_PW not in out.stdout + out.stderr

    loader = dotenv["POSTGRES_USER"]
    with wh.connect(pg_url) as admin:
        roles = admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s) AND rolcanlogin AND NOT rolsuper",
            ([loader, "qbo_analyst"],),
        ).fetchall()
        assert sorted(r[0] for r in roles) == sorted([loader, "qbo_analyst"])
    mage_env = _service_env("mage", dotenv, pg_url)
    assert mage_env["POSTGRES_USER"] == loader
    with wh.connect(f"host={mage_env['POSTGRES_HOST']} port={mage_env['POSTGRES_PORT']} "
                    f"dbname={mage_env['POSTGRES_DB']} user={loader}") as conn:
        wh.check_grants(conn)  # Mage's identity can load every entity


def test_demo_profile_seed_then_backfill_as_the_loader(
    pg_url: str, dotenv: dict[str, str], loader_cleanup: None
) -> None:
    from qbo_ingest.apps.cli import commands
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread
    from qbo_ingest.settings import Settings

    loader = dotenv["POSTGRES_USER"]
    wh.init_db(pg_url, loader_role=loader, loader_password=LOADER_PW, analyst_role="qbo_analyst")
    emu = Emulator(EmulatorConfig(seed=3, profile="demo"))
    with serve_in_thread(emu) as srv:
        env: dict[str, Any] = _service_env("demo-seed", dotenv, pg_url)
        env["QBO_API_BASE_URL"] = srv.base_url  # http://emulator:8765 inside compose
        env["QBO_TOKEN_URL"] = srv.token_url
        assert _load_demo_seed().main(env, attempts=3, delay=0.1) == 0

        settings = Settings.load(env=env, use_mage_secrets=False)
        assert settings.refresh_token is None  # nothing but the token store knows the token
        day = date(2025, 10, 15)
        report = commands.backfill([get("Invoice")], day.isoformat(), day.isoformat(), settings=settings,
                                   concurrency=2, show_progress=False)
        assert report.ok
    with wh.connect(pg_url) as conn:
        (row,) = wh.ledger_days(conn, env["QBO_REALM_ID"], "Invoice")
        assert row.status == "succeeded"
        truth = wh.count_rows(conn, "Invoice", env["QBO_REALM_ID"], day, date(2025, 10, 16))
        assert truth == row.rows_upserted


def test_demo_seed_stays_up_so_docker_reruns_it_with_the_stack(
    pg_url: str, dotenv: dict[str, str], loader_cleanup: None
) -> None:
    """`--stay`: seed, then idle (restart: unless-stopped starts it again after a reboot); SIGTERM ends it."""
    import signal
    import time

    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

    wh.init_db(pg_url, loader_role=dotenv["POSTGRES_USER"], loader_password=LOADER_PW, analyst_role="qbo_analyst")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    cmd = compose["services"]["demo-seed"]["command"]
    assert cmd[1] == "/home/src/qbo-ingest/deploy/demo_seed.py"
    with serve_in_thread(Emulator(EmulatorConfig(seed=3, profile="demo"))) as srv:
        env = _service_env("demo-seed", dotenv, pg_url)
        env.update(QBO_API_BASE_URL=srv.base_url, QBO_TOKEN_URL=srv.token_url,
                   PYTHONPATH=os.environ.get("PYTHONPATH", ""), PATH=os.environ.get("PATH", ""))
        proc = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "demo_seed.py"), *cmd[2:]], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            lines = [proc.stdout.readline(), proc.stdout.readline()]
            assert "token store ready" in lines[0] and "idle" in lines[1], lines
            time.sleep(0.5)
            assert proc.poll() is None  # still up: Docker counts it as running and restarts it with the stack
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
    with wh.connect(pg_url) as conn:
        (n,) = conn.execute("SELECT count(*) FROM qbo_ingest.oauth_tokens").fetchone()
        assert n == 1
