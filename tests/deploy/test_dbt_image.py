"""dbt in the Mage image (Docker cannot run here, so the Dockerfile is checked statically and its pieces run
natively): a venv of its own at /opt/dbt holding exactly pyproject.toml's `analytics` extra, QBO_DBT_BIN and
QBO_DBT_PROJECT_DIR pointing at it and at the copied dbt project."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import tomllib
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "deploy" / "mage.Dockerfile").read_text()
SCRIPT = ROOT / "deploy" / "extra_requirements.py"
ANALYTICS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["analytics"]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extra_requirements", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _runs() -> list[str]:
    """The Dockerfile's RUN instructions, continuation lines joined."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [" ".join(m.split()) for m in re.findall(r"^RUN\s+(.+)$", text, re.MULTILINE)]


def _env() -> dict[str, str]:
    text = DOCKERFILE.replace("\\\n", " ")
    pairs = [p for m in re.findall(r"^ENV\s+(.+)$", text, re.MULTILINE) for p in m.split()]
    return dict(p.split("=", 1) for p in pairs)


def test_the_image_builds_a_dbt_venv_from_the_analytics_extra_and_points_qbo_dbt_bin_at_it() -> None:
    dbt_run = [r for r in _runs() if "/opt/dbt" in r]
    assert dbt_run == [
        "python /home/src/qbo-ingest/deploy/extra_requirements.py analytics /home/src/qbo-ingest/pyproject.toml "
        "> /tmp/dbt-requirements.txt && python -m venv /opt/dbt "
        "&& /opt/dbt/bin/pip install --no-cache-dir -r /tmp/dbt-requirements.txt "
        "&& /opt/dbt/bin/dbt --version && rm /tmp/dbt-requirements.txt"]
    mage_run = next(r for r in _runs() if "mage-constraints" in r)
    assert "dbt" not in mage_run and "analytics" not in mage_run  # never into Mage's own environment
    env = _env()
    assert env["QBO_DBT_BIN"] == "/opt/dbt/bin/dbt"
    # the project is copied where QBO_DBT_PROJECT_DIR says, and the build context lets it (and the script) in
    assert re.search(r"^COPY analytics (\S+)$", DOCKERFILE, re.MULTILINE).group(1) == env["QBO_DBT_PROJECT_DIR"]  # type: ignore[union-attr]
    assert re.search(r"^COPY .*deploy/extra_requirements.py /home/src/qbo-ingest/deploy/$", DOCKERFILE, re.MULTILINE)
    ignore = (ROOT / "deploy" / "mage.Dockerfile.dockerignore").read_text().splitlines()
    assert {"!analytics/**", "!deploy/extra_requirements.py", "analytics/target", "analytics/logs"} <= set(ignore)


def test_the_requirement_script_prints_exactly_the_analytics_extra() -> None:
    out = subprocess.run([sys.executable, str(SCRIPT), "analytics", str(ROOT / "pyproject.toml")],
                         capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.splitlines() == ANALYTICS and any(r.startswith("dbt-postgres") for r in ANALYTICS)
    # scripts/dbt.sh (the test venv's dbt) reads the same list the same way
    assert '"$root/deploy/extra_requirements.py" analytics "$root/pyproject.toml"' in (
        ROOT / "scripts" / "dbt.sh").read_text()
    bad = subprocess.run([sys.executable, str(SCRIPT), "local", str(ROOT / "pyproject.toml")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "error: extra 'local' requires qbo-ingest[emulator]; list its packages directly")


def test_without_a_toml_reader_the_installed_metadata_gives_the_same_list() -> None:
    """Requires-Dist lines as setuptools writes them for this pyproject: base dependencies (no marker),
    every extra's (`; extra == "name"`); only the analytics ones, without their marker, come out."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + [
        f'{r}; extra == "{name}"' for name, reqs in project["optional-dependencies"].items() for r in reqs]
    def same(reqs: list[str]) -> list[Requirement]:  # packaging orders specifiers its own way
        return [Requirement(r) for r in reqs]

    assert same(_script().from_requires_dist(lines, "analytics")) == same(ANALYTICS)
    assert same(_script().from_requires_dist(lines, "emulator")) == same(project["optional-dependencies"]["emulator"])
