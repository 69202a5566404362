"""The compose deployment, checked statically (Docker cannot run on these machines)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from qbo_ingest.local.emulator import EmulatorConfig

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"  # production
ENV_DEMO = ROOT / ".env.demo.example"
DEMO_ONLY = {"QBO_API_BASE_URL", "QBO_TOKEN_URL", "QBO_EMULATOR_PROFILE"}
DOCKERFILE = ROOT / "deploy" / "mage.Dockerfile"
SERVERS = ROOT / "deploy" / "pgadmin" / "servers.json"
VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|PASSWD|API_KEY", re.IGNORECASE)


def _secret(name: str) -> bool:
    return bool(SECRETISH.search(name)) and not name.upper().endswith("_URL")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _env_example(path: Path = ENV_EXAMPLE) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    lines = path.read_text().splitlines()
    uncommented: list[str] = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep, f".env.example line {i + 1} is not NAME=value: {line!r}"
        values[name.strip()] = value.strip()
        if i == 0 or not lines[i - 1].lstrip().startswith("#"):
            uncommented.append(name)
    return values, uncommented


def test_every_compose_variable_is_in_env_example_with_a_comment() -> None:
    used = {m.group(1) for m in VAR.finditer(COMPOSE.read_text())}
    assert used, "no ${VAR} found: the regex or the file is wrong"
    for path, expected in ((ENV_EXAMPLE, used - DEMO_ONLY), (ENV_DEMO, used)):
        values, uncommented = _env_example(path)
        assert sorted(expected ^ set(values)) == [], path.name  # nothing missing, nothing stale
        assert uncommented == [], f"each variable in {path.name} needs a comment line above it"


def test_production_and_demo_examples_cannot_be_confused() -> None:
    prod, _ = _env_example(ENV_EXAMPLE)
    demo, _ = _env_example(ENV_DEMO)
    assert prod["QBO_ENTORNO"] == "production"
    assert not DEMO_ONLY & set(prod)  # no emulator override can reach production
    assert prod["QBO_CLIENT_ID"] == prod["QBO_CLIENT_SECRET"] == prod["QBO_REALM_ID"] == ""
    assert "emulator" not in ENV_EXAMPLE.read_text().replace(".env.demo.example", "")
    assert demo["QBO_API_BASE_URL"].startswith("http://emulator:")
    assert ENV_DEMO.read_text().startswith("# qbo-ingest DEMO") and ENV_EXAMPLE.read_text().startswith(
        "# qbo-ingest PRODUCTION")
    shared = set(prod) - {"QBO_CLIENT_ID", "QBO_CLIENT_SECRET", "QBO_REALM_ID", "QBO_ENTORNO", "QBO_REFRESH_TOKEN"}
    assert {k: prod[k] for k in shared} == {k: demo[k] for k in shared}  # the rest is the same in both


def test_required_secrets_have_no_default_and_are_empty_in_env_example() -> None:
    text = COMPOSE.read_text()
    public_demo = {
        "QBO_CLIENT_SECRET": EmulatorConfig().client_secret,  # the emulator's published demo value
    }
    for m in VAR.finditer(text):
        name, op, default = m.group(1), m.group(2), m.group(3)
        if _secret(name):
            assert op != ":-" or default == "", f"${{{name}}} has a literal default in docker-compose.yml"
    for path, allowed in ((ENV_EXAMPLE, {}), (ENV_DEMO, public_demo)):
        values, _ = _env_example(path)
        for name, value in values.items():
            if _secret(name):
                assert value in ("", allowed.get(name)), f"{name} has a value in {path.name}"
    for name in ("POSTGRES_ADMIN_PASSWORD", "POSTGRES_PASSWORD", "POSTGRES_ANALYST_PASSWORD",
                 "PGADMIN_DEFAULT_PASSWORD", "MAGE_OWNER_PASSWORD"):
        assert re.search(r"\$\{" + name + r":\?[^}]+\}", text), f"{name} must be required (:?) in compose"


def test_no_literal_secret_in_any_service_environment(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        env = svc.get("environment") or {}
        assert isinstance(env, dict), f"{name}: use the mapping form of environment"
        for key, value in env.items():
            if _secret(key):
                assert isinstance(value, str) and re.fullmatch(r"\$\{[A-Z_]+(:[-?][^}]*)?\}", value), (
                    f"{name}.{key} must come from .env, not a literal"
                )
    text = COMPOSE.read_text()
    for pattern in (r"postgres(ql)?://[^$\s]*:[^$@\s]+@", r"(?i)password\s*[:=]\s*[\"']?(?!\$)\w{3,}"):
        assert not re.search(pattern, text), f"literal credential matching {pattern!r}"


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name} has no image"
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest" and "/" not in tag, f"{name}: {image} is not pinned"
    assert services["postgres"]["image"] == "postgres:16"
    assert re.fullmatch(r"dpage/pgadmin4:\d+\.\d+", services["pgadmin"]["image"])
    froms = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert froms == ["mageai/mageai:0.9.80"]
    assert services["init"]["build"]["dockerfile"] == "deploy/mage.Dockerfile"
    assert services["init"]["pull_policy"] == "build"
    for name in ("mage", "emulator", "demo-seed"):  # the tag init builds; never built or pulled here
        assert "build" not in services[name] and services[name]["pull_policy"] == "never"
        assert services[name]["image"] == services["init"]["image"]


def test_ports_healthchecks_and_dependencies(services: dict[str, dict[str, Any]]) -> None:
    assert services["mage"]["ports"] == ["${MAGE_BIND_ADDRESS:-127.0.0.1}:6789:6789"]
    assert services["pgadmin"]["ports"] == ["${PGADMIN_BIND_ADDRESS:-127.0.0.1}:8085:80"]
    assert all(p.startswith("127.0.0.1:") for p in services["postgres"]["ports"])
    for name in ("postgres", "mage", "pgadmin", "emulator"):
        hc = services[name]["healthcheck"]
        assert hc["test"] and hc["retries"] >= 3, name
    assert "http://127.0.0.1:6789/api/status" in " ".join(services["mage"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["mage"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["demo-seed"]["depends_on"]["emulator"]["condition"] == "service_healthy"


def test_volumes_are_named_and_only_the_mage_project_is_bind_mounted(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    assert set(compose["volumes"]) == {"pgdata", "pgadmin_data", "mage_data"}
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert services["mage"]["volumes"] == ["./mage:/home/src/mage", "mage_data:/home/src/mage_data"]
    binds = [v for svc in services.values() for v in svc.get("volumes", []) if v.startswith(".")]
    assert sorted(binds) == ["./deploy/pgadmin/servers.json:/pgadmin4/servers.json:ro", "./mage:/home/src/mage"]
    assert (ROOT / "mage").is_dir() and SERVERS.is_file()


def test_demo_profile_points_mage_at_the_emulator(services: dict[str, dict[str, Any]]) -> None:
    cfg = EmulatorConfig()
    emu = services["emulator"]
    assert emu["profiles"] == ["demo"] and services["demo-seed"]["profiles"] == ["demo"]
    assert emu["command"][:6] == ["qbo-ingest", "emulator", "--host", "0.0.0.0", "--port", "8765"]
    for name in ("postgres", "init", "mage", "pgadmin"):
        assert "profiles" not in services[name], f"{name} must start without a profile"
    values, _ = _env_example(ENV_DEMO)
    assert values["QBO_API_BASE_URL"] == "http://emulator:8765"
    assert values["QBO_TOKEN_URL"] == "http://emulator:8765/oauth2/v1/tokens/bearer"
    assert (values["QBO_CLIENT_ID"], values["QBO_REALM_ID"]) == (cfg.client_id, cfg.realm_id)
    assert values["QBO_REFRESH_TOKEN"] == ""  # the demo seeds the token store instead
    mage_env = services["mage"]["environment"]
    assert services["demo-seed"]["environment"] == {
        k: v for k, v in mage_env.items()
        if not k.startswith(("MAGE_", "REQUIRE_", "DEFAULT_OWNER_", "DISABLE_TERMINAL", "SCHEDULER_"))
    }  # the seed writes the token store as the same loader, for the same realm and app


def test_init_runs_db_init_with_the_admin_and_the_cli_accepts_it(services: dict[str, dict[str, Any]]) -> None:
    from typer.testing import CliRunner

    from qbo_ingest.apps.cli.main import app

    init = services["init"]
    cmd = init["command"]
    assert cmd[:3] == ["qbo-ingest", "db", "init"]
    env = init["environment"]
    assert env["POSTGRES_USER"] == "${POSTGRES_ADMIN_USER:-qbo_admin}"
    assert env["QBO_LOADER_PASSWORD"] == "${POSTGRES_PASSWORD}"  # required in x-required-in-dotenv
    help_text = CliRunner().invoke(app, ["db", "init", "--help"]).output
    for option in (o for o in cmd[3:] if o.startswith("--")):
        assert option in help_text, f"`qbo-ingest db init` has no {option}"
    emu_help = CliRunner().invoke(app, ["emulator", "--help"]).output
    for option in (o for o in services["emulator"]["command"] if o.startswith("--")):
        assert option in emu_help, f"`qbo-ingest emulator` has no {option}"


def test_pgadmin_servers_json_registers_the_warehouse_without_a_password(
    services: dict[str, dict[str, Any]],
) -> None:
    servers = json.loads(SERVERS.read_text())["Servers"]
    (server,) = servers.values()
    assert (server["Host"], server["Port"]) == ("postgres", 5432)
    analyst = services["init"]["command"][services["init"]["command"].index("--analyst-role") + 1]
    assert server["Username"] == analyst == "qbo_analyst"
    db = _env_example()[0]["POSTGRES_DB"]
    assert server["MaintenanceDB"] == server["DBRestriction"] == db  # pgAdmin opens the warehouse itself
    assert not {"Password", "PassFile"} & set(server)


def test_image_build_never_copies_secrets_or_state() -> None:
    docker = DOCKERFILE.read_text()
    copies = re.findall(r"^COPY\s+(.+)$", docker, re.MULTILINE)
    sources = [s for line in copies for s in line.split()[:-1]]
    assert sources == ["pyproject.toml", "README.md", "src", "deploy/demo_seed.py", "deploy/extra_requirements.py",
                       "analytics"]
    ignore = (ROOT / "deploy" / "mage.Dockerfile.dockerignore").read_text().splitlines()
    rules = [ln for ln in ignore if ln and not ln.startswith("#")]
    assert rules[0] == "**"  # everything excluded, then only what the image needs re-included
    assert ".env" not in " ".join(r for r in rules if r.startswith("!"))
    assert "CMD [\"mage\", \"start\", \"mage\"]" in docker


def test_env_file_is_git_ignored_and_example_is_not() -> None:
    lines = [ln.strip() for ln in (ROOT / ".gitignore").read_text().splitlines()]
    assert ".env" in lines
    assert not any(ln in (".env*", "*.example", ".env.example") for ln in lines)
